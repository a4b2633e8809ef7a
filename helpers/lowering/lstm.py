"""UNIDIRECTIONAL_SEQUENCE_LSTM's constants, as TFLM's PrepareGateParametersInteger and
CreateLstmCellStateInfo compute them (micro/kernels/lstm_eval_common.cc)."""
from __future__ import annotations

import math

import numpy as np

from helpers.lowering import arith
from helpers.lowering.builder import Builder
from helpers.lowering.graph import Op, Tensor, Unsupported
from helpers.lowering.ops_dense import float32, int8, int32
from helpers.lowering.program import Reset
from helpers.lowering.steps import LstmCellQuant, LstmFloat, LstmGate, LstmGateQuant, LstmInt8, LstmState

# Tensor positions of the op's inputs (tensorflow/lite/kernels/lstm_shared.h).
INPUT = 0
INPUT_WEIGHTS = {"input": 1, "forget": 2, "cell": 3, "output": 4}
RECURRENT_WEIGHTS = {"input": 5, "forget": 6, "cell": 7, "output": 8}
BIASES = {"input": 12, "forget": 13, "cell": 14, "output": 15}
HIDDEN_STATE, CELL_STATE = 18, 19
GATE_ORDER = ("forget", "input", "cell", "output")   # the order lstm_eval.h computes them in
_GATE_INPUT_SCALE = 2.0 ** -12     # Q3.12, the input of the gate nonlinearities
_GATE_OUTPUT_SCALE = 2.0 ** -15    # Q0.15, their output


def _present(op: Op, position: int) -> bool:
    return len(op.inputs) > position and op.inputs[position] >= 0


def _check_form(b: Builder, op: Op) -> Tensor:
    for position in (9, 10, 11, 16, 17, 20, 21, 22, 23):
        if _present(op, position):
            raise Unsupported("UNIDIRECTIONAL_SEQUENCE_LSTM with peepholes, projection or layer normalisation")
    if not all(_present(op, i) for i in list(INPUT_WEIGHTS.values()) + list(RECURRENT_WEIGHTS.values())):
        raise Unsupported("UNIDIRECTIONAL_SEQUENCE_LSTM with coupled input and forget gates (CIFG)")
    if op.options.timeMajor:
        raise Unsupported("time-major UNIDIRECTIONAL_SEQUENCE_LSTM")
    x = b.graph.tensor(op.inputs[INPUT])
    if len(x.shape) != 3 or x.shape[0] != 1:
        raise Unsupported("UNIDIRECTIONAL_SEQUENCE_LSTM on a batch (batch 1 only)")
    return x


def lower(b: Builder, op: Op) -> None:
    """The op as one LstmInt8 or LstmFloat step, its hidden and cell state in persistent buffers."""
    x = _check_form(b, op)
    hidden = b.graph.tensor(op.inputs[HIDDEN_STATE])
    activation = int(op.options.fusedActivationFunction or 0)
    if activation not in (4, 6):  # TANH, SIGMOID: the cell gate's nonlinearity
        raise Unsupported("UNIDIRECTIONAL_SEQUENCE_LSTM whose cell activation is neither tanh nor sigmoid")
    cell_sigmoid = activation == 6
    hidden_buffer = b.allocate(op.inputs[HIDDEN_STATE], persistent=True)
    cell_buffer = b.allocate(op.inputs[CELL_STATE], persistent=True)
    n_state = hidden.shape[-1]
    gate_buffers = tuple(b.scratch("int16" if x.dtype == "int8" else "float32", n_state) for _ in GATE_ORDER)
    state = LstmState(hidden=hidden_buffer, cell=cell_buffer, gates=gate_buffers, steps=x.shape[1], n_in=x.shape[2],
                      n_state=n_state)
    clip = float(op.options.cellClip or 0.0)
    if x.dtype == "int8":
        _lower_int8(b, op, state, clip, cell_sigmoid)
    elif x.dtype == "float32":
        _lower_float(b, op, state, clip, cell_sigmoid)
    else:
        raise Unsupported(f"UNIDIRECTIONAL_SEQUENCE_LSTM on {x.dtype}")


def _lower_float(b: Builder, op: Op, state: LstmState, clip: float, cell_sigmoid: bool) -> None:
    gates = []
    for gate in GATE_ORDER:
        weights = [b.data(op.inputs[table[gate]]) for table in (INPUT_WEIGHTS, RECURRENT_WEIGHTS)]
        if any(w is None or w.dtype not in (np.float32, np.float16) for w in weights):
            raise Unsupported("UNIDIRECTIONAL_SEQUENCE_LSTM with float input and integer weights (hybrid)")
        bias = b.data(op.inputs[BIASES[gate]]) if _present(op, BIASES[gate]) else np.zeros(state.n_state, np.float32)
        gates.append(LstmGate(input_weights=float32(weights[0]), recurrent_weights=float32(weights[1]),
                              bias=float32(bias)))
    b.resets += [Reset(state.hidden, 0), Reset(state.cell, 0)]
    source = b.operand(op.inputs[INPUT])
    b.emit(LstmFloat(op=op.name, x=source, y=b.allocate(op.outputs[0]), gates=tuple(gates), cell_sigmoid=cell_sigmoid,
                     clip=clip, state=state))


def _gate_quant(b: Builder, op: Op, gate: str, x: Tensor, hidden: Tensor,
                cell_sigmoid: bool) -> tuple[LstmGate, LstmGateQuant]:
    graph = b.graph
    w_in, w_rec = (graph.tensor(op.inputs[table[gate]]) for table in (INPUT_WEIGHTS, RECURRENT_WEIGHTS))
    if w_in.dtype != "int8" or w_rec.dtype != "int8" or len(w_in.scales) != 1:
        raise Unsupported("int8 UNIDIRECTIONAL_SEQUENCE_LSTM without per-tensor int8 weights")
    m_in, s_in = arith.quantize_multiplier(float(x.scale) * float(w_in.scale) / _GATE_INPUT_SCALE)
    m_rec, s_rec = arith.quantize_multiplier(float(hidden.scale) * float(w_rec.scale) / _GATE_INPUT_SCALE)
    weights = LstmGate(input_weights=int8(b.data(op.inputs[INPUT_WEIGHTS[gate]])),
                       recurrent_weights=int8(b.data(op.inputs[RECURRENT_WEIGHTS[gate]])),
                       bias=int32(b.data(op.inputs[BIASES[gate]])))
    quant = LstmGateQuant(input_multiplier=m_in, input_shift=s_in, recurrent_multiplier=m_rec, recurrent_shift=s_rec,
                          input_offset=-x.zero_point, hidden_offset=-hidden.zero_point,
                          sigmoid=gate != "cell" or cell_sigmoid)
    return weights, quant


def _cell_quant(cell: Tensor, hidden: Tensor, clip: float) -> LstmCellQuant:
    cell_scale = float(cell.scale)
    power = math.frexp(cell_scale)[1] - 1
    if 2.0 ** power != cell_scale:
        raise Unsupported("int8 UNIDIRECTIONAL_SEQUENCE_LSTM whose cell state scale is not a power of two")
    m_fc, s_fc = arith.quantize_multiplier(_GATE_OUTPUT_SCALE * cell_scale / cell_scale)
    m_ic, s_ic = arith.quantize_multiplier(_GATE_OUTPUT_SCALE * _GATE_OUTPUT_SCALE / cell_scale)
    m_h, s_h = arith.quantize_multiplier(_GATE_OUTPUT_SCALE * _GATE_OUTPUT_SCALE / float(hidden.scale))
    quantized_clip = int(min(max(clip / cell_scale, -32768.0), 32767.0)) if clip > 0 else 0
    tanh_shift = 15 + power - 3
    t_mult, t_shift = (3 << tanh_shift, 0) if tanh_shift >= 0 else (3, -tanh_shift)
    return LstmCellQuant(forget_multiplier=m_fc, forget_shift=s_fc, input_multiplier=m_ic, input_shift=s_ic,
                         hidden_multiplier=m_h, hidden_shift=s_h, quantized_clip=quantized_clip,
                         tanh_multiplier=t_mult, tanh_shift=t_shift, hidden_zero_point=hidden.zero_point,
                         cell_scale_power=power)


def _lower_int8(b: Builder, op: Op, state: LstmState, clip: float, cell_sigmoid: bool) -> None:
    x = b.graph.tensor(op.inputs[INPUT])
    hidden, cell = b.graph.tensor(op.inputs[HIDDEN_STATE]), b.graph.tensor(op.inputs[CELL_STATE])
    if cell.dtype != "int16" or hidden.dtype != "int8":
        raise Unsupported("int8 UNIDIRECTIONAL_SEQUENCE_LSTM without an int16 cell state")
    pairs = [_gate_quant(b, op, gate, x, hidden, cell_sigmoid) for gate in GATE_ORDER]
    cell_quant = _cell_quant(cell, hidden, clip)
    b.need_accumulator(state.n_state)
    b.resets += [Reset(state.hidden, hidden.zero_point & 255), Reset(state.cell, 0)]
    source = b.operand(op.inputs[INPUT])
    b.emit(LstmInt8(op=op.name, x=source, y=b.allocate(op.outputs[0]), gates=tuple(w for w, _ in pairs),
                    gate_quant=tuple(q for _, q in pairs), cell_quant=cell_quant, state=state))

"""UNIDIRECTIONAL_SEQUENCE_LSTM's constants, as TFLM's PrepareGateParametersInteger and
CreateLstmCellStateInfo compute them (micro/kernels/lstm_eval_common.cc)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from helpers.micropython import arith
from helpers.micropython.graph import Op, Tensor, Unsupported

if TYPE_CHECKING:  # lower.py imports this module to register the op
    from helpers.micropython.lower import _Builder

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


def lower(b: _Builder, op: Op) -> None:
    """The op as one lstm_i8 or lstm_f call, its hidden and cell state in persistent buffers."""
    graph = b.graph
    for position in (9, 10, 11, 16, 17, 20, 21, 22, 23):
        if _present(op, position):
            raise Unsupported("UNIDIRECTIONAL_SEQUENCE_LSTM with peepholes, projection or layer normalisation")
    if not all(_present(op, i) for i in list(INPUT_WEIGHTS.values()) + list(RECURRENT_WEIGHTS.values())):
        raise Unsupported("UNIDIRECTIONAL_SEQUENCE_LSTM with coupled input and forget gates (CIFG)")
    options = op.options
    if options.timeMajor:
        raise Unsupported("time-major UNIDIRECTIONAL_SEQUENCE_LSTM")
    x = graph.tensor(op.inputs[INPUT])
    hidden, cell = graph.tensor(op.inputs[HIDDEN_STATE]), graph.tensor(op.inputs[CELL_STATE])
    if len(x.shape) != 3 or x.shape[0] != 1:
        raise Unsupported("UNIDIRECTIONAL_SEQUENCE_LSTM on a batch (batch 1 only)")
    steps, n_in = x.shape[1], x.shape[2]
    n_state = hidden.shape[-1]
    activation = int(options.fusedActivationFunction or 0)
    if activation not in (4, 6):  # TANH, SIGMOID: the cell gate's nonlinearity
        raise Unsupported("UNIDIRECTIONAL_SEQUENCE_LSTM whose cell activation is neither tanh nor sigmoid")
    cell_sigmoid = activation == 6
    hidden_buffer = b.allocate(op.inputs[HIDDEN_STATE], persistent=True)
    cell_buffer = b.allocate(op.inputs[CELL_STATE], persistent=True)
    gate_buffers = []
    for _ in GATE_ORDER:
        name = f"_g{len(b.program.buffers)}"
        b.program.buffers[name] = ("h" if x.dtype == "int8" else "f", n_state)
        gate_buffers.append(name)
    clip = float(options.cellClip or 0.0)
    if x.dtype == "int8":
        _lower_int8(b, op, x, hidden, cell, hidden_buffer, cell_buffer, gate_buffers, steps, n_in, n_state,
                    clip, cell_sigmoid)
    elif x.dtype == "float32":
        gates = []
        for gate in GATE_ORDER:
            weights = [b.data(op.inputs[table[gate]]) for table in (INPUT_WEIGHTS, RECURRENT_WEIGHTS)]
            if any(w is None or w.dtype not in (np.float32, np.float16) for w in weights):
                raise Unsupported("UNIDIRECTIONAL_SEQUENCE_LSTM with float input and integer weights (hybrid)")
            bias = b.data(op.inputs[BIASES[gate]]) if _present(op, BIASES[gate]) else np.zeros(n_state, np.float32)
            gates.append("(" + ", ".join(b.float_array(np.asarray(v, np.float32).reshape(-1))
                                         for v in (*weights, bias)) + ")")
        b.program.resets += [(hidden_buffer, 0), (cell_buffer, 0)]
        b.call(op, "lstm_f", b.buffer(op.inputs[INPUT]), b.allocate(op.outputs[0]),
               b.constant("l", "(" + ", ".join(gates) + ")"), cell_sigmoid, repr(clip), steps, n_in, n_state,
               hidden_buffer, cell_buffer, *gate_buffers, family="lstm")
    else:
        raise Unsupported(f"UNIDIRECTIONAL_SEQUENCE_LSTM on {x.dtype}")


def _lower_int8(b: _Builder, op: Op, x: Tensor, hidden: Tensor, cell: Tensor, hidden_buffer: str,
                cell_buffer: str, gate_buffers: list[str], steps: int, n_in: int, n_state: int, clip: float,
                cell_sigmoid: bool) -> None:
    graph = b.graph
    if cell.dtype != "int16" or hidden.dtype != "int8":
        raise Unsupported("int8 UNIDIRECTIONAL_SEQUENCE_LSTM without an int16 cell state")
    gates, params = [], []
    for gate in GATE_ORDER:
        w_in, w_rec = (graph.tensor(op.inputs[table[gate]]) for table in (INPUT_WEIGHTS, RECURRENT_WEIGHTS))
        if w_in.dtype != "int8" or w_rec.dtype != "int8" or len(w_in.scales) != 1:
            raise Unsupported("int8 UNIDIRECTIONAL_SEQUENCE_LSTM without per-tensor int8 weights")
        bias = b.data(op.inputs[BIASES[gate]])
        m_in, s_in = arith.quantize_multiplier(float(x.scale) * float(w_in.scale) / _GATE_INPUT_SCALE)
        m_rec, s_rec = arith.quantize_multiplier(float(hidden.scale) * float(w_rec.scale) / _GATE_INPUT_SCALE)
        gates.append("(" + ", ".join([b.int8_bytes(b.data(op.inputs[INPUT_WEIGHTS[gate]]).reshape(-1)),
                                      b.int8_bytes(b.data(op.inputs[RECURRENT_WEIGHTS[gate]]).reshape(-1)),
                                      b.int32_array(np.asarray(bias).reshape(-1))]) + ")")
        sigmoid = gate != "cell" or cell_sigmoid
        params.append((m_in, s_in, m_rec, s_rec, -x.zero_point, -hidden.zero_point, sigmoid))
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
    params.append((m_fc, s_fc, m_ic, s_ic, m_h, s_h, quantized_clip, t_mult, t_shift, hidden.zero_point))
    b.program.acc_size = max(b.program.acc_size, n_state)
    b.program.resets += [(hidden_buffer, hidden.zero_point & 255), (cell_buffer, 0)]
    b.program.families.add("fixedpoint_tables")
    b.call(op, "lstm_i8", b.buffer(op.inputs[INPUT]), b.allocate(op.outputs[0]),
           b.constant("l", "(" + ", ".join(gates) + ")"), b.small_tuple(params), steps, n_in, n_state,
           hidden_buffer, cell_buffer, "_ACC", *gate_buffers, family="lstm")

"""What CMSIS-NN's int8 kernels take that the lowering does not hold as such, computed once at
export for both emitters that call CMSIS-NN (the C engine and the MicroPython kernels module)."""
from __future__ import annotations

import numpy as np

from helpers.lowering import steps as s
from helpers.lowering.program import Const


def is_per_tensor(q: s.Requantization) -> bool:
    """One multiplier and shift for every channel (CMSIS-NN's per-tensor fully connected kernel)."""
    multipliers, shifts = q.multipliers.values, q.shifts.values
    return bool(np.all(multipliers == multipliers[0]) and np.all(shifts == shifts[0]))


def lstm_effective_biases(t: s.LstmInt8) -> list[tuple[Const, Const]]:
    """Per gate, the effective biases TFLM's CMSIS-NN LSTM kernel computes in Prepare: bias plus the
    input offset times each input row's weight sum, and the hidden offset times each recurrent
    row's sum (so the board does not)."""
    biases = []
    for gate, q in zip(t.gates, t.gate_quant):
        w_in = gate.input_weights.values.reshape(t.state.n_state, -1).astype(np.int64)
        w_rec = gate.recurrent_weights.values.reshape(t.state.n_state, -1).astype(np.int64)
        effective_in = gate.bias.values.astype(np.int64) + q.input_offset * w_in.sum(axis=1)
        effective_rec = q.hidden_offset * w_rec.sum(axis=1)
        biases.append((Const(effective_in.astype(np.int32)), Const(effective_rec.astype(np.int32))))
    return biases

"""The fused LSTM's step: its gates' weights, the int8 form's fixed-point constants and where the
recurrence lives."""
from __future__ import annotations

from dataclasses import dataclass

from helpers.lowering.program import Const
from helpers.lowering.steps.base import Unary


@dataclass(frozen=True)
class LstmGate:
    """One gate's weights (input and recurrent) and bias."""

    input_weights: Const
    recurrent_weights: Const
    bias: Const


@dataclass(frozen=True)
class LstmGateQuant:
    """One int8 gate's multipliers into Q3.12 and its nonlinearity."""

    input_multiplier: int
    input_shift: int
    recurrent_multiplier: int
    recurrent_shift: int
    input_offset: int
    hidden_offset: int
    sigmoid: bool


@dataclass(frozen=True)
class LstmCellQuant:
    """The int8 LSTM's cell and hidden-state update (CreateLstmCellStateInfo's constants)."""

    forget_multiplier: int
    forget_shift: int
    input_multiplier: int
    input_shift: int
    hidden_multiplier: int
    hidden_shift: int
    quantized_clip: int
    tanh_multiplier: int
    tanh_shift: int
    hidden_zero_point: int
    cell_scale_power: int     # log2 of the cell state's scale (CMSIS-NN takes this in place of the tanh scaling)


@dataclass(frozen=True)
class LstmState:
    """Where the recurrence lives: hidden and cell state, and the four gate outputs (forget, input,
    cell, output: the order lstm_eval.h computes them in)."""

    hidden: int
    cell: int
    gates: tuple[int, int, int, int]
    steps: int
    n_in: int
    n_state: int


@dataclass(frozen=True)
class LstmInt8(Unary):
    gates: tuple[LstmGate, ...]          # GATE_ORDER
    gate_quant: tuple[LstmGateQuant, ...]
    cell_quant: LstmCellQuant
    state: LstmState


@dataclass(frozen=True)
class LstmFloat(Unary):
    gates: tuple[LstmGate, ...]
    cell_sigmoid: bool
    clip: float
    state: LstmState

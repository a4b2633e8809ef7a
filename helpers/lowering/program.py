"""The lowered model, backend-neutral: kernel steps in graph order with typed parameters, the
constants they read as numpy arrays, and a static buffer plan. Every emitter (the MicroPython
engine, the C engine) turns one of these into text; nothing here knows any target language."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Bytes per element of a buffer's dtype on the board.
ELEMENT_BYTES = {"bool": 1, "int8": 1, "int16": 2, "int32": 4, "float32": 4}
ARENA_ALIGNMENT = 16


@dataclass(frozen=True, eq=False)
class Const:
    """A constant array the engine keeps in flash (weights, biases, multipliers, tables, index maps).

    Compared by identity: two steps that read the same values may still hold two Const objects;
    emitters share equal values by content."""

    values: np.ndarray

    @property
    def dtype(self) -> str:
        return str(self.values.dtype)


# A step's tensor operand: an arena buffer (its id) or a constant.
Operand = int | Const


@dataclass(frozen=True)
class Buffer:
    """One activation buffer: tensors whose lifetimes do not overlap share it (same dtype).

    `role`: "tensor" (holds graph tensors) or "scratch" (an LSTM's gate outputs). `offset` places
    it in the one arena a C engine declares; steps [first_step, last_step] read or write it."""

    id: int
    dtype: str
    elements: int
    role: str
    persistent: bool          # the model input and the recurrent state: never handed to another tensor
    offset: int = 0
    first_step: int = 0
    last_step: int = 0

    @property
    def nbytes(self) -> int:
        return ELEMENT_BYTES[self.dtype] * self.elements


@dataclass(frozen=True)
class Reset:
    """A state buffer set to `value` (each element) before every window, as TFLM's Reset() does."""

    buffer: int
    value: int


@dataclass(frozen=True)
class Step:
    """One kernel call; `op` is the TFLite op it comes from (one op may become several steps)."""

    op: str


@dataclass(frozen=True)
class Program:
    """The lowered graph."""

    steps: tuple[Step, ...]
    buffers: tuple[Buffer, ...]
    resets: tuple[Reset, ...]
    input_buffer: int
    output: Operand
    input_dtype: str
    output_dtype: str
    input_size: int
    output_size: int
    accumulator_elements: int          # int32 scratch the integer kernels share (at least 1)
    arena_bytes: int                   # every buffer at its offset in one arena

    def buffer(self, buffer_id: int) -> Buffer:
        return self.buffers[buffer_id]

    @property
    def buffer_bytes(self) -> int:
        """Bytes of separately allocated activation buffers plus the accumulator (the MicroPython
        engine's layout; the weights stay in the module)."""
        return sum(b.nbytes for b in self.buffers) + 4 * self.accumulator_elements

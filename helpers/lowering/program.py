"""The lowered model, backend-neutral: kernel steps in graph order with typed parameters, the
constants they read as numpy arrays, and a static buffer plan. Every emitter (the MicroPython
engine, the C engine) turns one of these into text; nothing here knows any target language."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.core.passes import RemovedChannels

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
class Port:
    """One graph input or output: where it lives (an input always in a buffer of its own; an
    output in a buffer, or a constant when the graph computes it at export), its dtype and size."""

    operand: Operand
    dtype: str
    size: int


@dataclass(frozen=True)
class Program:
    """The lowered graph; `inputs` and `outputs` in the graph's order (specs.json's)."""

    steps: tuple[Step, ...]
    buffers: tuple[Buffer, ...]
    resets: tuple[Reset, ...]
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    accumulator_elements: int          # int32 scratch the integer kernels share (at least 1)
    arena_bytes: int                   # every buffer at its offset in one arena
    # The graph's ops in execution order (TFLM's order: its profiler's events line up with them), and
    # for each step the position of the op it comes from: the per-layer profile sums steps by op; an
    # op folded at export or aliased (RESHAPE) has no step.
    graph_ops: tuple[str, ...] = ()
    step_ops: tuple[int, ...] = ()
    removed: tuple[RemovedChannels, ...] = ()   # what the exact passes (lowering/passes.py) took out

    def buffer(self, buffer_id: int) -> Buffer:
        return self.buffers[buffer_id]

    @property
    def multi_io(self) -> bool:
        """Several inputs or several outputs."""
        return len(self.inputs) > 1 or len(self.outputs) > 1

    # The first input and output: all there is of a model with one of each.
    @property
    def input_buffer(self) -> int:
        operand = self.inputs[0].operand
        assert isinstance(operand, int)
        return operand

    @property
    def output(self) -> Operand:
        return self.outputs[0].operand

    @property
    def input_dtype(self) -> str:
        return self.inputs[0].dtype

    @property
    def output_dtype(self) -> str:
        return self.outputs[0].dtype

    @property
    def input_size(self) -> int:
        return self.inputs[0].size

    @property
    def output_size(self) -> int:
        return self.outputs[0].size

    @property
    def buffer_bytes(self) -> int:
        """Bytes of separately allocated activation buffers plus the accumulator (the MicroPython
        engine's layout; the weights stay in the module)."""
        return sum(b.nbytes for b in self.buffers) + 4 * self.accumulator_elements

"""The state of one lowering: which buffer holds each tensor, which buffers are free again, the
constants folded at export (dequantized weights), and the steps so far. `finish` plans the arena."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from helpers.lowering.graph import Graph, Op, Unsupported
from helpers.lowering.program import (
    ARENA_ALIGNMENT,
    ELEMENT_BYTES,
    Buffer,
    Const,
    Operand,
    Port,
    Program,
    Reset,
    Step,
)
from helpers.lowering.steps import LstmState

# The dtypes an activation buffer can hold: bool (one byte, 0 or 1) and int32 are what the
# comparisons, SELECT_V2's condition, CAST and ARG_MAX/ARG_MIN produce or read.
BUFFER_DTYPES = ("int8", "int16", "float32", "bool", "int32")


@dataclass
class _Slot:
    dtype: str
    elements: int
    role: str
    persistent: bool


class Builder:
    """Collects steps while the lowering walks the graph in execution order."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.steps: list[Step] = []
        self.resets: list[Reset] = []
        self.accumulator_elements = 1
        self.folded: dict[int, np.ndarray] = {}
        self._slots: list[_Slot] = []
        self._buffer_of: dict[int, int] = {}
        self._free: list[int] = []
        self._temporaries: list[int] = []
        self._last_use = self._last_uses()

    # ---- values
    def data(self, index: int) -> np.ndarray | None:
        """A constant tensor's values (or those folded at export), else None."""
        if index in self.folded:
            return self.folded[index]
        return self.graph.tensor(index).data

    def operand(self, index: int) -> Operand:
        """What a step reads for tensor `index`: its buffer, or (a constant) its values."""
        if index in self._buffer_of:
            return self._buffer_of[index]
        tensor = self.graph.tensor(index)
        values = self.data(index)
        if values is None:
            raise Unsupported(f"tensor {tensor.name!r} is read before any op writes it")
        if values.dtype in (np.int8, np.int16):
            return Const(values.reshape(-1))
        if values.dtype == np.bool_:  # a constant condition: one byte per element, as a bool buffer
            return Const(values.reshape(-1).astype(np.uint8))
        if values.dtype in (np.float32, np.float16):
            return Const(values.reshape(-1).astype(np.float32))
        raise Unsupported(f"constant tensor {tensor.name!r} of type {values.dtype}")

    def emit(self, step: Step) -> None:
        self.steps.append(step)

    def need_accumulator(self, elements: int) -> None:
        self.accumulator_elements = max(self.accumulator_elements, elements)

    # ---- buffers
    def _last_uses(self) -> dict[int, int]:
        last: dict[int, int] = {}
        for op in self.graph.ops:
            for index in op.inputs:
                if index >= 0:
                    last[index] = op.position
        for index in self.graph.outputs:
            last[index] = len(self.graph.ops)
        return last

    def allocate(self, index: int, persistent: bool = False) -> int:
        """A buffer for tensor `index`: a free one of its dtype (grown to fit), else a new one."""
        tensor = self.graph.tensor(index)
        if tensor.dtype not in BUFFER_DTYPES:
            raise Unsupported(f"tensor {tensor.name!r} is {tensor.dtype}")
        chosen = None
        if not persistent:
            chosen = next((b for b in self._free if self._slots[b].dtype == tensor.dtype), None)
        if chosen is None:
            chosen = self._new_slot(tensor.dtype, 0, "tensor", persistent)
        else:
            self._free.remove(chosen)
        slot = self._slots[chosen]
        slot.elements = max(slot.elements, tensor.size)
        self._buffer_of[index] = chosen
        return chosen

    def temporary(self, dtype: str, elements: int) -> int:
        """A buffer that lives only inside the current op (an intermediate one op's steps pass
        between them): taken from the free pool like a tensor's, and back in it after the op."""
        chosen = next((b for b in self._free if self._slots[b].dtype == dtype), None)
        if chosen is None:
            chosen = self._new_slot(dtype, 0, "tensor", False)
        else:
            self._free.remove(chosen)
        self._slots[chosen].elements = max(self._slots[chosen].elements, elements)
        self._temporaries.append(chosen)
        return chosen

    def scratch(self, dtype: str, elements: int) -> int:
        """A buffer of the op's own (an LSTM's gate outputs), never shared."""
        return self._new_slot(dtype, elements, "scratch", True)

    def _new_slot(self, dtype: str, elements: int, role: str, persistent: bool) -> int:
        self._slots.append(_Slot(dtype, elements, role, persistent))
        return len(self._slots) - 1

    def stand_in(self, op: Op) -> None:
        """Buffers for the outputs of an op the engines could not lower, so that the ops after it
        are still tried and every missing op is named (the program is never finished)."""
        for index in op.outputs:
            if index not in self._buffer_of:
                self._buffer_of[index] = self._new_slot("float32", 0, "tensor", True)

    def alias(self, output: int, source: int) -> None:
        """The output is the input's data under another shape (RESHAPE): the same buffer."""
        operand = self.operand(source)
        if isinstance(operand, Const):
            self.folded[output] = operand.values
        else:
            self._buffer_of[output] = operand

    def release_after(self, op: Op) -> None:
        """Buffers no tensor needs after `op` go back to the pool (the persistent ones never do)."""
        alive = {self._buffer_of[i] for i, last in self._last_use.items()
                 if last > op.position and i in self._buffer_of}
        for index in op.inputs:
            buffer = self._buffer_of.get(index)
            if (buffer is not None and buffer not in alive and not self._slots[buffer].persistent
                    and buffer not in self._free):
                self._free.append(buffer)
        self._free += [buffer for buffer in self._temporaries if buffer not in self._free]
        self._temporaries.clear()

    def finish(self, input_buffers: list[int]) -> Program:
        """The program, every graph output read where the steps left it."""
        graph = self.graph
        inputs = tuple(Port(buffer, graph.tensor(index).dtype, graph.tensor(index).size)
                       for buffer, index in zip(input_buffers, graph.inputs))
        outputs = tuple(Port(self.operand(index), graph.tensor(index).dtype, graph.tensor(index).size)
                        for index in graph.outputs)
        buffers = plan_arena(self._slots, self.steps, [port.operand for port in outputs])
        arena = max((b.offset + b.nbytes for b in buffers), default=0)
        return Program(steps=tuple(self.steps), buffers=buffers, resets=tuple(self.resets), inputs=inputs,
                       outputs=outputs, accumulator_elements=self.accumulator_elements, arena_bytes=_align(arena))


def step_buffers(step: Step) -> list[int]:
    """The buffers a step reads or writes."""
    found = [getattr(step, name) for name in ("x", "x1", "x2", "condition", "y", "grid") if hasattr(step, name)]
    found += list(getattr(step, "xs", ()))
    state = getattr(step, "state", None)
    if isinstance(state, LstmState):
        found += [state.hidden, state.cell, *state.gates]
    return [value for value in found if isinstance(value, int) and not isinstance(value, bool)]


def _align(size: int) -> int:
    return -(-size // ARENA_ALIGNMENT) * ARENA_ALIGNMENT


def plan_arena(slots: list[_Slot], steps: list[Step], outputs: list[Operand]) -> tuple[Buffer, ...]:
    """Each buffer's live steps, then offsets in one arena: largest first, each at the lowest
    aligned offset that overlaps no buffer live at the same time. Persistent buffers (inputs, state)
    are live throughout, and the outputs until the end."""
    end = max(len(steps) - 1, 0)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for position, step in enumerate(steps):
        for buffer in step_buffers(step):
            first.setdefault(buffer, position)
            last[buffer] = position
    live: list[tuple[int, int]] = []
    for number, slot in enumerate(slots):
        start, stop = first.get(number, 0), last.get(number, end)
        if slot.persistent:
            start, stop = 0, end
        if any(isinstance(output, int) and output == number for output in outputs):
            stop = end
        live.append((start, stop))
    placed: list[Buffer] = []
    order = sorted(range(len(slots)), key=lambda n: (-slots[n].elements * ELEMENT_BYTES[slots[n].dtype], n))
    for number in order:
        slot = slots[number]
        buffer = Buffer(id=number, dtype=slot.dtype, elements=slot.elements, role=slot.role,
                        persistent=slot.persistent, first_step=live[number][0], last_step=live[number][1])
        placed.append(replace(buffer, offset=_lowest_free_offset(buffer, placed)))
    return tuple(sorted(placed, key=lambda b: b.id))


def _lowest_free_offset(buffer: Buffer, placed: list[Buffer]) -> int:
    overlapping = sorted((b for b in placed if b.first_step <= buffer.last_step and buffer.first_step <= b.last_step),
                         key=lambda b: b.offset)
    offset = 0
    for other in overlapping:
        if offset + buffer.nbytes <= other.offset:
            break
        offset = max(offset, _align(other.offset + other.nbytes))
    return offset

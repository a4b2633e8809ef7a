"""A .tflite graph as typed values: every tensor with its shape, type, quantization and (for
constants) its data; every op with its inputs, outputs and options, in execution order."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from helpers.core.flatbuffer import op_name, parse_model

_NUMPY_TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 7: "int16", 9: "int8"}


class Unsupported(Exception):
    """An op (or a form of it) the engines do not run; the message says which."""


@dataclass(frozen=True)
class Tensor:
    """One tensor of the main subgraph."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scales: tuple[float, ...]      # one per tensor, or one per channel of `quantized_axis`
    zero_points: tuple[int, ...]
    quantized_axis: int
    data: np.ndarray | None        # constants only
    variable: bool                 # LSTM state: kept between invokes (reset before each window)

    @property
    def size(self) -> int:
        """Elements."""
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def scale(self) -> float:
        return self.scales[0] if self.scales else 0.0

    @property
    def zero_point(self) -> int:
        return self.zero_points[0] if self.zero_points else 0

    @property
    def constant(self) -> bool:
        return self.data is not None


@dataclass(frozen=True)
class Op:
    """One operator: its builtin name, tensor indices (-1: optional input left out) and options."""

    position: int
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: Any


@dataclass(frozen=True)
class Graph:
    """The main subgraph."""

    tensors: tuple[Tensor, ...]
    ops: tuple[Op, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    subgraphs: int
    # The flatbuffer itself: a lowering step may cut one op out of it for TFLM to tabulate.
    content: bytes = field(default=b"", repr=False, compare=False)

    def tensor(self, index: int) -> Tensor:
        return self.tensors[index]


def _tensor(model: Any, index: int, raw: Any) -> Tensor:
    dtype = _NUMPY_TYPES.get(raw.type, f"type{raw.type}")
    quant = raw.quantization
    scales: tuple[float, ...] = ()
    zero_points: tuple[int, ...] = ()
    axis = 0
    if quant is not None and quant.scale is not None and len(quant.scale):
        scales = tuple(float(s) for s in quant.scale)
        zero_points = tuple(int(z) for z in quant.zeroPoint) if quant.zeroPoint is not None else (0,) * len(scales)
        axis = int(quant.quantizedDimension)
    shape = tuple(int(d) for d in raw.shape) if raw.shape is not None else ()
    data = None
    buffer = model.buffers[raw.buffer] if 0 < raw.buffer < len(model.buffers) else None
    if buffer is not None and buffer.data is not None and len(buffer.data) and dtype in _NUMPY_TYPES.values():
        values = np.frombuffer(bytes(bytearray(buffer.data)), dtype=dtype)
        data = values.reshape(shape) if values.size == int(np.prod(shape)) else values
    name = raw.name.decode() if isinstance(raw.name, bytes) else str(raw.name or "")
    return Tensor(index=index, name=name, shape=shape, dtype=dtype, scales=scales, zero_points=zero_points,
                  quantized_axis=axis, data=data, variable=bool(raw.isVariable))


def _name(code: Any) -> str:
    """The builtin op's name, or a custom op's own (TFLM_DECODE, Flex...)."""
    if code.customCode:
        return code.customCode.decode() if isinstance(code.customCode, bytes) else str(code.customCode)
    return op_name(code)


def read_graph(content: bytes) -> Graph:
    """The flatbuffer's main subgraph as a Graph."""
    model = parse_model(content)
    graph = model.subgraphs[0]
    tensors = tuple(_tensor(model, i, t) for i, t in enumerate(graph.tensors or []))
    ops = tuple(Op(position=i, name=_name(model.operatorCodes[op.opcodeIndex]),
                   inputs=tuple(int(v) for v in (op.inputs if op.inputs is not None else [])),
                   outputs=tuple(int(v) for v in (op.outputs if op.outputs is not None else [])),
                   options=op.builtinOptions)
                for i, op in enumerate(graph.operators or []))
    return Graph(tensors=tensors, ops=ops, inputs=tuple(int(i) for i in graph.inputs),
                 outputs=tuple(int(i) for i in graph.outputs), subgraphs=len(model.subgraphs), content=content)

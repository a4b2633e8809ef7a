"""The engines read rewrite/unary_lut.py's three ops back as the one table lookup they stand for:

    x (int8) -> CAST (int32) -> ADD 128 -> GATHER(constant int8 [256]) -> y (int8)

is y = table[x + 128], which the LookupInt8 step both engines run computes with no int32 tensor at
all (its table is indexed by the raw byte, so the 256 values are rotated by 128). The run is taken
only when it is exactly that: each int32 tensor read by the next op alone, the offset 128, the
table a constant of 256 int8 values gathered on axis 0."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.lowering.graph import Graph, Op


@dataclass(frozen=True)
class TableLookup:
    """A CAST, ADD, GATHER run: read x, write y through `table` (uint8 [256], by raw byte)."""

    cast: Op
    absorbed: tuple[int, int]  # the ADD's and the GATHER's positions
    x: int
    y: int
    table: np.ndarray


def table_lookups(graph: Graph) -> dict[int, TableLookup]:
    """Every such run, keyed by its CAST's position."""
    readers: dict[int, list[Op]] = {}
    for op in graph.ops:
        for index in op.inputs:
            readers.setdefault(index, []).append(op)
    found = {}
    for cast in graph.ops:
        lookup = _lookup_at(graph, cast, readers)
        if lookup is not None:
            found[cast.position] = lookup
    return found


def _only_reader(index: int, readers: dict[int, list[Op]], graph: Graph, name: str) -> Op | None:
    ops = readers.get(index, [])
    if len(ops) != 1 or ops[0].name != name or index in graph.outputs:
        return None
    return ops[0]


def _lookup_at(graph: Graph, cast: Op, readers: dict[int, list[Op]]) -> TableLookup | None:
    if cast.name != "CAST" or graph.tensor(cast.inputs[0]).dtype != "int8":
        return None
    add = _only_reader(cast.outputs[0], readers, graph, "ADD")
    if add is None or graph.tensor(cast.outputs[0]).dtype != "int32" or len(add.inputs) != 2:
        return None
    offset = graph.tensor(add.inputs[1]) if add.inputs[0] == cast.outputs[0] else graph.tensor(add.inputs[0])
    activation = getattr(add.options, "fusedActivationFunction", 0) or 0
    if offset.data is None or offset.size != 1 or int(np.asarray(offset.data).reshape(-1)[0]) != 128 or activation:
        return None
    gather = _only_reader(add.outputs[0], readers, graph, "GATHER")
    if gather is None or gather.inputs[1] != add.outputs[0] or getattr(gather.options, "axis", 0) != 0:
        return None
    table, y = graph.tensor(gather.inputs[0]), graph.tensor(gather.outputs[0])
    if table.data is None or table.dtype != "int8" or table.shape != (256,) or y.dtype != "int8":
        return None
    by_value = np.asarray(table.data, dtype=np.int8).reshape(256)  # entry i: the output for value i - 128
    by_raw_byte = np.roll(by_value, -128).view(np.uint8)         # entry b: the output for the byte b
    return TableLookup(cast=cast, absorbed=(add.position, gather.position), x=cast.inputs[0],
                       y=gather.outputs[0], table=by_raw_byte.copy())

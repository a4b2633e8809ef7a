"""The engines take rewrite/unary_lut.py's CAST, ADD 128, GATHER run as one byte lookup, and only
that run: another offset, a second reader of an int32 tensor or a table of another size is left to
the ops' own lowerings (which stop at the int32 ADD)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from helpers.lowering.fuse_lookup import table_lookups
from helpers.lowering.graph import Graph, Op, Tensor


def _tensor(index: int, dtype: str, shape: tuple[int, ...], data: np.ndarray | None = None) -> Tensor:
    return Tensor(index=index, name=f"t{index}", shape=shape, dtype=dtype, scales=(0.1,), zero_points=(0,),
                  quantized_axis=0, data=data, variable=False)


def _graph(offset: int = 128, table_size: int = 256, extra_reader: bool = False) -> Graph:
    table = np.arange(table_size, dtype=np.int64).astype(np.int8)  # entry i: the output for value i - 128
    tensors = [_tensor(0, "int8", (1, 6)), _tensor(1, "int32", (1, 6)), _tensor(2, "int32", (1,), np.array([offset])),
               _tensor(3, "int32", (1, 6)), _tensor(4, "int8", (table_size,), table), _tensor(5, "int8", (1, 6)),
               _tensor(6, "int32", (1, 6))]
    ops = [Op(0, "CAST", (0,), (1,), None), Op(1, "ADD", (1, 2), (3,), SimpleNamespace(fusedActivationFunction=0)),
           Op(2, "GATHER", (4, 3), (5,), SimpleNamespace(axis=0))]
    if extra_reader:
        ops.append(Op(3, "ABS", (1,), (6,), None))
    return Graph(tensors=tuple(tensors), ops=tuple(ops), inputs=(0,), outputs=(5,), subgraphs=1)


def test_the_run_is_one_lookup_indexed_by_the_raw_byte():
    (lookup,) = table_lookups(_graph()).values()
    assert lookup.absorbed == (1, 2) and (lookup.x, lookup.y) == (0, 5)
    by_value = np.arange(256).astype(np.int8)
    for value in (-128, -1, 0, 1, 127):
        raw_byte = np.array([value], dtype=np.int8).view(np.uint8)[0]
        assert lookup.table[raw_byte] == by_value[value + 128].view(np.uint8)


def test_anything_else_is_left_to_the_ops_own_lowerings():
    assert table_lookups(_graph(offset=127)) == {}
    assert table_lookups(_graph(table_size=255)) == {}
    assert table_lookups(_graph(extra_reader=True)) == {}

"""A model with several inputs or outputs: its graph's inputs and outputs in specs.json's order.

The converter orders a graph's inputs and outputs its own way (not always the signature's), while
the firmware, TFLM's self-test and the engines take them by position. The batch-1 function names
them `input_00`, `input_01`, ... and `output_00`, ... (frontend/model_loader.py), so the
signature's names, sorted, are specs.json's order; this puts the graph's lists in that order.
"""
from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema

from helpers.core.flatbuffer import parse_model
from helpers.rewrite.edit import pack


def _by_name(mapping: list[schema.TensorMapT]) -> list[int]:
    def name(item: schema.TensorMapT) -> str:
        return item.name.decode() if isinstance(item.name, bytes) else str(item.name)

    return [int(item.tensorIndex) for item in sorted(mapping, key=name)]


def in_signature_order(content: bytes) -> bytes:
    """The model with subgraph 0's inputs and outputs sorted by their signature names; the bytes
    untouched when they already are (or the model carries no signature to go by)."""
    model = parse_model(content)
    signatures = model.signatureDefs or []
    if not signatures or signatures[0].subgraphIndex != 0:
        return content
    graph = model.subgraphs[0]
    inputs, outputs = _by_name(signatures[0].inputs or []), _by_name(signatures[0].outputs or [])
    if (sorted(inputs) != sorted(int(i) for i in graph.inputs) or sorted(outputs) != sorted(int(i) for i in graph.outputs)):
        return content  # the signature names other tensors than the graph: leave it as converted
    if inputs == [int(i) for i in graph.inputs] and outputs == [int(i) for i in graph.outputs]:
        return content
    graph.inputs, graph.outputs = inputs, outputs
    return pack(model)

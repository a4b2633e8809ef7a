"""space_to_batch_padding_as_pad: TFLM's SPACE_TO_BATCH_ND pads with
SpaceToBatchParams.output_offset, a field of a persistent buffer its Init allocates and nothing
ever writes (kernels/space_to_batch_nd.cc). The padding it writes is whatever the arena held
there: zeros on a fresh board, another model's bytes on an arena that was used before, and never
the int8 zero point LiteRT pads with. A dilated convolution the converter could not fuse back
comes out as SPACE_TO_BATCH_ND with paddings, CONV_2D, BATCH_TO_SPACE_ND.

The padding moves into a PAD before it, which TFLM implements fully (int8 pads with the output's
zero point, as LiteRT's SPACE_TO_BATCH_ND does), and SPACE_TO_BATCH_ND keeps zero paddings, where
the field it never sets is never read:

    x -> SPACE_TO_BATCH_ND(block, paddings) -> y
    x -> PAD([[0, 0], paddings, [0, 0]...]) -> x_padded -> SPACE_TO_BATCH_ND(block, 0) -> y

Exact by construction; the pass list's proof runs LiteRT on both models over the evaluation rows."""
from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from helpers.core.flatbuffer import parse_model
from helpers.rewrite.edit import add_int32_constant, constant, drop_orphans, name_of, new_operator, pack, tensor_like

NAME = "space_to_batch_padding_as_pad"


def padded_space_to_batch(model: schema.ModelT) -> list[tuple[schema.SubGraphT, int, np.ndarray]]:
    """(graph, operator position, its [spatial, 2] paddings) of every SPACE_TO_BATCH_ND that pads."""
    found = []
    for graph in model.subgraphs:
        for position, op in enumerate(graph.operators or []):
            if name_of(model, op) != "SPACE_TO_BATCH_ND" or len(op.inputs) < 3:
                continue
            paddings = constant(model, graph, int(op.inputs[2]))
            if paddings is not None and np.any(paddings):
                found.append((graph, position, paddings.reshape(-1, 2)))
    return found


def rewrite_padded_space_to_batch(model: schema.ModelT) -> int:
    """Put a PAD before every SPACE_TO_BATCH_ND that pads, and give it zero paddings; how many.
    Edits `model` in place (from the last op back, so the earlier positions stay valid)."""
    found = padded_space_to_batch(model)
    for graph, position, paddings in reversed(found):
        op = graph.operators[position]
        x = int(op.inputs[0])
        rank = len(graph.tensors[x].shape)
        pad_widths = np.zeros((rank, 2), dtype=np.int64)
        pad_widths[1:1 + len(paddings)] = paddings
        padded_shape = tuple(int(d) + int(sum(w)) for d, w in zip(graph.tensors[x].shape, pad_widths))
        stem = (graph.tensors[x].name or b"").decode(errors="replace")
        padded = tensor_like(graph, x, padded_shape, "/space_to_batch_padded")
        pad = new_operator(model, schema.BuiltinOperator.PAD, 2,
                           [x, add_int32_constant(model, graph, f"{stem}/space_to_batch_pad_widths", pad_widths)],
                           padded, schema.PadOptionsT(), schema.BuiltinOptions.PadOptions)
        old_paddings = int(op.inputs[2])
        op.inputs = [padded, int(op.inputs[1]),
                     add_int32_constant(model, graph, f"{stem}/space_to_batch_no_padding", np.zeros_like(paddings))]
        graph.operators.insert(position, pad)
        drop_orphans(model, graph, {old_paddings})
    return len(found)


def as_tflm_should_run_it(content: bytes) -> bytes:
    """The flatbuffer with the pass applied (as the tool gives it to TFLM), or itself when no
    SPACE_TO_BATCH_ND pads: for the tests that ask TFLM about a model the tool did not convert."""
    model = parse_model(content)
    return pack(model) if rewrite_padded_space_to_batch(model) else content

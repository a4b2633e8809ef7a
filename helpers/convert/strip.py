"""Stripping what TFLM never reads from a .tflite (core/byte_account.py says where its bytes go).

A flatbuffer holds the weights and biases, and structure around them: tensor names, per-channel
quantization parameters, the signature definitions, conversion metadata, operator tables. TFLM
needs the tensors, operators and quantization, not the names, signatures or metadata.
`strip_model` removes those three; the pipeline only keeps a stripped model after TFLM gave
identical outputs for it on every evaluation row.
"""
from __future__ import annotations

import os
import tempfile

import flatbuffers

from helpers.core.flatbuffer import parse_model


def _align(content: bytes) -> bytes:
    """Re-pack with the schema's 16-byte buffer alignment (the Python builder ignores force_align)."""
    from tflite_micro.tensorflow.lite.micro.tools import tflite_flatbuffer_align_wrapper

    with tempfile.TemporaryDirectory(prefix="mcu-deploy-strip-") as tmp:
        source, target = os.path.join(tmp, "in.tflite"), os.path.join(tmp, "out.tflite")
        with open(source, "wb") as handle:
            handle.write(content)
        tflite_flatbuffer_align_wrapper.align_tflite_model(source, target)
        with open(target, "rb") as handle:
            return handle.read()


def strip_model(content: bytes) -> bytes:
    """Drop tensor names, signature definitions and metadata; keep everything TFLM reads."""
    model = parse_model(content)
    for index in {m.buffer for m in model.metadata or []}:
        model.buffers[index].data = None
    model.metadata = None
    model.signatureDefs = None
    model.description = None
    for graph in model.subgraphs:
        graph.name = None
        for tensor in graph.tensors:
            tensor.name = b""
    builder = flatbuffers.Builder(len(content))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return _align(bytes(builder.Output()))

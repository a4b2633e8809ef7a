"""Where the bytes of a .tflite go: weights and biases, names, quantization parameters,
signatures, metadata (report.json `bytes`). convert/strip.py removes what TFLM never reads."""
from __future__ import annotations

from dataclasses import dataclass

from helpers.core.flatbuffer import parse_model


@dataclass(frozen=True)
class ByteAccount:
    """How the bytes of a flatbuffer split up."""

    total: int
    weights_and_biases: int
    tensor_names: int
    quantization_parameters: int
    signatures: int
    metadata: int

    @property
    def structure(self) -> int:
        """Everything that is not weights or biases: names, tables, offsets, padding."""
        return self.total - self.weights_and_biases

    @classmethod
    def from_dict(cls, data: dict[str, int]) -> "ByteAccount":
        return cls(**{key: value for key, value in data.items() if key != "structure"})

    def as_dict(self) -> dict[str, int]:
        """For report.json."""
        return {"total": self.total, "weights_and_biases": self.weights_and_biases, "structure": self.structure,
                "tensor_names": self.tensor_names, "quantization_parameters": self.quantization_parameters,
                "signatures": self.signatures, "metadata": self.metadata}


def _text_length(value: object) -> int:
    return len(value) if isinstance(value, (bytes, str)) else 0


def account(content: bytes) -> ByteAccount:
    """Split a flatbuffer's size into weights, names, quantization parameters, signatures, metadata."""
    model = parse_model(content)
    metadata_buffers = {m.buffer for m in model.metadata or []}
    weights = sum(len(b.data) for i, b in enumerate(model.buffers or [])
                  if b.data is not None and i not in metadata_buffers)
    metadata = sum(len(model.buffers[i].data) for i in metadata_buffers if model.buffers[i].data is not None)
    metadata += sum(_text_length(m.name) for m in model.metadata or [])
    names = sum(_text_length(t.name) for g in model.subgraphs for t in g.tensors)
    quantization = 0
    for graph in model.subgraphs:
        for tensor in graph.tensors:
            q = tensor.quantization
            if q is not None:
                quantization += 4 * len(q.scale if q.scale is not None else []) + 8 * len(
                    q.zeroPoint if q.zeroPoint is not None else [])
    signatures = 0
    for signature in model.signatureDefs or []:
        signatures += _text_length(signature.signatureKey) + 16
        for item in list(signature.inputs or []) + list(signature.outputs or []):
            signatures += _text_length(item.name) + 12
    return ByteAccount(total=len(content), weights_and_biases=weights, tensor_names=names,
                       quantization_parameters=quantization, signatures=signatures, metadata=metadata)

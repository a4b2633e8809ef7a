"""The typed detail blocks of a report row: what optimization did (pruning and its search,
clusters, quantization-aware layers, layers kept in float, recurrent layers unrolled), what
--strip and LUT compression did or why not, the weights' sparsity and the flatbuffer's bytes.
Each turns into report.json's dict in `to_dict` and back in `from_dict`, with the keys report.json
has always had."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from helpers.core.recovery import Recovery


@dataclass(frozen=True)
class NotApplied:
    """A step that was asked for (or tried) and not applied, and why."""

    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"applied": False, "reason": self.reason}


@dataclass(frozen=True)
class Stripped:
    """--strip kept the model without names, signatures and metadata (TFLM gave identical outputs)."""

    bytes_before: int
    bytes_after: int

    def to_dict(self) -> dict[str, Any]:
        return {"applied": True, "bytes_before": self.bytes_before, "bytes_after": self.bytes_after,
                "saving_bytes": self.bytes_before - self.bytes_after, "tflm_outputs_identical": True}


StripResult = Stripped | NotApplied


def strip_from_dict(data: dict[str, Any]) -> StripResult | None:
    if not data:
        return None
    if data.get("applied"):
        return Stripped(bytes_before=data["bytes_before"], bytes_after=data["bytes_after"])
    return NotApplied(reason=data.get("reason", ""))


@dataclass(frozen=True)
class LeftUncompressed:
    tensor: str
    reason: str


@dataclass(frozen=True)
class LutCompressed:
    """A LUT twin: its weights as indices into per-tensor value tables, proven lossless on TFLM."""

    base_variant: str
    bits: int
    effective_bits_per_weight: float | None   # what the whole file saved, spread over the int8 weights
    saving_bytes: int
    saving_fraction: float
    compressed_tensors: tuple[str, ...]
    left_uncompressed: tuple[LeftUncompressed, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"applied": True, "base_variant": self.base_variant, "bits": self.bits,
                "index_bits_per_weight": self.bits, "effective_bits_per_weight": self.effective_bits_per_weight,
                "saving_bytes": self.saving_bytes, "saving_fraction": self.saving_fraction,
                "tflm_outputs_identical_to_base": True, "compressed_tensors": list(self.compressed_tensors),
                "left_uncompressed": [{"tensor": t.tensor, "reason": t.reason} for t in self.left_uncompressed]}


@dataclass(frozen=True)
class CompressedTwin:
    """The base row of a LUT twin: the compression lives in the twin's own row."""

    compressed_variant: str

    def to_dict(self) -> dict[str, Any]:
        return {"applied": False, "compressed_variant": self.compressed_variant}


Compression = LutCompressed | CompressedTwin | NotApplied


def compression_from_dict(data: dict[str, Any]) -> Compression | None:
    if not data:
        return None
    if data.get("applied"):
        return LutCompressed(base_variant=data["base_variant"], bits=data["bits"],
                             effective_bits_per_weight=data.get("effective_bits_per_weight"),
                             saving_bytes=data["saving_bytes"], saving_fraction=data["saving_fraction"],
                             compressed_tensors=tuple(data.get("compressed_tensors", ())),
                             left_uncompressed=tuple(LeftUncompressed(**t) for t in data.get("left_uncompressed", ())))
    if "compressed_variant" in data:
        return CompressedTwin(compressed_variant=data["compressed_variant"])
    return NotApplied(reason=data.get("reason", ""))


@dataclass(frozen=True)
class SparsityCandidate:
    """One sparsity --sparsity auto tried, judged on the validation rows by its worst exported
    variant (`judged_by`: the variant whose metric this is); one within tolerance there is
    confirmed on the evaluation rows as the guard judges (`evaluation_metrics`, the worst variant's)."""

    sparsity: float
    validation_metrics: dict[str, float]
    within_tolerance: bool
    zlib_weight_bytes: int   # the pruned kernels as float32, zlib level 9: what the zeros save
    judged_by: str = "keras_pruned"
    evaluation_metrics: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"sparsity": self.sparsity, "validation_metrics": dict(self.validation_metrics),
                "within_tolerance": self.within_tolerance, "zlib_weight_bytes": self.zlib_weight_bytes,
                "judged_by": self.judged_by, "evaluation_metrics": self.evaluation_metrics}


@dataclass(frozen=True)
class Pruning:
    """The pruning schedule used, and the --sparsity auto search that chose it (empty: none)."""

    final_sparsity: float
    initial_sparsity: float
    epochs: int
    policy: str | None
    search: tuple[SparsityCandidate, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"final_sparsity": self.final_sparsity, "initial_sparsity": self.initial_sparsity,
                                "epochs": self.epochs, "policy": self.policy}
        if self.search:
            data["search"] = [candidate.to_dict() for candidate in self.search]
        return data


@dataclass(frozen=True)
class Unrolled:
    """Recurrent layers unrolled after the converter crashed on them."""

    layers: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class Optimization:
    """report.json `optimization`: each part present only where it happened."""

    pruning: Pruning | None = None
    clusters: int | None = None
    qat_layers: tuple[str, ...] | None = None
    float_layers: tuple[str, ...] | None = None
    kept_in_float: tuple[str, ...] | None = None
    recurrent_unrolled: Unrolled | None = None
    recovery: Recovery | None = None          # the accuracy recovery's search, where one ran

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.pruning is not None:
            data["pruning"] = self.pruning.to_dict()
        if self.clusters:
            data["clusters"] = self.clusters
        for name in ("qat_layers", "float_layers", "kept_in_float"):
            if getattr(self, name) is not None:
                data[name] = list(getattr(self, name))
        if self.recurrent_unrolled is not None:
            data["recurrent_unrolled"] = {"unrolled": list(self.recurrent_unrolled.layers),
                                          "why": self.recurrent_unrolled.why}
        if self.recovery is not None:
            data["recovery"] = self.recovery.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Optimization":
        pruning = data.get("pruning")
        unrolled = data.get("recurrent_unrolled")
        lists = {name: tuple(data[name]) for name in ("qat_layers", "float_layers", "kept_in_float") if name in data}
        return cls(
            pruning=None if pruning is None else Pruning(
                final_sparsity=pruning["final_sparsity"], initial_sparsity=pruning["initial_sparsity"],
                epochs=pruning["epochs"], policy=pruning.get("policy"),
                search=tuple(SparsityCandidate(**c) for c in pruning.get("search", ()))),
            clusters=data.get("clusters"),
            recurrent_unrolled=None if unrolled is None else Unrolled(tuple(unrolled["unrolled"]), unrolled["why"]),
            recovery=Recovery.from_dict(data["recovery"]) if data.get("recovery") else None,
            **lists)


@dataclass(frozen=True)
class LayerWeights:
    name: str
    dtype: str
    elements: int
    sparsity: float
    unique_values: int
    max_unique_per_channel: int


@dataclass(frozen=True)
class WeightSummary:
    """report.json `weights`: sparsity and unique values of the exported kernels, overall and per layer."""

    sparsity: float
    layers: tuple[LayerWeights, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"sparsity": self.sparsity, "layers": [{f.name: getattr(layer, f.name) for f in fields(layer)}
                                                      for layer in self.layers]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "WeightSummary":
        return cls(sparsity=data["sparsity"], layers=tuple(LayerWeights(**layer) for layer in data.get("layers", ())))

"""What a variant is before it is built: its plan, lineage and name. Plans are data, not code:
convert/ reads a plan to configure the converter, pipeline/ decides which plans a run has.

Naming scheme, the only place variant names are made: a name is also the export folder.
`float32` is the plain conversion; quantized variants are named after what they store (`int8`,
`int16x8`, ...), while `quantization` keeps the `-q` value. Optimized models prefix the name
(`pruned_`, `clustered_`); quantization-aware trained ones are `qat` (float input/output) or
`qat_int8`. Twins derived from a built variant append to its name: `<base>_keep_float`,
`<base>_lut<bits>`. Keras rows are `keras`, or `keras_<lineage>` for the optimized model.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from helpers.core.flatbuffer import TfliteInfo
from helpers.core.quantization import TRAITS, Quantization
from helpers.core.rewrites import Rewrite


class VariantKind(str, Enum):
    """How a variant comes to be."""

    CONVERTED = "converted"      # the converter, from a Keras model and a quantization
    KEEP_FLOAT = "keep_float"    # an int8 base with its worst layers left in float (--keep_float)
    LUT = "lut"                  # a clustered integer base with LUT-compressed weights (TFLM DECODE)


@dataclass(frozen=True)
class Lineage:
    """What was done to the Keras model before conversion."""

    pruned: bool = False
    clustered: bool = False
    qat: bool = False

    @property
    def prefix(self) -> str:
        """Variant name prefix, e.g. `pruned_clustered_`."""
        parts = [name for name, on in (("pruned", self.pruned), ("clustered", self.clustered)) if on]
        return "_".join(parts) + "_" if parts else ""

    @property
    def optimized(self) -> bool:
        """Whether anything was done at all."""
        return self.pruned or self.clustered or self.qat

    def keras_name(self) -> str:
        """The Keras row's name: `keras`, `keras_pruned`, `keras_pruned_qat`, ..."""
        return f"keras_{self.prefix}{'qat_' if self.qat else ''}".rstrip("_")


@dataclass(frozen=True)
class VariantPlan:
    """One TFLite variant to build."""

    name: str
    quantization: Quantization
    lineage: Lineage
    description: str
    kind: VariantKind = VariantKind.CONVERTED
    calibrated: bool = False     # the converter runs the representative dataset
    base: str | None = None      # twins: the variant they derive from

    @property
    def traits(self):  # type: ignore[no-untyped-def]
        """The quantization's traits (core.quantization.TRAITS)."""
        return TRAITS[self.quantization]


def converted_plan(quantization: Quantization, lineage: Lineage = Lineage()) -> VariantPlan:
    """A post-training variant (or the float32 baseline), named after what it stores."""
    traits = TRAITS[quantization]
    return VariantPlan(name=lineage.prefix + traits.variant_name, quantization=quantization, lineage=lineage,
                       description=traits.description, calibrated=traits.calibrated)


def qat_plan(int8_io: bool, lineage: Lineage) -> VariantPlan:
    """The quantization-aware trained variant: the fake-quant ranges replace calibration."""
    if int8_io:
        return VariantPlan(name=lineage.prefix + "qat_int8", quantization=Quantization.INT8, lineage=lineage,
                           description="quantization-aware trained, int8 inside, int8 input/output")
    return VariantPlan(name=lineage.prefix + "qat", quantization=Quantization.INTEGER_WITH_FLOAT_FALLBACK,
                       lineage=lineage, description="quantization-aware trained, int8 inside, float input/output")


def keep_float_plan(base: VariantPlan, kept: int) -> VariantPlan:
    """`base` with `kept` ops left in float; same quantization, calibration and I/O types."""
    return VariantPlan(name=f"{base.name}_keep_float", quantization=base.quantization, lineage=base.lineage,
                       description=f"{base.description}, {kept} op(s) kept in float",
                       kind=VariantKind.KEEP_FLOAT, calibrated=base.calibrated, base=base.name)


def lut_plan(base: VariantPlan, bits: int) -> VariantPlan:
    """`base` with its clustered weights stored as `bits`-wide lookup-table indices."""
    return VariantPlan(name=f"{base.name}_lut{bits}", quantization=base.quantization, lineage=base.lineage,
                       description=f"{base.description}, weights as {bits}-bit LUT indices",
                       kind=VariantKind.LUT, calibrated=base.calibrated, base=base.name)


@dataclass(frozen=True)
class TfliteModel:
    """A built variant: its plan, its bytes and what they hold."""

    plan: VariantPlan
    content: bytes
    info: TfliteInfo
    rewrites: tuple[Rewrite, ...] = ()   # the graph rewrites that made it (core/rewrites.py)

    @property
    def size_bytes(self) -> int:
        """Raw flatbuffer size."""
        return len(self.content)

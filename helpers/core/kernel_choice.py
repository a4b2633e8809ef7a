"""The C engine's kernel per layer, chosen at export by measuring (issue 36): for each layer an own
kernel can take, its instructions with the own kernel and with CMSIS-NN's, on one target of the
kernels' core family; the faster one is kept (CMSIS-NN on a tie: it costs no re-laid weights)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# The families of own kernels (the C engine's #if chain, helpers/emit/c_own_kernels.py), each measured
# on its own target: SIMD kernels on Armv7E-M (Cortex-M4, M7, M33), plain C on Armv6-M (Cortex-M0+).
ARMV7EM = "armv7e-m"
ARMV6M = "armv6-m"


@dataclass(frozen=True)
class LayerTiming:
    """One layer's two builds, instructions of its kernel call in the first vector's inference."""

    step: int                 # the engine's step index (its profile hook's number)
    layer: str                # "CONV_2D 1x1 25x5x64 -> 64: mcu_pointwise_s8"
    own_instructions: int
    cmsis_nn_instructions: int

    @property
    def own_kept(self) -> bool:
        return self.own_instructions < self.cmsis_nn_instructions

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "kept": "own" if self.own_kept else "cmsis_nn"}


@dataclass(frozen=True)
class KernelChoice:
    """What the export measured, on which target; `note` says why nothing was measured (then every
    layer keeps the rule's choice, the own kernel)."""

    target: str
    layers: tuple[LayerTiming, ...] = ()
    note: str | None = None

    @property
    def cmsis_steps(self) -> frozenset[int]:
        """The steps given back to CMSIS-NN."""
        return frozenset(layer.step for layer in self.layers if not layer.own_kept)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"target": self.target, "layers": [layer.to_dict() for layer in self.layers]}
        if self.note:
            data["note"] = self.note
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "KernelChoice":
        layers = tuple(LayerTiming(step=int(row["step"]), layer=str(row["layer"]),
                                   own_instructions=int(row["own_instructions"]),
                                   cmsis_nn_instructions=int(row["cmsis_nn_instructions"]))
                       for row in data.get("layers") or ())
        return cls(target=str(data["target"]), layers=layers, note=data.get("note"))


def given_back(choice: KernelChoice | None) -> frozenset[int]:
    """The steps a measurement gave back to CMSIS-NN (none without a measurement)."""
    return choice.cmsis_steps if choice is not None else frozenset()

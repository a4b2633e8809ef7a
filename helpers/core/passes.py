"""What the exact graph passes on the engines' program removed (helpers/lowering/passes.py), for
report.json and report.md."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RemovedChannels:
    """What the dead-channel pass removed: output channels of one layer and the matching input
    channels of the layer that reads them (through `through` pooling steps)."""

    producer: int              # the op positions in the graph
    producer_op: str
    consumer: int
    consumer_op: str
    channels: tuple[int, ...]  # the producer's output channels removed
    of_channels: int
    weights_removed: int       # int8 weights dropped from both layers
    through: int = 0           # pooling steps between them, narrowed too
    # a depthwise op between them (its position), narrowed too: the constant it makes of each dead
    # channel (its requantized bias) is folded into the consumer's bias
    folded_through: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "channels": list(self.channels)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RemovedChannels":
        return cls(**{**data, "channels": tuple(data["channels"])})

    def describe(self) -> str:
        return (f"{len(self.channels)} of {self.of_channels} output channels of op {self.producer} "
                f"({self.producer_op}: all-zero weights and bias) and the matching input channels of op "
                f"{self.consumer} ({self.consumer_op})"
                + (f", through op {self.folded_through} (DEPTHWISE_CONV_2D), whose constant outputs there "
                   "are folded into the consumer's bias" if self.folded_through is not None else "")
                + f": {self.weights_removed:,} weights")

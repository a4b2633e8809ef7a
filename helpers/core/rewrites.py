"""The graph rewrites applied to a variant where TFLM lacks a kernel, or its CMSIS-NN kernel refuses
the case (helpers/rewrite/ and frontend/graph_rewrites.py do them): what each did, where, and how it
was proven or measured.

report.json writes them per TFLite variant under `rewrites` (only where a pass applied, so reports
of models that needed none keep their keys), and report.md and the terminal say them in one line.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class RewriteStage(str, Enum):
    """When a pass runs: on the traced TensorFlow function the converter is given, or on the
    converted flatbuffer."""

    BEFORE_CONVERSION = "before_conversion"
    AFTER_CONVERSION = "after_conversion"


@dataclass(frozen=True)
class Rewrite:
    """One pass applied: `ops` is how many places of the graph it rewrote. `exact` passes compute
    the same values (their proof in `proof`); approximate ones show their cost in the variant's
    metric against Keras, judged by the accuracy guard like any other change."""

    name: str
    stage: RewriteStage
    ops: int
    exact: bool
    proof: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "stage": self.stage.value, "ops": self.ops, "exact": self.exact,
                "proof": self.proof}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Rewrite":
        return cls(name=data["name"], stage=RewriteStage(data["stage"]), ops=int(data["ops"]),
                   exact=bool(data["exact"]), proof=str(data["proof"]))

    def summary(self) -> str:
        """`upsampling_to_resize_nearest (2 ops)`: how the terminal and report.md name it."""
        return f"{self.name} ({self.ops} op{'s' if self.ops != 1 else ''})"


def rewrites_line(rewrites: tuple[Rewrite, ...]) -> str:
    """`rewrites: a (2 ops), b (1 op)`, or "" when none applied."""
    return "rewrites: " + ", ".join(r.summary() for r in rewrites) if rewrites else ""

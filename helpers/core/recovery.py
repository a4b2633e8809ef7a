"""report.json `optimization.recovery`: the search that tried to bring a quantized variant back
within the accuracy guard, strategy by strategy."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class RecoveryAttempt:
    """One strategy: its metrics on the validation rows, its drop against the reference there (the
    guard's rule), the seconds it took, and whether its model was kept."""

    strategy: str
    validation_metrics: dict[str, float] = field(default_factory=dict)
    validation_drop: float | None = None
    seconds: float = 0.0
    kept: bool = False
    note: str | None = None       # why it gave no model (nothing to change, a converter error)


@dataclass(frozen=True)
class Recovery:
    """The search on one variant: where it started, each strategy tried, which one was kept (None:
    the variant is the converter's own), and why it stopped early, if it did."""

    validation_rows: int
    limit: float                                    # the guard's --max_drop
    before_metrics: dict[str, float]
    before_drop: float | None
    attempts: tuple[RecoveryAttempt, ...] = ()
    chosen: str | None = None
    stopped: str | None = None                      # "time budget"
    evaluation_check: str | None = None             # why the evaluation rows refused the choice

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["attempts"] = [asdict(a) for a in self.attempts]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Recovery":
        attempts = tuple(RecoveryAttempt(**a) for a in data.get("attempts", ()))
        return cls(**{**data, "attempts": attempts})

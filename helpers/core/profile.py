"""The per-layer profile (--profile): instructions per op of the first vector's inference, TFLM's
(its MicroProfiler hook) and the C engine's (a timer read before every kernel call) side by side
on one Cortex-M target, lined up by the op's position in the graph."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class LayerRow:
    """One op of the graph. `engine_steps` 0 with instructions 0: the engine runs no kernel for it
    (folded at export, or a RESHAPE the engine aliases); None: that side was not profiled."""

    position: int
    op: str
    tflm_instructions: int | None
    engine_instructions: int | None
    engine_steps: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TargetProfile:
    """One target's profile. `*_profiled` is the whole first inference of the profiling build (its
    timer reads included), `*_inference` that of the ordinary self-test (report.json's
    instructions_per_inference): profiled minus the layers' sum is the time outside the ops (TFLM's
    interpreter loop; the hooks), profiled minus inference what the profiling itself costs."""

    target: str
    instructions_per_tick: float      # the timer's resolution: each row is within one tick
    layers: tuple[LayerRow, ...]
    tflm_profiled: int | None = None
    tflm_inference: int | None = None
    engine_profiled: int | None = None
    engine_inference: int | None = None
    tflm_note: str | None = None      # why TFLM's side is missing
    engine_note: str | None = None

    @property
    def tflm_sum(self) -> int | None:
        values = [row.tflm_instructions for row in self.layers]
        return None if not values or None in values else sum(v or 0 for v in values)

    @property
    def engine_sum(self) -> int | None:
        values = [row.engine_instructions for row in self.layers]
        return None if not values or None in values else sum(v or 0 for v in values)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**data, "layers": [row.to_dict() for row in self.layers], "tflm_sum": self.tflm_sum,
                "engine_sum": self.engine_sum}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TargetProfile":
        names = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in names}
        values["layers"] = tuple(LayerRow(**row) for row in data.get("layers") or ())
        return cls(**values)


def line_up(graph_ops: tuple[str, ...], tflm_ops: tuple[tuple[str, int], ...] | None,
            step_ops: tuple[int, ...], engine_steps: tuple[int, ...] | None) -> tuple[LayerRow, ...]:
    """The rows, one per op of the graph. `tflm_ops`: (op name, instructions) per event of TFLM's
    profiler, which fires once per op in the graph's order; `engine_steps`: instructions per kernel
    call, `step_ops` the op each call comes from. Either side None: not profiled."""
    names = list(graph_ops) or [name for name, _ in tflm_ops or ()]
    rows = []
    for position, name in enumerate(names):
        tflm = tflm_ops[position][1] if tflm_ops is not None and position < len(tflm_ops) else None
        engine = None
        calls = [s for s, op in enumerate(step_ops) if op == position]
        if engine_steps is not None and len(engine_steps) == len(step_ops):
            engine = sum(engine_steps[s] for s in calls)
        rows.append(LayerRow(position=position, op=name, tflm_instructions=tflm, engine_instructions=engine,
                             engine_steps=len(calls)))
    return tuple(rows)

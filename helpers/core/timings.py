"""Wall time per phase of a run (report.json `timings`, and the benchmarks)."""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator


class Timings:
    """Seconds per named phase, summed over every time the phase is entered."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the body of a `with` block under `name`."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 3)

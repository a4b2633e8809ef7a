"""Progress of a phase that takes more than a few seconds (TFLM's library build, the MicroPython
check over the evaluation rows): on a terminal one line that updates in place, with done, total
and the time left; elsewhere (a log file, CI) a plain line now and then; nothing under --quiet.
It writes through the `mcu_deploy` logger's own stream, the one main.py set up."""
from __future__ import annotations

import logging
import threading
import time
from typing import TextIO

log = logging.getLogger("mcu_deploy")

PLAIN_EVERY_S = 10.0      # without a terminal: a line at most this often (and one at the end)
REDRAW_EVERY_S = 0.2      # on a terminal: redraw at most this often


def _stream() -> TextIO | None:
    """The stream the logger writes to, when progress is to be shown at all."""
    if not log.isEnabledFor(logging.INFO):
        return None
    for handler in log.handlers:
        stream = getattr(handler, "stream", None)
        if stream is not None:
            return stream
    return None


def time_left(done: int, total: int, elapsed: float) -> str:
    """`about 40 s left` / `about 2.5 min left`, from the pace so far ('' before the first step)."""
    if not done or done >= total:
        return ""
    remaining = (total - done) * elapsed / done
    return f"about {remaining / 60:.1f} min left" if remaining >= 60 else f"about {remaining:.0f} s left"


class Progress:
    """`with Progress("compiling TFLM's library for host", 41) as progress: ... progress.advance()`."""

    def __init__(self, what: str, total: int, unit: str = "") -> None:
        self.what, self.total, self.unit = what, total, unit
        self.done = 0
        self.started = time.monotonic()
        self._shown = self.started  # the first plain line after PLAIN_EVERY_S
        self._drawn = False
        self._stream = _stream()
        self._terminal = bool(self._stream is not None and getattr(self._stream, "isatty", lambda: False)())
        self._guard = threading.Lock()  # the library build advances from its compile threads
        self._stopped: str | None = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stopped(self, why: str) -> None:
        """The phase ends before its total, on purpose (`why`: "time budget"): said instead of a time left."""
        self._stopped = why

    def line(self) -> str:
        width = 20
        filled = width * self.done // self.total if self.total else width
        left = (f"stopped ({self._stopped})" if self._stopped
                else time_left(self.done, self.total, time.monotonic() - self.started))
        unit = f" {self.unit}" if self.unit else ""
        return (f"  {self.what}: [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}{unit}"
                + (f", {left}" if left else ""))

    def advance(self, steps: int = 1) -> None:
        with self._guard:
            self._advance(steps)

    def _advance(self, steps: int) -> None:
        self.done = min(self.total, self.done + steps)
        now = time.monotonic()
        if self._stream is None:
            return
        if self._terminal and (now - self._shown >= REDRAW_EVERY_S or not self._drawn):
            self._stream.write("\r\x1b[K" + self.line())
            self._stream.flush()
            self._shown, self._drawn = now, True
        elif not self._terminal and now - self._shown >= PLAIN_EVERY_S and self.done < self.total:
            self._stream.write(self.line() + "\n")
            self._stream.flush()
            self._shown = now

    def close(self) -> None:
        """The last state, on a line of its own, only when the phase was long enough to show."""
        if self._stream is None or time.monotonic() - self.started < 2.0:
            if self._terminal and self._drawn:
                self._stream.write("\r\x1b[K")  # type: ignore[union-attr]
            return
        self._stream.write(("\r\x1b[K" if self._terminal else "") + self.line() + f" in "
                           f"{time.monotonic() - self.started:.0f} s\n")
        self._stream.flush()

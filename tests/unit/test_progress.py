"""Progress lines: in place on a terminal, a plain line now and then elsewhere, nothing under
--quiet, and nothing at all for a phase too short to need one."""
from __future__ import annotations

import io
import logging

import pytest

from helpers import progress


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def logger_stream(monkeypatch):
    logger = logging.getLogger("mcu_deploy")
    before = logger.level

    def attach(stream, level=logging.INFO):
        monkeypatch.setattr(logger, "handlers", [logging.StreamHandler(stream)])
        logger.setLevel(level)
        return stream
    clock = _Clock()
    monkeypatch.setattr(progress.time, "monotonic", clock)
    yield attach, clock
    logger.setLevel(before)


def test_plain_lines_without_a_terminal_with_done_total_and_time_left(logger_stream):
    attach, clock = logger_stream
    stream = attach(io.StringIO())
    with progress.Progress("compiling", 40, "sources") as bar:
        for _ in range(40):
            clock.now += 1.0
            bar.advance()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("  compiling: [") and "10/40 sources, about 30 s left" in lines[0]
    assert len(lines) == 4 and lines[-1].endswith("40/40 sources in 40 s")  # every 10 s, then the end
    assert "\r" not in stream.getvalue()


def test_in_place_on_a_terminal(logger_stream):
    attach, clock = logger_stream
    stream = attach(_Terminal())
    with progress.Progress("rows", 3) as bar:
        for _ in range(3):
            clock.now += 1.0
            bar.advance()
    text = stream.getvalue()
    assert text.count("\r\x1b[K") == 4 and text.endswith("3/3 in 3 s\n")


def test_nothing_under_quiet_or_for_a_short_phase(logger_stream):
    attach, clock = logger_stream
    quiet = attach(io.StringIO(), level=logging.WARNING)
    with progress.Progress("rows", 100) as bar:
        for _ in range(100):
            clock.now += 1.0
            bar.advance()
    assert quiet.getvalue() == ""
    short = attach(io.StringIO())
    with progress.Progress("rows", 5) as bar:
        bar.advance(5)
    assert short.getvalue() == ""


def test_time_left():
    assert progress.time_left(0, 10, 5.0) == "" and progress.time_left(10, 10, 5.0) == ""
    assert progress.time_left(1, 4, 30.0) == "about 1.5 min left"

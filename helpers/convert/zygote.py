"""A process forked right after TensorFlow is imported, before it runs any op: the parent of every
converter child (convert/child/main.py).

Forking the pipeline itself once it has run TensorFlow ops deadlocks the child (TensorFlow's
thread pools do not survive a fork), and a fresh Python would import TensorFlow again (5 s of
CPU per run). A process forked before the first op has TensorFlow imported and no pools yet, so
it can fork a child per job at no cost; a crash kills only that child. It serves jobs over a pipe
and exits when the pipeline closes it (or dies).
"""
from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import time
from typing import Any

_HEADER = struct.Struct("!I")


def _send(fd: int, value: Any) -> None:
    data = pickle.dumps(value)
    os.write(fd, _HEADER.pack(len(data)) + data)


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        chunk = os.read(fd, remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _receive(fd: int) -> Any:
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    data = _read_exactly(fd, _HEADER.unpack(header)[0])
    return None if data is None else pickle.loads(data)


def _serve(jobs: int, answers: int) -> None:
    """The zygote's loop: for each job, fork a child that runs it, report its pid, then its status."""
    from helpers.convert.child.main import run_job  # the zygote is the children's parent: it imports them

    while True:
        job = _receive(jobs)
        if job is None:  # the pipeline closed the pipe, or died
            return
        work, folder, silence = job
        pid = os.fork()
        if pid == 0:
            os.close(jobs)
            os.close(answers)
            run_job(work, folder, silence)  # never returns
        _send(answers, ("pid", pid))
        _, status = os.waitpid(pid, 0)
        _send(answers, ("status", status))


class Zygote:
    """The pipeline's handle on its zygote process."""

    def __init__(self) -> None:
        jobs_read, self._jobs = os.pipe()
        self._answers, answers_write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self._jobs)
            os.close(self._answers)
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the pipeline's to handle
            try:
                _serve(jobs_read, answers_write)
            finally:
                os._exit(0)
        os.close(jobs_read)
        os.close(answers_write)

    def run(self, job: Any, folder: str, silence: bool, timeout_s: float) -> int | None:
        """Run one job (convert/jobs.py) in a fresh child; its wait status, or None after killing it at
        the timeout."""
        _send(self._jobs, (job, folder, silence))
        reply = _receive(self._answers)
        if reply is None:
            raise RuntimeError("the converter's zygote process is gone")
        child = reply[1]
        deadline = time.monotonic() + timeout_s
        while True:
            ready, _, _ = select.select([self._answers], [], [], max(0.0, deadline - time.monotonic()))
            if ready:
                reply = _receive(self._answers)
                if reply is None:
                    raise RuntimeError("the converter's zygote process is gone")
                return int(reply[1])
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _receive(self._answers)  # the zygote reaps it and reports
            return None

    def close(self) -> None:
        """Let the zygote exit and reap it."""
        try:
            os.close(self._jobs)
            os.close(self._answers)
            os.waitpid(self.pid, 0)
        except OSError:
            pass


_ZYGOTE: list[Zygote] = []


def start() -> None:
    """Fork the zygote; call right after TensorFlow is imported, before any TensorFlow op runs."""
    if not _ZYGOTE:
        _ZYGOTE.append(Zygote())


def started() -> bool:
    """Whether start() was called (else the converter's children are fresh Pythons)."""
    return bool(_ZYGOTE)


def current() -> Zygote:
    """The running zygote."""
    return _ZYGOTE[0]


def stop() -> None:
    """End the zygote (the pipeline's exit paths call this)."""
    while _ZYGOTE:
        _ZYGOTE.pop().close()

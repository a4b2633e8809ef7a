"""Silence what TensorFlow's and LiteRT's C++ code prints straight to file descriptor 2.

The converter prints lines such as "fully_quantize: 0, inference_type: 6, ..." and the
interpreter "INFO: Created TensorFlow Lite XNNPACK delegate" from C++, which Python's
logging cannot catch. Shown with --verbose; hidden otherwise. main.py logs to a duplicate of
the original stderr, so the tool's own messages still show while fd 2 is silenced.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator

_state = {"verbose": False}


def set_verbose(verbose: bool) -> None:
    """Let native output through (True) or hide it (False)."""
    _state["verbose"] = verbose


def native_output_shown() -> bool:
    """Whether native output is let through (--verbose)."""
    return _state["verbose"]


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point fd 2 at /dev/null for the duration, unless verbose."""
    if _state["verbose"]:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)

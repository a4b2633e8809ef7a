"""The forkserver every TFLM check is forked from (multiprocessing keeps one per process, so its
preload list is set here, once).

The server imports numpy and tflite_micro, never TensorFlow: a check starts in milliseconds
instead of the 0.3 s a fresh Python needs, and each check is its own process, so a TFLM abort
takes down only that check. (The converter's children come from convert/zygote.py instead.)
Importing this module imports nothing heavy.
"""
from __future__ import annotations

import multiprocessing

PRELOAD = ["helpers.measure.tflm_worker", "tflite_micro.python.tflite_micro.runtime"]
CONTEXT = multiprocessing.get_context("forkserver")
CONTEXT.set_forkserver_preload(PRELOAD)


def start_early() -> None:
    """Start the server now, so it imports its modules while the pipeline does other work."""
    from multiprocessing import forkserver

    try:
        forkserver.ensure_running()
    except OSError:
        # Its socket lives under TMPDIR, and a deep TMPDIR makes the path longer than AF_UNIX takes:
        # the run goes on, and what needs TFLM says so (the lookup tables run it as a subprocess).
        pass

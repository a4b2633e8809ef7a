"""The child side of every TensorFlow converter call: a process forked by the zygote
(convert/zygote.py), or a fresh Python where no zygote runs.

It runs one job (convert/jobs.py), dispatched on the job's type, and writes its answer into the
job's folder: `result.bin` (a flatbuffer, or the debugger's CSV) or `error.txt` with the
exception's text. A crash of the converter kills only this process; the parent reads the signal
from its exit code.
"""
from __future__ import annotations

import os
import traceback
from pathlib import Path
from typing import Callable

from helpers.convert.child import jobs
from helpers.convert.child.probe import probe
from helpers.convert.jobs import ERROR, RESULT, ConvertJob, Job, LayerErrorsJob, ProbeJob, RangesJob, SelectiveJob

RUNNERS: dict[type, Callable[..., bytes]] = {ConvertJob: jobs.convert, LayerErrorsJob: jobs.layer_errors,
                                             SelectiveJob: jobs.selective, RangesJob: jobs.ranges,
                                             ProbeJob: probe}


def run_job(job: Job, folder: str, silence: bool) -> None:
    """The child's entry point: run the job, leave its answer in `folder`, exit."""
    if silence:  # TensorFlow's C++ prints straight to fd 2
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    code = 0
    try:
        Path(folder, RESULT).write_bytes(RUNNERS[type(job)](job))
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent as text
        Path(folder, ERROR).write_text(f"{type(exc).__name__}: {exc}", encoding="utf-8", errors="replace")
        traceback.print_exc()  # shown with --verbose
        code = 3
    os._exit(code)

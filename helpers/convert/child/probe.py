"""The child side of a given .tflite's probe (convert/jobs.ProbeJob): LiteRT builds its
interpreter (which verifies the flatbuffer), allocates the tensors and invokes once on zeros. An
exception goes back to the parent as text; an abort or a segfault ends only this process."""
from __future__ import annotations

import numpy as np

from helpers.convert.jobs import ProbeJob


def probe(job: ProbeJob) -> bytes:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=job.model, num_threads=1)
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], dtype=detail["dtype"]))
    interpreter.invoke()
    for detail in interpreter.get_output_details():
        interpreter.get_tensor(detail["index"])
    return b"ok"

"""Every kernel step the lowering can emit has a formatter in both engines (the C engine and the
MicroPython engine), and the MicroPython engine knows which device file holds its kernel: adding
a step without its emitters fails here, not in a user's export."""
from __future__ import annotations

import dataclasses
import inspect

from helpers.emit import c_calls, micropython_calls
from helpers.lowering import steps
from helpers.lowering.program import Step

# Base classes that carry shared fields; no kernel runs them as they are.
ABSTRACT = {steps.Unary, steps.Binary}


def _kernel_steps() -> set[type]:
    return {value for value in vars(steps).values()
            if inspect.isclass(value) and issubclass(value, Step) and value is not Step
            and dataclasses.is_dataclass(value) and value not in ABSTRACT}


def test_every_step_has_a_c_and_a_micropython_emitter():
    kernels = _kernel_steps()
    assert len(kernels) >= 25, sorted(k.__name__ for k in kernels)  # the probe sees the steps
    assert not kernels - set(c_calls.FORMATTERS), sorted(k.__name__ for k in kernels - set(c_calls.FORMATTERS))
    no_python = kernels - set(micropython_calls.FORMATTERS)
    assert not no_python, sorted(k.__name__ for k in no_python)
    no_family = kernels - set(micropython_calls.FAMILIES)
    assert not no_family, sorted(k.__name__ for k in no_family)


def test_a_c_step_that_is_not_a_cmsis_call_names_its_kernel_file():
    # c_calls' formatters outside c_cmsis (and c_cmsis16, the int16x8 steps' CMSIS-NN calls, and
    # c_transpose_conv) call the engine's own kernels, which come from OWN_FAMILIES
    cmsis = ("helpers.emit.c_cmsis", "helpers.emit.c_cmsis16", "helpers.emit.c_transpose_conv")
    own = {kind for kind, formatter in c_calls.FORMATTERS.items() if formatter.__module__ not in cmsis}
    # CONV_2D and FULLY_CONNECTED are CMSIS-NN's calls, or on Armv7E-M the own kernels of
    # c_own_conv, whose file (conv_dsp.c) c_engine pastes when a step uses them
    own -= {steps.ConvInt8, steps.FullyConnectedInt8}
    assert not own - set(c_calls.OWN_FAMILIES), sorted(k.__name__ for k in own - set(c_calls.OWN_FAMILIES))

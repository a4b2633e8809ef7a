"""The model's own native module (helpers/emit/native_model.py): the C engine wrapped as a
MicroPython native module and built with the variant's exported <id>_native.mk, as its header tells
a user to. Built for x64 from the pinned trees and run on the unix port, on golden engines of every
shape the wrapper takes (a CNN, the int8 LSTM whose state each invoke clears, the two-input,
two-output model): "native" runs the module in one call, its outputs identical to the kernels
module's path over the whole int8 range, nothing allocated; a module whose digest is another
engine's is never used; and a model whose state lasts between inferences gets no module."""
from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from helpers.emit.c_engine import c_engine, render_engine_c, render_engine_files
from helpers.emit.micropython import render_infer_py
from helpers.emit.micropython_native import native_step_count
from helpers.emit.native_model import native_model
from helpers.lowering.lower import lower_model
from helpers.lowering.program import Program
from helpers.micropython.native_model import build_model_module
from helpers.micropython.runtime import find_micropython
from helpers.targets.cmsis_sources import needed_sources
from tests.conftest import MICROPYTHON_DIR, ROOT, TFLM_DIR, require_tool

GOLDEN = ROOT / "tests" / "golden" / "engines"
# golden engines, and "multiio_int8": tests/golden/multiio's two-input, two-output int8 model
CASES = ("digits_cnn__int8", "co2_lstm__int8", "multiio_int8")

_COMPARE = '''
import gc, random
import {stem} as m
assert m.ENGINE == "native" and m.NATIVE_MODULE == "{model}", (m.ENGINE, m.NATIVE_MODULE)
random.seed(11)
multi = hasattr(m, "INPUT_SIZES")
sizes = m.INPUT_SIZES if multi else ({n_in},)
differing = 0
for trial in range(40):
    values = [[random.randint(-128, 127) for i in range(size)] for size in sizes]
    values = tuple(values) if multi else values[0]
    outputs = []
    for engine in ("native", "kernels"):
        assert m.use_engine(engine) == engine
        # native: run() is the module's own, on the tensors bound at import
        assert (m.run is m._MODEL.run) == (engine == "native")
        outputs.append(m.invoke(values))
    differing += outputs[0] != outputs[1]
m.use_engine("native")
# The unix port's first run() after invoke() (which builds lists) allocates 96 B once, on every
# path (the kernels module's too): the steady state is the third run.
for run in range(3):
    gc.collect()
    before = gc.mem_alloc()
    m.run()
    allocated = gc.mem_alloc() - before
print("RESULT", differing, allocated)
'''


def _program_and_context(case: str, folder: Path) -> tuple[Program, dict]:  # type: ignore[type-arg]
    if case == "multiio_int8":
        from tests.multiio_case import render_case

        rendered = render_case("int8", folder)
        return rendered["program"], rendered["context"]
    program = lower_model((GOLDEN / case / "model.tflite").read_bytes()).program
    assert program is not None
    context = json.loads((GOLDEN / case / "context.json").read_text())
    context.setdefault("upper", context["id"].upper())
    return program, context


def _render(case: str, folder: Path) -> tuple[Program, str, str]:
    """The case's C engine, native module files and MicroPython engine in `folder`: the program, the
    engine's module stem and the native module's name."""
    program, context = _program_and_context(case, folder)
    engine = c_engine(program, {**context, "engine_checked_on": [], "tflm_given": False}, "test")
    source = render_engine_c(engine)
    files = render_engine_files(engine, source, needed_sources(TFLM_DIR, source.text), checked=False)
    native, reason = native_model(engine, source, native_step_count(program))
    assert native is not None, reason
    engine_py = render_infer_py(program, {**context, "native_model": native, "native_model_reason": None})
    for rendered in [*files, *native.files, engine_py]:
        (folder / rendered.filename).write_text(rendered.text)
    return program, engine_py.filename[:-3], native.name


@pytest.fixture(scope="module")
def tools():
    for tool in ("tflm", "micropython-tree", "micropython", "cc"):
        require_tool(tool)


@pytest.mark.parametrize("case", CASES)
def test_the_native_module_gives_the_kernels_paths_outputs_in_one_call(case, tools, tflm_cache, tmp_path):
    from helpers.micropython.native_module import build_kernels

    program, stem, name = _render(case, tmp_path)
    module = build_model_module(tmp_path, name[: -len("_native")], MICROPYTHON_DIR, TFLM_DIR, "x64", tflm_cache)
    assert module.filename == f"{name}_x64.mpy" and module.size_bytes > 1000
    # and for a Cortex-M3 board: the engine's CMSIS-NN branches compile there (GCC once put a local
    # record's initialiser in .data, which mpy_ld refuses)
    require_tool("arm-none-eabi-gcc")
    armv7m = build_model_module(tmp_path, name[: -len("_native")], MICROPYTHON_DIR, TFLM_DIR, "armv7m", tflm_cache)
    assert armv7m.path.read_bytes()[:1] == b"M"
    kernels = build_kernels(MICROPYTHON_DIR, TFLM_DIR, "x64", tflm_cache)
    for built in (module, kernels):
        (tmp_path / built.filename).write_bytes(built.path.read_bytes())
    script = _COMPARE.format(stem=stem, model=f"{name}_x64", n_in=program.input_size)
    run = subprocess.run([find_micropython(), "-X", "heapsize=64M", "-c", script], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    words = run.stdout.split()
    assert words[-3:] == ["RESULT", "0", "0"], run.stdout[-500:]

    # the same module beside an engine of another digest: the engine falls back to the kernels module
    engine_py = tmp_path / f"{stem}.py"
    text = engine_py.read_text()
    digest = text.split('getattr(_MODEL, "DIGEST", None) != ')[1].split(":")[0]
    engine_py.write_text(text.replace(f"!= {digest}:", f"!= {int(digest) ^ 1}:"))
    check = (f"import {stem} as m\nprint('RESULT', m.NATIVE_MODULE, m.use_engine('native'), "
             "m.use_engine('kernels'))")
    run = subprocess.run([find_micropython(), "-X", "heapsize=64M", "-c", check], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split()[-4:] == ["RESULT", "mcu_kernels_x64", "native", "native"]


def test_a_model_whose_state_lasts_between_inferences_gets_no_module(tmp_path):
    program = lower_model((GOLDEN / "co2_lstm__int8" / "model.tflite").read_bytes()).program
    context = json.loads((GOLDEN / "co2_lstm__int8" / "context.json").read_text())
    context.setdefault("upper", context["id"].upper())
    engine = c_engine(program, {**context, "engine_checked_on": [], "tflm_given": False}, "test")
    source = render_engine_c(engine)
    assert engine.context["resets"] and engine.context["state_cleared_each_invoke"]
    assert native_model(engine, source, native_step_count(program))[0] is not None
    lasting = replace(engine, context={**engine.context, "state_cleared_each_invoke": False})
    native, reason = native_model(lasting, source, native_step_count(program))
    assert native is None and "state lasts" in reason
    native, reason = native_model(engine, source, 0)
    assert native is None and "no native path" in reason


def test_no_golden_engine_holds_a_writable_static_a_native_module_cannot_link():
    """mpy_ld links neither a static in .bss nor writable data with pointers (.data.rel): the arena
    and the reset flag go through MCU_ENGINE_STATE, everything else an engine declares is const."""
    import re

    from helpers.emit.c_engine import NotInCEngine

    found, checked = [], 0
    for folder in sorted(GOLDEN.iterdir()):
        program = lower_model((folder / "model.tflite").read_bytes()).program
        if program is None:
            continue
        context = json.loads((folder / "context.json").read_text())
        context.setdefault("upper", context["id"].upper())
        try:
            engine = c_engine(program, {**context, "engine_checked_on": [], "tflm_given": False}, "test")
        except NotInCEngine:
            continue
        text = render_engine_c(engine).text
        checked += 1
        assert "MCU_ENGINE_STATE int8_t mcu_arena[" in text
        found += [f"{folder.name}: {line}" for line in text.splitlines()
                  if re.match(r"static (?!const |inline )[^(=]*(=|;)", line)]
    assert checked >= 20 and found == []

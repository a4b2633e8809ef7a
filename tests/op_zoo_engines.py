"""The op zoo's engines, rendered and run in bulk (no TensorFlow): every lowered case's C engine
linked into one C program with one main() (each engine has its own id prefix, so they link side by
side), and every case's MicroPython engine run, viper and plain, several cases per unix-port
process. Outputs come back as {case: rows x values} to compare with TFLM's."""
from __future__ import annotations

import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from helpers.core.flatbuffer import inspect_tflite
from helpers.emit.c_engine import c_engine, render_engine_c, render_engine_h
from helpers.emit.codegen import tuple_literal
from helpers.emit.micropython import render_infer_py
from helpers.lowering.program import Program
from tests.op_zoo import ZooCase

MICROPYTHON_TIMEOUT_S = 300
MICROPYTHON_PROCESSES = 2  # the cases split over this many unix-port processes, run side by side
MICROPYTHON_PATHS = ("viper", "plain")


def engine_id(case: ZooCase) -> str:
    """The case's engine id: the prefix of every symbol and file of its engine."""
    return "oz_" + case.name


def context(case: ZooCase) -> dict[str, Any]:
    """The template values a variant folder would give the engines, for a model without specs."""
    info = inspect_tflite(case.content)
    model_id = engine_id(case)
    return {
        "id": model_id, "upper": model_id.upper(), "source": "tests/golden/ops", "display_name": case.name,
        "variant": case.meta["type"], "quantization": case.meta["type"], "description": f"op zoo, {case.meta['op']}",
        "task": "regression", "arena_size": None, "stateful": info.stateful,
        "input": info.input, "output": info.output,
        "input_shape_py": tuple_literal(info.input.shape, str),
        "output_shape_py": tuple_literal(info.output.shape, str),
        "specs_shape_py": tuple_literal(info.input.shape, str),
        "permutation_py": tuple_literal(range(len(info.input.shape)), str), "layout_note": "",
        "input_mean_py": "(0.0,)", "input_std_py": "(1.0,)", "output_mean_py": "(0.0,)", "output_std_py": "(1.0,)",
        "classes_py": "()", "test_vectors_py": "()", "engine_checked_on": [], "tflm_given": False,
    }


def _c_literal(value: Any, c_type: str) -> str:
    if c_type != "float":
        return str(int(value))
    number = float(value)
    if number != number:  # NaN and the infinities have no literal: <math.h>'s constant expressions
        return "NAN"
    if number in (float("inf"), float("-inf")):
        return "INFINITY" if number > 0 else "-INFINITY"
    return repr(number) + "f"


def _c_runner(model_id: str, engine: dict[str, Any], rows: np.ndarray) -> str:
    """The rows of one case as a constant, and a function that prints each row's output bytes.
    Each row is copied into a buffer of exactly the input's size first (the output buffer is
    exactly the output's size), so under AddressSanitizer a read or write past either is reported."""
    in_type, out_type = engine["input_ctype"], engine["output_ctype"]
    values = ", ".join(_c_literal(v, in_type) for v in rows.reshape(-1))
    return f"""
static const {in_type} {model_id}_rows[{rows.shape[0]}][{engine["input_size"]}] = {{ {values} }};
static void run_{model_id}(void) {{
  static {in_type} input[{engine["input_size"]}];
  static {out_type} output[{engine["output_size"]}];
  for (int r = 0; r < {rows.shape[0]}; ++r) {{
    memcpy(input, {model_id}_rows[r], sizeof(input));
    {model_id}_engine_reset();
    if ({model_id}_engine_invoke(input, output) != 0) {{ printf("{model_id} failed\\n"); continue; }}
    const unsigned char *bytes = (const unsigned char *)output;
    printf("{model_id} ");
    for (unsigned int i = 0; i < sizeof(output); ++i) printf("%02x", bytes[i]);
    printf("\\n");
  }}
  fflush(stdout);
}}
"""


def _c_main(runners: dict[str, str]) -> str:
    includes = "".join(f'#include "{model_id}_engine.h"\n' for model_id in runners)
    calls = "".join(f"  run_{model_id}();\n" for model_id in runners)
    main = f"int main(void) {{\n{calls}  return 0;\n}}\n"
    return "#include <math.h>\n#include <stdio.h>\n#include <string.h>\n" + includes + "".join(runners.values()) + main


@dataclass(frozen=True)
class EngineCase:
    """One engine to run in a batch: its name in the answers, its template values (their id, the
    prefix of the engine's symbols, unique in the batch), its program and its input rows."""

    name: str
    context: dict[str, Any]
    program: Program
    rows: np.ndarray


def _compile_all(library: Any, folder: Path, sources: list[Path]) -> list[Path | str]:
    """Each source compiled to an object, or the compiler's complaint; two compilers at a time."""
    from helpers.targets.library import ToolBuildError
    from helpers.targets.program import compile_source

    def one(source: Path) -> Path | str:
        try:
            return compile_source(library, source, source.with_suffix(".o"), [f"-I{folder}"])
        except ToolBuildError as error:
            return str(error)[:300]

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(one, sources))


def _parse_c(printed: str, names: dict[str, tuple[str, np.dtype]]) -> dict[str, np.ndarray | str]:
    found: dict[str, list[np.ndarray | None]] = {}
    for line in printed.splitlines():
        model_id, _, data = line.partition(" ")
        if model_id not in names:
            continue
        name, dtype = names[model_id]
        found.setdefault(name, []).append(None if data == "failed" else np.frombuffer(bytes.fromhex(data), dtype))
    return {name: np.stack(rows) if all(r is not None for r in rows) else "the engine's invoke returned -1"
            for name, rows in found.items()}  # type: ignore[misc]


def run_engine_batch(library: Any, cases: list[EngineCase], environment: dict[str, str] | None = None
                     ) -> tuple[dict[str, np.ndarray | str], subprocess.CompletedProcess[str]]:
    """Every case's C engine in one program against CMSIS-NN (`library`), run once with
    `environment` added to ours: each case's outputs, rows x values in the program's output type,
    or why there are none (an emitter that raises or an engine that does not compile costs only its
    own case), and the program's run (a sanitizer reports on its stderr)."""
    from helpers.targets.program import link_with_library

    answers: dict[str, np.ndarray | str] = {}
    with tempfile.TemporaryDirectory(prefix="mcu-deploy-engines-c-") as tmp:
        folder = Path(tmp)
        runners, names = {}, {}
        for case in cases:
            model_id = case.context["id"]
            try:
                engine = c_engine(case.program, case.context, "test")
                for rendered in (render_engine_c(engine), render_engine_h(engine)):
                    (folder / rendered.filename).write_text(rendered.text)
                runners[model_id] = _c_runner(model_id, engine.context, case.rows)
            except Exception as error:  # noqa: BLE001 - the emitter's failure is this case's verdict
                answers[case.name] = f"the C emitter raised {type(error).__name__}: {error}"
                continue
            names[model_id] = (case.name, np.dtype(case.program.output_dtype))
        objects = _compile_all(library, folder, [folder / f"{model_id}_engine.c" for model_id in runners])
        for model_id, obj in zip(list(runners), objects):
            if isinstance(obj, str):
                answers[names[model_id][0]] = f"the engine does not compile: {obj}"
                del runners[model_id]
        (folder / "engines_main.c").write_text(_c_main(runners))
        main = _compile_all(library, folder, [folder / "engines_main.c"])[0]
        if isinstance(main, str):  # the runner is the test's own code: its fault stops the batch
            raise AssertionError(f"the batch's main() does not compile: {main}")
        linked = [obj for obj in objects if isinstance(obj, Path)] + [main]
        link_with_library(library, linked, folder / "engines", folder / "engines.map")
        run = subprocess.run([str(folder / "engines")], capture_output=True, text=True, errors="replace",
                             env={**os.environ, **(environment or {})})
    answers.update(_parse_c(run.stdout, names))
    for model_id in runners:
        answers.setdefault(names[model_id][0], f"no output: the program stopped before it (exit {run.returncode})")
    return answers, run


def run_c_engines(library: Any, cases: list[tuple[ZooCase, Program, np.ndarray]]) -> dict[str, np.ndarray | str]:
    """Every zoo case's C engine in one program against CMSIS-NN (`library`, the host's): each
    case's outputs, rows x values in the program's output type, or why there are none."""
    answers, _ = run_engine_batch(library, [EngineCase(case.name, context(case), program, rows)
                                            for case, program, rows in cases])
    return answers


_DRIVER = '''
import gc, json, sys
for name in NAMES:
    try:
        m = __import__(name + "_infer")
        rows = [json.loads(line) for line in open(name + ".jsonl")]
        for path in PATHS:
            used = m.use_engine(path)
            for row in rows:
                print(name, path, used, repr(m.invoke(row)).replace(" ", ""))
    except Exception as error:
        print(name, "error", "-", repr(error).replace(" ", "_"))
    sys.modules.pop(name + "_infer", None)
    m = None
    gc.collect()
'''


def _parse_values(text: str) -> list[float]:
    """MicroPython's repr of a list of numbers (nan and inf included) as floats."""
    inner = text.strip("[]")
    named = {"True": 1.0, "False": 0.0}  # a boolean output, should an engine give Python bools
    return [named[token] if token in named else float(token) for token in inner.split(",")] if inner else []


def _run_micropython(command: str, folder: Path, names: list[str], number: int) -> str:
    driver = folder / f"driver_{number}.py"
    driver.write_text(f"NAMES = {names!r}\nPATHS = {MICROPYTHON_PATHS!r}\n" + _DRIVER, encoding="utf-8")
    result = subprocess.run([command, "-X", "heapsize=64M", driver.name], cwd=folder, capture_output=True,
                            text=True, timeout=MICROPYTHON_TIMEOUT_S)
    if result.returncode:  # a crash of the port: the cases it had not finished get its last words
        said = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]
        return result.stdout + "".join(f"\n{name} stopped - {said.replace(' ', '_')}" for name in names)
    return result.stdout


def run_micropython_engines(command: str, cases: list[tuple[ZooCase, Program, np.ndarray]]
                            ) -> dict[tuple[str, str], tuple[str, np.ndarray | str]]:
    """Every case's MicroPython engine on the unix port, viper and plain: {(case, path): (the
    engine use_engine() gave, rows x values)}, or the error the module raised instead of values."""
    found: dict[tuple[str, str], tuple[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="mcu-deploy-opzoo-mpy-") as tmp:
        folder = Path(tmp)
        names = {}
        for case, program, rows in cases:
            try:
                rendered = render_infer_py(program, context(case))
            except Exception as error:  # noqa: BLE001 - the emitter's failure is this case's verdict
                for path in MICROPYTHON_PATHS:
                    found[(case.name, path)] = ("-", f"the emitter raised {type(error).__name__}: {error}")
                continue
            (folder / rendered.filename).write_text(rendered.text, encoding="utf-8")
            model_id = engine_id(case)
            lines = (repr(row.tolist()) if rows.dtype.kind == "f" else repr([int(v) for v in row])
                     for row in rows.reshape(len(rows), -1))
            (folder / f"{model_id}.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            names[model_id] = case.name
        ids = sorted(names)
        batches = [ids[i::MICROPYTHON_PROCESSES] for i in range(MICROPYTHON_PROCESSES)]
        with ThreadPoolExecutor(max_workers=MICROPYTHON_PROCESSES) as pool:
            printed = "\n".join(pool.map(lambda job: _run_micropython(command, folder, job[1], job[0]),
                                         enumerate(b for b in batches if b)))
    for line in printed.splitlines():
        model_id, path, used, values = (line.split(" ", 3) + ["", "", ""])[:4]
        if model_id not in names:
            continue
        key = (names[model_id], path)
        if path in ("error", "stopped"):
            for each in MICROPYTHON_PATHS:
                if path == "error" or (names[model_id], each) not in found:
                    found[(names[model_id], each)] = ("-", values)
        elif not isinstance(found.get(key, ("", []))[1], str):
            found.setdefault(key, (used, []))[1].append(_parse_values(values))
    return {key: (used, np.asarray(rows) if isinstance(rows, list) else rows) for key, (used, rows) in found.items()}

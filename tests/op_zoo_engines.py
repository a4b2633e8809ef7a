"""The op zoo's engines, rendered and run in bulk (no TensorFlow): every lowered case's C engine
linked into one C program with one main() (each engine has its own id prefix, so they link side by
side), and every case's MicroPython engine run, viper and plain, several cases per unix-port
process. Outputs come back as {case: rows x values} to compare with TFLM's."""
from __future__ import annotations

import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
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
    return repr(float(value)) + "f" if c_type == "float" else str(int(value))


def _c_runner(model_id: str, engine: dict[str, Any], rows: np.ndarray) -> str:
    """The rows of one case as a constant, and a function that prints each row's output bytes."""
    in_type, out_type = engine["input_ctype"], engine["output_ctype"]
    values = ", ".join(_c_literal(v, in_type) for v in rows.reshape(-1))
    return f"""
static const {in_type} {model_id}_rows[{rows.shape[0]}][{engine["input_size"]}] = {{ {values} }};
static void run_{model_id}(void) {{
  static {out_type} output[{engine["output_size"]}];
  for (int r = 0; r < {rows.shape[0]}; ++r) {{
    {model_id}_engine_reset();
    if ({model_id}_engine_invoke({model_id}_rows[r], output) != 0) {{ printf("{model_id} failed\\n"); continue; }}
    const unsigned char *bytes = (const unsigned char *)output;
    printf("{model_id} ");
    for (unsigned int i = 0; i < sizeof(output); ++i) printf("%02x", bytes[i]);
    printf("\\n");
  }}
}}
"""


def _c_main(runners: dict[str, str]) -> str:
    includes = "".join(f'#include "{model_id}_engine.h"\n' for model_id in runners)
    calls = "".join(f"  run_{model_id}();\n" for model_id in runners)
    main = f"int main(void) {{\n{calls}  return 0;\n}}\n"
    return "#include <stdio.h>\n" + includes + "".join(runners.values()) + main


def run_c_engines(library: Any, cases: list[tuple[ZooCase, Program, np.ndarray]]) -> dict[str, np.ndarray]:
    """Every case's C engine in one program against CMSIS-NN (`library`, the host's): each case's
    outputs, rows x values in the program's output type."""
    from helpers.targets.program import compile_source, link_with_library

    with tempfile.TemporaryDirectory(prefix="mcu-deploy-opzoo-c-") as tmp:
        folder = Path(tmp)
        runners, sources, dtypes = {}, [], {}
        for case, program, rows in cases:
            engine = c_engine(program, context(case), "test")
            for rendered in (render_engine_c(engine), render_engine_h(engine)):
                (folder / rendered.filename).write_text(rendered.text)
            model_id = engine_id(case)
            sources.append(folder / f"{model_id}_engine.c")
            runners[model_id] = _c_runner(model_id, engine.context, rows)
            dtypes[model_id] = (case.name, np.dtype(program.output_dtype))
        (folder / "zoo_main.c").write_text(_c_main(runners))
        sources.append(folder / "zoo_main.c")
        # Two compilers at a time: the objects are independent, the link waits for all of them.
        with ThreadPoolExecutor(max_workers=2) as pool:
            objects = list(pool.map(lambda s: compile_source(library, s, s.with_suffix(".o"), [f"-I{folder}"]),
                                    sources))
        link_with_library(library, objects, folder / "zoo", folder / "zoo.map")
        printed = subprocess.run([str(folder / "zoo")], capture_output=True, text=True, check=True).stdout
    found: dict[str, list[np.ndarray]] = {}
    for line in printed.splitlines():
        model_id, _, data = line.partition(" ")
        name, dtype = dtypes[model_id]
        found.setdefault(name, []).append(np.frombuffer(bytes.fromhex(data), dtype=dtype) if data != "failed"
                                          else np.array([]))
    return {name: np.stack(rows) if all(r.size for r in rows) else np.array([]) for name, rows in found.items()}


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
    return result.stdout + (f"\n{names[-1]} error - exit_{result.returncode}" if result.returncode else "")


def run_micropython_engines(command: str, cases: list[tuple[ZooCase, Program, np.ndarray]]
                            ) -> dict[tuple[str, str], tuple[str, np.ndarray | str]]:
    """Every case's MicroPython engine on the unix port, viper and plain: {(case, path): (the
    engine use_engine() gave, rows x values)}, or the error the module raised instead of values."""
    with tempfile.TemporaryDirectory(prefix="mcu-deploy-opzoo-mpy-") as tmp:
        folder = Path(tmp)
        names = {}
        for case, program, rows in cases:
            rendered = render_infer_py(program, context(case))
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
    found: dict[tuple[str, str], tuple[str, Any]] = {}
    for line in printed.splitlines():
        model_id, path, used, values = (line.split(" ", 3) + ["", "", ""])[:4]
        if model_id not in names:
            continue
        key = (names[model_id], path)
        if path == "error":
            found[(names[model_id], "viper")] = found[(names[model_id], "plain")] = ("-", values)
        else:
            found.setdefault(key, (used, []))[1].append(_parse_values(values))
    return {key: (used, np.asarray(rows) if isinstance(rows, list) else rows) for key, (used, rows) in found.items()}

"""Benchmarks: the tool against the straight script the tutorials use. Writes BENCHMARKS.md.

    python bench/run_benchmarks.py                 # about five minutes on 2 cores
    python bench/run_benchmarks.py --output /tmp/B.md --label before

Every figure is measured in this run on this machine; ratios compare the two sides in the same run.
No test asserts a time: this script records them.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
EXAMPLES = ("digits_cnn", "co2_lstm")
THROUGHPUT_ROWS = 20_000
THROUGHPUT_REPEATS = 7


def measure(*command: str) -> dict:
    out = subprocess.run([PY, str(ROOT / "bench" / "measure.py"), *command], capture_output=True, text=True,
                         check=True, cwd=str(ROOT)).stdout
    return json.loads(out)


def help_startup() -> dict:
    """`main.py --help` against importing TensorFlow, median of 5."""
    def median(command: list[str]) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True, cwd=str(ROOT))
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    help_s = median([PY, "main.py", "--help"])
    tf_s = median([PY, "-c", "import os; os.environ['TF_CPP_MIN_LOG_LEVEL']='3'; import tensorflow"])
    imported = subprocess.run([PY, "-c", "import sys, runpy; sys.argv=['main.py','--help']\n"
                               "try:\n runpy.run_path('main.py', run_name='__main__')\nexcept SystemExit: pass\n"
                               "print('tensorflow' in sys.modules, file=sys.stderr)"],
                              capture_output=True, text=True, cwd=str(ROOT)).stderr.strip().splitlines()[-1]
    return {"help_s": help_s, "import_tf_s": tf_s, "tensorflow_imported": imported}


def throughput() -> dict:
    """int8 digits CNN on 20,000 rows: batched LiteRtRunner against one invoke per row."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    from helpers.core.dataset import load_dataset, locate_dataset
    from helpers.core.flatbuffer import inspect_tflite
    from helpers.core.specs import load_specs
    from helpers.measure.litert import LiteRtRunner, quantize

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([PY, "main.py", "--input_dir", "models/digits_cnn", "--PTQ", "-q", "int8", "--quiet",
                        "--skip_firmware_checks", "--export_dir", tmp], check=True, cwd=str(ROOT), capture_output=True)
        content = (Path(tmp) / "int8" / "model.tflite").read_bytes()
    specs = load_specs(ROOT / "models" / "digits_cnn")
    data = load_dataset(locate_dataset(ROOT / "models" / "digits_cnn", specs), specs)
    rows = data.x[np.random.default_rng(0).integers(0, len(data.x), THROUGHPUT_ROWS)]
    info = inspect_tflite(content)

    def tool() -> tuple[float, np.ndarray, int]:
        start = time.perf_counter()
        runner = LiteRtRunner(content, info)
        outputs = runner.run_quantized(quantize(rows, info.input))
        return time.perf_counter() - start, outputs, runner.batch

    def loop() -> tuple[float, np.ndarray]:
        start = time.perf_counter()
        interpreter = Interpreter(model_content=content)
        interpreter.allocate_tensors()
        inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        scale, zero = inp["quantization"]
        single = []
        for row in rows:
            q = np.clip(np.round(row[None] / scale + zero), -128, 127).astype(np.int8)
            interpreter.set_tensor(inp["index"], q)
            interpreter.invoke()
            single.append(interpreter.get_tensor(out["index"])[0])
        return time.perf_counter() - start, np.array(single)

    # Both sides include building their interpreters and quantizing the rows; they alternate so a
    # noisy neighbour slows both, and the median of the repeats is reported.
    tool_times, loop_times, ratios = [], [], []
    for _ in range(THROUGHPUT_REPEATS):
        tool_s, batched, batch = tool()
        loop_s, single = loop()
        tool_times.append(tool_s)
        loop_times.append(loop_s)
        ratios.append(loop_s / tool_s)
    same = bool(np.max(np.abs(single.astype(int) - batched.astype(int))) <= 1)
    return {"rows": THROUGHPUT_ROWS, "tool_s": statistics.median(tool_times), "loop_s": statistics.median(loop_times),
            "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
            "batch": batch, "same": same, "floor_s": invoke_floor(content, quantize(rows, info.input), batch)}


def invoke_floor(content: bytes, quantized, batch: int) -> float:
    """Seconds for the batched invokes alone (interpreter warm, inputs quantized): no evaluation
    on this machine can beat it, so loop time / floor bounds the speed-up."""
    from ai_edge_litert.interpreter import Interpreter

    from helpers.measure.litert import BATCH_THREADS

    interpreter = Interpreter(model_content=content, num_threads=BATCH_THREADS)
    interpreter.resize_tensor_input(0, (batch,) + quantized.shape[1:], strict=False)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]

    def invoke_all() -> float:
        start = time.perf_counter()
        for first in range(0, len(quantized) - batch + 1, batch):
            interpreter.set_tensor(index, quantized[first:first + batch])
            interpreter.invoke()
        return time.perf_counter() - start

    invoke_all()
    return statistics.median(invoke_all() for _ in range(THROUGHPUT_REPEATS))


def full_runs(export_root: Path) -> dict:
    """`-q all -e` per example (phases from report.json) against the straight script."""
    results = {}
    for example in EXAMPLES:
        export = export_root / example
        tool = measure(PY, "main.py", "--input_dir", f"models/{example}", "--PTQ", "-q", "all", "-e", "--quiet",
                       "--export_dir", str(export))
        report = json.loads((export / "report.json").read_text())
        straight = measure(PY, "bench/straight_script.py", f"models/{example}")
        few = measure(PY, "main.py", "--input_dir", f"models/{example}", "--PTQ", "-q", "int8", "--quiet",
                      "--skip_firmware_checks", "--export_dir", str(export_root / f"{example}_int8"))
        many = measure(PY, "main.py", "--input_dir", f"models/{example}", "--PTQ", "-q", "all", "--quiet",
                       "--skip_firmware_checks", "--export_dir", str(export_root / f"{example}_all"))
        results[example] = {"tool": tool, "timings": report["timings"], "straight": straight,
                            "peak_2_variants": few["peak_rss_mb"], "peak_6_variants": many["peak_rss_mb"],
                            "report": report}
    return results


def converter_leak() -> dict:
    """RSS growth over 15 conversions of the LSTM in one process (the TF 2.21 converter leak), set
    up as the pipeline does (what is alive after loading frozen, garbage collected per conversion)."""
    code = """
import resource, json
from pathlib import Path
from helpers.frontend.tf_runtime import freeze_loaded_objects, seed_everything
from helpers.convert import zygote; zygote.start()
from helpers.core.specs import load_specs
from helpers.frontend.model_loader import load_model
from helpers.core.dataset import load_dataset, locate_dataset, split_dataset
from helpers.convert.converter import convert
from helpers.core.variant import converted_plan
from helpers.core.quantization import Quantization
seed_everything()
d = Path('models/co2_lstm'); s = load_specs(d); m = load_model(d, s)
x = split_dataset(load_dataset(locate_dataset(d, s), s)).calibration.x
freeze_loaded_objects()
def rss(): return int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20
convert(m, s, converted_plan(Quantization.INT8), x); first = rss()
for _ in range(15): convert(m, s, converted_plan(Quantization.INT8), x)
print(json.dumps({'after_1': first, 'after_16': rss()}))
"""
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True, cwd=str(ROOT)).stdout
    return json.loads(out.strip().splitlines()[-1])


def efficiency(export: Path, report: dict) -> list[dict]:
    """.tflite bytes over the weights' physical floor, compressed size, arena over live activations."""
    import numpy as np

    from helpers.core.flatbuffer import parse_model

    itemsize = {0: 4, 1: 2, 2: 4, 3: 1, 7: 2, 9: 1}

    def nbytes(tensor) -> int:
        return int(np.prod(tensor.shape)) * itemsize.get(tensor.type, 4) if tensor.shape is not None else 0

    rows = []
    for variant in report["variants"]:
        if variant["format"] != "tflite" or variant.get("error"):
            continue
        model = parse_model((export / variant["path"] / "model.tflite").read_bytes())
        graph = model.subgraphs[0]
        constant = set()
        weight_bytes = 0
        for index, tensor in enumerate(graph.tensors):
            buffer = model.buffers[tensor.buffer] if tensor.buffer < len(model.buffers) else None
            if buffer is not None and buffer.data is not None and len(buffer.data):
                constant.add(index)
                weight_bytes += nbytes(tensor)
        live = max((sum(nbytes(graph.tensors[i]) for i in list(op.inputs) + list(op.outputs)
                        if i >= 0 and i not in constant) for op in graph.operators), default=0)
        arena = variant["firmware"].get("tensor_arena_measured_bytes")
        rows.append({"name": variant["name"], "size": variant["size_bytes"], "weights": weight_bytes,
                     "ratio": variant["size_bytes"] / weight_bytes if weight_bytes else None,
                     "zlib": variant["compressed_size_bytes"], "arena": arena, "live": live,
                     "arena_ratio": arena / live if arena and live else None})
    return rows


def machine() -> str:
    memory = int(open("/proc/meminfo").read().split()[1]) / 2**20
    return f"{os.cpu_count()} cores, {memory:.0f} GiB memory, {platform.machine()}, Python {platform.python_version()}"


from helpers.measure.litert import BATCH_THREADS  # noqa: E402


def render(label: str, startup: dict, speed: dict, runs: dict, leak: dict, export_root: Path) -> str:
    lines = [f"## {label}: {date.today().isoformat()}", "",
             f"Machine: {machine()}. Command: `python bench/run_benchmarks.py`.", "",
             "### 1. Start-up", "",
             "| what | seconds (median of 5) |", "| --- | --- |",
             f"| `python main.py --help` | {startup['help_s']:.3f} |",
             f"| `python -c 'import tensorflow'` | {startup['import_tf_s']:.3f} |",
             f"| ratio (help / TF import) | {startup['help_s'] / startup['import_tf_s']:.3f} |", "",
             f"TensorFlow imported by `--help`: {startup['tensorflow_imported']}.", "",
             "### 2. Evaluation throughput, int8 digits CNN", "",
             f"Median of {THROUGHPUT_REPEATS} alternating repeats; each side's time includes building its "
             "interpreter(s) and quantizing the rows.", "",
             "| side | rows | seconds | rows/s |", "| --- | --- | --- | --- |",
             f"| tool (batched LiteRT, batch {speed['batch']:,}, {BATCH_THREADS} threads) | {speed['rows']:,} | {speed['tool_s']:.3f} | "
             f"{speed['rows'] / speed['tool_s']:,.0f} |",
             f"| per-sample loop (tutorial) | {speed['rows']:,} | {speed['loop_s']:.3f} | "
             f"{speed['rows'] / speed['loop_s']:,.0f} |",
             f"| batched invokes alone (compute floor) | {speed['rows']:,} | {speed['floor_s']:.3f} | "
             f"{speed['rows'] / speed['floor_s']:,.0f} |", "",
             f"Ceiling on the speed-up here (loop / compute floor): {speed['loop_s'] / speed['floor_s']:.1f}x; "
             f"the tool's time is {speed['tool_s'] / speed['floor_s']:.2f}x the floor.", "",
             f"Speed-up: **{speed['ratio']:.1f}x** (median; {speed['ratio_min']:.1f}x to {speed['ratio_max']:.1f}x "
             "over the repeats; target: at least 10x). Outputs agree within "
             f"one quantized step: {speed['same']}.", "",
             "### 3. Full `--PTQ -q all -e` run against the straight script", "",
             "The tool also runs the TFLM checks, arena bisection, cross-compiles and writes every artifact; the "
             "straight script only converts and evaluates (one row per invoke).", "",
             "| example | tool (s) | straight script (s) | ratio | load | convert | evaluate | TFLM checks | render |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, run in runs.items():
        t = run["timings"]
        lines.append(f"| {name} | {run['tool']['seconds']:.1f} | {run['straight']['seconds']:.1f} | "
                     f"{run['tool']['seconds'] / run['straight']['seconds']:.2f} | {t.get('load', 0):.1f} | "
                     f"{t.get('convert', 0):.1f} | {t.get('evaluate', 0):.2f} | {t.get('tflm_checks', 0):.1f} | "
                     f"{t.get('render', 0):.1f} |")
    lines += ["", "### 4. Peak memory", "",
              "| example | tool, full run (MB) | straight script (MB) | tool, 2 variants (MB) | tool, 6 variants (MB) |",
              "| --- | --- | --- | --- | --- |"]
    for name, run in runs.items():
        lines.append(f"| {name} | {run['tool']['peak_rss_mb']:.0f} | {run['straight']['peak_rss_mb']:.0f} | "
                     f"{run['peak_2_variants']:.0f} | {run['peak_6_variants']:.0f} |")
    lines += ["", f"Converter leak, LSTM int8, one process: RSS {leak['after_1']:.0f} MB after 1 conversion, "
              f"{leak['after_16']:.0f} MB after 16 ({(leak['after_16'] - leak['after_1']) / 15:.1f} MB per call).", "",
              "### 5. Artifact efficiency", "",
              "`floor`: bytes the constant tensors need at their stored precision. `live`: the largest sum of "
              "non-constant inputs and outputs of one op (a lower bound for the arena).", ""]
    for name, run in runs.items():
        lines += [f"**{name}**", "", "| variant | .tflite (B) | floor (B) | .tflite / floor | zlib (B) | arena (B) | "
                  "live (B) | arena / live |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for row in efficiency(export_root / name, run["report"]):
            ratio = f"{row['ratio']:.2f}" if row["ratio"] else "-"
            arena_ratio = f"{row['arena_ratio']:.1f}" if row["arena_ratio"] else "-"
            lines.append(f"| {row['name']} | {row['size']:,} | {row['weights']:,} | {ratio} | {row['zlib']:,} | "
                         f"{row['arena'] or '-'} | {row['live']:,} | {arena_ratio} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--label", default="Results")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mcu-deploy-bench-") as tmp:
        startup = help_startup()
        speed = throughput()
        runs = full_runs(Path(tmp))
        leak = converter_leak()
        section = render(args.label, startup, speed, runs, leak, Path(tmp))
    args.output.write_text(section, encoding="utf-8")
    print(section)


if __name__ == "__main__":
    main()

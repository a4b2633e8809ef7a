"""The fuzz harness: each case is a mutated model directory (tests/fuzz_inputs.py) checked by the
tool's own loading and validation functions, in a worker process, or by a whole `main.py` run.

A case ends as one of
- `runs`: the tool takes the input;
- `error`: one line, as main.py prints it (a PipelineError, or an OSError main.py turns into one);
- `crash`: any other exception (a traceback for the user), a message of several lines, a write into
  the model directory, a worker that died (a native crash) or did not answer within the bound.

    python -m tests.fuzz_run worker BASES.json SCRATCH   # the worker: one JSON case per stdin line
"""
from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "FUZZ-RESULT "
# Cases a worker runs before it is replaced (TensorFlow keeps what every loaded model allocated).
WORKER_CASES = 150


@dataclass
class Outcome:
    kind: str
    seed: int
    result: str          # runs / error / crash
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Tally:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, result: str) -> int:
        return sum(o.result == result for o in self.outcomes)

    def summary(self) -> dict[str, int]:
        return {"cases": len(self.outcomes), "clean_errors": self.count("error"), "runs": self.count("runs"),
                "crashes": self.count("crash")}

    @property
    def crashes(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.result == "crash"]


def tree_hash(root: Path) -> str:
    from tests.conftest import tree_hash as digest

    return digest(root)


# ---- the worker (its own process) --------------------------------------------------------------

def _check(case_dir: Path, kind: str, scratch: Path) -> tuple[str, str]:
    from helpers.config import parse_args
    from helpers.errors import PipelineError, os_error_line
    from helpers.frontend import onnx_torch
    from helpers.frontend.model_loader import load_model
    from helpers.pipeline import given, run

    try:
        config = parse_args(["--input_dir", str(case_dir), "--export_dir", str(scratch / "out"),
                             "--skip_firmware_checks"])
        specs, _, _ = run._checked_inputs(config)
        if kind == "tflite":
            given.read_given(case_dir / "model.tflite", specs)
        elif kind == "onnx":
            onnx_torch.read_onnx(case_dir / "model.onnx")
        else:
            load_model(case_dir, specs)
    except PipelineError as exc:
        line = exc.one_line()
        return ("error", line) if "\n" not in line else ("crash", f"several lines: {line[:300]!r}")
    except OSError as exc:
        return "error", os_error_line(exc)
    except Exception as exc:  # noqa: BLE001 - what the fuzz looks for
        return "crash", "".join(traceback.format_exception_only(type(exc), exc)).strip()[-400:]
    return "runs", ""


def worker(bases_file: str, scratch_dir: str) -> None:
    """Read cases from stdin, answer each on the original stdout; everything else is silenced."""
    from helpers.convert import zygote
    from helpers.frontend.tf_runtime import tf  # noqa: F401 - imported before the zygote forks
    from tests.fuzz_inputs import make_case

    zygote.start()
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    bases = {kind: Path(path) for kind, path in json.loads(Path(bases_file).read_text()).items()}
    scratch = Path(scratch_dir)
    answers.write("READY\n")
    for line in sys.stdin:
        case = json.loads(line)
        case_dir = scratch / f"case-{case['kind']}-{case['seed']}"
        shutil.rmtree(case_dir, ignore_errors=True)
        try:
            make_case(bases, case["kind"], case["seed"], case_dir)
        except Exception as exc:  # noqa: BLE001 - a bug of the fuzz itself, not of the tool: said so
            answers.write(PREFIX + json.dumps({"result": "crash", "detail": f"fuzz harness: {exc!r}"}) + "\n")
            continue
        before = tree_hash(case_dir)
        result, detail = _check(case_dir, case["kind"], scratch)
        if tree_hash(case_dir) != before:
            result, detail = "crash", f"the model directory was written ({detail})"
        shutil.rmtree(case_dir, ignore_errors=True)
        answers.write(PREFIX + json.dumps({"result": result, "detail": detail}) + "\n")


# ---- the parent --------------------------------------------------------------------------------

class Worker:
    """A worker process, restarted after a crash, a hang, or WORKER_CASES cases."""

    def __init__(self, bases_file: Path, scratch: Path, timeout_s: float) -> None:
        self.bases_file, self.scratch, self.timeout_s = bases_file, scratch, timeout_s
        self.process: subprocess.Popen | None = None
        self.served = 0

    def _start(self) -> None:
        env = dict(os.environ, PYTHONHASHSEED="0", TF_CPP_MIN_LOG_LEVEL="3")
        self.process = subprocess.Popen([sys.executable, "-m", "tests.fuzz_run", "worker", str(self.bases_file),
                                         str(self.scratch)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True, bufsize=1, env=env)
        self.served = 0
        if self._read_line(300) != "READY":
            raise RuntimeError("the fuzz worker did not start")

    def _read_line(self, timeout_s: float) -> str | None:
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            line = self.process.stdout.readline()
            if not line:
                return None  # the worker died
            if line.startswith(PREFIX) or line.strip() == "READY":
                return line.strip()
        return "TIMEOUT"

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def run(self, kind: str, seed: int) -> tuple[str, str]:
        if self.process is None or self.served >= WORKER_CASES:
            self.stop()
            self._start()
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(json.dumps({"kind": kind, "seed": seed}) + "\n")
        self.process.stdin.flush()
        self.served += 1
        line = self._read_line(self.timeout_s)
        if line is None or line == "TIMEOUT":
            code = self.process.poll()
            self.stop()
            if line == "TIMEOUT":
                return "crash", f"no answer within {self.timeout_s:.0f} s (a hang)"
            return "crash", f"the worker died (exit {code}: a native crash)"
        answer = json.loads(line[len(PREFIX):])
        return answer["result"], answer["detail"]


def run_in_process(cases: list[tuple[str, int]], bases: dict[str, Path], scratch: Path,
                   timeout_s: float = 120, progress: bool = False) -> Tally:
    """Every case in a worker process: the tool's loading and validation functions on it."""
    scratch.mkdir(parents=True, exist_ok=True)
    bases_file = scratch / "bases.json"
    bases_file.write_text(json.dumps({kind: str(path) for kind, path in bases.items()}))
    tally, worker_process = Tally(), Worker(bases_file, scratch, timeout_s)
    try:
        for number, (kind, seed) in enumerate(cases, 1):
            started = time.monotonic()
            result, detail = worker_process.run(kind, seed)
            tally.outcomes.append(Outcome(kind, seed, result, detail, round(time.monotonic() - started, 3)))
            if progress and number % 100 == 0:
                print(f"{number}/{len(cases)}: {tally.summary()}", flush=True)
    finally:
        worker_process.stop()
    return tally


def run_main_case(kind: str, seed: int, bases: dict[str, Path], scratch: Path, timeout_s: float = 600) -> Outcome:
    """A whole `main.py -e --skip_firmware_checks` run on the case, into an export that already
    holds a previous one: exit 0 or 3 runs; exit 2 with one `error:` line and the previous export
    intact is a clean error; anything else, a traceback or a write into the model directory crashes."""
    from tests.fuzz_inputs import make_case

    case_dir = make_case(bases, kind, seed, scratch / f"main-{kind}-{seed}")
    export = scratch / f"main-{kind}-{seed}-out"
    export.mkdir()
    (export / "previous.txt").write_text("an earlier export")
    before, previous = tree_hash(case_dir), tree_hash(export)
    started = time.monotonic()
    env = dict(os.environ, PYTHONHASHSEED="0")
    try:
        done = subprocess.run([sys.executable, str(ROOT / "main.py"), "--input_dir", str(case_dir), "-e",
                               "--skip_firmware_checks", "--export_dir", str(export)], cwd=ROOT,
                              capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return Outcome(kind, seed, "crash", f"main.py did not finish within {timeout_s:.0f} s", timeout_s)
    seconds = round(time.monotonic() - started, 1)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    if tree_hash(case_dir) != before:
        return Outcome(kind, seed, "crash", "the model directory was written", seconds)
    if done.returncode in (0, 3) and "Traceback" not in done.stderr:
        return Outcome(kind, seed, "runs", errors[0] if errors else "", seconds)
    if done.returncode == 2 and len(errors) == 1 and "Traceback" not in done.stderr and tree_hash(export) == previous:
        return Outcome(kind, seed, "error", errors[0], seconds)
    return Outcome(kind, seed, "crash", f"exit {done.returncode}: {done.stderr.strip()[-600:]}", seconds)


def as_json(tally: Tally) -> str:
    return json.dumps({"summary": tally.summary(), "crashes": [asdict(o) for o in tally.crashes]}, indent=2)


if __name__ == "__main__" and sys.argv[1:2] == ["worker"]:
    sys.path.insert(0, str(ROOT))
    worker(sys.argv[2], sys.argv[3])

"""The long fuzz run (issue 38): seeded mutations of a .tflite, an .h5, a SavedModel's
saved_model.pb, an .onnx, specs.json and the CSV, checked by the tool's loading and validation
functions in a worker process (tests/fuzz_run.py), plus whole `main.py -e --skip_firmware_checks`
runs on some of them. CI runs 500 of the same cases (tests/e2e/test_fuzz.py); BENCHMARKS.md
records this run's counts.

    nice -n 10 python bench/fuzz.py --cases 10000 --main 60 --output bench/fuzz_results.json

--minutes stops the in-process cases early (the counts say how many ran); the whole runs go
first. Seeds continue after CI's: the cases differ.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fuzz_inputs import KINDS, build_bases  # noqa: E402
from tests.fuzz_run import Outcome, Tally, Worker, run_main_case  # noqa: E402

# share of the cases per kind (the model files' loaders are native code: they get more)
SHARES = {"tflite": 0.25, "h5": 0.15, "saved_model": 0.12, "onnx": 0.16, "specs": 0.16, "csv": 0.16}
FIRST_SEED = 1000  # CI uses seeds below this


def plan(cases: int) -> list[tuple[str, int]]:
    """`cases` (kind, seed) pairs, kinds interleaved so that a run cut short covers every kind."""
    counts = {kind: round(cases * SHARES[kind]) for kind in KINDS}
    counts["tflite"] += cases - sum(counts.values())
    order: list[tuple[str, int]] = []
    seeds = {kind: FIRST_SEED for kind in KINDS}
    while len(order) < cases:
        for kind in KINDS:
            if seeds[kind] - FIRST_SEED < counts[kind]:
                order.append((kind, seeds[kind]))
                seeds[kind] += 1
    return order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--main", type=int, default=60, help="whole main.py runs (kinds in turn)")
    parser.add_argument("--minutes", type=float, default=None,
                        help="stop starting in-process cases after this long (the whole runs come first)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "fuzz_results.json")
    args = parser.parse_args()
    started = time.monotonic()
    deadline = started + args.minutes * 60 if args.minutes else None
    with tempfile.TemporaryDirectory(prefix="mcu-deploy-fuzz-") as folder:
        scratch = Path(folder)
        bases = build_bases(scratch / "bases")
        bases_file = scratch / "bases.json"
        bases_file.write_text(json.dumps({kind: str(path) for kind, path in bases.items()}))
        whole = Tally()  # the whole runs first: a run cut short by --minutes still has them
        for number in range(args.main):
            kind = KINDS[number % len(KINDS)]
            whole.outcomes.append(run_main_case(kind, FIRST_SEED + number, bases, scratch))
            print(f"main.py {kind} {FIRST_SEED + number}: {whole.outcomes[-1].result}", flush=True)
        tally, worker = Tally(), Worker(bases_file, scratch, timeout_s=180)
        try:
            for number, (kind, seed) in enumerate(plan(args.cases), 1):
                if deadline is not None and time.monotonic() > deadline:
                    break
                begun = time.monotonic()
                result, detail = worker.run(kind, seed)
                tally.outcomes.append(Outcome(kind, seed, result, detail, round(time.monotonic() - begun, 3)))
                if number % 250 == 0:
                    print(f"{number} cases, {time.monotonic() - started:.0f} s: {tally.summary()}", flush=True)
        finally:
            worker.stop()
    report = {"in_process": tally.summary(), "main_runs": whole.summary(),
              "per_kind": {kind: Tally([o for o in tally.outcomes if o.kind == kind]).summary() for kind in KINDS},
              "crashes": [o.__dict__ for o in tally.crashes + whole.crashes],
              "minutes": round((time.monotonic() - started) / 60, 1)}
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

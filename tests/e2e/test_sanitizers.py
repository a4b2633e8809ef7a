"""The generated C under AddressSanitizer and UndefinedBehaviorSanitizer (issue 38, item 3): every
golden engine (tests/golden/engines: the shipped examples and the zoo, every quantization) and
every op zoo case that lowers (tests/golden/ops), built for this machine with gcc's
`-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all` against CMSIS-NN
built the same way, all of them linked into one program and run once. Each engine gets the rows
TFLM is asked for too (the zero point, both ends of the input type, random draws), whose outputs
must stay identical to TFLM's (float within 1e-5 relative), then hostile rows a firmware could
pass and TFLM is not asked about: every integer at the type's minimum, at its maximum, the two
alternating; every float NaN, an infinity, the largest finite value, the smallest subnormal. Any
report fails the test with the sanitizer's first line (docs/sanitizers.md).

One compile of CMSIS-NN (cached after the first run), one program, one TFLM child process. TFLM's
own self-test (main.cc, the C array, TFLM's library with its reference kernels) is built with the
same sanitizers for the shipped digits CNN and run on its vectors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers.core.flatbuffer import inspect_tflite
from helpers.lowering.lower import lower_model
from tests.conftest import ROOT, TFLM_DIR, require_tool, run_main
from tests.op_zoo import input_rows, run_tflm, zoo_cases
from tests.op_zoo_engines import EngineCase, context, run_engine_batch
from tests.sanitized_build import RUNTIME, first_report, sanitized_cmsis, sanitized_tflm

pytestmark = pytest.mark.xdist_group("sanitizers")
GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "engines"
GOLDEN_ROWS = 4  # random rows per golden engine, after its zero point and both ends of int8
FLOAT_TOLERANCE = 1e-5
_FLOAT32 = np.finfo(np.float32)
HOSTILE_FLOATS = (np.nan, np.inf, -np.inf, _FLOAT32.max, -_FLOAT32.max, _FLOAT32.smallest_subnormal)


def _golden_rows(content: bytes, case: str) -> np.ndarray:
    """The zero point, both ends of int8 and GOLDEN_ROWS random rows (float: zero, then normal draws)."""
    info = inspect_tflite(content).input
    shape = (3 + GOLDEN_ROWS, *info.shape[1:])
    rng = np.random.default_rng(sum(case.encode()))
    if info.dtype == "float32":
        rows = rng.normal(0.0, 1.0, size=shape)
        rows[0:3] = 0.0
        return rows.astype(np.float32)
    limits = np.iinfo(np.dtype(info.dtype))
    rows = rng.integers(limits.min, int(limits.max) + 1, size=shape)
    rows[0], rows[1], rows[2] = info.zero_point, limits.min, limits.max
    return rows.astype(info.dtype)


def _hostile_rows(rows: np.ndarray) -> np.ndarray:
    """Rows a firmware could pass that no calibration saw, in the input's type and shape."""
    shape = rows.shape[1:]
    if rows.dtype.kind == "f":
        return np.stack([np.full(shape, value, dtype=rows.dtype) for value in HOSTILE_FLOATS])
    limits = np.iinfo(rows.dtype)
    alternating = np.resize(np.array([limits.min, limits.max], dtype=rows.dtype), shape)
    return np.stack([np.full(shape, limits.min, dtype=rows.dtype), np.full(shape, limits.max, dtype=rows.dtype),
                     alternating, alternating[..., ::-1] if alternating.ndim else alternating])


def _golden_cases() -> list[tuple[EngineCase, bytes, int]]:
    """Every golden engine that lowers: its case (a unique id: several variants of a model link into
    one program), its flatbuffer and how many of its rows TFLM is asked about."""
    found = []
    for folder in sorted(p for p in GOLDEN.iterdir() if p.is_dir()):
        content = (folder / "model.tflite").read_bytes()
        program = lower_model(content).program
        if program is None:
            continue
        values = json.loads((folder / "context.json").read_text())
        model_id = "g_" + folder.name.replace("__", "_")
        values.update(id=model_id, upper=model_id.upper(), engine_checked_on=[], tflm_given=False)
        rows = _golden_rows(content, folder.name)
        found.append((EngineCase(folder.name, values, program, np.concatenate([rows, _hostile_rows(rows)])),
                      content, len(rows)))
    return found


# Ops whose invoke fails on an input below the zero point, as TFLM's Eval does ("Rsqrt is only
# defined for positive values"; tests/unit/test_int16_engines.py): their hostile rows are clamped
# to the smallest input the zoo gives them. int8 RSQRT is a table of every byte TFLM answers for.
FAILS_BELOW_ZERO = {("RSQRT", "int16")}


def _zoo_cases() -> list[tuple[EngineCase, bytes, int]]:
    found = []
    for case in zoo_cases():
        program = lower_model(case.content).program
        if program is None:
            continue
        rows = input_rows(case)
        hostile = _hostile_rows(rows)
        if (case.meta["op"], case.meta["type"]) in FAILS_BELOW_ZERO:
            hostile = np.maximum(hostile, rows.min()).astype(rows.dtype)
        found.append((EngineCase(case.name, context(case), program, np.concatenate([rows, hostile])),
                      case.content, len(rows)))
    return found


@pytest.fixture(scope="module")
def sanitized_run():
    """Every engine in one sanitized program; TFLM's outputs on the rows it is asked about."""
    require_tool("tflm")
    require_tool("cc")
    from helpers.targets.tree import find_tree

    cmsis = sanitized_cmsis(find_tree(TFLM_DIR))
    cases = _golden_cases() + _zoo_cases()
    tflm = run_tflm({case.name: (content, case.rows[:checked]) for case, content, checked in cases})
    answers, run = run_engine_batch(cmsis, [case for case, _, _ in cases], RUNTIME)
    return cases, tflm, answers, run


def test_no_sanitizer_reports_on_any_engine(sanitized_run):
    cases, _, answers, run = sanitized_run
    report = first_report(run.stderr)
    assert report is None, report
    assert run.returncode == 0, f"the sanitized program stopped with exit {run.returncode}: {run.stderr[-600:]}"
    failed = {name: answer for name, answer in answers.items() if isinstance(answer, str)}
    assert not failed, f"{len(failed)} engines gave no outputs, first: {next(iter(failed.items()))}"
    assert len(cases) >= 300 and all(answers[case.name].shape[0] == len(case.rows) for case, _, _ in cases)


def test_sanitized_outputs_are_still_identical_to_tflms(sanitized_run):
    cases, tflm, answers, _ = sanitized_run
    compared = 0
    for case, _, checked in cases:
        want, got = tflm.get(case.name), answers.get(case.name)
        if isinstance(want, str) or not isinstance(got, np.ndarray):
            continue  # TFLM cannot run it (float16 weights): nothing to compare; the run is judged above
        got, want = got[:checked], want.reshape(checked, -1).astype(got.dtype)
        if got.dtype.kind in "iub":
            wrong = np.argwhere(got != want)
        else:
            got64, want64 = got.astype(np.float64), want.astype(np.float64)
            with np.errstate(invalid="ignore"):
                close = (got64 == want64) | (np.isnan(got64) & np.isnan(want64)) | (
                    np.abs(got64 - want64) <= FLOAT_TOLERANCE * (1 + np.abs(want64)))
            wrong = np.argwhere(~close)
        assert wrong.size == 0, f"{case.name}: differs from TFLM at (row, index) {wrong[:5].tolist()}"
        compared += 1
    assert compared >= 300


def test_tflm_self_test_passes_under_the_sanitizers(tmp_path, monkeypatch):
    """The firmware TFLM runs, for the shipped digits CNN in float32 and int8: main.cc, the model's
    C array and TFLM's library (the host's reference kernels), every one of them sanitized."""
    require_tool("tflm")
    require_tool("c++")
    from helpers.core.checks import Status
    from helpers.targets.selftest import run_self_test
    from helpers.targets.tree import find_tree

    export = tmp_path / "digits"
    # the self-test's files (main.cc, test_data.h) are written where a target checks them: the host
    result = run_main("--input_dir", str(ROOT / "models" / "digits_cnn"), "--PTQ", "-q", "int8", "-e",
                      "--tflm_dir", str(TFLM_DIR), "--target", "host", "--export_dir", str(export), "--quiet")
    assert result.returncode == 0, result.stderr[-2000:]
    for name, value in RUNTIME.items():
        monkeypatch.setenv(name, value)
    library = sanitized_tflm(find_tree(TFLM_DIR))
    for variant in ("float32", "int8"):
        verdict = run_self_test(library, export / variant, "digits_cnn", tmp_path / "work" / variant, mcu_mhz=80.0,
                                arena_bytes=None)
        report = first_report(verdict.message or "")
        assert report is None, f"{variant}: {report}"
        assert verdict.status is Status.PASS, (variant, verdict.status, (verdict.message or "")[-800:])
        assert verdict.vectors and verdict.vectors == verdict.vectors_matching, (variant, verdict)

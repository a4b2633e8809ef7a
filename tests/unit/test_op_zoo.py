"""The op zoo (tests/golden/ops, made by scripts/make_op_zoo.py): one tiny converted model per
(op, type) pair, float32, int8 and int16, with the converter's own quantization. Every case not in
PENDING.txt lowers, and both engines give TFLM's outputs on inputs that reach the zero points and
both ends of the input range: the C engine (every case in one program, against CMSIS-NN) and the
MicroPython engine on the unix port, viper and plain. Integer outputs identical, float32 within
1e-5 relative. A PENDING case that lowers fails too, so the list only shrinks.

The expensive work runs once, in module-scoped fixtures: TFLM (one child process, each case in a
fork of it), one C compile and link, two MicroPython processes."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from helpers.core.flatbuffer import inspect_tflite, parse_model
from helpers.lowering.lower import Lowered, lower_model
from helpers.lowering.program import Program
from tests.conftest import require_tool
from tests.op_zoo import ROWS, ZooCase, input_rows, integer_floor, read_pending, run_tflm, zoo_cases
from tests.op_zoo_engines import run_c_engines, run_micropython_engines

# Under `-n 2 --dist loadgroup` every test of the zoo goes to one worker: the module-scoped fixtures
# (TFLM, the C compile, MicroPython) then run once, not once per worker.
pytestmark = pytest.mark.xdist_group("op_zoo")
CASES = zoo_cases()
NAMES = [case.name for case in CASES]
PENDING = read_pending()
FLOAT_TOLERANCE = 1e-5
TYPES = ("float32", "int8", "int16")
# Cases that lower but whose MicroPython engine is wrong today, with the fault: strict xfails, so a
# fix makes them fail as XPASS (then remove them here). The emitters are not this test's to change.
# Cases the MicroPython engine is known to get wrong, each a strict xfail with its reason: an entry
# whose bug is fixed fails as XPASS until it is removed here.
MICROPYTHON_BUGS: dict[str, str] = {}


def _micropython_params() -> list[Any]:
    return [pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=MICROPYTHON_BUGS[name]))
            if name in MICROPYTHON_BUGS else name for name in NAMES]


@pytest.fixture(scope="module")
def lowered() -> dict[str, Lowered]:
    return {case.name: lower_model(case.content) for case in CASES}


@pytest.fixture(scope="module")
def rows() -> dict[str, np.ndarray]:
    return {case.name: input_rows(case) for case in CASES}


@pytest.fixture(scope="module")
def tflm(lowered, rows) -> dict[str, np.ndarray | str]:
    """TFLM's outputs for every case that lowers (the others have nothing to compare yet)."""
    return run_tflm({case.name: (case.content, rows[case.name]) for case in CASES
                     if lowered[case.name].program is not None})


def _runnable(lowered, rows) -> list[tuple[ZooCase, Program, np.ndarray]]:
    return [(case, lowered[case.name].program, rows[case.name]) for case in CASES
            if lowered[case.name].program is not None]


@pytest.fixture(scope="module")
def c_outputs(lowered, rows) -> dict[str, np.ndarray | str]:
    require_tool("tflm")
    require_tool("cc")
    from helpers.targets.engine_test import cmsis_library
    from helpers.targets.library import open_library
    from helpers.targets.target import TARGETS
    from helpers.targets.tree import find_tree
    from tests.conftest import TFLM_DIR

    library = cmsis_library(open_library(find_tree(TFLM_DIR), TARGETS["host"]))
    return run_c_engines(library, _runnable(lowered, rows))


@pytest.fixture(scope="module")
def micropython_outputs(lowered, rows) -> dict[tuple[str, str], tuple[str, np.ndarray | str]]:
    require_tool("micropython")
    from helpers.micropython.runtime import find_micropython

    command = find_micropython()
    assert command is not None
    return run_micropython_engines(command, _runnable(lowered, rows))


def _compare(name: str, got: np.ndarray, want: np.ndarray, what: str) -> None:
    """Integer (and boolean) outputs identical; float outputs within 1e-5 relative (NaN and the
    infinities where TFLM has them)."""
    assert got.size, f"{name}: {what} gave no outputs"
    assert got.shape == want.shape, f"{name}: {what} gave {got.shape}, TFLM {want.shape}"
    if want.dtype.kind in "iub":
        wrong = np.argwhere(got.astype(np.int64) != want.astype(np.int64))
        assert wrong.size == 0, f"{name}: {what} differs from TFLM at (row, index) {wrong[:5].tolist()} " \
                                f"({got[tuple(wrong[0])]} against {want[tuple(wrong[0])]})"
        return
    got, want = got.astype(np.float64), want.astype(np.float64)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    with np.errstate(invalid="ignore"):  # inf - inf: the infinities are judged by `same`
        close = np.abs(got - want) <= FLOAT_TOLERANCE * (1 + np.abs(want))
    wrong = np.argwhere(~(same | close))
    assert wrong.size == 0, f"{name}: {what} differs from TFLM at (row, index) {wrong[:5].tolist()} " \
                            f"({got[tuple(wrong[0])]} against {want[tuple(wrong[0])]})"


def _expected(name: str, tflm: dict[str, np.ndarray | str]) -> np.ndarray:
    want = tflm.get(name, "TFLM was not asked: the case does not lower")
    assert not isinstance(want, str), f"{name}: TFLM cannot run it: {want}"
    return want


def test_the_zoo_holds_every_type_and_each_case_its_op():
    assert len(CASES) >= 100
    assert {case.meta["type"] for case in CASES} == set(TYPES)
    for case in CASES:
        info = inspect_tflite(case.content)
        assert case.name == f"{case.name.rsplit('_', 1)[0]}_{case.meta['type']}"
        assert case.meta["op"] in info.ops, f"{case.name}: {info.ops}"
        assert info.input.dtype == case.meta["type"], f"{case.name}: input {info.input.dtype}"
        graph = parse_model(case.content).subgraphs[0]
        assert len(graph.inputs) == len(graph.outputs) == 1, f"{case.name}: the engines take one input, one output"


def test_pending_and_the_known_bugs_name_only_zoo_cases():
    assert sorted((set(PENDING) | set(MICROPYTHON_BUGS)) - set(NAMES)) == []


def test_inputs_reach_the_zero_point_and_both_ends_of_the_range(rows):
    for case in CASES:
        info = inspect_tflite(case.content).input
        values = rows[case.name]
        assert values.shape == (ROWS, *info.shape[1:]) and values.dtype == np.dtype(info.dtype)
        if info.dtype != "float32":
            low, high = integer_floor(case, info.dtype, info.zero_point), np.iinfo(values.dtype).max
            assert values.min() == low and values.max() == high, case.name
            assert max(info.zero_point, low) in set(values.reshape(-1).tolist()), case.name


# Ops whose integer outputs the zoo's inputs must drive to an end of the output type: the
# calibration's few samples leave the output range narrower than what the inputs reach.
SATURATING = {"ADD", "SUB", "MUL", "SQUARED_DIFFERENCE", "SUM"}


def test_the_inputs_saturate_the_arithmetic_outputs(tflm):
    checked = 0
    for case in CASES:
        want = tflm.get(case.name)
        if case.meta["op"] not in SATURATING or case.meta["type"] == "float32" or not isinstance(want, np.ndarray):
            continue
        limits = np.iinfo(want.dtype)
        assert np.any((want == limits.min) | (want == limits.max)), f"{case.name}: no output saturates"
        checked += 1
    assert checked, "no integer arithmetic case lowers"


@pytest.mark.parametrize("name", NAMES)
def test_lowers_unless_pending(name, lowered):
    reason = lowered[name].reason
    if name in PENDING:
        assert reason is not None, f"{name} lowers now: remove it from tests/golden/ops/PENDING.txt"
    else:
        assert reason is None, f"{name} does not lower ({reason}); the engines took it before"


@pytest.mark.parametrize("name", NAMES)
def test_c_engine_gives_tflms_outputs(name, lowered, tflm, c_outputs):
    if lowered[name].program is None:
        pytest.skip(f"pending: {lowered[name].reason}")
    got = c_outputs[name]
    assert not isinstance(got, str), f"{name}: {got}"
    _compare(name, got, _expected(name, tflm), "the C engine")


@pytest.mark.parametrize("path", ["viper", "plain"])
@pytest.mark.parametrize("name", _micropython_params())
def test_micropython_engine_gives_tflms_outputs(name, path, lowered, tflm, micropython_outputs):
    if lowered[name].program is None:
        pytest.skip(f"pending: {lowered[name].reason}")
    assert (name, path) in micropython_outputs, f"{name}: MicroPython printed nothing for it ({path})"
    used, got = micropython_outputs[(name, path)]
    assert not isinstance(got, str), f"{name}: the MicroPython engine ({path}): {got}"
    if path == "plain":
        assert used == "plain", f"{name}: asked for the plain path, ran {used}"
    want = _expected(name, tflm)
    _compare(name, got.reshape(want.shape).astype(want.dtype) if got.size == want.size else got, want,
             f"MicroPython ({used})")

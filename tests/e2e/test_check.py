"""`--check`: in seconds, before a full run, per variant where every op runs, TFLM's arena and flash
against the budgets, the rewrites; nothing written; exit 0 when the final variant can be flashed
and fits, else 3 with the full run's line."""
from __future__ import annotations

from tests.conftest import ROOT, run_main
from tests.e2e.test_keras_layers import _sign_mlp

DIGITS = ROOT / "models" / "digits_cnn"


def test_check_places_every_op_writes_nothing_and_judges_the_budgets(tmp_path):
    export = tmp_path / "out"
    result = run_main("--input_dir", str(DIGITS), "--PTQ", "-q", "int8", "--check", "--export_dir", str(export))
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "int8: TFLM runs it, tensor arena " in out and "C and MicroPython engines written (not run)" in out
    # the op table of the int8 variant: TFLM's CMSIS-NN kernel; the C engine's own kernels on Armv7E-M
    # and Armv6-M cores and CMSIS-NN's call on the others (the layer is guarded); the native path
    assert any(line.split()[:3] == ["CONV_2D", "2", "cmsis-nn"] and line.split()[-1] == "native"
               and "own on Armv7E-M and Armv6-M, else cmsis-nn" in line for line in out.splitlines()), out
    assert any(line.split()[:4] == ["MAX_POOL_2D", "2", "cmsis-nn", "cmsis-nn"] for line in out.splitlines())
    assert any(line.split()[:4] == ["RESHAPE", "1", "reference", "no"] for line in out.splitlines())
    assert not export.exists(), "--check writes no export"
    # a budget the model cannot meet: the same exit and line as a full run's
    small = run_main("--input_dir", str(DIGITS), "--PTQ", "-q", "int8", "--check", "--flash_budget", "2K",
                     "--export_dir", str(export))
    assert small.returncode == 3 and "(DOES NOT FIT)" in small.stdout, small.stderr[-2000:]
    assert [line for line in small.stderr.splitlines() if line.startswith("error:")], small.stderr
    assert not export.exists()


def test_check_of_a_model_nothing_of_which_can_be_flashed_exits_3_with_the_full_runs_line(tmp_path):
    model_dir = _sign_mlp(tmp_path / "sign")
    result = run_main("--input_dir", str(model_dir), "--PTQ", "-q", "integer_with_float_fallback", "--check",
                      "--trust_model_code")
    assert result.returncode == 3 and "Traceback" not in result.stderr, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: no variant of the run can be flashed: TFLM has no kernel for SIGN (float32, "
                      f"integer_with_float_fallback) ({model_dir}): replace the layers that make SIGN (report.md "
                      "lists each variant's ops)"], result.stderr
    assert any(line.split()[:3] == ["SIGN", "1", "no"] for line in result.stdout.splitlines()), result.stdout


def test_check_refuses_what_it_does_not_do():
    result = run_main("--input_dir", str(DIGITS), "--prune", "--check")
    assert result.returncode == 2 and "--check converts the model as it is" in result.stderr

"""The MicroPython board run's verdict (helpers/micropython/board_check.py) from the driver's lines,
without a board: every path identical to TFLM passes; the first path run again after use_engine()
went through the others and back must match its first run (issue 36: after switching back to
native, a CNN once ran 3.4x slower and allocated 48 B a run)."""
from __future__ import annotations

from helpers.core.checks import BoardRun, Status
from helpers.micropython.board_check import _judged, _parse, tflm_count_for
from helpers.micropython.qemu_port import BOARDS

BASE = {"board": "cortex-m4f", "core": "Cortex-M4F", "machine": "mps2-an386", "arch": "armv7emsp"}
# rows, mismatched rows, microseconds (instructions / 1000 under -icount shift=0), bytes per run
LINES = """MCU_DEPLOY_HEAP 57872
MCU_DEPLOY_PATH native 40 0 5717 0
MCU_DEPLOY_PATH viper 13 0 20579 0
MCU_DEPLOY_PATH plain 1 0 36968 0
MCU_DEPLOY_AGAIN native {rows} {bad} {spent} {alloc}
"""


def _verdict(rows=40, bad=0, spent=5718, alloc=0) -> BoardRun:
    return _judged(BASE, _parse(LINES.format(rows=rows, bad=bad, spent=spent, alloc=alloc)), None, "not built here",
                   142760)


def test_the_first_path_again_as_fast_passes_and_is_reported():
    run = _verdict()
    assert run.status is Status.PASS and [p.path for p in run.paths] == ["native", "viper", "plain"]
    assert run.switched_back.path == "native" and run.switched_back.instructions_per_inference == 142950
    assert BoardRun.from_dict(run.to_dict()) == run
    assert "switched_back" not in BoardRun(**BASE, status=Status.PASS).to_dict()  # older reports keep their keys


def test_the_first_path_again_slower_allocating_or_wrong_fails_and_says_how():
    for figures, said in (({"spent": 19_440}, "486000 instructions per inference (first 142925)"),
                          ({"alloc": 48}, "48 B allocated per run"),
                          ({"bad": 2}, "2 rows differ from TFLM")):
        run = _verdict(**figures)
        assert run.status is Status.FAIL and "native after use_engine() switched" in run.reason, figures
        assert said in run.reason, run.reason


def test_each_board_is_compared_with_tflm_on_its_own_core_where_that_target_ran():
    counts = {"cortex-m4": 142_760, "cortex-m55": 150_000, "riscv32": 400_000}
    assert tflm_count_for(BOARDS["cortex-m55"], counts) == ("cortex-m55", 150_000)
    assert tflm_count_for(BOARDS["riscv32"], counts) == ("riscv32", 400_000)
    assert tflm_count_for(BOARDS["cortex-m3"], counts) == ("cortex-m4", 142_760)   # no M3 target: the M4's
    assert tflm_count_for(BOARDS["cortex-m55"], {"cortex-m4": 142_760}) == ("cortex-m4", 142_760)
    assert tflm_count_for(BOARDS["cortex-m4f"], {}) == (None, None)


def test_the_report_names_the_tflm_target_a_ratio_divides_by_where_it_is_not_the_m4():
    from dataclasses import replace

    from helpers.core.checks import MicroPythonResult
    from helpers.render.board_text import board_lines

    run = replace(_verdict(), core="Cortex-M55", compared_with="cortex-m55")
    assert BoardRun.from_dict(run.to_dict()) == run
    m55 = board_lines("int8", MicroPythonResult(status=Status.PASS, boards=(run,)))
    m4 = board_lines("int8", MicroPythonResult(status=Status.PASS, boards=(replace(run, compared_with="cortex-m4"),)))
    assert "| 1.00x (cortex-m55) |" in m55[0] and "| 1.00x |" in m4[0]


def test_a_path_that_allocates_is_judged_again_on_its_outputs_only():
    """integer_with_float_fallback's native path boxes floats: the collector runs at other moments."""
    lines = LINES.replace("MCU_DEPLOY_PATH native 40 0 5717 0", "MCU_DEPLOY_PATH native 40 0 17772 4256")
    assert _judged(BASE, _parse(lines.format(rows=40, bad=0, spent=18360, alloc=4256)), None, "-",
                   142760).status is Status.PASS
    assert _judged(BASE, _parse(lines.format(rows=40, bad=1, spent=18360, alloc=4256)), None, "-",
                   142760).status is Status.FAIL


def test_the_module_the_native_path_ran_on_is_read_and_reported_and_the_kernels_path_beside_it():
    """With the model's own native module, "native" is one call into it and "kernels" the kernels
    module's path; the report names the module each ran on."""
    from dataclasses import replace

    from helpers.core.checks import MicroPythonResult
    from helpers.render.board_text import board_lines

    lines = LINES.replace("MCU_DEPLOY_HEAP 57872\n", "MCU_DEPLOY_HEAP 42064\nMCU_DEPLOY_NATIVE digits_cnn_native_armv7emsp\n")
    lines = lines.replace("MCU_DEPLOY_PATH viper", "MCU_DEPLOY_PATH kernels 40 0 3770 0\nMCU_DEPLOY_PATH viper")
    report = _parse(lines.format(rows=40, bad=0, spent=5718, alloc=0))
    assert (report.heap, report.native_module) == (42064, "digits_cnn_native_armv7emsp")
    run = replace(_judged(BASE, report, None, "-", 142760), native_module=report.native_module, model_mpy_bytes=24527)
    assert [p.path for p in run.paths] == ["native", "kernels", "viper", "plain"]
    assert BoardRun.from_dict(run.to_dict()) == run
    table = board_lines("int8", MicroPythonResult(status=Status.PASS, boards=(run,)))
    assert "| native (digits_cnn_native_armv7emsp) |" in table[0] and "| kernels (mcu_kernels_armv7emsp) |" in table[1]
    assert _parse("MCU_DEPLOY_NATIVE None\n").native_module is None


def test_the_timers_mean_cost_is_taken_off_each_run_not_one_reading():
    """A small model's run on the native path takes about one microsecond of ticks_us: one reading of
    the timer's own cost (0 or 1 us) once made such runs come out at minus 2,171 instructions. The
    driver prints the sum of 1,000 readings' differences (the mean in ns, which is instructions);
    the host takes it off each run."""
    lines = "MCU_DEPLOY_HEAP 19360\nMCU_DEPLOY_TIMER 412\nMCU_DEPLOY_PATH native 76 0 153 0\n"
    report = _parse(lines)
    assert report.timer_ns == 412
    run = _judged(BASE, report, None, "-", 5360).paths[0]
    assert run.instructions_per_inference == round(153 * 1000 / 76 - 412) == 1601
    assert run.ratio_to_tflm == round(1601 / 5360, 2)
    # a run no longer than the timer's mean cost is too short to measure: no figure, never a negative one
    short = _judged(BASE, _parse(lines.replace("76 0 153 0", "76 0 20 0")), None, "-", 5360).paths[0]
    assert short.instructions_per_inference is None and short.ratio_to_tflm is None

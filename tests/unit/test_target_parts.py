"""The target machinery without a toolchain: map parsing, definition search, the self-test's
output, the arena rule, and the flags."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers.config import parse_args
from helpers.errors import ConfigError
from helpers.targets.bench import target_arena, with_arena
from helpers.targets.library import _definition_patterns
from helpers.targets.linkmap import read_map
from helpers.targets.runner import ProgramRun
from helpers.targets.selftest import TargetResult, parse_run
from helpers.targets.target import parse_targets

MAP = """\
Archive member included to satisfy reference by file (symbol)

Linker script and memory map

.text           0x00000000      0x200
 *(.vectors)
 .vectors       0x00000000       0x40 /w/startup_cortex_m.o
 .text._ZN6tflite16MicroInterpreter6InvokeEv
                0x00000040      0x100 /tmp/x/libtensorflow-microlite.a(tensorflow__lite__micro__micro_interpreter.o)
                0x00000040                tflite::MicroInterpreter::Invoke()
 .text.arm_convolve_s8
                0x00000140       0x80 /tmp/x/libtensorflow-microlite.a(arm_convolve_s8.o)
 *fill*         0x000001c0        0x4 
 .text.startup.main
                0x000001c4       0x3c /w/main.o
.rodata         0x00000200      0x150
 .rodata.g_m_model_data
                0x00000200      0x100 /w/m_model_data.o
 .rodata._ZL17g_m_test_inputs
                0x00000300       0x40 /w/main.o
 .rodata.str1.1
                0x00000340       0x20 /w/main.o
 .rodata.str1.1
                0x00000360       0x20 /tmp/x/libtensorflow-microlite.a(tensorflow__lite__micro__kernels__conv.o)
.data           0x20000000       0x10
 .data          0x20000000       0x10 /usr/lib/libc.a(lib_a-impure.o)
.bss            0x20000010      0x810
 .bss._ZN12_GLOBAL__N_112tensor_arenaE
                0x20000010      0x800 /w/main.o
 .bss           0x20000810       0x10 /usr/lib/libc.a(lib_a-reent.o)
.ARM.attributes
                0x00000000       0x2e
 .ARM.attributes
                0x00000000       0x2e /w/main.o
"""


def test_link_map_totals_and_breakdown(tmp_path: Path):
    path = tmp_path / "selftest.map"
    path.write_text(MAP)
    figures = read_map(path, "m")
    assert figures.flash_bytes == 0x200 + 0x150 + 0x10
    assert figures.ram_bytes == 0x10 + 0x810
    breakdown = figures.flash_breakdown
    assert breakdown["model_data"] == 0x100
    assert breakdown["kernels"] >= 0x80 and breakdown["tflm_runtime"] >= 0x100
    assert breakdown["self_test"] >= 0x3c + 0x40
    assert sum(breakdown.values()) == figures.flash_bytes   # merged strings shared out, the rest is padding
    assert figures.ram_breakdown["tensor_arena"] == 0x800
    assert sum(figures.ram_breakdown.values()) == figures.ram_bytes
    assert figures.flash_without_self_test == figures.flash_bytes - breakdown["self_test"]


@pytest.mark.parametrize("symbol, source, found", [
    ("tflite::MicroInterpreter::AllocateTensors()", "TfLiteStatus MicroInterpreter::AllocateTensors() {\n", True),
    ("tflite::Register_MAX_POOL_2D()", "TFLMRegistration Register_MAX_POOL_2D() {\n", True),
    ("tflite::Register_MAX_POOL_2D()", "TFLMRegistration Register_MAX_POOL_2D();\n", False),   # a declaration
    ("tflite::Register_MAX_POOL_2D()", "  return Register_MAX_POOL_2D();\n", False),           # a call
    ("arm_convolve_s8", "arm_cmsis_nn_status arm_convolve_s8(const cmsis_nn_context *ctx,\n", True),
    ("vtable for tflite::MicroAllocator", "MicroAllocator::~MicroAllocator() {}\n", True),
])
def test_definition_search(symbol, source, found):
    assert any(p.search(source) for p in _definition_patterns(symbol)) is found


def test_self_test_output_is_read_and_tflm_messages_kept():
    base = {"target": "cortex-m4", "kernels": "cmsis_nn"}
    passed = parse_run(ProgramRun(0, "arena used: 2596 of 5632 bytes\naccuracy: 355 of 360 correct\n"
                                  "PASS: 360 of 360 vectors match\n"), base)
    assert passed.status == "pass" and passed.vectors == 360 and passed.arena_used_bytes == 2596
    assert passed.metrics == {"accuracy": 355 / 360}
    failed = parse_run(ProgramRun(1, "conv.cc:12 x was not true.\nNode CONV_2D (number 0) failed to prepare\n"
                                  "FAIL: AllocateTensors (arena 100 bytes)\n"), base)
    assert failed.status == "fail" and "conv.cc:12" in failed.message and failed.vectors is None
    # PASS printed but a non-zero exit (a fault after the loop) is not a pass
    assert parse_run(ProgramRun(1, "PASS: 1 of 1 vectors match\n"), base).status == "fail"
    assert parse_run(ProgramRun(0, "mae: 0.25 over 10 vectors\nPASS: 10 of 10 vectors match\n"),
                  base).metrics == {"mae": 0.25}


def test_arena_from_32_bit_targets_only():
    host = TargetResult(target="host", kernels="reference", status="pass", arena_used_bytes=5000)
    m4 = TargetResult(target="cortex-m4", kernels="cmsis_nn", status="pass", arena_used_bytes=2596,
                      ram_bytes=10000, ram_breakdown={"tensor_arena": 6000, "c_runtime": 4000})
    failed = TargetResult(target="cortex-m0plus", kernels="cmsis_nn", status="fail", arena_used_bytes=9999)
    assert target_arena((host, m4, failed)) == 2864          # ceil(2596 * 1.1 / 16) * 16
    assert target_arena((host,)) is None
    adjusted = with_arena((m4,), 2864)[0]
    assert adjusted.ram_bytes == 4000 + 2864 and adjusted.ram_breakdown["tensor_arena"] == 2864


def test_target_flags(monkeypatch):
    monkeypatch.delenv("TFLM_DIR", raising=False)
    assert [t.name for t in parse_targets("cortex-m4, host,cortex-m4")] == ["cortex-m4", "host"]
    with pytest.raises(ConfigError, match="unknown --target"):
        parse_targets("cortex-m99")
    with pytest.raises(ConfigError, match="needs a TensorFlow Lite Micro tree"):
        parse_args(["--input_dir", "x", "--target", "host"])
    with pytest.raises(ConfigError, match="--skip_firmware_checks"):
        parse_args(["--input_dir", "x", "--tflm_dir", "t", "--target", "host", "--skip_firmware_checks"])
    assert parse_args(["--input_dir", "x"]).targets == ()
    assert parse_args(["--input_dir", "x", "--tflm_dir", "t"]).targets == ("host", "cortex-m4")
    assert parse_args(["--input_dir", "x", "--tflm_dir", "t", "--skip_firmware_checks"]).targets == ()


def test_a_sweep_refuses_package_which_would_write_nothing():
    """Each combination exports into a folder the sweep deletes, keeping only its row."""
    with pytest.raises(ConfigError, match="--sweep keeps one row per combination") as refused:
        parse_args(["--input_dir", "x", "--sweep", "-e", "--package", "cmake"])
    assert "without --sweep, with --package" in refused.value.fix

"""The cores added after the M4 and M0+ and the --board table, without building anything: each
target's flags, harness and timer, the boards' data, and what --board does to a run's settings."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from helpers.config import parse_args
from helpers.errors import ConfigError
from helpers.targets.boards import BOARDS, boards_table, find_board
from helpers.targets.program import HARNESS
from helpers.targets.recipe import Recipe
from helpers.targets.target import TARGETS
from tests.conftest import ROOT


def _recipe() -> Recipe:
    return Recipe(cxx="g++", cc="gcc", cxxflags=("-mfloat-abi=soft", "-O2"), ccflags=("-mfloat-abi=soft",),
                  includes=(), ldflags=("--specs=nano.specs", "-lm"), libs=(), core_optimization="-O2", sources={})


def test_the_m55_is_built_with_hard_float_so_cmsis_nn_uses_mve():
    adapted = TARGETS["cortex-m55"].adapt(_recipe(), "/h")
    assert adapted.cxxflags == ("-mfloat-abi=hard", "-O2") and adapted.ccflags == ("-mfloat-abi=hard",)
    assert "-DMCU_DEPLOY_ENABLE_FPU" in TARGETS["cortex-m55"].harness_defines


def test_riscv_takes_the_header_overlay_and_drops_newlib_nano():
    adapted = TARGETS["riscv32"].adapt(_recipe(), str(HARNESS))
    assert f"{HARNESS}/riscv_cxx" in adapted.cxxflags and adapted.ldflags == ("-lm",)
    assert (HARNESS / "riscv_cxx/bits/os_defines.h").is_file()
    assert TARGETS["riscv32"].instructions_per_tick == 1.0 and TARGETS["riscv32"].qemu == "qemu-system-riscv32"


@pytest.mark.parametrize("name", ["cortex-m33", "cortex-m7", "cortex-m55", "riscv32"])
def test_each_new_core_has_its_board_files_and_flags(name):
    target = TARGETS[name]
    assert target.emulated and target.core_flags and target.packages
    for flag in target.link_flags:
        script = re.match(r"-T\{harness\}/(.+)", flag)
        if script:
            assert (HARNESS / script.group(1)).is_file()
    assert (HARNESS / target.startup).is_file()


def test_the_boards_table_has_a_source_beside_every_board():
    assert len(BOARDS) >= 12
    source = (ROOT / "helpers/targets/boards.py").read_text()
    for board in BOARDS.values():
        assert board.target in TARGETS and board.flash_usable_kib <= board.flash_kib
        assert board.ram_usable_kib <= board.ram_kib and board.mhz > 0
        before = source[:source.index(f'Board("{board.name}"')].rstrip().splitlines()[-1]
        assert before.lstrip().startswith("#"), board.name
    assert "alif-e7-devkit" in boards_table() and "esp32-c3-devkitm-1" in boards_table()


def test_a_board_sets_the_target_clock_and_budgets_and_explicit_flags_win(monkeypatch):
    monkeypatch.delenv("TFLM_DIR", raising=False)  # the second run has no TFLM tree, given or inherited
    config = parse_args(["--input_dir", "models/digits_cnn", "--board", "nrf5340dk", "--tflm_dir", "/work"])
    assert config.targets == ("cortex-m33",) and config.mcu_mhz == 128
    assert config.flash_budget == 1024 * 1024 and config.ram_budget == 512 * 1024
    config = parse_args(["--input_dir", "models/digits_cnn", "--board", "nrf5340dk", "--mcu_mhz", "64",
                         "--ram_budget", "100K"])
    assert config.targets == () and config.mcu_mhz == 64 and config.ram_budget == 100 * 1024
    assert parse_args(["--input_dir", "models/digits_cnn"]).mcu_mhz == 80


def test_an_unknown_board_or_a_target_without_its_core_is_one_line():
    with pytest.raises(ConfigError, match="did you mean pico2"):
        find_board("pico-2")
    with pytest.raises(ConfigError, match="leaves out"):
        parse_args(["--input_dir", "models/digits_cnn", "--board", "pico", "--target", "cortex-m4"])


def test_board_list_prints_the_table_and_exits_0():
    result = subprocess.run([sys.executable, "main.py", "--board", "list"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == len(BOARDS) + 1
    result = subprocess.run([sys.executable, "main.py", "--input_dir", "models/digits_cnn", "--board", "nope"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1

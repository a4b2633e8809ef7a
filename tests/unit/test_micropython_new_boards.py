"""The qemu port's boards as data, without building anything: --micropython_boards' choices, and
each upstream board's ROMFS partition, .mpy architecture and the RV32 build's Zcmp change read
back from the pinned MicroPython tree, so the table cannot drift from the tree it builds."""
from __future__ import annotations

import re

import pytest

from helpers.config import parse_args
from helpers.errors import ConfigError
from helpers.micropython.native_module import ARCHS
from helpers.micropython.qemu_port import BOARDS, DEFAULT_BOARDS, parse_boards
from tests.conftest import MICROPYTHON_DIR, require_tool


def test_the_default_boards_stay_the_first_two_and_all_names_every_board():
    assert parse_args(["--input_dir", "models/digits_cnn"]).micropython_boards == DEFAULT_BOARDS \
        == ("cortex-m3", "cortex-m4f")
    assert parse_boards("all") == tuple(BOARDS) == ("cortex-m3", "cortex-m4f", "cortex-m55", "riscv32")
    assert parse_boards("riscv32, cortex-m55,riscv32") == ("riscv32", "cortex-m55")
    with pytest.raises(ConfigError, match="cortex-m33"):
        parse_args(["--input_dir", "models/digits_cnn", "--micropython_boards", "cortex-m55,cortex-m33"])


def test_every_board_has_a_kernels_module_architecture():
    assert {board.arch for board in BOARDS.values()} <= set(ARCHS)


@pytest.mark.parametrize("name", ["cortex-m3", "cortex-m55", "riscv32"])
def test_each_upstream_board_matches_the_pinned_tree(name):
    require_tool("micropython-tree")
    board = BOARDS[name]
    board_mk = (MICROPYTHON_DIR / "ports/qemu/boards" / board.upstream_board / "mpconfigboard.mk").read_text()
    assert f"QEMU_MACHINE = {board.machine}" in board_mk
    assert re.search(rf"-march={board.arch}\b", board_mk)
    start = re.search(r"MICROPY_HW_ROMFS_PART0_START \??= (0x[0-9a-fA-F]+)", board_mk)
    size = re.search(r"MICROPY_HW_ROMFS_PART0_SIZE \??= (0x[0-9a-fA-F]+)", board_mk)
    if start:  # the AN385 takes the port's default partition
        assert int(start.group(1), 16) == board.romfs_address and int(size.group(1), 16) == board.romfs_bytes
    for file, text, _ in board.patches:
        assert text in (MICROPYTHON_DIR / file).read_text()


# (--board, the boards by default, the boards with --micropython_boards cortex-m3): a board's core
# adds its port's board, and nothing else.
@pytest.mark.parametrize("board, default, chosen", [
    ("esp32-c3-devkitm-1", ("cortex-m3", "cortex-m4f", "riscv32"), ("cortex-m3", "riscv32")),
    ("alif-e7-devkit", ("cortex-m3", "cortex-m4f", "cortex-m55"), ("cortex-m3", "cortex-m55")),
    ("nano33ble", ("cortex-m3", "cortex-m4f"), ("cortex-m3", "cortex-m4f")),
    ("pico2", ("cortex-m3", "cortex-m4f"), ("cortex-m3",))])
def test_board_adds_the_micropython_port_of_its_core(board, default, chosen):
    assert parse_args(["--input_dir", "models/digits_cnn", "--board", board]).micropython_boards == default
    given = parse_args(["--input_dir", "models/digits_cnn", "--board", board, "--micropython_boards", "cortex-m3"])
    assert given.micropython_boards == chosen

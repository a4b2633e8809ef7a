"""`--board NAME`: real boards as data. A board picks the --target whose emulated core matches
its own, the flash and RAM budgets (what an application can use) and the clock for the latency.

Sizes are in KiB. "internal" is what the chip has; "usable" is what a firmware image can link
into on that board (minus a bootloader or the largest RAM block one linker region spans), which
becomes --flash_budget / --ram_budget. A board without internal flash (RP2040, RP2350, the ESP32s)
counts the flash chip on the board.
"""
from __future__ import annotations

import argparse
import difflib
import os
from dataclasses import dataclass

from helpers.errors import ConfigError


@dataclass(frozen=True)
class Board:
    """One board: its core, clock, memories and the matching --target."""

    name: str
    title: str
    chip: str
    core: str
    target: str
    mhz: float
    flash_kib: int
    ram_kib: int
    flash_usable_kib: int
    ram_usable_kib: int

    @property
    def flash_budget(self) -> int:
        return self.flash_usable_kib * 1024

    @property
    def ram_budget(self) -> int:
        return self.ram_usable_kib * 1024


BOARDS = {board.name: board for board in (
    # Arduino Nano 33 BLE Sense product page (ABX00031) and Nordic nRF52840 Product Specification
    # v1.7: 64 MHz Cortex-M4F, 1 MB flash, 256 KB RAM; the Arduino bootloader keeps the first 64 KB.
    Board("nano33ble", "Arduino Nano 33 BLE Sense", "nRF52840", "Cortex-M4F", "cortex-m4", 64, 1024, 256, 960, 256),
    # micro:bit v2 hardware page (tech.microbit.org/hardware) and nRF52833 Product Specification
    # v1.7: 64 MHz Cortex-M4F, 512 KB flash, 128 KB RAM (the USB interface chip is the programmer).
    Board("microbit-v2", "BBC micro:bit v2", "nRF52833", "Cortex-M4F", "cortex-m4", 64, 512, 128, 512, 128),
    # ST NUCLEO-L4R5ZI user manual UM2179 and STM32L4R5xx datasheet DS12023: 120 MHz Cortex-M4F,
    # 2 MB flash, 640 KB SRAM (SRAM1 192 KB + SRAM2 64 KB + SRAM3 384 KB, one contiguous block).
    Board("nucleo-l4r5zi", "NUCLEO-L4R5ZI", "STM32L4R5ZI", "Cortex-M4F", "cortex-m4", 120, 2048, 640, 2048, 640),
    # ST STM32F446xC/E datasheet DS10693: 180 MHz Cortex-M4F, 512 KB flash, 128 KB SRAM (112 + 16,
    # contiguous) plus 4 KB backup SRAM.
    Board("nucleo-f446re", "NUCLEO-F446RE", "STM32F446RE", "Cortex-M4F", "cortex-m4", 180, 512, 132, 512, 128),
    # ST STM32H742xI/G STM32H743xI/G datasheet DS12110: 480 MHz Cortex-M7, 2 MB flash, 1 MB RAM
    # (of which the AXI SRAM, 512 KB, is the largest block one linker region spans).
    Board("nucleo-h743zi2", "NUCLEO-H743ZI2", "STM32H743ZI", "Cortex-M7", "cortex-m7", 480, 2048, 1024, 2048, 512),
    # Raspberry Pi RP2040 datasheet and Pico datasheet: dual 133 MHz Cortex-M0+, 264 KB SRAM, no
    # internal flash (2 MB QSPI flash on the board; the first 256 bytes hold the boot stage 2).
    Board("pico", "Raspberry Pi Pico", "RP2040", "Cortex-M0+", "cortex-m0plus", 133, 2048, 264, 2047, 264),
    # Raspberry Pi RP2350 datasheet and Pico 2 datasheet: dual 150 MHz Cortex-M33 (or Hazard3
    # RISC-V), 520 KB SRAM, 4 MB QSPI flash on the board.
    Board("pico2", "Raspberry Pi Pico 2", "RP2350", "Cortex-M33", "cortex-m33", 150, 4096, 520, 4096, 520),
    # Nordic nRF5340 Product Specification v1.3 and nRF5340 DK product page: application core
    # 128 MHz Cortex-M33 with 1 MB flash and 512 KB RAM (the network core's 256/64 KB apart).
    Board("nrf5340dk", "nRF5340 DK (application core)", "nRF5340", "Cortex-M33", "cortex-m33", 128, 1024, 512,
          1024, 512),
    # ST B-U585I-IOT02A user manual UM2839 and STM32U585xx datasheet DS13086: 160 MHz Cortex-M33,
    # 2 MB flash, 786 KB SRAM (SRAM1-3 768 KB contiguous + SRAM4 16 KB).
    Board("b-u585i-iot02a", "B-U585I-IOT02A (STM32U5 Discovery kit)", "STM32U585AI", "Cortex-M33", "cortex-m33", 160,
          2048, 786, 2048, 768),
    # Espressif ESP32-C3 datasheet v1.x and ESP32-C3-DevKitM-1 user guide: 160 MHz RV32IMC, 400 KB
    # SRAM (16 KB of it the flash cache), 4 MB flash in the module; ESP-IDF's default partition table
    # gives the application a 1 MB partition.
    Board("esp32-c3-devkitm-1", "ESP32-C3-DevKitM-1", "ESP32-C3", "RV32IMC", "riscv32", 160, 4096, 400, 1024, 384),
    # Espressif ESP32-C6 datasheet v1.x and ESP32-C6-DevKitC-1 user guide: 160 MHz RV32IMAC, 512 KB
    # HP SRAM (+16 KB LP SRAM), 8 MB flash on the -N8 module; a 1 MB default application partition.
    Board("esp32-c6-devkitc-1", "ESP32-C6-DevKitC-1", "ESP32-C6", "RV32IMAC", "riscv32", 160, 8192, 528, 1024, 512),
    # Alif Semiconductor Ensemble E7 datasheet and the Ensemble E7 DevKit (Gen 2) product page: the
    # high-performance Cortex-M55 (Helium) at 400 MHz with 256 KB ITCM and 1 MB DTCM; 5.5 MB MRAM
    # for code; 13.5 MB SRAM in all (the DTCM is what the core reaches without wait states).
    Board("alif-e7-devkit", "Alif Ensemble E7 DevKit (M55-HP)", "AE722F80F55D5", "Cortex-M55 (Helium)", "cortex-m55",
          400, 5632, 13824, 5632, 1024),
)}


def find_board(name: str) -> Board:
    """The board named `name`, or a one-line ConfigError naming the closest one."""
    board = BOARDS.get(name.strip().lower())
    if board is None:
        close = difflib.get_close_matches(name.strip().lower(), list(BOARDS), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ConfigError(f"unknown --board {name!r}", f"{hint}`--board list` prints the {len(BOARDS)} boards")
    return board


def boards_table() -> str:
    """`--board list`: one line per board."""
    rows = [("board", "name", "core", "MHz", "flash KiB (usable)", "RAM KiB (usable)", "--target")]
    rows += [(b.name, b.title, b.core, f"{b.mhz:g}", f"{b.flash_kib} ({b.flash_usable_kib})",
              f"{b.ram_kib} ({b.ram_usable_kib})", b.target) for b in BOARDS.values()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def board_settings(name: str, target: str | None, mhz: float | None, flash: str | None,
                   ram: str | None) -> tuple[Board, str, float, str, str]:
    """The board, and the --target, --mcu_mhz, --flash_budget and --ram_budget it implies (flags
    given explicitly win; a --target without the board's core is an error)."""
    board = find_board(name)
    if target and board.target not in [part.strip() for part in target.split(",")]:
        raise ConfigError(f"--board {board.name} is a {board.core}, which --target {target} leaves out",
                          f"add {board.target} to --target, or drop --target")
    return (board, target or board.target, mhz or board.mhz, flash or str(board.flash_budget),
            ram or str(board.ram_budget))


# MicroPython's qemu-port board of each target's core (helpers/micropython/qemu_port.py), where it has one.
_MICROPYTHON_BOARD = {"cortex-m4": "cortex-m4f", "cortex-m55": "cortex-m55", "riscv32": "riscv32"}


def _with_micropython_board(chosen: str, target: str) -> str:
    """--micropython_boards plus the port's board of `target`'s core, when it lacks it."""
    extra = _MICROPYTHON_BOARD.get(target)
    names = [name.strip() for name in chosen.split(",")]
    return chosen if extra is None or extra in names or "all" in names else f"{chosen},{extra}"


def apply_board(args: argparse.Namespace) -> str | None:
    """Fill --target, --mcu_mhz and the budgets of parsed arguments from --board (the flags given
    win); the notice to print, or None without --board. --mcu_mhz left unset becomes 80."""
    name = getattr(args, "board", None)
    if not name:
        args.mcu_mhz = args.mcu_mhz or 80.0
        return None
    given = args.target
    board, target, args.mcu_mhz, args.flash_budget, args.ram_budget = board_settings(
        name, given, args.mcu_mhz, args.flash_budget, args.ram_budget)
    # the board's target only where targets run (a TFLM tree, no --skip_firmware_checks or --check)
    runs = (args.tflm_dir or os.environ.get("TFLM_DIR")) and not (
        args.skip_firmware_checks or args.check)
    args.target = target if runs else given
    # the engine also runs on MicroPython's port of the board's core (with a MicroPython tree)
    args.micropython_boards = _with_micropython_board(args.micropython_boards, board.target)
    return (f"--board {board.name}: {board.title} ({board.chip}, {board.core} at {board.mhz:g} MHz): "
            f"--target {args.target or '-'}, --mcu_mhz {args.mcu_mhz:g}, "
            f"--flash_budget {args.flash_budget}, --ram_budget {args.ram_budget}, "
            f"--micropython_boards {args.micropython_boards}")

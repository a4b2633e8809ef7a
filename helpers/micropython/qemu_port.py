"""MicroPython's own bare-metal port (ports/qemu of the given tree), a real 32-bit MicroPython:
built once per board into the cache, run under qemu-system-arm (or -riscv32) with a ROMFS image
at the board's ROMFS partition (mounted as /rom, on sys.path) and driven over its serial line with
the raw-REPL protocol. With -icount shift=0 one instruction takes 1 ns of the board's time, and
every board's time.ticks_us() reads that time (SysTick on Arm, the mtime CSR on RISC-V), so a
difference of time.ticks_us() times 1,000 is the instructions executed."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import select
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from helpers.errors import ConfigError
from helpers.micropython.build_cache import built_once
from helpers.targets.library import first_error

BUILD_TIMEOUT_S = 900
_RAW_REPL_BANNER = b"raw REPL; CTRL-B to exit\r\n>"


class PortError(RuntimeError):
    """The port could not be built or did not answer (the first error says why)."""


@dataclass(frozen=True)
class Board:
    name: str                  # how the report names it
    core: str                  # what it emulates
    machine: str               # qemu-system-arm -machine
    arch: str                  # the .mpy architecture (sys.implementation._mpy's)
    upstream_board: str | None  # ports/qemu/boards/<name>, or None: ours, below
    board_mk: str = ""
    qemu: str = "qemu-system-arm"
    qemu_args: tuple[str, ...] = ()          # before -kernel: the CPU, no BIOS
    romfs_address: int = 0x21000000          # the board's ROMFS partition (MICROPY_HW_ROMFS_PART0_*)
    romfs_bytes: int = 0x00400000
    compiler: str = "arm-none-eabi-gcc"
    make_args: tuple[str, ...] = ()
    libgcc_from: tuple[str, ...] = ()        # a compiler and flags whose -print-libgcc-file-name is LIBS
    patches: tuple[tuple[str, str, str], ...] = ()  # (file, text, replacement) in the build's copy of the tree
    # the TFLM target whose instructions its engine paths are compared with, when that target ran
    # (else the Cortex-M4's): the same core where the tool has one
    tflm_target: str = "cortex-m4"


# A Cortex-M4F board of our own: upstream has none (PINNED.md); AN386 is the AN385 with an M4.
_M4F_BOARD = """QEMU_ARCH = arm
QEMU_MACHINE = mps2-an386

CFLAGS += -mthumb -mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16
CFLAGS += -DQEMU_SOC_MPS2
CFLAGS += -DMICROPY_HW_MCU_NAME='"Cortex-M4F"'

MICROPY_FLOAT_IMPL = float
SUPPORTS_HARDWARE_FP_SINGLE = 1

MICROPY_HW_ROMFS_PART0_START = 0x21000000
MICROPY_HW_ROMFS_PART0_SIZE = 0x00400000

LDSCRIPT = mcu/arm/mps2.ld

SRC_BOARD_O = shared/runtime/gchelper_native.o shared/runtime/gchelper_thumb2.o

MPY_CROSS_FLAGS += -march=armv7emsp
"""

_ZCMP = "#define MICROPY_EMIT_RV32_ZCMP      "
BOARDS = {
    "cortex-m3": Board("cortex-m3", "Cortex-M3", "mps2-an385", "armv7m", "MPS2_AN385"),
    "cortex-m4f": Board("cortex-m4f", "Cortex-M4F", "mps2-an386", "armv7emsp", None, _M4F_BOARD),
    # Upstream's board. gcc 12 sets __FLT_EVAL_METHOD__ to 16 for the M55, and newlib 3.3 then leaves
    # double_t undefined (PINNED.md). Its .mpy arch is the port's MPY_CROSS_FLAGS' armv7emdp (the
    # M55's Armv8.1-M with the FPv5 double FPU runs Armv7E-M code); 32 MiB ROMFS at 0x62000000.
    "cortex-m55": Board("cortex-m55", "Cortex-M55", "mps3-an547", "armv7emdp", "MPS3_AN547",
                        romfs_address=0x62000000, romfs_bytes=0x02000000,
                        make_args=("CFLAGS_EXTRA=-fpermitted-flt-eval-methods=c11",), tflm_target="cortex-m55"),
    # Upstream's board with Debian 12's toolchain and QEMU 7.2 (PINNED.md): the default
    # rv32imac_zicsr matches no multilib, so the link would take the 64-bit libgcc; QEMU 7.2 has
    # no Zcmp (the port's -cpu asks for it), so viper must not emit Zcmp's push/pop.
    "riscv32": Board("riscv32", "RV32IMAC", "virt", "rv32imc", "VIRT_RV32", qemu="qemu-system-riscv32",
                     qemu_args=("-bios", "none", "-cpu", "rv32,zba=true"), romfs_address=0x80610000,
                     compiler="riscv64-unknown-elf-gcc",
                     libgcc_from=("riscv64-unknown-elf-gcc", "-march=rv32imac", "-mabi=ilp32"),
                     patches=(("ports/qemu/mpconfigport.h", _ZCMP + "(1)", _ZCMP + "(0)"),), tflm_target="riscv32"),
}
# The boards a run checks unless told (--micropython_boards): the new cores' ports each add a
# build and a run per engine, so they are asked for.
DEFAULT_BOARDS = ("cortex-m3", "cortex-m4f")


def parse_boards(text: str) -> tuple[str, ...]:
    """`cortex-m3,riscv32` (or `all`) -> the board names, in the order given, without repeats."""
    names = list(BOARDS) if text.strip() == "all" else [n.strip() for n in text.split(",") if n.strip()]
    unknown = [name for name in names if name not in BOARDS]
    if unknown or not names:
        raise ConfigError(f"unknown --micropython_boards {', '.join(unknown) or repr(text)}",
                          f"choose from {', '.join(BOARDS)} (comma-separated), or all")
    return tuple(dict.fromkeys(names))


def missing_tools(board: Board) -> str | None:
    for tool in (board.compiler, board.qemu, "make"):
        if shutil.which(tool) is None:
            return f"no {tool}"
    return None


def _tree_key(micropython_dir: Path, board: Board) -> str:
    digest = hashlib.sha256(board.name.encode() + board.board_mk.encode())
    if board.make_args or board.libgcc_from or board.patches:  # the first two boards keep their cached builds
        digest.update(repr((board.make_args, board.libgcc_from, board.patches)).encode())
    for part in ("py", "extmod", "shared", "lib", "ports/qemu", "drivers"):
        for path in sorted((micropython_dir / part).rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(micropython_dir)).encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def build_firmware(micropython_dir: Path, board: Board, cache_root: Path) -> Path:
    """The board's firmware.elf from the cache, built there first (a copy of the tree, since a
    build writes into it; FROZEN_MANIFEST= needs neither micropython-lib nor mpy-cross)."""
    micropython_dir = micropython_dir.resolve()
    if not (micropython_dir / "ports" / "qemu" / "Makefile").is_file():
        raise PortError(f"{micropython_dir} has no ports/qemu (a MicroPython tree with the qemu port is needed)")
    lacking = missing_tools(board)
    if lacking:
        raise PortError(lacking)
    folder = cache_root / "micropython-qemu" / f"{board.name}-{_tree_key(micropython_dir, board)}"
    return built_once(folder, "firmware.elf", lambda work: _build(micropython_dir, board, work))


def _build(micropython_dir: Path, board: Board, work: Path) -> Path:
    work.mkdir()
    tree = work / "micropython"
    shutil.copytree(micropython_dir, tree, symlinks=True)
    for path in tree.rglob("*"):  # a read-only source tree copies read-only
        path.chmod(path.stat().st_mode | 0o200)
    for name, text, replacement in board.patches:
        source = tree / name
        content = source.read_text(encoding="utf-8")
        if text not in content:
            raise PortError(f"building the {board.name} port: {name} has no `{text}` to change")
        source.write_text(content.replace(text, replacement), encoding="utf-8")
    command = ["make", "-C", str(tree / "ports" / "qemu"), f"-j{min(2, os.cpu_count() or 1)}", "FROZEN_MANIFEST=",
               f"BUILD={work / 'build'}", *board.make_args]
    if board.libgcc_from:
        libgcc = subprocess.run([*board.libgcc_from, "-print-libgcc-file-name"], capture_output=True, text=True)
        command.append(f"LIBS={libgcc.stdout.strip()}")
    if board.upstream_board:
        command.append(f"BOARD={board.upstream_board}")
    else:
        board_dir = work / "board"
        board_dir.mkdir()
        (board_dir / "mpconfigboard.mk").write_text(board.board_mk, encoding="utf-8")
        command.append(f"BOARD_DIR={board_dir}")
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired as timeout:
        raise PortError(f"building the {board.name} port took over {BUILD_TIMEOUT_S} s") from timeout
    elf = work / "build" / "firmware.elf"
    if result.returncode != 0 or not elf.is_file():
        raise PortError(f"building the {board.name} port: {first_error(result.stderr + result.stdout)}")
    return elf


def romfs_image(micropython_dir: Path, files: dict[str, bytes], board: Board) -> bytes:
    """A ROMFS image of `files` (flat), written with the tree's own writer (mpremote's romfs.py)."""
    writer_path = micropython_dir / "tools" / "mpremote" / "mpremote" / "romfs.py"
    spec = importlib.util.spec_from_file_location("mcu_deploy_romfs", writer_path)
    if spec is None or spec.loader is None or not writer_path.is_file():
        raise PortError(f"{micropython_dir} has no tools/mpremote/mpremote/romfs.py to write a ROMFS image")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    writer = module.VfsRomWriter()
    for name, data in sorted(files.items()):
        writer.mkfile(name, data)
    image = writer.finalise()
    if len(image) > board.romfs_bytes:
        raise PortError(f"the ROMFS image is {len(image):,} bytes, over the {board.name} board's {board.romfs_bytes:,}")
    return image


class RawRepl:
    """One QEMU run of the port, its REPL driven with the raw-REPL protocol: send Ctrl-A, then each
    script and Ctrl-D; the board answers OK, the script's output, Ctrl-D, its errors, Ctrl-D."""

    def __init__(self, firmware: Path, board: Board, romfs: Path) -> None:
        self.process = subprocess.Popen(
            [board.qemu, "-machine", board.machine, *board.qemu_args, "-nographic", "-monitor", "null",
             "-semihosting", "-serial", "stdio", "-kernel", str(firmware), "-icount", "shift=0",
             "-device", f"loader,file={romfs},addr={board.romfs_address:#x},force-raw=on"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        self._pending = b""
        self._write(b"\r\x03\x03\x01")
        self._read_until(_RAW_REPL_BANNER, 60)

    def _write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def _read_until(self, marker: bytes, timeout: float) -> bytes:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while marker not in self._pending:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, left))
            if not ready:
                raise PortError(f"the board did not answer in {timeout:.0f} s")
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                raise PortError("QEMU exited: " + self._pending[-200:].decode(errors="replace").strip())
            self._pending += chunk
        found, _, self._pending = self._pending.partition(marker)
        return found

    def execute(self, script: str, timeout: float,
                on_line: Callable[[str], None] | None = None) -> tuple[str, str]:
        """Run `script`; returns its standard output and its error output (a traceback, or "").
        `on_line` sees each output line as it arrives (progress)."""
        self._write(script.encode() + b"\x04")
        self._read_until(b"OK", 30)
        deadline = time.monotonic() + timeout
        output = bytearray()
        shown = 0
        while True:
            chunk = self._read_some(deadline)
            end = chunk.find(b"\x04")
            output += chunk if end < 0 else chunk[:end]
            if on_line is not None:
                last = output.rfind(b"\n")
                for line in bytes(output[shown:last + 1]).splitlines():
                    on_line(line.decode(errors="replace").rstrip("\r"))
                shown = max(shown, last + 1)
            if end >= 0:
                self._pending = chunk[end + 1:] + self._pending
                break
        errors = self._read_until(b"\x04", max(1.0, deadline - time.monotonic()))
        self._read_until(b">", 10)
        return bytes(output).decode(errors="replace").replace("\r\n", "\n"), errors.decode(errors="replace")

    def _read_some(self, deadline: float) -> bytes:
        if self._pending:
            chunk, self._pending = self._pending, b""
            return chunk
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise PortError("the board did not finish the script in time")
        chunk = os.read(self.process.stdout.fileno(), 65536)
        if not chunk:
            raise PortError("QEMU exited while running the script")
        return chunk

    def close(self) -> None:
        self.process.kill()
        self.process.wait()

    def __enter__(self) -> "RawRepl":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

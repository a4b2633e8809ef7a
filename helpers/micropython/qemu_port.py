"""MicroPython's own bare-metal port (ports/qemu of the given tree), a real 32-bit MicroPython:
built once per board into the cache, run under qemu-system-arm with a ROMFS image mapped at
0x21000000 (mounted as /rom, on sys.path) and driven over its serial line with the raw-REPL
protocol. With -icount shift=0 one instruction takes 1 ns of the board's time, so a difference of
time.ticks_us() times 1,000 is the instructions executed."""
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

from helpers.micropython.build_cache import built_once
from helpers.targets.library import first_error

BUILD_TIMEOUT_S = 900
ROMFS_ADDRESS = 0x21000000
ROMFS_BYTES = 0x00400000  # the AN385/AN386 layout's ROMFS partition: 4 MiB
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

BOARDS = {
    "cortex-m3": Board("cortex-m3", "Cortex-M3", "mps2-an385", "armv7m", "MPS2_AN385"),
    "cortex-m4f": Board("cortex-m4f", "Cortex-M4F", "mps2-an386", "armv7emsp", None, _M4F_BOARD),
}


def missing_tools() -> str | None:
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm", "make"):
        if shutil.which(tool) is None:
            return f"no {tool}"
    return None


def _tree_key(micropython_dir: Path, board: Board) -> str:
    digest = hashlib.sha256(board.name.encode() + board.board_mk.encode())
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
    lacking = missing_tools()
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
    command = ["make", "-C", str(tree / "ports" / "qemu"), f"-j{os.cpu_count() or 1}", "FROZEN_MANIFEST=",
               f"BUILD={work / 'build'}"]
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


def romfs_image(micropython_dir: Path, files: dict[str, bytes]) -> bytes:
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
    if len(image) > ROMFS_BYTES:
        raise PortError(f"the ROMFS image is {len(image):,} bytes, over the board's {ROMFS_BYTES:,}")
    return image


class RawRepl:
    """One QEMU run of the port, its REPL driven with the raw-REPL protocol: send Ctrl-A, then each
    script and Ctrl-D; the board answers OK, the script's output, Ctrl-D, its errors, Ctrl-D."""

    def __init__(self, firmware: Path, board: Board, romfs: Path) -> None:
        self.process = subprocess.Popen(
            ["qemu-system-arm", "-machine", board.machine, "-nographic", "-monitor", "null", "-semihosting",
             "-serial", "stdio", "-kernel", str(firmware), "-icount", "shift=0",
             "-device", f"loader,file={romfs},addr={ROMFS_ADDRESS:#x},force-raw=on"],
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

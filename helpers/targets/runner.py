"""Run a linked self-test where it runs: natively (host) or under qemu-system-arm (Cortex-M,
semihosted: printing and the exit code reach the host), and count instructions under QEMU."""
from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from helpers.targets.target import Target

RUN_TIMEOUT_S = 600
COUNT_TIMEOUT_S = 300
QEMU = "qemu-system-arm"


@dataclass(frozen=True)
class ProgramRun:
    """How a self-test ended and what it printed."""

    returncode: int
    output: str
    timed_out: bool = False


def qemu_available() -> bool:
    """Whether qemu-system-arm is installed."""
    return shutil.which(QEMU) is not None


def _qemu_command(target: Target, program: Path, *extra: str) -> list[str]:
    return [QEMU, "-M", target.qemu_machine, "-nographic", "-monitor", "none", "-serial", "none",
            "-semihosting-config", "enable=on,target=native", *extra, "-kernel", str(program)]


def run_program(target: Target, program: Path) -> ProgramRun:
    """Run the self-test to its end (stdout and stderr together, as a serial console shows them)."""
    command = _qemu_command(target, program) if target.cortex_m else [str(program)]
    try:
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace", timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as expired:
        said = expired.stdout if isinstance(expired.stdout, str) else (expired.stdout or b"").decode(errors="replace")
        return ProgramRun(returncode=-9, output=said, timed_out=True)
    return ProgramRun(returncode=result.returncode, output=result.stdout)


def count_instructions(target: Target, program: Path) -> int | None:
    """Instructions the program executes, start to exit. QEMU logs each translation block once as
    it translates it (-d in_asm: its instructions) and every time it executes one (-d exec, with
    block chaining off so none is skipped); the sum over executed blocks of their length is the
    instruction count. The log streams through a pipe, so nothing large is written. None when the
    run did not end normally or in time."""
    command = _qemu_command(target, program, "-d", "in_asm,exec,nochain", "-D", "/dev/stdout")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    assert process.stdout is not None
    block_lengths: dict[bytes, int] = {}   # block start address -> instructions, as last translated
    count = 0
    block_start: bytes | None = None
    deadline = time.monotonic() + COUNT_TIMEOUT_S
    for line in process.stdout:
        if line.startswith(b"Trace "):
            # Trace 0: 0x7f9f5c000100 [00800408/000000d4/00000110/ff000200] _mainCRTStartup
            address = line.split(b"[", 1)[1].split(b"/", 2)[1]
            count += block_lengths.get(address, 0)
        elif line.startswith(b"0x") and b":" in line:
            address = line[2:line.index(b":")]
            if block_start is None:
                block_start = address
                block_lengths[address] = 0
            block_lengths[block_start] += 1
        elif not line.strip() or line.startswith(b"IN:") or line.startswith(b"-"):
            block_start = None
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            return None
    process.wait()
    return count if process.returncode == 0 else None

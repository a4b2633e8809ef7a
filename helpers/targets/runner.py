"""Run a linked self-test where it runs: natively (host) or under qemu-system-arm (Cortex-M,
semihosted: printing and the exit code reach the host). QEMU runs with -icount shift=0: each
instruction advances the board's clock by exactly 1 ns, so the harness's 25 MHz timer, read
around an inference, counts its instructions to within one tick (40 instructions)."""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from helpers.targets.target import Target

RUN_TIMEOUT_S = 600
QEMU = "qemu-system-arm"
# -icount shift=0: 1 ns per instruction; the MPS2 APB timer's 25 MHz: 40 ns per tick.
INSTRUCTIONS_PER_TICK = 40


@dataclass(frozen=True)
class ProgramRun:
    """How a self-test ended and what it printed."""

    returncode: int
    output: str
    timed_out: bool = False


def qemu_available(target: Target | None = None) -> bool:
    """Whether the target's QEMU (default qemu-system-arm) is installed."""
    return shutil.which(target.qemu if target is not None else QEMU) is not None


def _qemu_command(target: Target, program: Path, *extra: str) -> list[str]:
    return [target.qemu, "-M", target.qemu_machine, *target.qemu_args, "-nographic", "-monitor", "none",
            "-serial", "none", "-semihosting-config", "enable=on,target=native", "-icount", "shift=0", *extra,
            "-kernel", str(program)]


def run_program(target: Target, program: Path) -> ProgramRun:
    """Run the self-test to its end (stdout and stderr together, as a serial console shows them)."""
    command = _qemu_command(target, program) if target.emulated else [str(program)]
    try:
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace", timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as expired:
        said = expired.stdout if isinstance(expired.stdout, str) else (expired.stdout or b"").decode(errors="replace")
        return ProgramRun(returncode=-9, output=said, timed_out=True)
    return ProgramRun(returncode=result.returncode, output=result.stdout)

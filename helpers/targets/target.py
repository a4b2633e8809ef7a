"""The targets a self-test can be built for, and how each one is built and run."""
from __future__ import annotations

from dataclasses import dataclass

from helpers.errors import ConfigError


@dataclass(frozen=True)
class Target:
    """One build of TFLM: the make arguments that select it and where its programs run."""

    name: str                      # as given to --target
    make_args: tuple[str, ...]     # TFLM make variables that select the target and its kernels
    kernels: str                   # "reference" or "cmsis_nn"
    cortex_m: bool                 # cross-compiled, run under qemu-system-arm
    qemu_machine: str = ""         # the board QEMU emulates
    # Cycles per instruction assumed for the latency estimate: single-cycle ALU and MAC, 2-cycle
    # loads, branches that refill the pipeline, zero-wait-state memory (a real part's flash wait
    # states add more). An assumption stated in the report, not a measurement.
    cycles_per_instruction: float = 0.0

    @property
    def label(self) -> str:
        """The name with its kernel set, as the report shows it."""
        return f"{self.name} ({self.kernels})"


# QEMU has no Cortex-M0+ board; its one ARMv6-M board (microbit, a Cortex-M0) has 16 KB of RAM, too
# little for most self-tests. A Cortex-M4 executes every ARMv6-M instruction, so the cortex-m0plus
# build (compiled for ARMv6-M, linked with ARMv6-M libraries) runs on mps2-an386 and executes exactly
# the instructions it would on an M0+.
TARGETS = {
    "host": Target("host", (), "reference", cortex_m=False),
    "cortex-m4": Target("cortex-m4", ("TARGET=cortex_m_qemu", "TARGET_ARCH=cortex-m4", "OPTIMIZED_KERNEL_DIR=cmsis_nn"),
                        "cmsis_nn", cortex_m=True, qemu_machine="mps2-an386", cycles_per_instruction=1.25),
    "cortex-m0plus": Target("cortex-m0plus", ("TARGET=cortex_m_qemu", "TARGET_ARCH=cortex-m0plus",
                                              "OPTIMIZED_KERNEL_DIR=cmsis_nn"),
                            "cmsis_nn", cortex_m=True, qemu_machine="mps2-an386", cycles_per_instruction=1.5),
}
DEFAULT_TARGETS = ("host", "cortex-m4")


def parse_targets(text: str) -> tuple[Target, ...]:
    """`host,cortex-m4` -> the targets, in the order given, without repeats."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in TARGETS]
    if unknown or not names:
        raise ConfigError(f"unknown --target {', '.join(unknown) or repr(text)}",
                          f"choose from {', '.join(TARGETS)}, comma-separated")
    return tuple(TARGETS[name] for name in dict.fromkeys(names))

"""The targets a self-test can be built for, and how each one is built and run."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from helpers.core.kernel_choice import ARMV6M, ARMV7EM
from helpers.errors import ConfigError

HARNESS = Path(__file__).parent / "harness"  # the QEMU boards' start-up code and linker scripts

ARM_PACKAGES = "gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib"
RISCV_PACKAGES = "gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf libstdc++-12-dev-riscv64-cross"
# Debian's bare-metal RISC-V gcc ships no C++ headers: TFLM compiles against the riscv64 Linux
# cross package's libstdc++ headers, header-only (nothing of libstdc++ is linked; TFLM builds
# with -fno-exceptions -fno-rtti), with three of its Linux-specific headers replaced by bare-metal
# ones (helpers/targets/harness/riscv_cxx), and picolibc for the C library.
RISCV_CXX = "/usr/riscv64-linux-gnu/include/c++/12"
PICOLIBC = "/usr/lib/picolibc/riscv64-unknown-elf/include"


@dataclass(frozen=True)
class Target:
    """One build of TFLM: the make arguments that select it and where its programs run."""

    name: str                      # as given to --target
    make_args: tuple[str, ...]     # TFLM make variables that select the target and its kernels
    kernels: str                   # "reference" or "cmsis_nn"
    emulated: bool                 # cross-compiled, run under QEMU (semihosted)
    qemu_machine: str = ""         # the board QEMU emulates
    # Cycles per instruction assumed for the latency estimate: single-cycle ALU and MAC, 2-cycle
    # loads, branches that refill the pipeline, zero-wait-state memory (a real part's flash wait
    # states add more). An assumption stated in the report, not a measurement.
    cycles_per_instruction: float = 0.0
    core: str = ""                 # what the report calls the core ("Cortex-M55 (MVE)")
    toolchain: str = ""            # the cross tools' prefix ("arm-none-eabi-")
    packages: str = ""             # what apt-get installs for them
    qemu: str = "qemu-system-arm"
    qemu_args: tuple[str, ...] = ()
    # The harness: the start-up source, its defines (which timer, whether to enable the FPU),
    # the link's flags ({harness} is its folder) and the timer's period in instructions under
    # -icount shift=0 (1 ns per instruction: a 25 MHz timer ticks every 40).
    startup: str = "startup_cortex_m.c"
    harness_defines: tuple[str, ...] = ()
    link_flags: tuple[str, ...] = ("-T{harness}/mps2_an386.ld", "-Wl,--no-warn-rwx-segments")
    instructions_per_tick: float = 40.0
    # How this build departs from TFLM's make for the same TARGET: flags swapped (one make flag ->
    # its replacements) and flags added to C++ and C compiles.
    flag_swaps: tuple[tuple[str, tuple[str, ...]], ...] = ()
    cxx_extra: tuple[str, ...] = ()
    cc_extra: tuple[str, ...] = ()
    source_swaps: tuple[tuple[str, str], ...] = ()  # a library source make lists -> the one compiled
    # The flags that select the core, as the exported make and CMake files name them.
    core_flags: tuple[str, ...] = ()
    # The family of the C engine's own kernels that compile here: "armv7e-m" (without MVE: c_own_conv's
    # guard) or "armv6-m" (c_own_v6m's); the export measures each family's kernels against CMSIS-NN's
    # on the run's first target of that family (kernel_choice.py). None: CMSIS-NN's calls only.
    kernel_family: str | None = None

    @property
    def label(self) -> str:
        """The name with its kernel set, as the report shows it."""
        return f"{self.name} ({self.kernels})"

    @property
    def cortex_m(self) -> bool:
        """Runs on an emulated Cortex-M (kept for the callers written before RISC-V)."""
        return self.emulated and self.qemu == "qemu-system-arm"

    def adapt(self, recipe: Any, harness: str) -> Any:
        """Make's recipe with this target's swaps and additions ({harness}: the harness folder)."""
        def swap(flags: tuple[str, ...]) -> tuple[str, ...]:
            table = dict(self.flag_swaps)
            return tuple(out for flag in flags for out in table.get(flag, (flag,)))

        def extra(flags: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(flag.replace("{harness}", harness) for flag in flags)

        sources = dict(self.source_swaps)
        return replace(recipe, cxxflags=swap(recipe.cxxflags) + extra(self.cxx_extra),
                       ccflags=swap(recipe.ccflags) + extra(self.cc_extra), ldflags=swap(recipe.ldflags),
                       sources={sources.get(source, source): level for source, level in recipe.sources.items()})


def _cortex_m(name: str, machine: str, cpi: float, core: str, **kwargs: object) -> Target:
    make = ("TARGET=cortex_m_qemu", f"TARGET_ARCH={name}", "OPTIMIZED_KERNEL_DIR=cmsis_nn")
    return Target(name, make, "cmsis_nn", emulated=True, qemu_machine=machine, cycles_per_instruction=cpi,
                  core=core, toolchain="arm-none-eabi-", packages=ARM_PACKAGES, **kwargs)  # type: ignore[arg-type]


_SOFT = ("-mthumb", "-mfloat-abi=soft")
_RISCV_HEADERS = ("-isystem", "{harness}/riscv_cxx", "-isystem", RISCV_CXX, "-isystem",
                  f"{RISCV_CXX}/riscv64-linux-gnu", "-isystem", PICOLIBC)
# g++ links -lstdc++, which the bare-metal toolchain lacks: an empty archive answers it
_RISCV_LINK = ("-L{harness}/riscv_lib", "--specs=picolibc.specs", "--oslib=semihost", "--crt0=semihost")
# QEMU has no Cortex-M0+ board; its one ARMv6-M board (microbit, a Cortex-M0) has 16 KB of RAM, too
# little for most self-tests. A Cortex-M4 executes every ARMv6-M instruction, so the cortex-m0plus
# build (compiled for ARMv6-M, linked with ARMv6-M libraries) runs on mps2-an386 and executes exactly
# the instructions it would on an M0+.
# The Cortex-M33 board (AN505, TrustZone) starts in the Secure state: the program is linked at the
# Secure aliases (code 0x10000000, SRAM 0x38000000) and times with the Secure alias of timer 0
# (20 MHz there). The Cortex-M55 board (AN547) has no CMSDK timer: SysTick at its 32 MHz clock.
TARGETS = {
    "host": Target("host", (), "reference", emulated=False, core="this machine"),
    "cortex-m4": _cortex_m("cortex-m4", "mps2-an386", 1.25, "Cortex-M4", core_flags=("-mcpu=cortex-m4", *_SOFT),
                           kernel_family=ARMV7EM),
    "cortex-m0plus": _cortex_m("cortex-m0plus", "mps2-an386", 1.5, "Cortex-M0+",
                               core_flags=("-mcpu=cortex-m0plus", *_SOFT), kernel_family=ARMV6M),
    "cortex-m33": _cortex_m("cortex-m33", "mps2-an505", 1.25, "Cortex-M33 (DSP)",
                            harness_defines=("-DMCU_DEPLOY_CMSDK_TIMER=0x50000000u",),
                            link_flags=("-T{harness}/mps2_an505.ld", "-Wl,--no-warn-rwx-segments"),
                            instructions_per_tick=50.0, core_flags=("-mcpu=cortex-m33", *_SOFT),
                            kernel_family=ARMV7EM),
    "cortex-m7": _cortex_m("cortex-m7", "mps2-an500", 1.0, "Cortex-M7",
                           core_flags=("-mcpu=cortex-m7", *_SOFT), kernel_family=ARMV7EM),
    "cortex-m55": _cortex_m("cortex-m55", "mps3-an547", 1.0, "Cortex-M55 (MVE)",
                            harness_defines=("-DMCU_DEPLOY_SYSTICK", "-DMCU_DEPLOY_ENABLE_FPU"),
                            link_flags=("-T{harness}/mps3_an547.ld", "-Wl,--no-warn-rwx-segments"),
                            instructions_per_tick=31.25,
                            # soft float turns MVE off: hard float, as TFLM's cortex_m_generic does
                            flag_swaps=(("-mfloat-abi=soft", ("-mfloat-abi=hard",)),),
                            core_flags=("-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard", "-mfpu=auto")),
    "riscv32": Target("riscv32", ("TARGET=riscv32_generic", "TARGET_TOOLCHAIN_ROOT="), "reference", emulated=True,
                      qemu_machine="virt", cycles_per_instruction=1.25, core="RV32IMC",
                      toolchain="riscv64-unknown-elf-", packages=RISCV_PACKAGES, qemu="qemu-system-riscv32",
                      qemu_args=("-bios", "none"), startup="startup_riscv.c",
                      link_flags=(*_RISCV_LINK, "-Wl,--defsym=__flash=0x80000000", "-Wl,--defsym=__flash_size=0x400000",
                                  "-Wl,--defsym=__ram=0x80400000", "-Wl,--defsym=__ram_size=0x400000",
                                  "-Wl,--defsym=__stack_size=0x10000"),
                      instructions_per_tick=1.0, flag_swaps=(("--specs=nano.specs", ()),),
                      cxx_extra=_RISCV_HEADERS, cc_extra=("-isystem", PICOLIBC),
                      # riscv32_generic's DebugLog needs the eyalroz printf download; picolibc's
                      # vfprintf prints the same lines (as the Cortex-M builds' generic DebugLog does)
                      source_swaps=(("tensorflow/lite/micro/riscv32_generic/debug_log.cc",
                                     "tensorflow/lite/micro/debug_log.cc"),),
                      core_flags=("-march=rv32imc", "-mabi=ilp32", "-mcmodel=medany")),
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

"""The verdicts of the checks run on a variant's artifacts: one Status vocabulary for all of them,
what each target did with the self-test, and what a real MicroPython did with the engine."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

from helpers.core.kernel_choice import KernelChoice
from helpers.core.passes import RemovedChannels


class Status(StrEnum):
    """A check's outcome. NOT_CHECKED always comes with the reason nothing was checked."""

    PASS = "pass"
    FAIL = "fail"                   # it ran, and the outputs or the run were wrong
    BUILD_FAILED = "build_failed"   # the variant's own program did not compile or link
    NOT_BUILT = "not_built"         # the tool's own build (TFLM's library, the toolchain) failed: no verdict
    NOT_CHECKED = "not_checked"     # nothing ran (no tool, no tree, a flag): the reason says why
    UNSUPPORTED = "unsupported"     # the variant has an op the engine lacks: no engine to check

    @classmethod
    def read(cls, value: str) -> "Status":
        """A status from report.json; "not_run" is what targets said before the vocabularies met."""
        return cls.NOT_CHECKED if value == "not_run" else cls(value)


def _sum(breakdown: dict[str, int], keys: tuple[str, ...]) -> int | None:
    return sum(breakdown.get(key, 0) for key in keys) if breakdown else None


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """The entries of `data` that are fields of `cls` (a report from another version may hold more)."""
    names = {f.name for f in fields(cls)}
    return {key: value for key, value in data.items() if key in names}


@dataclass(frozen=True)
class TargetResult:
    """What one target did with a variant's self-test: PASS, FAIL (it ran and TFLM or the comparison
    failed), BUILD_FAILED, or NOT_CHECKED (with the reason)."""

    target: str
    kernels: str
    status: Status
    message: str | None = None
    machine: str | None = None
    vectors: int | None = None
    vectors_matching: int | None = None
    metrics: dict[str, float] | None = None         # computed by the target on its vectors
    arena_used_bytes: int | None = None             # interpreter.arena_used_bytes() on the target
    arena_linked_bytes: int | None = None           # the arena the program was built with
    flash_bytes: int | None = None                  # text + rodata + data of the linked self-test
    flash_bytes_without_self_test: int | None = None  # minus main() and the test vectors
    flash_breakdown: dict[str, int] = field(default_factory=dict)
    ram_bytes: int | None = None                    # data + bss, the arena at the header's size
    ram_breakdown: dict[str, int] = field(default_factory=dict)
    instructions_per_inference: int | None = None
    cycles_per_instruction: float | None = None     # the assumption behind latency_ms
    latency_ms: float | None = None                 # instructions x CPI / clock
    mcu_mhz: float | None = None
    build_seconds: float | None = None
    run_seconds: float | None = None
    outputs_digest: str | None = None               # FNV-1a of every output byte the program printed
    identical_to_tflm: bool | None = None           # a C engine's digest equals TFLM's on this target

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status.read(self.status))

    @property
    def passed(self) -> bool:
        return self.status is Status.PASS

    @property
    def failed(self) -> bool:
        """Tried and not passed: the program failed to build, or ran and failed."""
        return self.status in (Status.FAIL, Status.BUILD_FAILED)

    @property
    def on_32_bit_target(self) -> bool:
        """A Cortex-M result: its arena and memory figures are the ones firmware needs."""
        return self.target != "host"

    @property
    def inference_code_bytes(self) -> int | None:
        """Flash of the code that runs the model: TFLM's runtime and kernels, or the C engine's own
        code and the CMSIS-NN kernels it calls (without the C runtime and the self-test)."""
        return _sum(self.flash_breakdown, ("tflm_runtime", "kernels", "engine_code", "engine_data"))

    @property
    def model_bytes(self) -> int | None:
        """Flash of the model itself: TFLM's flatbuffer, or the engine's weights and constants."""
        return _sum(self.flash_breakdown, ("model_data", "engine_constants"))

    @property
    def model_ram_bytes(self) -> int | None:
        """RAM the model needs: TFLM's arena plus its static RAM, or the engine's arena and statics."""
        if not self.ram_breakdown:
            return None
        return sum(v for k, v in self.ram_breakdown.items() if k not in ("c_runtime", "self_test", "padding"))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status.value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TargetResult":
        return cls(**{**_known(cls, data), "status": Status.read(data["status"])})


@dataclass(frozen=True)
class EnginePathRun:
    """One engine path (native, viper or plain) on a 32-bit board: the rows it ran within its
    budget, how many differed from TFLM, and what one inference cost there."""

    path: str
    rows: int
    mismatched_rows: int
    instructions_per_inference: int | None = None   # -icount shift=0: exact, 1 us of ticks_us = 1,000
    invoke_alloc_bytes: int | None = None           # heap one run() allocated (0 is the goal)
    ratio_to_tflm: float | None = None              # against TFLM + CMSIS-NN's instructions on the Cortex-M4 target

    @property
    def identical(self) -> bool:
        return self.rows > 0 and self.mismatched_rows == 0


@dataclass(frozen=True)
class BoardRun:
    """The engine on MicroPython's own bare-metal port of one emulated board (ports/qemu)."""

    board: str                      # cortex-m3, cortex-m4f
    core: str
    machine: str                    # the QEMU machine
    arch: str                       # the .mpy architecture of its kernels module
    status: Status
    reason: str | None = None
    evaluation_rows: int | None = None
    module_heap_bytes: int | None = None            # heap after importing the engine from ROMFS
    kernels_mpy_bytes: int | None = None            # mcu_kernels_<arch>.mpy, when the native path ran
    native_module: str | None = None                # the module the native path ran on (the model's own or the kernels)
    model_mpy_bytes: int | None = None              # <id>_native_<arch>.mpy, when the native path ran on it
    paths: tuple[EnginePathRun, ...] = ()
    # the first path run again after use_engine() went through the others and back: it must give the
    # same outputs, instructions and allocations (written only when it ran)
    switched_back: EnginePathRun | None = None
    # the TFLM target whose instructions ratio_to_tflm divides by (written only when there was one)
    compared_with: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status.read(self.status))

    def path(self, name: str) -> EnginePathRun | None:
        return next((run for run in self.paths if run.path == name), None)

    def to_dict(self) -> dict[str, Any]:
        data = {**asdict(self), "status": self.status.value}
        for optional in ("switched_back", "compared_with", "native_module", "model_mpy_bytes"):
            if data[optional] is None:
                data.pop(optional)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "BoardRun":
        values = _known(cls, data)
        values["paths"] = tuple(EnginePathRun(**_known(EnginePathRun, run)) for run in data.get("paths") or ())
        again = data.get("switched_back")
        values["switched_back"] = EnginePathRun(**_known(EnginePathRun, again)) if again else None
        return cls(**{**values, "status": Status.read(data["status"])})


@dataclass(frozen=True)
class MicroPythonResult:
    """The engine on a real MicroPython: PASS, FAIL, NOT_CHECKED or UNSUPPORTED (no engine)."""

    status: Status
    reason: str | None = None
    runtime: str | None = None
    rows: int | None = None                              # rows run (the first MAX_ROWS at most)
    evaluation_rows: int | None = None                   # of how many
    mismatched_rows: int | None = None
    max_difference: float | None = None
    difference_unit: str | None = None
    metrics: dict[str, float] | None = None
    us_per_inference: dict[str, float] | None = None     # by emitter: viper, plain
    module_heap_bytes: int | None = None                 # the imported .mpy: constants, weights, buffers
    invoke_alloc_bytes: int | None = None                # heap allocated by one invoke()
    buffer_bytes: int | None = None                      # the activation buffers alone
    engine_mpy_bytes: int | None = None
    engine_ops: int | None = None
    native_ops: int | None = None                        # of those, run by the kernels module
    engine: str | None = None                            # the path the rows were checked on: native, viper, plain
    kernels_mpy_bytes: int | None = None                 # the x64 kernels module the unix port loaded
    kernels_reason: str | None = None                    # why no kernels module, for an engine with native ops
    native_model_reason: str | None = None               # why no native module of the model's own ran on the boards
    boards: tuple[BoardRun, ...] = ()                    # MicroPython's own 32-bit port (--micropython_dir)
    boards_reason: str | None = None                     # why no board ran, when none did

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status.read(self.status))

    def board(self, name: str) -> BoardRun | None:
        return next((run for run in self.boards if run.board == name), None)

    def to_dict(self) -> dict[str, Any]:
        data = {**asdict(self), "status": self.status.value, "boards": [run.to_dict() for run in self.boards]}
        if data["native_model_reason"] is None:  # written only when there is a reason (older reports lack it)
            data.pop("native_model_reason")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MicroPythonResult":
        values = _known(cls, data)
        values["boards"] = tuple(BoardRun.from_dict(run) for run in data.get("boards") or ())
        return cls(**{**values, "status": Status.read(data["status"])})


@dataclass(frozen=True)
class PackageResult:
    """One --package package of the C engine: where it was written and what was checked of it. The
    run checks its manifests against the format's rules (`manifest`); it builds none (`build` is
    NOT_CHECKED, the reason says where they are built: tests/e2e/test_packages.py in CI)."""

    system: str                     # helpers.packages.SYSTEMS
    folder: str                     # inside the variant's folder
    files: int
    bytes: int
    cmsis_nn_sources: int           # the CMSIS-NN .c files copied in
    manifest: Status                # PASS: no rule broken; FAIL: `problems` says which
    problems: tuple[str, ...] = ()
    build: Status = Status.NOT_CHECKED
    build_reason: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "manifest", Status.read(self.manifest))
        object.__setattr__(self, "build", Status.read(self.build))
        object.__setattr__(self, "problems", tuple(self.problems))

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**data, "manifest": self.manifest.value, "build": self.build.value, "problems": list(self.problems)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PackageResult":
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class CEngineResult:
    """The generated C engine (<id>_engine.c): PASS when its self-test passed on every target that
    built it, FAIL when one failed, NOT_CHECKED (no TFLM tree, no targets: written, not run),
    NOT_BUILT, or UNSUPPORTED (the variant has a form the engine lacks; it keeps TFLM's firmware)."""

    status: Status
    reason: str | None = None
    arena_bytes: int | None = None          # the one static array: activations plus kernel scratch
    constant_bytes: int | None = None       # weights, biases, multipliers, tables, index maps
    kernel_calls: int | None = None
    uses_cmsis_nn: bool | None = None
    cmsis_nn_revision: str | None = None
    targets: tuple[TargetResult, ...] = ()
    packages: tuple[PackageResult, ...] = ()   # --package: the packages written in <variant>/packages/
    # what the exact graph passes removed from the engine's program (written only when something was)
    graph_passes: tuple[RemovedChannels, ...] = ()
    # the layers the engine's own kernels run on Armv7E-M cores, CMSIS-NN elsewhere (written only when any)
    own_kernel_layers: tuple[str, ...] = ()
    # the layers its own plain-C kernels run on Armv6-M (the Cortex-M0+) (written only when any)
    own_kernel_layers_v6m: tuple[str, ...] = ()
    # each Armv7E-M layer's instructions with its own kernel and with CMSIS-NN's, measured at export on
    # an Armv7E-M target; the faster was kept (written only when measured)
    kernel_choice: KernelChoice | None = None
    # the same for the Armv6-M kernels, measured on an Armv6-M target (the Cortex-M0+)
    kernel_choice_v6m: KernelChoice | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status.read(self.status))

    def target(self, name: str) -> TargetResult | None:
        return next((result for result in self.targets if result.target == name), None)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.pop("packages")
        packages = {"packages": {p.system: p.to_dict() for p in self.packages}} if self.packages else {}
        data.pop("graph_passes")
        if self.graph_passes:
            data["graph_passes"] = [p.to_dict() for p in self.graph_passes]
        for key in ("own_kernel_layers", "own_kernel_layers_v6m"):
            if not data[key]:
                data.pop(key)
            else:
                data[key] = list(data[key])
        for key in ("kernel_choice", "kernel_choice_v6m"):
            if data[key] is None:
                data.pop(key)
            else:
                data[key] = data[key].to_dict()
        return {**data, "status": self.status.value, "targets": {r.target: r.to_dict() for r in self.targets},
                **packages}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CEngineResult":
        values = _known(cls, data)
        values["targets"] = tuple(TargetResult.from_dict(r) for r in (data.get("targets") or {}).values())
        values["packages"] = tuple(PackageResult.from_dict(p) for p in (data.get("packages") or {}).values())
        values["graph_passes"] = tuple(RemovedChannels.from_dict(p) for p in data.get("graph_passes") or ())
        values["own_kernel_layers"] = tuple(data.get("own_kernel_layers") or ())
        values["own_kernel_layers_v6m"] = tuple(data.get("own_kernel_layers_v6m") or ())
        for key in ("kernel_choice", "kernel_choice_v6m"):
            values[key] = KernelChoice.from_dict(data[key]) if data.get(key) else None
        return cls(**{**values, "status": Status.read(data["status"])})


@dataclass(frozen=True)
class OpPlacement:
    """Where one op of a variant runs: `count` of it in the graph; on TFLM (`cmsis-nn` where TFLM's
    Cortex-M build has a CMSIS-NN kernel for it, else `reference`; `no kernel`), in the C engine
    (`cmsis-nn`, `own kernel`, `no code`: folded or aliased at export) and on MicroPython (`native`,
    `viper`, `plain`: the fastest path the engine has for it; `no code`). `-`: no engine."""

    op: str
    count: int
    tflm: str
    c_engine: str
    micropython: str

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "OpPlacement":
        return cls(**_known(cls, data))

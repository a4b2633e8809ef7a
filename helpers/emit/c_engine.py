"""The C emitter: a lowered Program as `<id>_engine.c` and `<id>_engine.h` (templates/engine.*.j2),
the self-test that runs the evaluation rows through it, and the make and CMake fragments a
firmware project includes. The engine's own kernels (c_kernels/) are pasted in, only the files
its steps call."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.core.kernel_choice import KernelChoice, given_back
from helpers.core.passes import RemovedChannels
from helpers.emit.c_calls import c_calls, own_families
from helpers.emit.c_names import C_TYPES, CNames
from helpers.emit.codegen import Rendered, render
from helpers.emit.ports import engine_parameters, port_names
from helpers.lowering.program import ARENA_ALIGNMENT, Program

KERNEL_DIR = Path(__file__).resolve().parent / "c_kernels"
# A float32 output agrees with TFLM's to this, relative (the same products, summed in another order).
FLOAT_TOLERANCE = 1e-5


@dataclass(frozen=True)
class CEngine:
    """What the C emitter made of a program: the template values and the facts the report shows."""

    context: dict[str, Any]
    uses_cmsis: bool
    arena_bytes: int          # the one static array: buffers plus scratch
    constant_bytes: int       # weights, biases, multipliers, tables and index maps
    kernel_calls: int
    own_kernel_layers: tuple[str, ...] = ()   # the layers the own kernels run on Armv7E-M (c_own_conv)
    own_kernel_steps: tuple[int, ...] = ()    # their step indices (what the kernel choice measures)
    kernel_choice: KernelChoice | None = None  # the measurement that chose them (None: the rule alone)
    dsp_only_bytes: int = 0                   # their re-laid constants, in that core's flash only
    own_kernel_layers_v6m: tuple[str, ...] = ()  # the layers the Armv6-M own kernels run (c_own_v6m)
    own_kernel_steps_v6m: tuple[int, ...] = ()
    kernel_choice_v6m: KernelChoice | None = None  # their measurement (None: the rule alone)
    v6m_only_bytes: int = 0                   # their re-laid constants, in the Cortex-M0+'s flash only
    removed: tuple[RemovedChannels, ...] = ()   # what the exact passes took out of the program


class NotInCEngine(Exception):
    """The program has a form the C engine does not emit (the reason names it)."""


def _kernel_source(family: str) -> str:
    return (KERNEL_DIR / f"{family}.c").read_text(encoding="utf-8").rstrip()


def _kernel_sources(program: Program, names: CNames) -> list[str]:
    families = own_families(program)
    sources = []
    # compare.c rescales int8 comparisons; layers.c uses its fixed point
    if {"ops_int8", "ops_int16", "compare", "layers"} & set(families):
        sources.append(_kernel_source("fixedpoint"))
    sources += [_kernel_source(family) for family in families]
    # the own kernels' files where some layer takes one (none, when the measurement gave them all back)
    lstm = set(names.own_lstm_steps)
    if set(names.own_kernel_steps) - lstm:
        sources.append(_kernel_source("conv_dsp"))
    v6m_conv = bool(set(names.own_kernel_steps_v6m) - lstm)
    if v6m_conv or lstm:
        sources.append(_kernel_source("fixedpoint_v6m"))
    if v6m_conv:
        sources.append(_kernel_source("conv_v6m"))
    if lstm:
        sources.append(_kernel_source("lstm_s8"))
    return sources


def _align(value: int) -> int:
    return -(-value // ARENA_ALIGNMENT) * ARENA_ALIGNMENT


def _resets(program: Program, names: CNames) -> list[dict[str, Any]]:
    resets = []
    for reset in program.resets:
        buffer = program.buffer(reset.buffer)
        value = reset.value - 256 if buffer.dtype == "int8" and reset.value > 127 else reset.value
        resets.append({"buffer": names.buffer(reset.buffer), "count": buffer.elements, "ctype": C_TYPES[buffer.dtype],
                       "value": value})
    return resets


def _ports(program: Program, context: dict[str, Any], names: CNames) -> dict[str, Any]:
    """A model with several inputs or outputs: each one's parameter name, size macro, C type, size
    and buffer, in the order <id>_engine_invoke takes them."""
    if not program.multi_io:
        return {"multi_io": False}
    tensors = port_names(context, len(program.inputs), len(program.outputs))
    parameters = engine_parameters(*tensors)
    found = []
    for ports, params in zip((program.inputs, program.outputs), parameters):
        found.append([{"name": name, "macro": f"{context['upper']}_ENGINE_{name.upper()}_SIZE",
                       "ctype": C_TYPES[port.dtype], "size": port.size, "buffer": names.buffer(port.operand),
                       "exact": port.dtype != "float32"} for port, name in zip(ports, params)])
    return {"multi_io": True, "in_ports": found[0], "out_ports": found[1], "float_tolerance": FLOAT_TOLERANCE}


def c_engine(program: Program, context: dict[str, Any], cmsis_revision: str,
             kernel_choice: KernelChoice | None = None, kernel_choice_v6m: KernelChoice | None = None) -> CEngine:
    """The engine's template values; NotInCEngine when a program's output is a constant.
    `kernel_choice` (`kernel_choice_v6m`): what the export measured on an Armv7E-M (Armv6-M)
    target; the layers it found faster on CMSIS-NN call it there."""
    if not all(isinstance(port.operand, int) for port in program.outputs):
        raise NotInCEngine("a model whose output is a constant")
    steps, names = c_calls(program, given_back(kernel_choice), given_back(kernel_choice_v6m))
    scratch_offset = _align(program.arena_bytes)
    scratch_bytes = _align(names.scratch_bytes)
    arena_total = max(scratch_offset + scratch_bytes, ARENA_ALIGNMENT)
    scratch_bytes_mve = _align(names.scratch_bytes_mve)  # Helium (MVE) cores: CMSIS-NN's kernels there
    arena_total_mve = max(scratch_offset + scratch_bytes_mve, ARENA_ALIGNMENT)
    values = {
        **context,
        "steps": steps,
        "step_count": len(steps),
        "declarations": names.declarations,
        "constant_bytes": names.constant_bytes,
        "own_kernel_layers": names.own_kernel_layers,
        "dsp_only_bytes": names.dsp_only_bytes,
        "own_kernel_layers_v6m": names.own_kernel_layers_v6m,
        "v6m_only_bytes": names.v6m_only_bytes,
        "kernel_sources": _kernel_sources(program, names),
        "uses_cmsis": names.uses_cmsis,
        "uses_scratch_context": names.uses_scratch_context,
        # declared only where a call passes it: an unused static const breaks -Werror builds
        "uses_empty_context": any("&mcu_empty_context" in line for _, line in steps),
        "state_cleared_each_invoke": names.state_cleared_each_invoke,
        "cmsis_revision": cmsis_revision,
        "scratch_queries": names.scratch_queries,
        "scratch_offset": scratch_offset,
        "scratch_bytes": scratch_bytes,
        "scratch_bytes_mve": scratch_bytes_mve,
        "arena_total_mve": arena_total_mve,
        "buffers_bytes": program.arena_bytes,
        "arena_total": arena_total,
        "resets": _resets(program, names),
        "input_buffer": names.buffer(program.input_buffer),
        "output_buffer": names.buffer(program.output),
        "input_ctype": C_TYPES[program.input_dtype],
        "output_ctype": C_TYPES[program.output_dtype],
        "input_size": program.input_size,
        "output_size": program.output_size,
        "engine_tolerance": 0.0 if program.output_dtype != "float32" else FLOAT_TOLERANCE,
        **_ports(program, context, names),
    }
    return CEngine(context=values, uses_cmsis=names.uses_cmsis, arena_bytes=arena_total,
                   constant_bytes=names.constant_bytes, kernel_calls=len(steps),
                   own_kernel_layers=tuple(names.own_kernel_layers), own_kernel_steps=tuple(names.own_kernel_steps),
                   kernel_choice=kernel_choice, dsp_only_bytes=names.dsp_only_bytes,
                   own_kernel_layers_v6m=tuple(names.own_kernel_layers_v6m), v6m_only_bytes=names.v6m_only_bytes,
                   own_kernel_steps_v6m=tuple(names.own_kernel_steps_v6m), kernel_choice_v6m=kernel_choice_v6m,
                   removed=program.removed)


def render_engine_h(engine: CEngine) -> Rendered:
    """<id>_engine.h: the API, the arena size, the CMSIS-NN revision it was checked with."""
    return render("engine.h.j2", f"{engine.context['id']}_engine.h", engine.context)


def render_engine_c(engine: CEngine) -> Rendered:
    """<id>_engine.c: constants, the arena and the kernel calls."""
    return render("engine.c.j2", f"{engine.context['id']}_engine.c", engine.context)


def render_engine_selftest_c(engine: CEngine) -> Rendered:
    """<id>_engine_selftest.c: the evaluation rows through the engine, compared with TFLM's outputs."""
    return render("engine_selftest.c.j2", f"{engine.context['id']}_engine_selftest.c", engine.context)


def render_engine_selftest_function(engine: CEngine) -> Rendered:
    """The same self-test as a function, <id>_engine_selftest(), for the packages (--package): a
    firmware's main() or an Arduino sketch's setup() calls it; it prints through
    <id>_selftest_printf (printf unless the firmware defines it)."""
    model_id = engine.context["id"]
    return render("engine_selftest.c.j2", f"{model_id}_engine_selftest.c",
                  {**engine.context, "selftest_entry": f"{model_id}_engine_selftest",
                   "selftest_print": f"{model_id}_selftest_printf"})


def render_engine_mk(engine: CEngine, cmsis_sources: tuple[str, ...]) -> Rendered:
    """<id>_engine.mk: the engine's sources and the CMSIS-NN sources it calls, for make."""
    return render("engine.mk.j2", f"{engine.context['id']}_engine.mk",
                  {**engine.context, "cmsis_sources": cmsis_sources, "core_flags": core_flags()})


def render_engine_cmake(engine: CEngine, cmsis_sources: tuple[str, ...]) -> Rendered:
    """<id>_engine.cmake: the same list as a CMake library target."""
    return render("engine.cmake.j2", f"{engine.context['id']}_engine.cmake",
                  {**engine.context, "cmsis_sources": cmsis_sources, "core_flags": core_flags()})


def core_flags() -> list[tuple[str, str]]:
    """(--target name, its compiler flags) for every cross target: what its self-test built with."""
    from helpers.targets.target import TARGETS

    return [(name, " ".join(target.core_flags)) for name, target in TARGETS.items() if target.core_flags]


def render_engine_files(engine: CEngine, source: Rendered, cmsis_sources: tuple[str, ...],
                        checked: bool) -> list[Rendered]:
    """Every engine file of a variant folder, `source` being its rendered <id>_engine.c (the CMSIS-NN
    sources are read from its calls); the self-test only where TFLM gave test vectors."""
    files = [render_engine_h(engine), source, render_engine_mk(engine, cmsis_sources),
             render_engine_cmake(engine, cmsis_sources)]
    if checked:
        files.append(render_engine_selftest_c(engine))
    return files

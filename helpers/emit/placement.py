"""Where each op of a variant runs, on TFLM and in both engines (report.md's per-variant op table,
`--check`): read off the calls the emitters write, so the table cannot disagree with the code."""
from __future__ import annotations

from collections import Counter

from helpers.core.checks import OpPlacement
from helpers.core.tflm_ops import CMSIS_NN_OPS, add_method
from helpers.emit.c_calls import c_calls
from helpers.emit.c_own_kernels import own_kernel_cores
from helpers.emit.micropython import hot_functions
from helpers.emit.micropython_calls import calls
from helpers.emit.micropython_native import NativeCalls, native_call
from helpers.lowering.graph import read_graph
from helpers.lowering.program import Program

# Fastest first: an op whose steps run on several paths is listed at its slowest.
_PYTHON_ORDER = ("native", "viper", "plain")


def _tflm(op: str, dtype: str) -> str:
    """TFLM's CMSIS-NN kernels take int8 and int16; their float32 forms are the reference code."""
    if add_method(op) is None:
        return "no kernel"
    return "cmsis-nn" if op in CMSIS_NN_OPS and dtype in ("int8", "int16") else "reference"


# What a step runs when c_own_kernels guards it: its own kernel on those cores, CMSIS-NN's call elsewhere.
OWN_ON_ARMV7EM = "own on Armv7E-M, else cmsis-nn"
OWN_ON_BOTH = "own on Armv7E-M and Armv6-M, else cmsis-nn"
OWN_ON_ARMV6M = "own on Armv6-M, else cmsis-nn"


def _c_kind(line: str) -> str:
    cores = own_kernel_cores(line)
    if cores:
        return {("Armv7E-M",): OWN_ON_ARMV7EM, ("Armv6-M",): OWN_ON_ARMV6M}.get(cores, OWN_ON_BOTH)
    return "cmsis-nn" if "arm_" in line else "own kernel"


def _c_engine(program: Program, cmsis_steps: frozenset[int], cmsis_steps_v6m: frozenset[int]) -> dict[str, str]:
    found: dict[str, set[str]] = {}
    for op, line in c_calls(program, cmsis_steps, cmsis_steps_v6m)[0]:
        found.setdefault(op, set()).add(_c_kind(line))
    return {op: " + ".join(sorted(kinds)) for op, kinds in found.items()}


def _micropython(program: Program) -> dict[str, str]:
    lines, names, _ = calls(program)
    native = NativeCalls(names)
    hot = hot_functions()
    found: dict[str, str] = {}
    for step, (op, call) in zip(program.steps, lines):
        path = ("native" if native_call(native, step) is not None else
                "viper" if call[:call.index("(")] in hot else "plain")
        slowest = max(path, found.get(op, "native"), key=_PYTHON_ORDER.index)
        found[op] = slowest
    return found


def placements(content: bytes, program: Program | None,
               cmsis_steps: frozenset[int] = frozenset(),
               cmsis_steps_v6m: frozenset[int] = frozenset()) -> tuple[OpPlacement, ...]:
    """Every op of the flatbuffer with its count, in first-use order; the engine columns `-` when
    there is no program (the engines lack an op, or no firmware was written). `cmsis_steps`
    (`cmsis_steps_v6m`): the layers the export's kernel choice gave back to CMSIS-NN on Armv7E-M
    (Armv6-M)."""
    graph = read_graph(content)
    counts = Counter(op.name for op in graph.ops)
    # the type of each op's first input that is not a constant (a weight's type says nothing)
    dtypes: dict[str, str] = {}
    for op in graph.ops:
        live = [graph.tensor(i).dtype for i in op.inputs if i >= 0 and not graph.tensor(i).constant]
        dtypes.setdefault(op.name, live[0] if live else "")
    c_engine = _c_engine(program, cmsis_steps, cmsis_steps_v6m) if program is not None else {}
    python = _micropython(program) if program is not None else {}
    none = "-" if program is None else "no code"
    return tuple(OpPlacement(op=op, count=count, tflm=_tflm(op, dtypes[op]), c_engine=c_engine.get(op, none),
                             micropython=python.get(op, none)) for op, count in counts.items())

"""Names and literals of the C engine: the constants and parameter records a program's calls read,
named in first-use order and shared by content, so a program always gives the same text."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from helpers.emit.c_shared_kernels import SharedKernels
from helpers.emit.codegen import c_float
from helpers.lowering.program import Const, Operand, Program

# bool: one byte, 0 or 1, as TFLM's C++ bool holds it
C_TYPES = {"bool": "uint8_t", "int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "uint16": "uint16_t", "int32": "int32_t",
           "uint32": "uint32_t", "int64": "int64_t", "float32": "float"}
VALUES_PER_LINE = 16
_INT32_MIN = -(2 ** 31)


def c_int(value: int) -> str:
    """An int32 literal that stays int32 (INT32_MIN is not a literal in C)."""
    return "(-2147483647 - 1)" if int(value) == _INT32_MIN else str(int(value))


def c_real(value: float) -> str:
    """A float literal; infinite clamps become +-FLT_MAX, which clamp nothing."""
    if value == np.inf:
        return "3.40282347e38f"
    if value == -np.inf:
        return "-3.40282347e38f"
    return c_float(float(np.float32(value)))


@dataclass
class CNames:
    """The engine's constants and parameter records, named in first-use order, shared by text."""

    program: Program
    declarations: list[str] = field(default_factory=list)
    constant_bytes: int = 0
    _by_text: dict[str, str] = field(default_factory=dict)
    uses_cmsis: bool = False
    uses_scratch_context: bool = False
    state_cleared_each_invoke: bool = False   # a kernel starts every invoke from zero state (the int8 LSTM)
    scratch_bytes: int = 0            # the largest scratch a step needs (cores without MVE)
    scratch_bytes_mve: int = 0        # the same on Helium (MVE) cores
    # What CMSIS-NN's own *_get_buffer_size functions say each step needs, as C expressions: the
    # self-test checks them against scratch_bytes on every core it runs on.
    scratch_queries: list[str] = field(default_factory=list)
    dsp_only_bytes: int = 0           # constants only Armv7E-M's own kernels read (c_own_conv)
    own_kernel_layers: list[str] = field(default_factory=list)   # the layers those kernels run there
    own_kernel_steps: list[int] = field(default_factory=list)    # their step indices, in the same order
    v6m_only_bytes: int = 0           # constants only Armv6-M's own kernels read (c_own_v6m)
    own_kernel_layers_v6m: list[str] = field(default_factory=list)  # the layers those kernels run there
    own_kernel_steps_v6m: list[int] = field(default_factory=list)   # their step indices, in the same order
    own_lstm_steps: list[int] = field(default_factory=list)  # those of the own kernels' steps that are LSTMs
    # steps an own kernel could take that the export's measurement gave back to CMSIS-NN, on
    # Armv7E-M and on Armv6-M
    cmsis_steps: frozenset[int] = frozenset()
    cmsis_steps_v6m: frozenset[int] = frozenset()
    step: int = -1                    # the step being formatted (c_calls sets it)
    shared: SharedKernels = field(default_factory=SharedKernels)  # own calls by layer shape (c_shared_kernels)

    def own_kernel(self, layer: str) -> None:
        """Record that the step being formatted runs an own kernel (`layer` describes it)."""
        self.own_kernel_layers.append(layer)
        self.own_kernel_steps.append(self.step)

    def own_kernel_v6m(self, layer: str) -> None:
        """Record that the step being formatted runs an Armv6-M own kernel (`layer` describes it)."""
        self.own_kernel_layers_v6m.append(layer)
        self.own_kernel_steps_v6m.append(self.step)

    def guarded_array(self, prefix: str, guard: str, ctype: str, values: np.ndarray, alignment: int) -> tuple[str, int]:
        """A constant array of an own kernel family (c_own_conv, c_own_v6m), compiled only under
        `guard` (the cores that read it), `alignment`-byte aligned: its name and its bytes."""
        name = f"{prefix}{len(self.declarations)}"
        suffix = "u" if ctype == "uint32_t" else ""
        body = ", ".join(f"{int(v)}{suffix}" for v in values.tolist())
        self.declarations.append(f"#if {guard}\nstatic const {ctype} {name}[{len(values)}] "
                                 f"__attribute__((aligned({alignment}))) = {{{body}}};\n#endif")
        itemsize = np.dtype(next(d for d, c in C_TYPES.items() if c == ctype)).itemsize
        return name, itemsize * len(values)

    def _declare(self, prefix: str, type_text: str, suffix: str, body: str, nbytes: int) -> str:
        key = f"{type_text}{suffix}={body}"
        if key not in self._by_text:
            name = f"{prefix}{len(self.declarations)}"
            self.declarations.append(f"static const {type_text} {name}{suffix} = {body};")
            self._by_text[key] = name
            self.constant_bytes += nbytes
        return self._by_text[key]

    def array(self, const: Const) -> str:
        values = const.values.reshape(-1)
        ctype = C_TYPES[str(values.dtype)]
        if values.dtype == np.float32:
            items = [c_real(v) for v in values.tolist()]
        else:
            items = [c_int(v) for v in values.tolist()]
        lines = [", ".join(items[i:i + VALUES_PER_LINE]) for i in range(0, len(items), VALUES_PER_LINE)]
        body = "{\n    " + ",\n    ".join(lines) + "\n}" if items else "{0}"
        return self._declare("k", ctype, f"[{max(len(items), 1)}]", body, values.nbytes)

    def record(self, type_name: str, fields: list[str]) -> str:
        """A `static const` parameter struct, initialised in declaration order (C and C++ alike)."""
        return self._declare("p", type_name, "", "{" + ", ".join(fields) + "}", 0)

    def operand(self, operand: Operand, dtype: str | None = None) -> str:
        if isinstance(operand, Const):
            return self.array(operand)
        buffer = self.program.buffer(operand)
        return f"(({C_TYPES[dtype or buffer.dtype]} *)(mcu_arena + {buffer.offset}))"

    def buffer(self, buffer_id: int) -> str:
        return self.operand(buffer_id)

    def index(self, const: Const | None) -> str:
        return "NULL" if const is None else self.array(const)

    def need_scratch(self, nbytes: int, mve_bytes: int | None = None) -> None:
        """A step's scratch: `nbytes` on every core, `mve_bytes` instead on Helium (MVE) cores, whose
        CMSIS-NN kernels size theirs differently (the engine's arena is sized per core family)."""
        self.scratch_bytes = max(self.scratch_bytes, nbytes)
        self.scratch_bytes_mve = max(self.scratch_bytes_mve, nbytes if mve_bytes is None else mve_bytes)

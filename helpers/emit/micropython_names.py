"""The MicroPython engine's names and literals: buffers and module constants named in first-use
order and shared by content, and the kernels' argument forms (limbs of a multiplier, a geometry
row). micropython_calls' formatters and micropython_native's calls both write through these."""
from __future__ import annotations

import numpy as np

from helpers.lowering import steps as s
from helpers.lowering.program import Buffer, Const, Operand, Program

def bytes_literal(data: bytes) -> str:
    return "b'" + "".join(f"\\x{b:02x}" for b in data) + "'"


def buffer_name(buffer: Buffer) -> str:
    return f"_g{buffer.id}" if buffer.role == "scratch" else f"_t{buffer.id}"


class Names:
    """The module's constants, named in first-use order and shared by their text."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.constants: list[tuple[str, str]] = []
        self._by_text: dict[str, str] = {}

    def constant(self, prefix: str, text: str) -> str:
        if text not in self._by_text:
            name = f"_{prefix}_{len(self.constants)}"
            self.constants.append((name, text))
            self._by_text[text] = name
        return self._by_text[text]

    def array(self, const: Const) -> str:
        """int8 (and uint8 tables) as bytes; int32 and float32 as arrays."""
        values = const.values
        if values.dtype in (np.int8, np.uint8):
            return self.constant("w", bytes_literal(values.tobytes()))
        if values.dtype == np.int32:
            return self.constant("i", f"_array('i', {bytes_literal(values.astype('<i4').tobytes())})")
        if values.dtype == np.int16:
            return self.constant("h", f"_array('h', {bytes_literal(values.astype('<i2').tobytes())})")
        return self.constant("f", f"_array('f', {bytes_literal(values.astype('<f4').tobytes())})")

    def small_tuple(self, values: list | tuple) -> str:  # type: ignore[type-arg]
        items = ", ".join(repr(v) for v in values)
        return self.constant("p", f"({items},)" if len(values) == 1 else f"({items})")

    def operand(self, operand: Operand) -> str:
        if isinstance(operand, Const):
            return self.array(operand)
        return buffer_name(self.program.buffer(operand))

    def index(self, const: Const | None) -> str:
        return "None" if const is None else self.array(const)

    def buffer(self, buffer_id: int) -> str:
        return buffer_name(self.program.buffer(buffer_id))


# float32's largest finite value, exactly: TFLM clamps an unbounded activation range to it, so an
# overflow (a division by almost zero) gives this value, not infinity and not a rounder number.
FLOAT32_MAX = repr(float(np.finfo(np.float32).max))


def clamp_literal(value: float) -> str:
    return "-" + FLOAT32_MAX if value == -np.inf else FLOAT32_MAX if value == np.inf else repr(value)


def call_text(kernel: str, *args: object) -> str:
    return f"{kernel}({', '.join(str(a) for a in args)})"


def conv_row(g: s.ConvGeometry, depthwise: bool) -> list[int]:
    return [g.in_h, g.in_w, g.in_c, g.out_w, g.depth_multiplier if depthwise else g.out_c, g.k_h, g.k_w,
            g.stride_h, g.stride_w, g.dilation_h, g.dilation_w, g.pad_top, g.pad_left]


def pool_row(g: s.PoolGeometry) -> list[int]:
    return [g.in_h, g.in_w, g.channels, g.out_h, g.out_w, g.k_h, g.k_w, g.stride_h, g.stride_w, g.pad_top, g.pad_left]


def multiplier_limbs(multipliers: np.ndarray) -> np.ndarray:
    """Each fixed-point multiplier (0 <= m < 2**31) as three 14-bit limbs, low first: what the
    requantization multiplies by on the board without a big int."""
    m = multipliers.astype(np.int64)
    return np.stack([m & 16383, (m >> 14) & 16383, m >> 28], axis=-1).reshape(-1).astype(np.int16)


def quant_args(n: Names, q: s.Requantization) -> tuple[str, str]:
    return n.array(Const(multiplier_limbs(q.multipliers.values))), n.array(q.shifts)


def scalar_quant(n: Names, multiplier: int, shift: int) -> list[str]:
    """One per-tensor multiplier as the limbs and shift arrays scale_acc reads (hot.py)."""
    return [n.array(Const(multiplier_limbs(np.asarray([multiplier])))), n.array(Const(np.asarray([shift], np.int32)))]


def exp_limbs(exps: np.ndarray) -> np.ndarray:
    """Each Q0.31 exp (0 <= e < 2**31) as three 11-bit limbs, low first: softmax_out's operand."""
    e = exps.astype(np.int64)
    return np.stack([e & 2047, (e >> 11) & 2047, e >> 22], axis=-1).reshape(-1).astype(np.int16)

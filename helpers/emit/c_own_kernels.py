"""Where the C engine's own kernels replace CMSIS-NN's call, and on which cores (docs/kernels.md).

A step an own kernel takes is emitted as one `#if` chain: Armv7E-M without MVE (c_own_conv:
SIMD kernels), then Armv6-M (c_own_v6m: plain C), then `#else` the CMSIS-NN call TFLM makes, so
MVE cores, the host, and every layer no own kernel takes run exactly what TFLM runs. A layer the
export's measurement gave back to CMSIS-NN on an Armv7E-M target (CNames.cmsis_steps)
loses its Armv7E-M branch only; one given back on an Armv6-M target (CNames.cmsis_steps_v6m), its
Armv6-M branch."""
from __future__ import annotations

import re

from helpers.emit import c_own_conv, c_own_v6m
from helpers.emit.c_names import CNames
from helpers.lowering import steps as s

# The constants and records a CMSIS-NN call names (CNames's k<n>, p<n>, the contexts)
_NAMED = re.compile(r"\b(?:[kp]\d+|mcu_scratch_context|mcu_empty_context)\b")
# The guards as they open a branch, and the families they name in the op table
_BRANCHES = ((c_own_conv.DSP_ONLY, "Armv7E-M"), (c_own_v6m.V6M_ONLY, "Armv6-M"))


def _chain(armv7em_call: str | None, armv6m_call: str | None, cmsis_call: str) -> str:
    """The own calls under their guards, CMSIS-NN's in the #else. The CMSIS-NN branch's constants
    are not read where an own kernel runs: `(void)` for each keeps -Wunused quiet (C and C++), and
    the compiler still leaves them out of that core's flash."""
    branches = [(guard, call) for (guard, _), call in zip(_BRANCHES, (armv7em_call, armv6m_call)) if call]
    if not branches:
        return cmsis_call
    unused = " ".join(f"(void){name};" for name in dict.fromkeys(_NAMED.findall(cmsis_call)))
    indent = "" if cmsis_call.startswith("#") else "  "
    text = "".join(f"#{'if' if i == 0 else 'elif'} {guard}\n  {unused}\n  {call}\n"
                   for i, (guard, call) in enumerate(branches))
    return f"{text}#else\n{indent}{cmsis_call}\n#endif"


def own_kernel_cores(line: str) -> tuple[str, ...]:
    """The core families whose own kernel a step's C text runs (empty: CMSIS-NN's call or another
    kernel everywhere)."""
    if not line.startswith("#if "):
        return ()
    return tuple(family for guard, family in _BRANCHES if f"if {guard}\n" in line)


def conv_i8(n: CNames, t: s.ConvInt8, cmsis_call: str) -> str:
    """The step as emitted: the own kernels where they take the layer, else `cmsis_call` alone."""
    armv7em = None if n.step in n.cmsis_steps else c_own_conv.conv_call(n, t)
    armv6m = c_own_v6m.conv_call(n, t) if c_own_v6m.takes_conv(t) and n.step not in n.cmsis_steps_v6m else None
    return _chain(armv7em, armv6m, cmsis_call)


def fully_connected_i8(n: CNames, t: s.FullyConnectedInt8, cmsis_call: str) -> str:
    """The step as emitted: the own fully connected kernels, else `cmsis_call` alone."""
    takes = c_own_conv.own_fully_connected(t) and n.step not in n.cmsis_steps
    armv7em = c_own_conv.fully_connected_i8(n, t) if takes else None
    armv6m = None if n.step in n.cmsis_steps_v6m else c_own_v6m.fully_connected_call(n, t)
    return _chain(armv7em, armv6m, cmsis_call)


def lstm_i8(n: CNames, t: s.LstmInt8, own_call: str, cmsis_call: str) -> str:
    """The step as emitted: the own fused LSTM (c_kernels/lstm_s8.c, plain C) on Armv7E-M and
    Armv6-M, each where the export's measurement did not give it back; CMSIS-NN's call elsewhere."""
    st = t.state
    layer = f"LSTM {st.steps} steps, {st.n_in} inputs, {st.n_state} units"
    armv7em = armv6m = None
    if n.step not in n.cmsis_steps:
        n.own_kernel(layer)
        armv7em = own_call
    if n.step not in n.cmsis_steps_v6m:
        n.own_kernel_v6m(layer)
        armv6m = own_call
    if armv7em or armv6m:
        n.own_lstm_steps.append(n.step)
    return _chain(armv7em, armv6m, cmsis_call)

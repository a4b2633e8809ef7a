"""The model's own MicroPython native module: the C engine (<id>_engine.c) wrapped as a native
module (templates/native_module.c.j2) with the make file that builds it per architecture
(templates/native_module.mk.j2). The MicroPython engine's "native" path then makes one call into
the same machine code as the C engine, with every layer's shapes compiled in, instead of a call
per layer into the generic kernels module (mcu_kernels_<arch>.mpy), whose kernels take the shapes
at run time. The engine and the module agree on a digest of the C engine's text, so a module left
over from another export is never used."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from helpers.emit.c_engine import CEngine
from helpers.emit.codegen import Rendered, render

# Small enough for MicroPython's small int on a 32-bit port (31 bits, signed).
_DIGEST_BITS = 28


@dataclass(frozen=True)
class NativeModel:
    """What the MicroPython engine needs to know of the model's native module."""

    name: str     # the module's name without the architecture: <id>_native
    digest: int   # of the C engine's text
    files: tuple[Rendered, ...]  # <id>_native.c and <id>_native.mk


def native_model(engine: CEngine, engine_c: Rendered, kernels_steps: int) -> tuple[NativeModel | None, str | None]:
    """The native module's files for an engine whose MicroPython engine has a native path
    (`kernels_steps` > 0), or None and why not. A model whose recurrent state lasts from one
    inference to the next gets none: the state would live in the module, apart from the state the
    engine's other paths and its reset() keep."""
    if kernels_steps == 0:
        return None, "the MicroPython engine has no native path"
    if engine.context["resets"] and not engine.context["state_cleared_each_invoke"]:
        return None, "its recurrent state lasts from one inference to the next"
    digest = int(hashlib.sha256(engine_c.text.encode("utf-8")).hexdigest(), 16) & ((1 << _DIGEST_BITS) - 1)
    model_id = engine.context["id"]
    context = {**engine.context, "digest": f"{digest:07x}", "digest_int": digest}
    files = (render("native_module.c.j2", f"{model_id}_native.c", context),
             render("native_module.mk.j2", f"{model_id}_native.mk", context))
    return NativeModel(name=f"{model_id}_native", digest=digest, files=files), None

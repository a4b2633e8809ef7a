"""The passes on a converted flatbuffer, and their proof: a rewritten model is kept only when
LiteRT gives outputs identical to the converter's model on every evaluation row (the converter's
model runs there: LiteRT has the kernels TFLM lacks). A pass that finds nothing costs no run."""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Callable

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from helpers.core.flatbuffer import inspect_tflite, parse_model
from helpers.core.rewrites import Rewrite, RewriteStage
from helpers.core.tflm_ops import ops_without_kernel
from helpers.core.variant import TfliteModel
from helpers.measure.litert import LiteRtRunner
from helpers.rewrite import select, space_to_batch_pad, unary_lut, upsampling, zero_scale
from helpers.rewrite.edit import pack

log = logging.getLogger("mcu_deploy")

# (name, the pass: edits the model in place and returns how many places it rewrote, why it is exact)
AFTER_CONVERSION: tuple[tuple[str, Callable[[schema.ModelT], int], str], ...] = (
    (upsampling.NAME, upsampling.rewrite_upsamplings, "the run of ops followed on an index tensor"),
    (select.NAME, select.rewrite_selects, "same shapes: SELECT_V2 without broadcasting is SELECT"),
    (unary_lut.NAME, unary_lut.rewrite_unary_luts, "LiteRT's own int8 kernel tabulated on all 256 input bytes"),
    (space_to_batch_pad.NAME, space_to_batch_pad.rewrite_padded_space_to_batch,
     "PAD writes the padding SPACE_TO_BATCH_ND's TFLM kernel leaves to an unset field"),
)


def rewrite_after_conversion(tflite: TfliteModel, quantized_rows: np.ndarray) -> TfliteModel:
    """`tflite` with every pass applied, when it holds an op TFLM has no kernel for (or one TFLM's
    kernel gets wrong) and the rewritten model gives identical LiteRT outputs on `quantized_rows`
    (the evaluation rows in the input's type); otherwise `tflite` itself (with zero scales fixed,
    which needs no run)."""
    tflite = _with_zero_scales_fixed(tflite)
    if not _wants_a_pass(tflite):
        return tflite
    model, applied = parse_model(tflite.content), []
    for name, rewrite, why in AFTER_CONVERSION:
        count = rewrite(model)
        if count:
            applied.append((name, count, why))
    if not applied:
        return tflite
    content = pack(model)
    rewritten = TfliteModel(plan=tflite.plan, content=content, info=inspect_tflite(content), rewrites=tflite.rewrites)
    checked = _litert_check(tflite, rewritten, quantized_rows)
    if checked is None:
        log.warning("warning: %s: the rewrite %s changed LiteRT's outputs, so the converter's model is kept",
                    tflite.plan.name, ", ".join(name for name, _, _ in applied))
        return tflite
    done = tuple(Rewrite(name=name, stage=RewriteStage.AFTER_CONVERSION, ops=count, exact=True,
                         proof=f"{why}; {checked}") for name, count, why in applied)
    return replace(rewritten, rewrites=tflite.rewrites + done)


def _wants_a_pass(tflite: TfliteModel) -> bool:
    """An op TFLM lacks, an int8 unary op TFLM has only in float, or a padding SPACE_TO_BATCH_ND."""
    ops = tflite.info.ops
    if ops_without_kernel(ops) or any(map(unary_lut.without_int8_kernel, ops)):
        return True
    return "SPACE_TO_BATCH_ND" in ops and bool(space_to_batch_pad.padded_space_to_batch(parse_model(tflite.content)))


def _litert_check(original: TfliteModel, rewritten: TfliteModel, quantized_rows: np.ndarray) -> str | None:
    """What LiteRT says: identical outputs (the proof's second half), None when they differ, or
    why it could not say (a kernel LiteRT lacks, such as int16 SQUARED_DIFFERENCE): the passes are
    exact by construction, so their own check then stands alone."""
    try:
        before = LiteRtRunner(original.content, original.info).run_quantized(quantized_rows)
        after = LiteRtRunner(rewritten.content, rewritten.info).run_quantized(quantized_rows)
    except (RuntimeError, ValueError) as exc:
        return f"not compared on LiteRT, which cannot run the model ({str(exc).splitlines()[0][:80]})"
    if before.shape != after.shape or not np.array_equal(before, after):
        return None
    return f"identical LiteRT outputs on {len(quantized_rows)} evaluation rows"


def _with_zero_scales_fixed(tflite: TfliteModel) -> TfliteModel:
    """zero_constant_scale, first: LiteRT may abort on the converter's model, so nothing runs it."""
    model = parse_model(tflite.content)
    count = zero_scale.fix_zero_scales(model)
    if not count:
        return tflite
    content = pack(model)
    done = Rewrite(name=zero_scale.NAME, stage=RewriteStage.AFTER_CONVERSION, ops=count, exact=True,
                   proof="every value is the zero point: 0 at any scale")
    return replace(tflite, content=content, info=inspect_tflite(content), rewrites=tflite.rewrites + (done,))

"""The passes on a converted flatbuffer, and their proof, in two groups. Where TFLM lacks a kernel
(or gets one wrong), a rewritten model is kept only when LiteRT gives outputs identical to the
converter's model on every evaluation row (the converter's model runs there: LiteRT has the
kernels TFLM lacks). Where TFLM has the kernel and only its CMSIS-NN form refuses the case, TFLM's
reference kernels run both models on the host, and their outputs must be identical (the
self-test's expected outputs come from there). A pass that finds nothing costs no run."""
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
from helpers.measure.tflm import GENEROUS_ARENA, run_in_tflm
from helpers.rewrite import fc_int16_conv, select, space_to_batch_pad, unary_lut, upsampling, zero_scale
from helpers.rewrite.edit import pack

log = logging.getLogger("mcu_deploy")

# (name, the pass: edits the model in place and returns how many places it rewrote, why it is exact)
Pass = tuple[str, Callable[[schema.ModelT], int], str]
# The check of a group: (the converter's model, the rewritten one, the rows) -> (kept, the proof's
# second half where kept, else why not: "changed LiteRT's outputs").
Check = Callable[[TfliteModel, TfliteModel, np.ndarray], "tuple[bool, str]"]

# Ops TFLM has no kernel for, or one it gets wrong: proven on LiteRT.
AFTER_CONVERSION: tuple[Pass, ...] = (
    (upsampling.NAME, upsampling.rewrite_upsamplings, "the run of ops followed on an index tensor"),
    (select.NAME, select.rewrite_selects, "same shapes: SELECT_V2 without broadcasting is SELECT"),
    (unary_lut.NAME, unary_lut.rewrite_unary_luts, "LiteRT's own int8 kernel tabulated on all 256 input bytes"),
    (space_to_batch_pad.NAME, space_to_batch_pad.rewrite_padded_space_to_batch,
     "PAD writes the padding SPACE_TO_BATCH_ND's TFLM kernel leaves to an unset field"),
)
# Ops TFLM's reference kernel runs and its CMSIS-NN kernel refuses: proven on TFLM itself.
ON_TFLMS_KERNELS: tuple[Pass, ...] = (
    (fc_int16_conv.NAME, fc_int16_conv.rewrite_int16_fcs,
     "a 1x1 CONV_2D over the FC's own weight buffer sums the same products (CMSIS-NN's FC refuses "
     "per-channel int16)"),
)


def rewrite_after_conversion(tflite: TfliteModel, quantized_rows: np.ndarray) -> TfliteModel:
    """`tflite` with every pass applied, when it holds an op TFLM has no kernel for (or one TFLM's
    kernel gets wrong, or one only TFLM's reference kernel runs) and the rewritten model gives
    identical outputs on `quantized_rows` (the evaluation rows in the input's type); otherwise
    `tflite` itself (with zero scales fixed, which needs no run). TFLM's group comes second: it
    runs the model, so TFLM must have every kernel by then."""
    tflite = _with_zero_scales_fixed(tflite)
    if not _wants_a_pass(tflite):
        return tflite
    tflite = _apply(tflite, AFTER_CONVERSION, _litert_check, quantized_rows)
    return _apply(tflite, ON_TFLMS_KERNELS, _tflm_check, quantized_rows)


def _apply(tflite: TfliteModel, group: tuple[Pass, ...], check: Check, quantized_rows: np.ndarray) -> TfliteModel:
    """The group's passes on `tflite`, kept when `check` proves them, else `tflite` (said in the log)."""
    model, applied = parse_model(tflite.content), []
    for name, rewrite, why in group:
        count = rewrite(model)
        if count:
            applied.append((name, count, why))
    if not applied:
        return tflite
    content = pack(model)
    rewritten = TfliteModel(plan=tflite.plan, content=content, info=inspect_tflite(content), rewrites=tflite.rewrites)
    kept, checked = check(tflite, rewritten, quantized_rows)
    if not kept:
        log.warning("warning: %s: the rewrite %s %s, so the converter's model is kept",
                    tflite.plan.name, ", ".join(name for name, _, _ in applied), checked)
        return tflite
    done = tuple(Rewrite(name=name, stage=RewriteStage.AFTER_CONVERSION, ops=count, exact=True,
                         proof=f"{why}; {checked}") for name, count, why in applied)
    return replace(rewritten, rewrites=tflite.rewrites + done)


def _wants_a_pass(tflite: TfliteModel) -> bool:
    """An op TFLM lacks, an int8 unary op TFLM has only in float, a padding SPACE_TO_BATCH_ND, or
    an int16 FULLY_CONNECTED with per-channel weights."""
    ops = tflite.info.ops
    if ops_without_kernel(ops) or any(map(unary_lut.without_int8_kernel, ops)):
        return True
    if "SPACE_TO_BATCH_ND" in ops and space_to_batch_pad.padded_space_to_batch(parse_model(tflite.content)):
        return True
    return "FULLY_CONNECTED" in ops and bool(fc_int16_conv.candidates(parse_model(tflite.content)))


def _tflm_check(original: TfliteModel, rewritten: TfliteModel, quantized_rows: np.ndarray) -> tuple[bool, str]:
    """Identical outputs of TFLM's reference kernels (the host interpreter) on both models. Not
    kept when they differ, nor when TFLM cannot run one of them: TFLM is the only proof here."""
    try:
        before = run_in_tflm(original.content, quantized_rows, GENEROUS_ARENA, info=original.info)
        after = run_in_tflm(rewritten.content, quantized_rows, GENEROUS_ARENA, info=rewritten.info)
    except RuntimeError as exc:
        return False, f"could not be compared on TFLM ({str(exc).splitlines()[0][:120]})"
    if before.shape != after.shape or not np.array_equal(before, after):
        return False, "changed TFLM's outputs"
    return True, f"identical TFLM outputs (reference kernels) on {len(quantized_rows)} evaluation rows"


def _litert_check(original: TfliteModel, rewritten: TfliteModel, quantized_rows: np.ndarray) -> tuple[bool, str]:
    """What LiteRT says: identical outputs (the proof's second half), different ones, or why it
    could not say (a kernel LiteRT lacks, such as int16 SQUARED_DIFFERENCE): the passes are exact
    by construction, so their own check then stands alone."""
    try:
        before = LiteRtRunner(original.content, original.info).run_quantized(quantized_rows)
        after = LiteRtRunner(rewritten.content, rewritten.info).run_quantized(quantized_rows)
    except (RuntimeError, ValueError) as exc:
        return True, f"not compared on LiteRT, which cannot run the model ({str(exc).splitlines()[0][:80]})"
    if before.shape != after.shape or not np.array_equal(before, after):
        return False, "changed LiteRT's outputs"
    return True, f"identical LiteRT outputs on {len(quantized_rows)} evaluation rows"


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

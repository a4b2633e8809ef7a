"""Builds one variant: convert, evaluate on LiteRT and TFLM, write its files, return its report row.
run_builder.py decides which variants a run has. Imports TensorFlow."""
from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from helpers import compression
from helpers.artifacts import FirmwareFacts
from helpers.config import RunConfig
from helpers.convert import TfliteModel, convert
from helpers.dataset import SplitDataset
from helpers.errors import ModelError
from helpers.evaluate import LiteRtRunner, dequantize, quantize
from helpers.firmware import run_tflm_checks
from helpers.metrics import compute_metrics
from helpers.micro import MicroCheck, check_variant
from helpers.model_io import LoadedModel
from helpers.optimize import OptimizedModel
from helpers.report import VariantReport, format_metrics
from helpers.specs import Specs
from helpers.strip import account, strip_model
from helpers.tflite_model import inspect_tflite
from helpers.variant_writer import VariantWriter
from helpers.variants import VariantRecipe
from helpers.weights import overall_sparsity, weight_stats

log = logging.getLogger("mcu_deploy")


def compressed_size(content: bytes) -> int:
    """zlib size at level 9: what pruning and clustering actually save in a compressed image."""
    return len(zlib.compress(content, 9))


def optimization_details(optimized: OptimizedModel | None) -> dict[str, Any]:
    """What was done to the model, for report.json."""
    if optimized is None:
        return {}
    details: dict[str, Any] = {}
    if optimized.prune:
        details["pruning"] = {"final_sparsity": optimized.prune.final_sparsity,
                              "initial_sparsity": optimized.prune.initial_sparsity,
                              "epochs": optimized.prune.epochs, "policy": optimized.prune.policy}
    if optimized.clusters:
        details["clusters"] = optimized.clusters
    if optimized.qat:
        details["qat_layers"] = list(optimized.qat_layers)
        details["float_layers"] = list(optimized.float_layers)
    return details


def weight_summary(content: bytes) -> dict[str, Any]:
    """Sparsity and unique values of the exported weights, overall and per layer."""
    stats = weight_stats(content)
    return {"sparsity": round(overall_sparsity(stats), 4),
            "layers": [{"name": s.name, "dtype": s.dtype, "elements": s.elements, "sparsity": round(s.sparsity, 4),
                        "unique_values": s.unique, "max_unique_per_channel": s.max_unique_per_channel}
                       for s in stats]}


def _tflite_row(tflite: TfliteModel, optimized: OptimizedModel | None, firmware: dict[str, Any],
                **fields: Any) -> VariantReport:
    """A TFLite variant's report row: the fields every kind of variant shares, plus `fields`.

    `firmware` gets `reset_before_invoke` here, not from the TFLM checks: it is a property of the
    flatbuffer, and the generated firmware carries it even with --skip_firmware_checks."""
    return VariantReport(
        firmware={**firmware, "reset_before_invoke": tflite.info.stateful},
        name=tflite.recipe.name, path=tflite.recipe.name, format="tflite",
        quantization=tflite.recipe.quantization.value, pruned=bool(optimized and optimized.pruned),
        qat=bool(optimized and optimized.qat), clustered=bool(optimized and optimized.clustered),
        size_bytes=tflite.size_bytes, compressed_size_bytes=compressed_size(tflite.content),
        input_dtype=tflite.info.input.dtype, output_dtype=tflite.info.output.dtype,
        ops=tflite.info.ops + tflite.info.custom_ops, optimization=optimization_details(optimized), **fields)


@dataclass(frozen=True)
class LiteRtResult:
    """A variant measured with LiteRT: metrics, the inputs it was fed and its raw outputs."""

    metrics: dict[str, float]
    mode: str
    quantized_inputs: np.ndarray
    raw_outputs: np.ndarray


def evaluate_tflite(tflite: TfliteModel, specs: Specs, data: SplitDataset) -> LiteRtResult:
    """Metrics on the evaluation rows with LiteRT, quantizing in and dequantizing out."""
    runner = LiteRtRunner(tflite.content, tflite.info)
    quantized = quantize(data.evaluation.x, tflite.info.input)
    raw = runner.run_quantized(quantized)
    metrics = compute_metrics(dequantize(raw, tflite.info.output), data.evaluation.y, specs)
    return LiteRtResult(metrics, f"litert batch {runner.batch}", quantized, raw)


def _build_select_ops(tflite: TfliteModel, specs: Specs, writer: VariantWriter, timings: Any,
                      optimized: OptimizedModel | None) -> VariantReport:
    """A variant with TF Select (Flex) ops: kept and reported, never given MCU firmware.

    Neither TFLM nor the LiteRT wheel has the Flex delegate, so it cannot be measured here."""
    flex = [op for op in tflite.info.custom_ops if op.startswith("Flex")]
    reason = f"TF Select ops ({', '.join(flex)}) do not exist in TFLM"
    facts = FirmwareFacts(tflm_checked=True, tflm_runnable=False, tflm_reason=reason)
    with timings.phase("render"):
        writer.write(tflite, facts)
    log.warning("warning: %s uses TF Select ops %s: not for microcontrollers, and not evaluated (the LiteRT "
                "interpreter here has no Flex delegate)", tflite.recipe.name, ", ".join(flex))
    return _tflite_row(
        tflite, optimized, metrics={},
        evaluation="not evaluated: needs the TF Select (Flex) delegate, which LiteRT's wheel does not link",
        firmware={"tflm_runnable": False, "tflm_reason": reason, "select_ops": flex})


def _build_compressed(tflite: TfliteModel, config: RunConfig, specs: Specs, data: SplitDataset,
                      writer: VariantWriter, timings: Any, optimized: OptimizedModel | None,
                      outputs: dict[str, np.ndarray] | None,
                      tflm_outputs: dict[str, np.ndarray] | None) -> VariantReport:
    """A LUT-compressed variant, measured on TFLM only."""
    quantized = quantize(data.evaluation.x, tflite.info.input)
    with timings.phase("tflm_checks"):
        facts, firmware = run_tflm_checks(tflite, specs, quantized, data.evaluation.y, None, tflm_outputs)
    if not facts.tflm_runnable:
        raise ModelError(f"TFLM cannot run the LUT-compressed {tflite.recipe.name}: {facts.tflm_reason}",
                         "run without --cluster, or report this model", specs.path)
    raw = (tflm_outputs or {}).get(tflite.recipe.name)
    metrics = firmware["tflm_metrics"]
    if outputs is not None and raw is not None:
        outputs[tflite.recipe.name] = dequantize(raw, tflite.info.output)
    with timings.phase("render"):
        firmware.update(writer.write(tflite, facts))
    log.info("  %s: %s B, %s (measured on TFLM)", tflite.recipe.name, f"{tflite.size_bytes:,}",
             format_metrics(metrics))
    return _tflite_row(tflite, optimized, metrics=metrics, firmware=firmware,
                       evaluation="tflm (LUT-compressed; LiteRT cannot read it)")


def _stripped(tflite: TfliteModel,
              quantized_inputs: np.ndarray) -> tuple[TfliteModel, dict[str, Any], MicroCheck | None]:
    """The model without names, signatures and metadata, if TFLM gives identical outputs for it.

    Also returns the TFLM run of the model kept, so the firmware checks need not run it again."""
    if tflite.info.custom_ops:
        return tflite, {"applied": False, "reason": "models with custom ops are not stripped"}, None
    stripped = strip_model(tflite.content)
    original = check_variant(tflite.content, tflite.info, quantized_inputs)
    if not original.runnable:
        return tflite, {"applied": False, "reason": f"TFLM cannot run the variant: {original.reason}"}, original
    candidate = check_variant(stripped, tflite.info, quantized_inputs)
    if not candidate.runnable or not np.array_equal(candidate.outputs, original.outputs):
        return (tflite, {"applied": False, "reason": "the stripped model did not give identical TFLM outputs"},
                original)
    details = {"applied": True, "bytes_before": len(tflite.content), "bytes_after": len(stripped),
               "saving_bytes": len(tflite.content) - len(stripped), "tflm_outputs_identical": True}
    return TfliteModel(recipe=tflite.recipe, content=stripped, info=inspect_tflite(stripped)), details, candidate


def failed_row(recipe: VariantRecipe, error: ModelError) -> VariantReport:
    return VariantReport(name=recipe.name, path=None, format="tflite", quantization=recipe.quantization.value,
                         pruned=False, qat=False, metrics={}, size_bytes=None, error=error.one_line())


def build_variant(recipe: VariantRecipe, config: RunConfig, specs: Specs, model: LoadedModel,
                  data: SplitDataset, writer: VariantWriter, timings: Any,
                  optimized: OptimizedModel | None = None, outputs: dict[str, np.ndarray] | None = None,
                  prepared: TfliteModel | None = None,
                  tflm_outputs: dict[str, np.ndarray] | None = None) -> VariantReport:
    """Convert (unless `prepared`), evaluate on LiteRT and TFLM, write; one report row.

    The dequantized evaluation outputs land in `outputs[recipe.name]` for the plots."""
    with timings.phase("convert"):
        tflite = prepared or convert(model, specs, recipe, data.calibration.x, config.allow_select_ops)
    strip_details: dict[str, Any] = {}
    tflm_check: MicroCheck | None = None
    if config.strip and prepared is None:
        with timings.phase("tflm_checks"):
            tflite, strip_details, tflm_check = _stripped(tflite, quantize(data.evaluation.x, tflite.info.input))
    if any(op.startswith("Flex") for op in tflite.info.custom_ops):
        return _build_select_ops(tflite, specs, writer, timings, optimized)
    if compression.DECODE_OP in tflite.info.custom_ops:
        # LiteRT cannot read LUT-compressed tensors: TFLM, which decodes them, is the reference.
        return _build_compressed(tflite, config, specs, data, writer, timings, optimized, outputs, tflm_outputs)
    with timings.phase("evaluate"):
        litert = evaluate_tflite(tflite, specs, data)
    if outputs is not None:
        outputs[tflite.recipe.name] = dequantize(litert.raw_outputs, tflite.info.output)
    facts, firmware = FirmwareFacts(), {}
    if not config.skip_firmware_checks:
        with timings.phase("tflm_checks"):
            facts, firmware = run_tflm_checks(tflite, specs, litert.quantized_inputs, data.evaluation.y,
                                              litert.raw_outputs, tflm_outputs, tflm_check)
    with timings.phase("render"):
        firmware.update(writer.write(tflite, facts))
    log.info("  %s: %s B, %s%s", recipe.name, f"{tflite.size_bytes:,}", format_metrics(litert.metrics),
             "" if facts.tflm_runnable else f"; not for MCUs: {facts.tflm_reason}")
    return _tflite_row(tflite, optimized, metrics=litert.metrics, evaluation=litert.mode, firmware=firmware,
                       weights=weight_summary(tflite.content), bytes=account(tflite.content).as_dict(),
                       strip=strip_details)

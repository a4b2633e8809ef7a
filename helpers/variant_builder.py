"""Builds, measures and writes every variant of a run. Imports TensorFlow (pipeline.py defers it)."""
from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from helpers.artifacts import (FirmwareFacts, exported_specs, render_firmware, render_not_for_mcu,
                               template_context)
from helpers.config import Quantization, RunConfig
from helpers.convert import TfliteModel, convert
from helpers.dataset import SplitDataset
from helpers.errors import ModelError
from helpers.evaluate import LiteRtRunner, dequantize, quantize
from helpers.firmware import run_tflm_checks, run_toolchain_checks
from helpers.identifiers import identifier
from helpers.metrics import compute_metrics
from helpers.model_io import LoadedModel, load_model
from helpers.native_output import set_verbose
from helpers.report import VariantReport, format_metrics
from helpers.specs import Specs
from helpers.tf_runtime import quiet_tensorflow, seed_everything
from helpers.variants import VariantRecipe, recipes_for

log = logging.getLogger("mcu_deploy")


def prepare(config: RunConfig) -> None:
    """Seed everything and set TensorFlow's verbosity."""
    quiet_tensorflow(config.verbose)
    set_verbose(config.verbose)
    seed_everything()


def load(model_dir: Path, specs: Specs) -> LoadedModel:
    """Load the model (model_io owns the formats)."""
    return load_model(model_dir, specs)


def compressed_size(content: bytes) -> int:
    """zlib size at level 9: what pruning and clustering actually save in a compressed image."""
    return len(zlib.compress(content, 9))


def evaluate_keras(model: LoadedModel, specs: Specs, data: SplitDataset) -> VariantReport:
    """The reference row: the Keras model itself on the evaluation rows."""
    outputs = model.predict(data.evaluation.x)
    return VariantReport(name="keras", path=None, format="keras", quantization="None", pruned=False, qat=False,
                         metrics=compute_metrics(outputs, data.evaluation.y, specs), size_bytes=None,
                         evaluation="keras (float32)")


@dataclass(frozen=True)
class LiteRtResult:
    """A variant measured with LiteRT: metrics, the inputs it was fed and its raw outputs."""

    metrics: dict[str, float]
    mode: str
    quantized_inputs: np.ndarray
    raw_outputs: np.ndarray


def evaluate_tflite(tflite: TfliteModel, specs: Specs, data: SplitDataset) -> LiteRtResult:
    """Metrics on the evaluation rows with LiteRT, quantizing in and dequantizing out."""
    runner = LiteRtRunner(tflite.content, tflite.info.input, tflite.info.output)
    quantized = quantize(data.evaluation.x, tflite.info.input)
    raw = runner.run_quantized(quantized)
    metrics = compute_metrics(dequantize(raw, tflite.info.output), data.evaluation.y, specs)
    return LiteRtResult(metrics, f"litert batch {256 if runner.batched else 1}", quantized, raw)


class VariantWriter:
    """Writes one variant's folder: model.tflite always, the firmware files with -e."""

    def __init__(self, config: RunConfig, specs: Specs, source: str, staging: Path) -> None:
        self.config = config
        self.specs = specs
        self.source = source
        self.staging = staging
        self.model_id = identifier(specs.name)

    def write(self, tflite: TfliteModel, facts: FirmwareFacts) -> dict[str, Any]:
        """Write the files; returns what the toolchain checks measured on them."""
        folder = self.staging / tflite.recipe.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.tflite").write_bytes(tflite.content)
        if not self.config.export:
            return {}
        (folder / "specs.json").write_text(exported_specs(self.specs, tflite, facts, {}), encoding="utf-8")
        if not facts.tflm_runnable:  # never hand out firmware that cannot run
            rendered = render_not_for_mcu(self.specs, tflite, facts.tflm_reason)
            (folder / rendered.filename).write_text(rendered.text, encoding="utf-8")
            return {}
        context = template_context(self.specs, tflite, facts, self.model_id, self.source)
        for rendered in render_firmware(context, checked=facts.tflm_checked):
            (folder / rendered.filename).write_text(rendered.text, encoding="utf-8")
        if self.config.skip_firmware_checks:
            return {}
        return run_toolchain_checks(folder, self.model_id)


def _failed_row(recipe: VariantRecipe, error: ModelError) -> VariantReport:
    return VariantReport(name=recipe.name, path=None, format="tflite", quantization=recipe.quantization.value,
                         pruned=False, qat=False, metrics={}, size_bytes=None, error=error.one_line())


def build_variant(recipe: VariantRecipe, config: RunConfig, specs: Specs, model: LoadedModel,
                  data: SplitDataset, writer: VariantWriter, timings: Any) -> VariantReport:
    """Convert, evaluate on LiteRT and TFLM, write; one report row."""
    with timings.phase("convert"):
        tflite = convert(model, specs, recipe, data.calibration.x)
    with timings.phase("evaluate"):
        litert = evaluate_tflite(tflite, specs, data)
    facts, firmware = FirmwareFacts(), {}
    if not config.skip_firmware_checks:
        with timings.phase("tflm_checks"):
            facts, firmware = run_tflm_checks(tflite, specs, litert.quantized_inputs, data.evaluation.y,
                                              litert.raw_outputs)
    with timings.phase("render"):
        firmware.update(writer.write(tflite, facts))
    log.info("  %s: %s B, %s%s", recipe.name, f"{tflite.size_bytes:,}", format_metrics(litert.metrics),
             "" if facts.tflm_runnable else f"; not for MCUs: {facts.tflm_reason}")
    return VariantReport(
        name=recipe.name, path=recipe.name, format="tflite", quantization=recipe.quantization.value,
        pruned=False, qat=False, metrics=litert.metrics, size_bytes=tflite.size_bytes,
        compressed_size_bytes=compressed_size(tflite.content), input_dtype=tflite.info.input.dtype,
        output_dtype=tflite.info.output.dtype, ops=tflite.info.ops, evaluation=litert.mode, firmware=firmware)


def build_all(config: RunConfig, specs: Specs, model: LoadedModel, data: SplitDataset, staging: Path,
              timings: Any) -> list[VariantReport]:
    """Reference row first, then one row per TFLite variant."""
    with timings.phase("evaluate"):
        reports = [evaluate_keras(model, specs, data)]
    writer = VariantWriter(config, specs, model.path.name, staging)
    comparing = len(config.quantizations) > 1  # -q all: one type failing must not stop the others
    for recipe in recipes_for(config.quantizations):
        log.info("converting %s", recipe.name)
        try:
            reports.append(build_variant(recipe, config, specs, model, data, writer, timings))
        except ModelError as exc:
            if not comparing or recipe.quantization is Quantization.NONE:
                raise
            log.warning("warning: %s skipped: %s", recipe.name, exc.problem)
            reports.append(_failed_row(recipe, exc))
    return reports

"""Builds, measures and writes every variant of a run. Imports TensorFlow (pipeline.py defers it)."""
from __future__ import annotations

import logging
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from helpers.artifacts import FirmwareFacts, exported_specs, render_firmware, template_context
from helpers.config import Quantization, RunConfig
from helpers.errors import ModelError
from helpers.convert import TfliteModel, convert
from helpers.dataset import SplitDataset
from helpers.evaluate import LiteRtRunner
from helpers.identifiers import identifier
from helpers.metrics import compute_metrics
from helpers.model_io import LoadedModel, load_model
from helpers.native_output import set_verbose
from helpers.report import VariantReport
from helpers.specs import Specs
from helpers.tf_runtime import quiet_tensorflow, seed_everything
from helpers.variants import recipes_for

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


def evaluate_tflite(tflite: TfliteModel, specs: Specs, data: SplitDataset) -> tuple[dict[str, float], str, np.ndarray]:
    """Metrics on the evaluation rows with LiteRT, how they were run, and the raw outputs."""
    runner = LiteRtRunner(tflite.content, tflite.info.input, tflite.info.output)
    outputs = runner.run(data.evaluation.x)
    mode = f"litert batch {256 if runner.batched else 1}"
    return compute_metrics(outputs, data.evaluation.y, specs), mode, outputs


def write_variant(folder: Path, specs: Specs, tflite: TfliteModel, facts: FirmwareFacts, export: bool,
                  source: str, extra_specs: dict[str, Any]) -> None:
    """model.tflite always; with -e the C array, the MicroPython module and specs.json."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.tflite").write_bytes(tflite.content)
    if not export:
        return
    context = template_context(specs, tflite, facts, identifier(specs.name), source)
    for rendered in render_firmware(context):
        (folder / rendered.filename).write_text(rendered.text, encoding="utf-8")
    (folder / "specs.json").write_text(exported_specs(specs, tflite, facts, extra_specs), encoding="utf-8")


def build_all(config: RunConfig, specs: Specs, model: LoadedModel, data: SplitDataset, staging: Path,
              timings: Any) -> list[VariantReport]:
    """Reference row first, then one row per TFLite variant."""
    with timings.phase("evaluate"):
        reports = [evaluate_keras(model, specs, data)]
    source = model.path.name
    comparing = len(config.quantizations) > 1  # -q all: one type failing must not stop the others
    for recipe in recipes_for(config.quantizations):
        log.info("converting %s", recipe.name)
        try:
            with timings.phase("convert"):
                tflite = convert(model, specs, recipe, data.calibration.x)
        except ModelError as exc:
            if not comparing or recipe.quantization is Quantization.NONE:
                raise
            log.warning("warning: %s skipped: %s", recipe.name, exc.problem)
            reports.append(VariantReport(name=recipe.name, path=None, format="tflite",
                                         quantization=recipe.quantization.value, pruned=False, qat=False,
                                         metrics={}, size_bytes=None, error=exc.one_line()))
            continue
        with timings.phase("evaluate"):
            metrics, mode, _ = evaluate_tflite(tflite, specs, data)
        facts = FirmwareFacts()
        with timings.phase("render"):
            write_variant(staging / recipe.name, specs, tflite, facts, config.export, source, {})
        reports.append(VariantReport(
            name=recipe.name, path=recipe.name, format="tflite", quantization=recipe.quantization.value,
            pruned=False, qat=False, metrics=metrics, size_bytes=tflite.size_bytes,
            compressed_size_bytes=compressed_size(tflite.content), input_dtype=tflite.info.input.dtype,
            output_dtype=tflite.info.output.dtype, ops=tflite.info.ops, evaluation=mode))
        log.info("%s: %d bytes, %s", recipe.name, tflite.size_bytes, metrics)
    return reports

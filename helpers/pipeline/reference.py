"""The model as loaded: the reference row everything is compared against, the optimized Keras
row, and what the firmware must feed for ONNX/PyTorch models. Imports TensorFlow."""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from helpers.config import RunConfig
from helpers.core.dataset import SplitDataset
from helpers.core.details import Optimization
from helpers.core.results import VariantReport
from helpers.core.specs import Specs
from helpers.errors import ConfigError
from helpers.frontend import onnx_torch
from helpers.frontend.model_loader import FOREIGN_FORMATS, LoadedModel, ModelFormat, find_model, load_model
from helpers.frontend.optimize import OptimizedModel
from helpers.frontend.tf_runtime import freeze_loaded_objects
from helpers.measure.metrics import compute_metrics

log = logging.getLogger("mcu_deploy")

# A float32 TFLite further than this (relative to the reference's output range) from the original gets a warning.
REFERENCE_TOLERANCE = 1e-4


def load(model_dir: Path, specs: Specs, config: RunConfig) -> LoadedModel:
    """Load the model (frontend/ owns the formats); refuse Keras-only flags for ONNX/PyTorch first.

    What is alive once the model is loaded is frozen, so that the garbage collection after every
    conversion stays cheap (frontend/tf_runtime.freeze_loaded_objects)."""
    path, model_format = find_model(model_dir)
    optimizing = [flag for flag, on in (("--prune", config.prune), ("--cluster", config.cluster),
                                        ("--QAT", config.qat)) if on]
    if specs.multi_io and optimizing:
        raise ConfigError(f"{', '.join(optimizing)} cannot fine-tune a model with several inputs or outputs yet",
                          "use --PTQ, or optimize the model in Keras before export")
    if model_format in FOREIGN_FORMATS:
        flags = [flag for flag, on in (("--prune", config.prune), ("--cluster", config.cluster),
                                       ("--QAT", config.qat)) if on]
        if flags:
            raise ConfigError(f"{', '.join(flags)} {'needs' if len(flags) == 1 else 'need'} a Keras model, and "
                              f"{path.name} is {'ONNX' if model_format is ModelFormat.ONNX else 'PyTorch'}",
                              "use --PTQ, or optimize the model in its own framework before export")
    model = load_model(model_dir, specs, config.keep_layout, config.trust_model_code)
    freeze_loaded_objects()
    return model


def in_model_layout(model: LoadedModel, data: SplitDataset) -> SplitDataset:
    """The rows as the converted model takes them (channels-last after onnx2tf, unless --keep_layout)."""
    if not model.transposes_input:
        return data
    return data.with_features(model.to_model_layout)


def reference_row(model: LoadedModel, specs: Specs, data: SplitDataset) -> tuple[VariantReport, np.ndarray | None]:
    """The reference row, with its outputs where float32 is compared against them: the Keras model
    (no outputs needed), or for ONNX/PyTorch the original model run by onnxruntime/PyTorch on the
    rows in their original layout."""
    if not model.is_foreign:
        return keras_row(model, specs, data), None
    name, outputs = onnx_torch.reference_outputs(model.path, model.onnx_path or model.path, data.evaluation.x)
    report = VariantReport(name=name, path=None, format=name, quantization="None", pruned=False, qat=False,
                           metrics=compute_metrics(outputs, data.evaluation.y, specs), size_bytes=None,
                           evaluation=f"{name} (the original model)")
    return report, outputs


def keras_row(model: LoadedModel, specs: Specs, data: SplitDataset,
              optimized: OptimizedModel | None = None) -> VariantReport:
    """A Keras row: the reference model itself, or the optimized Keras model, on the evaluation rows."""
    outputs = model.predict(data.evaluation.x)
    lineage = optimized.lineage if optimized else None
    return VariantReport(name=lineage.keras_name() if lineage else "keras", path=None, format="keras",
                         quantization="None", pruned=bool(lineage and lineage.pruned),
                         qat=bool(lineage and lineage.qat), clustered=bool(lineage and lineage.clustered),
                         metrics=compute_metrics(outputs, data.evaluation.y, specs), size_bytes=None,
                         evaluation="keras (float32)",
                         optimization=optimized.details() if optimized else Optimization())


def layout_details(model: LoadedModel, specs: Specs) -> dict[str, Any]:
    """What the firmware must feed, for models whose layout the converter changed (or kept)."""
    if not model.is_foreign:
        return {}
    transposed = model.transposes_input
    return {"firmware_shape": list(model.input_shape), "specs_shape": list(specs.input.shape),
            "permutation": list(model.permutation), "channels_last": transposed,
            "note": (f"onnx2tf made the model channels-last: feed values as {list(model.input_shape)}, the specs "
                     f"layout {list(specs.input.shape)} with its axes in the order {list(model.permutation)}")
            if transposed else f"the model keeps the original layout: feed values as {list(specs.input.shape)}"}


def with_reference_difference(report: VariantReport, outputs: np.ndarray | None,
                              reference: np.ndarray) -> VariantReport:
    """float32 against the original model: the conversion itself should change (almost) nothing."""
    if outputs is None:
        return report
    got = outputs.reshape(len(reference), -1)
    expected = reference.reshape(len(reference), -1)
    difference = float(np.max(np.abs(got - expected)))
    span = float(np.max(expected) - np.min(expected)) or 1.0
    if difference / span > REFERENCE_TOLERANCE:
        log.warning("warning: float32 TFLite differs from the original model by %.3g (%.2g of its output "
                    "range); check the conversion", difference, difference / span)
    return replace(report, reference_difference={"max_abs": difference, "relative_to_range": difference / span,
                                                 "tolerance": REFERENCE_TOLERANCE})

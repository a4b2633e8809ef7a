"""Writes one variant's folder: model.tflite always; with -e the firmware artifacts and their toolchain checks."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers import plots
from helpers.artifacts import (
    FirmwareFacts,
    exported_specs,
    render_firmware,
    render_not_for_mcu,
    template_context,
)
from helpers.config import RunConfig
from helpers.convert import TfliteModel
from helpers.firmware import run_toolchain_checks
from helpers.identifiers import identifier
from helpers.quant_debug import RMSE_SCALE_THRESHOLD, LayerErrors
from helpers.specs import Specs


class VariantWriter:
    """Writes one variant's folder: model.tflite always, the firmware files with -e."""

    def __init__(self, config: RunConfig, specs: Specs, source: str, staging: Path,
                 layout: dict[str, Any] | None = None) -> None:
        self.layout = layout or {}
        self.config = config
        self.specs = specs
        self.source = source
        self.staging = staging
        self.model_id = identifier(specs.name)

    def write_layer_errors(self, variant: str, errors: LayerErrors) -> None:
        """<variant>/layer_errors.csv and its plot."""
        folder = self.staging / variant
        folder.mkdir(parents=True, exist_ok=True)
        errors.table.to_csv(folder / "layer_errors.csv", index=False, float_format="%.6g")
        plots.layer_errors(errors.table["op_name"].tolist(), errors.table["tensor_name"].tolist(), errors.table["rmse/scale"].tolist(),
                           RMSE_SCALE_THRESHOLD, f"{self.specs.name}, {variant}: quantization error per layer",
                           folder / "layer_errors.png")

    def write(self, tflite: TfliteModel, facts: FirmwareFacts) -> dict[str, Any]:
        """Write the files; returns what the toolchain checks measured on them."""
        folder = self.staging / tflite.recipe.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.tflite").write_bytes(tflite.content)
        if not self.config.export:
            return {}
        extra = {"input_layout": self.layout} if self.layout else {}
        (folder / "specs.json").write_text(exported_specs(self.specs, tflite, facts, extra), encoding="utf-8")
        if not facts.tflm_runnable:  # never hand out firmware that cannot run
            rendered = render_not_for_mcu(self.specs, tflite, facts.tflm_reason)
            (folder / rendered.filename).write_text(rendered.text, encoding="utf-8")
            return {}
        context = template_context(self.specs, tflite, facts, self.model_id, self.source, self.layout)
        for rendered in render_firmware(context, checked=facts.tflm_checked):
            (folder / rendered.filename).write_text(rendered.text, encoding="utf-8")
        if self.config.skip_firmware_checks:
            return {}
        return run_toolchain_checks(folder, self.model_id)

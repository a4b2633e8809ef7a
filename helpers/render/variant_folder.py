"""Writes one variant's folder: model.tflite always; with -e the specs, the firmware files (or
NOT_FOR_MCU.md when TFLM cannot run it); and the quantization debugger's per-layer table."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.core.specs import Specs
from helpers.core.variant import TfliteModel
from helpers.measure.variant import TflmVerdict
from helpers.micropython.emit import render_infer_py
from helpers.lowering.graph import Unsupported, read_graph
from helpers.lowering.lower import lower
from helpers.lowering.program import Program
from helpers.render.codegen import Rendered
from helpers.render.firmware_files import (
    render_firmware,
    render_model_data_h,
    render_not_for_mcu,
    render_specs_json,
    render_targets_md,
    template_context,
)
from helpers.render.identifiers import identifier


@dataclass(frozen=True)
class FolderSettings:
    """What every variant folder of a run shares."""

    export_firmware: bool          # -e
    source: str                    # the model file's name, quoted in generated headers
    layout: dict[str, Any]         # ONNX/PyTorch input layout for the firmware ({} for Keras)
    evaluation_rows: int | None = None  # how many the test data could have held (named in its comment)


def _write(folder: Path, files: list[Rendered]) -> None:
    for rendered in files:
        (folder / rendered.filename).write_text(rendered.text, encoding="utf-8")


@dataclass(frozen=True)
class EngineWritten:
    """The MicroPython engine module of a variant: its lowered program and file, or why there is none."""

    program: Program | None
    module: Path | None = None
    reason: str | None = None


@dataclass(frozen=True)
class FirmwareFolder:
    """A variant folder that holds firmware files (for the toolchain checks) and its engine."""

    path: Path
    engine: EngineWritten


def _engine(context: dict[str, Any], tflite: TfliteModel, folder: Path) -> tuple[list[Rendered], EngineWritten]:
    """<id>_infer.py, the model's inference in MicroPython, or (an op outside the engine) the reason."""
    try:
        program = lower(read_graph(tflite.content))
    except Unsupported as exc:
        return [], EngineWritten(program=None, reason=str(exc))
    rendered = render_infer_py(program, context)
    return [rendered], EngineWritten(program=program, module=folder / rendered.filename)


def write_variant_folder(staging: Path, specs: Specs, tflite: TfliteModel, tflm: TflmVerdict,
                         settings: FolderSettings) -> FirmwareFolder | None:
    """Write the folder; returns it when firmware files were written (for the toolchain checks),
    with the MicroPython engine beside them."""
    folder = staging / tflite.plan.name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.tflite").write_bytes(tflite.content)
    if not settings.export_firmware:
        return None
    extra = {"input_layout": settings.layout} if settings.layout else {}
    files = [render_specs_json(specs, tflite, tflm, extra)]
    if not tflm.gets_firmware:  # never hand out firmware that cannot run
        _write(folder, files + [render_not_for_mcu(specs, tflite, tflm.reason)])
        return None
    context = template_context(specs, tflite, tflm, identifier(specs.name), settings.source, settings.layout,
                               settings.evaluation_rows)
    engine_files, engine = _engine(context, tflite, folder)
    _write(folder, files + render_firmware(context, checked=tflm.checked) + engine_files)
    return FirmwareFolder(path=folder, engine=engine)


def write_target_verdicts(folder: Path, specs: Specs, tflite: TfliteModel, tflm: TflmVerdict,
                          settings: FolderSettings, results: tuple[Any, ...], revision: str) -> None:
    """After the targets ran: the header and specs.json again (their arena now derived from a
    target's figure), TARGETS.md with every target's verdict; and where the verdict took the
    firmware away (`tflm` not runnable: every target tried failed), NOT_FOR_MCU.md in place of the
    firmware files."""
    context = template_context(specs, tflite, tflm, identifier(specs.name), settings.source, settings.layout,
                               settings.evaluation_rows)
    extra = {"input_layout": settings.layout} if settings.layout else {}
    if not tflm.gets_firmware:
        for rendered in render_firmware(context, checked=True):
            (folder / rendered.filename).unlink(missing_ok=True)
        for leftover in [*folder.glob("*.mpy"), *folder.glob("*_infer.py")]:
            leftover.unlink()
        _write(folder, [render_specs_json(specs, tflite, tflm, extra), render_not_for_mcu(specs, tflite, tflm.reason),
                        render_targets_md(context, results, revision)])
        return
    _write(folder, [render_model_data_h(context), render_specs_json(specs, tflite, tflm, extra),
                    render_targets_md(context, results, revision)])


def write_layer_errors(staging: Path, variant: str, table: pd.DataFrame, threshold: float, title: str) -> None:
    """<variant>/layer_errors.csv and its plot."""
    from helpers.render import plots  # matplotlib: only when the debugger ran

    folder = staging / variant
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "layer_errors.csv", index=False, float_format="%.6g")
    plots.layer_errors(table["op_name"].tolist(), table["tensor_name"].tolist(), table["rmse/scale"].tolist(),
                       threshold, title, folder / "layer_errors.png")

"""One variant's folder as a function of typed inputs: model.tflite always; with -e the specs, the
firmware files and the MicroPython engine (or NOT_FOR_MCU.md when TFLM cannot run the variant),
and TARGETS.md once targets ran. `render_folder` builds the content in memory; `write_folder`
writes it, once, after every check has run on a scratch copy."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.core.checks import PackageResult
from helpers.core.kernel_choice import KernelChoice
from helpers.core.specs import Specs
from helpers.core.variant import TfliteModel
from helpers.emit.c_engine import CEngine, NotInCEngine, c_engine, render_engine_c, render_engine_files
from helpers.emit.codegen import Rendered
from helpers.emit.identifiers import identifier
from helpers.emit.micropython import render_infer_py
from helpers.emit.micropython_native import native_step_count
from helpers.emit.native_model import NativeModel, native_model
from helpers.lowering.lower import Lowered
from helpers.measure.variant import TflmVerdict
from helpers.render.firmware_files import (
    render_firmware,
    render_not_for_mcu,
    render_specs_json,
    render_targets_md,
    template_context,
)


@dataclass(frozen=True)
class FolderSettings:
    """What every variant folder of a run shares."""

    export_firmware: bool          # -e
    source: str                    # the model file's name, quoted in generated headers
    layout: dict[str, Any]         # ONNX/PyTorch input layout for the firmware ({} for Keras)
    evaluation_rows: int | None = None  # how many the test data could have held (named in its comment)
    tflm_root: Path | None = None  # the TFLM tree whose CMSIS-NN the C engine is built with (None: none given)
    cmsis_nn_revision: str = "unknown"
    packages: tuple[str, ...] = ()  # --package: the build systems the C engine is packaged for


@dataclass(frozen=True)
class TargetsSeen:
    """The targets' verdicts on the self-test, for TARGETS.md (empty: no targets ran)."""

    results: tuple[Any, ...] = ()
    revision: str = ""
    engine_results: tuple[Any, ...] = ()  # the C engine's self-test per target
    kernel_choice: KernelChoice | None = None  # the engine's kernels per layer, as measured on an Armv7E-M target
    kernel_choice_v6m: KernelChoice | None = None  # and on an Armv6-M one


@dataclass(frozen=True)
class FolderContent:
    """Every file of a variant's folder, in memory."""

    name: str                              # the folder's name: the variant's
    texts: tuple[Rendered, ...]
    binaries: tuple[tuple[str, bytes], ...]
    model_id: str
    firmware: bool                         # the firmware files are among the texts
    engine_module: str | None = None       # <id>_infer.py, when the engine is among them
    c_engine: CEngine | None = None        # the C engine, when its files are among them
    c_engine_reason: str | None = None     # why there is none
    packages: tuple[PackageResult, ...] = ()  # the C engine's packages among the texts (packages/<system>/)
    native_model: NativeModel | None = None  # the C engine as a MicroPython native module (its sources among the texts)
    native_model_reason: str | None = None   # why there is none

    def with_binaries(self, extra: tuple[tuple[str, bytes], ...]) -> "FolderContent":
        return replace(self, binaries=self.binaries + extra)


def render_folder(specs: Specs, tflite: TfliteModel, tflm: TflmVerdict, settings: FolderSettings,
                  engine: Lowered, targets: TargetsSeen = TargetsSeen()) -> FolderContent:
    """The folder's content for this verdict (its arena, whether TFLM runs it) and these targets."""
    model_id = identifier(specs.name)
    content = FolderContent(name=tflite.plan.name, texts=(), binaries=(("model.tflite", tflite.content),),
                            model_id=model_id, firmware=False)
    if not settings.export_firmware:
        return content
    extra = {"input_layout": settings.layout} if settings.layout else {}
    texts = [render_specs_json(specs, tflite, tflm, extra)]
    if not tflm.gets_firmware:  # never hand out firmware that cannot run
        texts.append(render_not_for_mcu(specs, tflite, tflm.reason))
        return replace(content, texts=tuple(texts))
    context = template_context(specs, tflite, tflm, model_id, settings.source, settings.layout,
                               settings.evaluation_rows)
    texts += render_firmware(context, checked=tflm.checked)
    module, c_files, c_reason = None, None, engine.reason
    packages: tuple[PackageResult, ...] = ()
    native: NativeModel | None = None
    native_reason: str | None = "the model has no MicroPython engine"
    if engine.program is not None:
        native_reason = "the model has no C engine"
        try:
            c_files = c_engine(engine.program, _engine_context(context, settings, targets), settings.cmsis_nn_revision,
                               targets.kernel_choice, targets.kernel_choice_v6m)
        except NotInCEngine as error:
            c_reason = f"{error} is not in the C engine"
        else:
            source = render_engine_c(c_files)
            texts += render_engine_files(c_files, source, _cmsis_sources(settings, c_files, source.text),
                                         checked=tflm.checked)
            native, native_reason = native_model(c_files, source, native_step_count(engine.program))
            texts += native.files if native is not None else ()
            # a package carries the self-test, which needs TFLM's outputs; and CMSIS-NN from the tree
            if settings.packages and tflm.checked and settings.tflm_root is not None:
                from helpers.packages.folder import engine_packages

                package_files, packages = engine_packages(c_files, source, texts, settings.tflm_root,
                                                          settings.packages)
                texts += package_files
        rendered = render_infer_py(engine.program, {**context, "native_model": native,
                                                    "native_model_reason": native_reason})
        texts.append(rendered)
        module = rendered.filename
    if targets.results:
        texts.append(render_targets_md(context, targets.results, targets.revision, targets.engine_results))
    return replace(content, texts=tuple(texts), firmware=True, engine_module=module, c_engine=c_files,
                   c_engine_reason=c_reason, packages=packages,
                   native_model=native, native_model_reason=native_reason)


def _engine_context(context: dict[str, Any], settings: FolderSettings, targets: TargetsSeen) -> dict[str, Any]:
    """The firmware context plus where the C engine was proven (its header says so)."""
    passed = [r.target for r in targets.engine_results if r.passed]
    return {**context, "engine_checked_on": passed, "tflm_given": settings.tflm_root is not None}


def _cmsis_sources(settings: FolderSettings, engine: CEngine, source_text: str) -> tuple[str, ...]:
    """The CMSIS-NN sources the engine's calls reach (empty without a tree: the fragments then glob)."""
    if settings.tflm_root is None or not engine.uses_cmsis:
        return ()
    from helpers.targets.cmsis_sources import needed_sources

    return needed_sources(settings.tflm_root, source_text)


def write_folder(parent: Path, content: FolderContent) -> Path:
    """Write the content into parent/<variant>/; each file exactly once."""
    folder = parent / content.name
    folder.mkdir(parents=True, exist_ok=True)  # the debugger's layer_errors may already be there
    for filename, data in content.binaries:
        (folder / filename).write_bytes(data)
    for rendered in content.texts:
        path = folder / rendered.filename
        if "/" in rendered.filename:  # a package's files: packages/<system>/...
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered.text, encoding="utf-8")
    return folder


def write_layer_errors(staging: Path, variant: str, table: pd.DataFrame, threshold: float, title: str) -> None:
    """<variant>/layer_errors.csv and its plot."""
    from helpers.render import plots  # matplotlib: only when the debugger ran

    folder = staging / variant
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "layer_errors.csv", index=False, float_format="%.6g")
    plots.layer_errors(table["op_name"].tolist(), table["tensor_name"].tolist(), table["rmse/scale"].tolist(),
                       threshold, title, folder / "layer_errors.png")

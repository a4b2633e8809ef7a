"""A variant's packages from its rendered folder: the inputs gathered from the texts already
rendered (the engine, the test data, the model data), the packages laid out, and each one checked
against its format's rules in memory, for the report."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from helpers.core.checks import PackageResult, Status
from helpers.emit.c_engine import CEngine, render_engine_h, render_engine_selftest_function
from helpers.emit.codegen import Rendered
from helpers.packages.cmsis_copy import NO_CMSIS, cmsis_copy
from helpers.packages.layout import Package, PackageInputs, render_packages
from helpers.packages.validate import validate

BUILD_REASON = ("the run writes packages and checks their manifests, it builds none; CI builds the CMake "
                "package and the Arduino library for a Cortex-M4 and runs their self-test under QEMU "
                "(tests/e2e/test_packages.py)")


def package_inputs(engine: CEngine, source: Rendered, texts: Sequence[Rendered], tflm_root: Path) -> PackageInputs:
    """The packages' inputs: `source` is the rendered <id>_engine.c, `texts` the folder's other files."""
    model_id = engine.context["id"]
    by_name = {r.filename: r for r in texts}
    return PackageInputs(context=engine.context, engine_h=render_engine_h(engine), engine_c=source,
                         selftest_c=render_engine_selftest_function(engine),
                         test_data_h=by_name[f"{model_id}_test_data.h"],
                         model_data_h=by_name[f"{model_id}_model_data.h"],
                         model_data_c=by_name[f"{model_id}_model_data.c"],
                         cmsis=cmsis_copy(tflm_root, source.text) if engine.uses_cmsis else NO_CMSIS)


def package_result(package: Package) -> PackageResult:
    """What the report says of one package: its size, its manifests' verdict, and that it was not built."""
    files = {f.filename: f.text for f in package.files}
    problems = validate(package.system, files)
    return PackageResult(system=package.system, folder=package.folder, files=len(files),
                         bytes=sum(len(text.encode("utf-8")) for text in files.values()),
                         cmsis_nn_sources=sum(1 for name in files if name.startswith("src/cmsis_nn/Source/")
                                              and name.endswith(".c")),
                         manifest=Status.FAIL if problems else Status.PASS, problems=problems,
                         build=Status.NOT_CHECKED, build_reason=BUILD_REASON)


def engine_packages(engine: CEngine, source: Rendered, texts: Sequence[Rendered], tflm_root: Path,
                    systems: tuple[str, ...]) -> tuple[tuple[Rendered, ...], tuple[PackageResult, ...]]:
    """Every package's files (paths inside the variant's folder) and what the report says of each."""
    packages = render_packages(package_inputs(engine, source, texts, tflm_root), systems)
    return (tuple(r for package in packages for r in package.rendered()),
            tuple(package_result(package) for package in packages))

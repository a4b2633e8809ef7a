"""core/, measure/ and render/ must import without TensorFlow (and without matplotlib, which
only render/plots.py loads, lazily): checked in a fresh process, so nothing imported earlier hides it."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

TF_FREE_PACKAGES = ("helpers.core", "helpers.measure", "helpers.render", "helpers.targets", "helpers.micropython",
                    "helpers.lowering", "helpers.emit", "helpers.rewrite", "helpers.config", "helpers.errors",
                    "helpers.fetch")
FORBIDDEN = ("tensorflow", "tf_keras", "keras", "tensorflow_model_optimization", "matplotlib", "torch", "onnx")


def _modules_after_importing(modules: list[str]) -> set[str]:
    code = ("import importlib, json, pkgutil, sys\n"
            f"for name in {modules!r}:\n"
            "    module = importlib.import_module(name)\n"
            "    for info in pkgutil.walk_packages(getattr(module, '__path__', []), name + '.'):\n"
            "        if info.name != 'helpers.render.plots':\n"
            "            importlib.import_module(info.name)\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_spine_measure_and_render_never_import_tensorflow_or_matplotlib():
    loaded = _modules_after_importing(list(TF_FREE_PACKAGES))
    assert "helpers.measure.tflm" in loaded and "helpers.render.firmware_files" in loaded  # really imported
    offending = sorted(m for m in loaded if m.split(".")[0] in FORBIDDEN)
    assert not offending, f"imported: {offending[:10]}"


def test_the_check_would_see_tensorflow():
    # The same probe on a package that does import TensorFlow must report it, or the test above proves nothing.
    loaded = _modules_after_importing(["helpers.frontend.tf_runtime"])
    assert "tensorflow" in loaded


def test_the_pipeline_leaves_tfmot_keras3_and_sklearn_to_the_runs_that_use_them():
    # tensorflow_model_optimization imports Keras 3 and, through keras.wrappers, scikit-learn: about 2 s
    # of CPU, which only --prune, --cluster and --QAT need (optimize.py imports it on first use).
    code = ("import json, sys\nimport helpers.pipeline.run, helpers.pipeline.build, helpers.frontend.optimize\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert "tensorflow" in loaded  # really imported
    assert not loaded & {"tensorflow_model_optimization", "keras", "sklearn"}

"""TFLM LUT compression of clustered weights: smaller, and exactly the same answers on TFLM."""
from __future__ import annotations

import json
import re

import pytest

from helpers.convert.lut_compression import plan_compression, why_not
from helpers.emit.identifiers import identifier
from tests.conftest import run_main


@pytest.fixture(scope="module")
def clustered_mlp(digits_mlp_dir, tmp_path_factory):
    export = tmp_path_factory.mktemp("lut") / "out"
    result = run_main("--input_dir", str(digits_mlp_dir), "--cluster", "16", "--PTQ", "-q", "int8", "-e",
                      "--export_dir", str(export))
    assert result.returncode == 0, result.stderr
    return export, {v["name"]: v for v in json.loads((export / "report.json").read_text())["variants"]}


def test_compressed_variant_is_smaller_with_identical_tflm_outputs(clustered_mlp):
    export, variants = clustered_mlp
    base, lut = variants["clustered_int8"], variants["clustered_int8_lut4"]
    assert lut["size_bytes"] < base["size_bytes"] * 0.8
    details = lut["compression"]
    assert details["applied"] and details["bits"] == 4 and details["base_variant"] == "clustered_int8"
    assert details["tflm_outputs_identical_to_base"] is True
    assert details["saving_bytes"] == base["size_bytes"] - lut["size_bytes"]
    assert lut["metrics"] == base["metrics"]
    assert lut["firmware"]["tflm_runnable"] is True
    assert "TFLM_DECODE" in lut["ops"] or "TFLM_DECODE" in json.loads(
        (export / "clustered_int8_lut4" / "specs.json").read_text())["tflite_ops"]


def test_compressed_variant_gets_every_artifact_and_the_decode_op(clustered_mlp):
    export, _ = clustered_mlp
    stem = identifier("digits_mlp")
    folder = export / "clustered_int8_lut4"
    for name in (f"{stem}_model_data.h", f"{stem}_model_data.c", f"{stem}_model.py", f"{stem}_model.mpy",
                 f"{stem}_op_resolver.h", f"{stem}_test_data.h", "main.cc", "specs.json"):
        assert (folder / name).is_file(), name
    resolver = (folder / f"{stem}_op_resolver.h").read_text()
    assert "resolver.AddDecode()" in resolver and "USE_TFLM_COMPRESSION" in resolver
    assert sorted(re.findall(r"resolver\.(Add\w+)\(\)", resolver)) == ["AddDecode", "AddFullyConnected", "AddSoftmax"]


def test_a_tensor_with_too_many_unique_values_is_left_uncompressed_and_listed(clustered_mlp):
    export, _ = clustered_mlp
    content = (export / "clustered_int8" / "model.tflite").read_bytes()
    plan = plan_compression(content, 4)  # 2-bit tables: the 16-centroid kernels do not fit
    assert plan.bits == 2 and not plan.compressed
    assert all("> 4" in t.reason for t in plan.skipped) and len(plan.skipped) == 3


def test_where_compression_cannot_help_the_report_says_so(clustered_mlp):
    _, variants = clustered_mlp
    assert "only integer" in variants["clustered_float32"]["compression"]["reason"]
    assert "not clustered" in variants["float32"]["compression"]["reason"]
    assert "save little" in why_not(32, True)


class _StubRunner:
    """Just what lut_twin reads of a VariantRunner; `measure` answers with the outputs given."""

    def __init__(self, twin_outputs):
        from types import SimpleNamespace

        from helpers.core.timings import Timings

        self.config = SimpleNamespace(cluster=16, skip_firmware_checks=False)
        self.timings = Timings()
        self.twin_outputs = twin_outputs
        self.rendered = []

    def measure(self, tflite):
        from helpers.measure.variant import Measurement, TflmVerdict

        return Measurement(metrics={"accuracy": 0.5}, evaluation="tflm", outputs=None,
                           tflm=TflmVerdict(runnable=True, raw_outputs=self.twin_outputs))

    def render(self, tflite, measurement):
        from helpers.pipeline.rows import RenderOutcome

        self.rendered.append(tflite.plan.name)
        return RenderOutcome(), measurement


def _base(export):
    import numpy as np

    from helpers.core.flatbuffer import inspect_tflite
    from helpers.core.quantization import Quantization
    from helpers.core.results import VariantReport
    from helpers.core.variant import Lineage, TfliteModel, converted_plan
    from helpers.measure.variant import Measurement, TflmVerdict
    from helpers.pipeline.variants import VariantResult

    content = (export / "clustered_int8" / "model.tflite").read_bytes()
    tflite = TfliteModel(converted_plan(Quantization.INT8, Lineage(clustered=True)), content, inspect_tflite(content))
    outputs = np.arange(30, dtype=np.int8).reshape(3, 10)
    report = VariantReport(name="clustered_int8", path="clustered_int8", format="tflite", quantization="int8",
                           pruned=False, qat=False, metrics={}, size_bytes=len(content), clustered=True)
    return VariantResult(report, tflite, Measurement({}, "litert", None, TflmVerdict(runnable=True,
                                                                                      raw_outputs=outputs))), outputs


def test_lut_twin_is_emitted_only_when_tflm_outputs_are_identical(clustered_mlp):
    from helpers.pipeline.twins import lut_twin

    export, _ = clustered_mlp
    base, outputs = _base(export)
    differing = outputs.copy()
    differing[1, 3] += 1
    runner = _StubRunner(differing)
    block, twin = lut_twin(runner, base, None)
    assert twin is not None and twin.report.error and "not lossless" in twin.report.error
    assert "1 evaluation rows" in block.reason and runner.rendered == []  # nothing of it written
    runner = _StubRunner(None)  # TFLM could not run the twin: not proven, not emitted
    block, twin = lut_twin(runner, base, None)
    assert twin.report.error and runner.rendered == []
    runner = _StubRunner(outputs.copy())
    block, twin = lut_twin(runner, base, None)
    assert twin.report.error is None and runner.rendered == ["clustered_int8_lut4"]
    assert twin.report.compression.to_dict()["tflm_outputs_identical_to_base"] is True

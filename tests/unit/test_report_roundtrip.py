"""report.json read back into typed values and written again gives the same text: the keys and
values of reports written before the results became typed (tests/golden/reports: the digits CNN
`-q all -e` on the host target, and `--prune --sparsity auto --cluster 16 --strip -q int8 -e`)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.core.checks import Status
from helpers.core.details import CompressedTwin, LeftUncompressed, LutCompressed, NotApplied, compression_from_dict
from helpers.core.results import RunReport

REPORTS = Path(__file__).resolve().parent.parent / "golden" / "reports"


@pytest.mark.parametrize("name", ["digits_targets.json", "digits_optimized.json", "digits_c_engine.json"])
def test_a_report_reads_back_and_writes_the_same_text(name):
    text = (REPORTS / name).read_text()
    report = RunReport.from_json(text)
    assert report.to_json() == text
    assert all(not isinstance(v.optimization, dict) for v in report.variants)


def test_typed_values_come_back():
    report = RunReport.from_json((REPORTS / "digits_targets.json").read_text())
    int8 = next(v for v in report.variants if v.name == "int8")
    host = int8.firmware.target("host")
    assert host is not None and host.status is Status.PASS and host.vectors
    assert int8.firmware.micropython.status is Status.PASS and int8.firmware.micropython.mismatched_rows == 0
    assert int8.weights.sparsity >= 0 and int8.bytes.total == int8.size_bytes
    optimized = RunReport.from_json((REPORTS / "digits_optimized.json").read_text())
    pruning = optimized.sparsity_search()
    assert pruning is not None and pruning.search and pruning.final_sparsity in [c.sparsity for c in pruning.search]
    stripped = next(v for v in optimized.variants if v.name == "pruned_clustered_int8").strip
    assert stripped.bytes_after < stripped.bytes_before


def test_the_old_target_status_reads_as_not_checked():
    data = json.loads((REPORTS / "digits_targets.json").read_text())
    int8 = next(v for v in data["variants"] if v["name"] == "int8")
    int8["firmware"]["targets"]["host"]["status"] = "not_run"
    report = RunReport.from_json(json.dumps(data))
    assert next(v for v in report.variants if v.name == "int8").firmware.target("host").status is Status.NOT_CHECKED


@pytest.mark.parametrize("block", [
    LutCompressed(base_variant="clustered_int8", bits=4, effective_bits_per_weight=4.6, saving_bytes=900,
                  saving_fraction=0.3, compressed_tensors=("dense/kernel",),
                  left_uncompressed=(LeftUncompressed(tensor="conv/kernel", reason="17 values"),)),
    LutCompressed(base_variant="b", bits=2, effective_bits_per_weight=None, saving_bytes=1, saving_fraction=0.0,
                  compressed_tensors=(), left_uncompressed=()),
    CompressedTwin(compressed_variant="clustered_int8_lut4"),
    NotApplied(reason="only integer variants are LUT-compressed"),
])
def test_compression_blocks_round_trip(block):
    data = block.to_dict()
    assert compression_from_dict(json.loads(json.dumps(data))) == block
    assert data["applied"] is isinstance(block, LutCompressed)


def test_the_op_placement_table_reads_back_and_reaches_report_md():
    from dataclasses import replace

    from helpers.core.checks import OpPlacement
    from helpers.render.report_text import format_markdown

    report = RunReport.from_json((REPORTS / "digits_targets.json").read_text())
    table = (OpPlacement("CONV_2D", 2, "cmsis-nn", "cmsis-nn", "native"),
             OpPlacement("HARD_SWISH", 1, "reference", "own kernel", "viper"))
    variants = tuple(replace(v, firmware=replace(v.firmware, ops_placement=table)) if v.name == "int8" else v
                     for v in report.variants)
    placed = replace(report, variants=variants)
    again = RunReport.from_json(placed.to_json())
    assert next(v for v in again.variants if v.name == "int8").firmware.ops_placement == table
    text = format_markdown(again, [])
    assert "## Where each op runs" in text and "| HARD_SWISH | 1 | reference | own kernel | viper |" in text


def test_rewrites_round_trip_and_are_said_in_the_table_and_report_md():
    from dataclasses import replace

    from helpers.core.rewrites import Rewrite, RewriteStage
    from helpers.render.report_text import format_markdown, format_table

    report = RunReport.from_json((REPORTS / "digits_targets.json").read_text())
    done = (Rewrite(name="upsampling_to_resize_nearest", stage=RewriteStage.AFTER_CONVERSION, ops=2, exact=True,
                    proof="identical LiteRT outputs on 10 evaluation rows"),
            Rewrite(name="gelu_erf_to_logistic", stage=RewriteStage.BEFORE_CONVERSION, ops=1, exact=False,
                    proof="tanh approximation of erf"))
    variants = tuple(replace(v, rewrites=done) if v.name == "int8" else v for v in report.variants)
    rewritten = replace(report, variants=variants)
    text = rewritten.to_json()
    assert RunReport.from_json(text) == rewritten
    assert json.loads(text)["variants"][[v.name for v in variants].index("int8")]["rewrites"][0]["stage"] == \
        "after_conversion"
    assert "int8: rewrites: upsampling_to_resize_nearest (2 ops), gelu_erf_to_logistic (1 op)" in \
        format_table(rewritten)
    markdown = format_markdown(rewritten, [])
    assert "| int8 | gelu_erf_to_logistic | before conversion | 1 | no | tanh approximation of erf |" in markdown
    assert "rewrites" not in format_table(report) and "Graph rewrites" not in format_markdown(report, [])

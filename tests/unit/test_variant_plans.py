"""Variant naming and run plans: one scheme, made in core/variant.py, chosen in pipeline/plan.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers.config import parse_args
from helpers.core.quantization import ALL_PTQ, TRAITS, Quantization
from helpers.core.variant import (
    Lineage,
    converted_plan,
    keep_float_plan,
    lut_plan,
    qat_plan,
)
from helpers.pipeline.plan import plan_run


def _names(argv: list[str]) -> tuple[list[str], list[str]]:
    plan = plan_run(parse_args(["--input_dir", "m", *argv]))
    return [p.name for p in plan.from_original], [p.name for p in plan.from_optimized]


@pytest.mark.parametrize("argv, original, optimized", [
    (["--PTQ", "-q", "int8"], ["float32", "int8"], []),
    (["--PTQ", "-q", "all"], ["float32", "dynamic_range", "float16", "integer_with_float_fallback", "int8",
                              "int16x8"], []),
    (["--prune", "--PTQ", "-q", "int8"], ["float32"], ["pruned_float32", "pruned_int8"]),
    (["--prune", "--cluster", "8", "--PTQ", "-q", "int8"], ["float32"],
     ["pruned_clustered_float32", "pruned_clustered_int8"]),
    (["--PTQ", "-q", "int16x8,int8,INT8"], ["float32", "int16x8", "int8"], []),  # in the order asked, once each
    (["--PTQ", "-q", "None,integer_with_float_fallback"], ["float32", "integer_with_float_fallback"], []),
    (["--QAT"], ["float32"], ["qat"]),
    (["--prune", "--QAT", "-q", "int8"], ["float32"], ["pruned_qat_int8"]),
])
def test_plans_and_names(argv, original, optimized):
    assert _names(argv) == (original, optimized)


def test_every_quantization_has_traits_and_a_distinct_name():
    names = [TRAITS[q].variant_name for q in (Quantization.NONE, *ALL_PTQ)]
    assert len(set(names)) == len(names)
    assert [q for q in ALL_PTQ if TRAITS[q].calibrated] == [
        Quantization.INTEGER_WITH_FLOAT_FALLBACK, Quantization.INT8, Quantization.INT16X8]


def test_twins_keep_the_base_quantization_and_lineage():
    base = converted_plan(Quantization.INT8, Lineage(clustered=True))
    twin = keep_float_plan(base, 2)
    assert (twin.name, twin.quantization, twin.calibrated, twin.base) == ("clustered_int8_keep_float",
                                                                          Quantization.INT8, True, "clustered_int8")
    assert lut_plan(base, 3).name == "clustered_int8_lut3"
    assert Lineage(pruned=True, qat=True).keras_name() == "keras_pruned_qat"
    assert qat_plan(True, Lineage(pruned=True, qat=True)).name == "pruned_qat_int8"


@pytest.mark.parametrize("argv, message", [
    (["--PTQ", "-q", "int8,all"], "-q all already builds every quantization"),
    (["--PTQ", "-q", ","], "names no quantization"),
    (["--PTQ", "-q", "int8,int9"], "Unknown quantization type 'int9'"),
    (["--QAT", "-q", "int8,int16x8"], "--QAT converts to int8"),
    (["-q", "int8,int16x8"], "needs a quantization mode"),
])
def test_a_bad_quantization_list_is_refused_with_a_fix(argv, message):
    from helpers.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        parse_args(["--input_dir", "m", *argv])


def test_comparing_only_with_several_quantizations():
    assert plan_run(parse_args(["--input_dir", str(Path("m")), "--PTQ", "-q", "all"])).comparing
    assert not plan_run(parse_args(["--input_dir", "m", "--prune", "--PTQ", "-q", "int8"])).comparing
    assert plan_run(parse_args(["--input_dir", "m", "--PTQ", "-q", "int8,int16x8"])).comparing

"""TFLM's (op, input type) matrix: the data in helpers/core/op_matrix.py is what
scripts/derive_op_matrix.py reads from the pinned tree, every op in it has a resolver method, the
exclusions are named (here and in docs/c-engine.md), and the engines' coverage counts what it says."""
from __future__ import annotations

import pytest

from helpers.core.op_matrix import (
    ENGINE_PAIRS,
    ENGINE_TYPES,
    EXCLUDED,
    LEFT_OUT,
    NO_INPUT_TYPES,
    TFLM_INPUT_TYPES,
    TFLM_MATRIX,
    TYPES,
    coverage,
    engine_coverage,
)
from helpers.core.tflm_ops import TFLM_RESOLVER_METHODS, add_method
from helpers.lowering.lower import LOWERINGS
from scripts.derive_op_matrix import derive, input_types, registrations, switch_cases
from tests.conftest import ROOT, TFLM_DIR, require_tool

# The exclusions issue 34 names, by family.
NAMED_EXCLUSIONS = {
    "control flow": ("IF", "WHILE", "CALL_ONCE"),
    "resource variables": ("VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"),
    "signal library": ("WINDOW", "FFT_AUTO_SCALE", "RFFT", "IRFFT", "DELAY", "ENERGY", "FILTER_BANK",
                       "FILTER_BANK_LOG", "FILTER_BANK_SQUARE_ROOT", "FILTER_BANK_SPECTRAL_SUBTRACTION",
                       "FRAMER", "OVERLAP_ADD", "PCAN", "STACKER", "CIRCULAR_BUFFER"),
    "others": ("ETHOSU", "DETECTION_POSTPROCESS"),
}


@pytest.fixture(scope="module")
def derivation():
    require_tool("tflm")
    return derive(TFLM_DIR, frozenset(EXCLUDED))


def test_matrix_is_what_the_tree_says(derivation):
    missing, extra = derivation.pairs - TFLM_MATRIX, TFLM_MATRIX - derivation.pairs
    assert not missing and not extra, f"in the tree, not in op_matrix: {sorted(missing)}; the reverse: {sorted(extra)}"


def test_every_unsure_read_was_read_by_hand(derivation):
    assert derivation.problems() == []


def test_every_registered_op_is_accounted_for(derivation):
    assert {r.method for r in derivation.registered} == TFLM_RESOLVER_METHODS - {"AddCustom", "AddBuiltin"}
    registered = {r.op for r in derivation.registered}
    assert registered == set(TFLM_INPUT_TYPES) | set(EXCLUDED) | set(NO_INPUT_TYPES)
    assert not set(TFLM_INPUT_TYPES) & set(EXCLUDED) and not set(TFLM_INPUT_TYPES) & set(NO_INPUT_TYPES)
    # Only exclusions are custom ops: the matrix is builtins.
    assert {r.op for r in derivation.registered if not r.builtin} <= set(EXCLUDED)


def test_matrix_ops_are_resolver_methods():
    for op in set(TFLM_INPUT_TYPES) | set(NO_INPUT_TYPES):
        assert add_method(op) is not None, op


def test_matrix_rows_are_types_in_order():
    for op, types in TFLM_INPUT_TYPES.items():
        assert types, f"{op} has no type: it belongs in NO_INPUT_TYPES"
        assert list(types) == [t for t in TYPES if t in types], op


def test_exclusions_are_named_with_reasons():
    for family, ops in NAMED_EXCLUSIONS.items():
        for op in ops:
            assert EXCLUDED.get(op, "").strip(), f"{op} ({family}) is not excluded with a reason"
    page = (ROOT / "docs" / "c-engine.md").read_text(encoding="utf-8")
    section = page[page.index("## TFLM's op matrix"):]
    for op in EXCLUDED:
        assert op in section, f"docs/c-engine.md's op matrix section does not name {op}"
    assert f"{len(TFLM_INPUT_TYPES)} builtin ops, {len(TFLM_MATRIX)} pairs" in section


def test_engine_claims_are_the_lowering_and_inside_tflms_matrix():
    assert set(ENGINE_TYPES) == set(LOWERINGS)
    assert ENGINE_PAIRS <= TFLM_MATRIX, sorted(ENGINE_PAIRS - TFLM_MATRIX)


def test_the_engines_cover_every_pair_of_the_matrix_but_those_left_out_with_a_reason():
    full = coverage(frozenset(LOWERINGS))
    assert full.missing == frozenset(LEFT_OUT), f"missing without a reason: {sorted(full.missing - set(LEFT_OUT))}"
    for pair, reason in LEFT_OUT.items():
        assert pair in TFLM_MATRIX and pair not in ENGINE_PAIRS and len(reason) > 40, pair
    section = (ROOT / "docs" / "c-engine.md").read_text(encoding="utf-8")
    for op, dtype in LEFT_OUT:
        assert f"{op} {dtype}" in section, f"docs/c-engine.md does not name {op} {dtype} as left out"


def test_engine_coverage_counts_only_matrix_pairs():
    some = sorted(TFLM_MATRIX)[::3]
    outside = ("NEG", "int8")  # NEG's reference kernel is float32 only
    assert outside not in TFLM_MATRIX
    result = engine_coverage(set(some) | {outside})
    assert result.covered == frozenset(some)
    assert result.missing == TFLM_MATRIX - frozenset(some)
    assert result.covered | result.missing == TFLM_MATRIX


def test_coverage_of_the_lowering_drops_ops_it_lacks():
    full = coverage(frozenset(LOWERINGS))
    without_conv = coverage(frozenset(LOWERINGS) - {"CONV_2D"})
    assert full.covered - without_conv.covered == {pair for pair in ENGINE_PAIRS if pair[0] == "CONV_2D"}
    summary = full.summary()
    assert f"{len(TFLM_MATRIX)} pairs over {len(TFLM_INPUT_TYPES)} ops" in summary
    assert f"covered by the engines: {len(full.covered)} pairs" in summary


def test_switch_cases_belong_to_their_own_switch():
    text = """switch (input->type) { case kTfLiteInt8: break;
              case kTfLiteInt16: switch (bias->type) { case kTfLiteFloat32: break; } break; }"""
    assert switch_cases(text) == [("input->type", "kTfLiteInt8"), ("input->type", "kTfLiteInt16"),
                                  ("bias->type", "kTfLiteFloat32")]
    assert input_types(text) == {"int8", "int16"}


def test_input_types_read_comparisons_not_other_tensors():
    text = """TF_LITE_ENSURE(context, input->type == kTfLiteFloat32 || filter->type == kTfLiteInt8);
              TF_LITE_ENSURE_TYPES_EQ(context, input1->type, kTfLiteInt16);"""
    assert input_types(text) == {"float32", "int16"}


def test_registrations_read_builtin_and_custom_methods(tmp_path):
    header = tmp_path / "tensorflow/lite/micro/micro_mutable_op_resolver.h"
    header.parent.mkdir(parents=True)
    header.write_text("""
  TfLiteStatus AddAbs(const TFLMRegistration& registration = Register_ABS()) {
    return AddBuiltin(BuiltinOperator_ABS, registration, ParseAbs);
  }
  TfLiteStatus AddWindow() {
    return AddCustom("SignalWindow", tflite::tflm_signal::Register_WINDOW());
  }
  TfLiteStatus AddCustom(const char* name, TFLMRegistration* registration) {
""")
    found = [(r.method, r.op, r.builtin) for r in registrations(tmp_path)]
    assert found == [("AddAbs", "ABS", True), ("AddWindow", "WINDOW", False)]

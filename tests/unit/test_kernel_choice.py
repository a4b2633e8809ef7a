"""The C engine's kernels per layer as the export measured them (issue 36; helpers/targets/
kernel_choice.py measures on an Armv7E-M target, helpers/emit/c_own_kernels.py emits): a layer measured
faster on CMSIS-NN calls CMSIS-NN on Armv7E-M, without that kernel's branch or its re-laid
constants (its Armv6-M kernel stays); the others keep the guarded own kernel; the measuring
build's define turns every guard off."""
from __future__ import annotations

import json
import re
from pathlib import Path

from helpers.core.checks import CEngineResult, Status
from helpers.core.kernel_choice import KernelChoice, LayerTiming
from helpers.emit.c_engine import c_engine, render_engine_c
from helpers.emit.c_own_conv import DSP_ONLY
from helpers.emit.placement import OWN_ON_ARMV6M, OWN_ON_BOTH, placements
from helpers.lowering.lower import lower_model
from helpers.render.engine_text import _kernel_choice_notes

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "engines" / "digits_cnn__int8"


def _engine(choice: KernelChoice | None = None, kernel_choice_v6m: KernelChoice | None = None):
    program = lower_model((GOLDEN / "model.tflite").read_bytes()).program
    context = json.loads((GOLDEN / "context.json").read_text())
    context.setdefault("upper", context["id"].upper())
    return c_engine(program, {**context, "engine_checked_on": [], "tflm_given": False}, "test", choice,
                    kernel_choice_v6m)


def _choice(engine, faster_on_cmsis: set[int]) -> KernelChoice:
    return KernelChoice(target="cortex-m4", layers=tuple(
        LayerTiming(step=step, layer=layer, own_instructions=1000, cmsis_nn_instructions=900 if step in faster_on_cmsis
                    else 2000) for step, layer in zip(engine.own_kernel_steps, engine.own_kernel_layers)))


def test_a_layer_measured_faster_on_cmsis_nn_calls_it_alone_and_the_rest_keep_the_own_kernel():
    rule = _engine()
    assert len(rule.own_kernel_steps) == 4 and rule.kernel_choice is None  # 2 convolutions, 2 dense layers
    source = render_engine_c(rule).text
    assert _own_calls(source) == 4 and source.count(f"#else\n") >= 4  # each with CMSIS-NN's call in its #else
    assert "defined(MCU_ENGINE_CMSIS_NN_ONLY)" in DSP_ONLY  # the measuring build's switch

    first_conv = rule.own_kernel_steps[0]
    chosen = _engine(_choice(rule, {first_conv}))
    assert chosen.own_kernel_steps == rule.own_kernel_steps[1:]
    assert chosen.own_kernel_layers == rule.own_kernel_layers[1:]
    assert chosen.kernel_choice is not None and chosen.kernel_choice.cmsis_steps == {first_conv}
    text = render_engine_c(chosen).text
    assert _own_calls(text) == 3 and text.count("  mcu_conv_s8(") == source.count("  mcu_conv_s8(") - 1
    assert 0 < chosen.dsp_only_bytes < rule.dsp_only_bytes  # its re-laid weights are gone with it
    assert text.count(f"#if {DSP_ONLY}\n") < source.count(f"#if {DSP_ONLY}\n")

    everything = _engine(_choice(rule, set(rule.own_kernel_steps)))
    text = render_engine_c(everything).text
    assert not everything.own_kernel_steps and everything.dsp_only_bytes == 0
    assert DSP_ONLY not in text and _own_calls(text) == 0
    assert "MCU_INLINE" not in text  # nor the kernels' file
    # the measurement was on Armv7E-M: the Armv6-M kernels stay, as the rule chose them
    assert everything.own_kernel_layers_v6m == rule.own_kernel_layers_v6m and len(re.findall(r"^  mcu_v6m_\w+\(", text, re.M)) == 4


def _own_calls(source: str) -> int:
    """Calls of the Armv7E-M own kernels in the steps (the kernels' own file defines them at column 0)."""
    return len(re.findall(r"^  mcu_(?!v6m_)\w+_s8\(", source, re.M))


def test_a_tie_goes_to_cmsis_nn_and_the_choice_round_trips_through_report_json():
    tie = LayerTiming(step=3, layer="FULLY_CONNECTED 64 -> 32: mcu_fully_connected_s8", own_instructions=400,
                      cmsis_nn_instructions=400)
    won = LayerTiming(step=0, layer="CONV_2D 3x3/1x1 8x8x1 -> 8: mcu_conv_s8", own_instructions=300,
                      cmsis_nn_instructions=700)
    choice = KernelChoice(target="cortex-m4", layers=(won, tie))
    assert choice.cmsis_steps == {3}  # equal time: CMSIS-NN, which needs no re-laid weights
    result = CEngineResult(status=Status.PASS, own_kernel_layers=(won.layer,), kernel_choice=choice)
    data = result.to_dict()
    assert data["kernel_choice"]["layers"][1] == {**tie.__dict__, "kept": "cmsis_nn"}
    assert CEngineResult.from_dict(json.loads(json.dumps(data))).kernel_choice == choice
    assert "kernel_choice" not in CEngineResult(status=Status.PASS).to_dict()


def test_report_md_says_how_the_kernels_were_chosen():
    measured = KernelChoice(target="cortex-m4", layers=(
        LayerTiming(0, "CONV_2D 3x3/1x1 8x8x1 -> 8: mcu_conv_s8", 300, 700),
        LayerTiming(3, "FULLY_CONNECTED 4 -> 3: mcu_fully_connected_s8", 500, 400)))
    engine = CEngineResult(status=Status.PASS, own_kernel_layers=("CONV_2D 3x3/1x1 8x8x1 -> 8: mcu_conv_s8",),
                           kernel_choice=measured)
    (note,) = _kernel_choice_notes("int8", engine)
    assert "measuring each layer both ways on cortex-m4" in note and "1 of 2 keep the own kernel" in note
    assert "CMSIS-NN was faster on FULLY_CONNECTED 4 -> 3 (400 against 500)" in note
    unmeasured = CEngineResult(status=Status.NOT_CHECKED, own_kernel_layers=("x",))
    assert "not measured" in _kernel_choice_notes("int8", unmeasured)[0]
    failed = CEngineResult(status=Status.PASS, own_kernel_layers=("x",),
                           kernel_choice=KernelChoice(target="cortex-m4", note="not measured: QEMU missing"))
    assert "did not run: not measured: QEMU missing" in _kernel_choice_notes("int8", failed)[0]
    assert _kernel_choice_notes("int8", CEngineResult(status=Status.PASS)) == []


def test_the_op_table_shows_a_layer_given_back_to_cmsis_nn():
    content = (GOLDEN / "model.tflite").read_bytes()
    program = lower_model(content).program
    rule = {p.op: p.c_engine for p in placements(content, program)}
    assert rule["CONV_2D"] == OWN_ON_BOTH
    first_conv = _engine().own_kernel_steps[0]
    chosen = {p.op: p.c_engine for p in placements(content, program, frozenset({first_conv}))}
    # one of its two layers went back to CMSIS-NN on Armv7E-M; the measurement says nothing of Armv6-M
    assert chosen["CONV_2D"] == " + ".join(sorted({OWN_ON_ARMV6M, OWN_ON_BOTH}))
    assert chosen["FULLY_CONNECTED"] == rule["FULLY_CONNECTED"] == OWN_ON_BOTH


def test_a_layer_measured_faster_on_cmsis_nn_on_the_m0plus_loses_its_armv6m_branch_only():
    """The Armv6-M kernels are measured on their own target (the Cortex-M0+): a layer given back
    there calls CMSIS-NN on Armv6-M and keeps its Armv7E-M kernel; report.md says so per family."""
    rule = _engine()
    assert len(rule.own_kernel_steps_v6m) == 4 and rule.own_kernel_steps_v6m == rule.own_kernel_steps
    first_dense = rule.own_kernel_steps_v6m[2]
    measured = KernelChoice(target="cortex-m0plus", layers=tuple(
        LayerTiming(step=step, layer=layer, own_instructions=1000, cmsis_nn_instructions=900 if step == first_dense
                    else 3000) for step, layer in zip(rule.own_kernel_steps_v6m, rule.own_kernel_layers_v6m)))
    chosen = _engine(kernel_choice_v6m=measured)
    assert chosen.own_kernel_steps_v6m == tuple(s for s in rule.own_kernel_steps_v6m if s != first_dense)
    assert chosen.own_kernel_steps == rule.own_kernel_steps  # the Armv7E-M kernels are untouched
    text = render_engine_c(chosen).text
    assert len(re.findall(r"^  mcu_v6m_\w+\(", text, re.M)) == 3 and _own_calls(text) == 4
    assert 0 < chosen.v6m_only_bytes < rule.v6m_only_bytes
    result = CEngineResult(status=Status.PASS, own_kernel_layers=chosen.own_kernel_layers,
                           own_kernel_layers_v6m=chosen.own_kernel_layers_v6m, kernel_choice_v6m=measured)
    assert CEngineResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
    notes = "\n".join(_kernel_choice_notes("int8", result, armv6m=True) + _kernel_choice_notes("int8", result))
    assert "Armv6-M kernels chosen by measuring each layer both ways on cortex-m0plus" in notes
    assert "3 of 4 keep the own kernel" in notes and "CMSIS-NN was faster on FULLY_CONNECTED 64 -> 32" in notes
    assert "kernels chosen by the rule (docs/kernels.md), not measured: this run ran the engine on no Cortex-M4" in notes
    content = (GOLDEN / "model.tflite").read_bytes()
    table = {p.op: p.c_engine for p in placements(content, lower_model(content).program, frozenset(),
                                                  frozenset({first_dense}))}
    assert table["FULLY_CONNECTED"] == " + ".join(sorted({OWN_ON_BOTH, "own on Armv7E-M, else cmsis-nn"}))

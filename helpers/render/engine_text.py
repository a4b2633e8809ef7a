"""The C engine in the table and report.md: its verdict per target, and its flash, RAM and
instructions side by side with TFLM's on the same target, each with the ratio to TFLM's."""
from __future__ import annotations

from typing import Any

from helpers.core.checks import CEngineResult, Status, TargetResult
from helpers.core.results import FirmwareResult, RunReport

# How a self-test's verdict reads in the table and report.md (TFLM's and the engine's alike).
TARGET_STATUS = {Status.PASS: "PASS", Status.FAIL: "FAIL", Status.BUILD_FAILED: "NO BUILD",
                 Status.NOT_CHECKED: "not checked", Status.NOT_BUILT: "not built"}
_ENGINE_STATUS = {**TARGET_STATUS, Status.UNSUPPORTED: "no engine"}


def ratio(engine: int | None, tflm: int | None) -> str:
    """`0.24x`: the engine's figure over TFLM's ("-" when either is missing)."""
    return "-" if not engine or not tflm else f"{engine / tflm:.2f}x"


def _with_ratio(engine: int | None, tflm: int | None) -> str:
    return "-" if engine is None else f"{engine:,} ({ratio(engine, tflm)})"


def total_flash(result: TargetResult | None) -> int | None:
    """Inference code plus the model: what the firmware needs for the model, without the C runtime."""
    if result is None or result.inference_code_bytes is None:
        return None
    return (result.inference_code_bytes or 0) + (result.model_bytes or 0)


def engine_status(engine: CEngineResult | None) -> str:
    return "-" if engine is None else _ENGINE_STATUS.get(engine.status, engine.status)


def engine_header(main_target: str | None, short: str) -> list[str]:
    header = ["C engine"]
    if main_target:
        header += [f"C flash {short} (B)", f"C RAM {short} (B)", f"C instr. {short}"]
    return header


def engine_cells(fw: FirmwareResult, main_target: str | None) -> list[str]:
    """The table's C engine columns: its verdict, and on the main Cortex-M target its total flash,
    RAM and instructions, each with its ratio to TFLM's."""
    engine = fw.c_engine
    cells = [engine_status(engine)]
    if main_target:
        mine = engine.target(main_target) if engine else None
        tflm = fw.target(main_target)
        if mine is None or not mine.passed:
            return cells + ["-", "-", "-"]
        cells += [_with_ratio(total_flash(mine), total_flash(tflm)),
                  _with_ratio(mine.model_ram_bytes, tflm.model_ram_bytes if tflm else None),
                  _with_ratio(mine.instructions_per_inference, tflm.instructions_per_inference if tflm else None)]
    return cells


def _row(variant: str, mine: TargetResult, tflm: TargetResult | None, metric: str, value: Any) -> str:
    identical = {True: "yes", False: "NO", None: "-"}[mine.identical_to_tflm]
    t = tflm or TargetResult(target=mine.target, kernels="", status=Status.NOT_CHECKED)
    return (f"| {variant} | {mine.target} | {_ENGINE_STATUS.get(mine.status, mine.status)} | {identical} | "
            f"{value} ({'-' if mine.vectors is None else mine.vectors}) | "
            f"{_with_ratio(mine.inference_code_bytes, t.inference_code_bytes)} | "
            f"{_with_ratio(mine.model_bytes, t.model_bytes)} | {_with_ratio(total_flash(mine), total_flash(t))} | "
            f"{_with_ratio(mine.model_ram_bytes, t.model_ram_bytes)} | "
            f"{_with_ratio(mine.instructions_per_inference, t.instructions_per_inference)} |")


def engine_markdown(report: RunReport, format_metric: Any) -> list[str]:
    """report.md's section on the C engine of every variant, on every target, next to TFLM's."""
    engines = [(v, v.firmware.c_engine) for v in report.variants if v.firmware.c_engine is not None]
    if not engines:
        return []
    metric = report.primary_metric
    lines = ["", "## The C engine (<id>_engine.c: the model as CMSIS-NN calls, no interpreter)", "",
             "Each figure is followed by its ratio to TFLM's build of the same variant on the same target. Code: "
             "the engine's functions and the CMSIS-NN kernels it calls (TFLM: its runtime and kernels); model: "
             "the engine's weights and constants (TFLM: the flatbuffer); neither counts the C runtime or the "
             "self-test. RAM: the engine's one arena and its statics (TFLM: the proven arena and its statics). "
             "Identical: the digest of every output byte equals TFLM's on that target.", "",
             f"| variant | target | result | identical to TFLM | {metric} (vectors) | code (B) | model (B) | "
             "code + model (B) | RAM (B) | instructions / inference |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    notes = []
    for variant, engine in engines:
        for mine in engine.targets:
            value = format_metric(metric, (mine.metrics or {}).get(metric))
            lines.append(_row(variant.name, mine, variant.firmware.target(mine.target), metric, value))
        if engine.reason:
            notes.append(f"- `{variant.name}`: {engine_status(engine)}: {engine.reason}")
        # the exact passes on the engine's program (TFLM runs the .tflite as converted)
        notes += [f"- `{variant.name}`: dead channels removed (identical outputs): {p.describe()}"
                  for p in engine.graph_passes]
        if engine.own_kernel_layers:  # docs/kernels.md: Armv7E-M cores only; the rest call CMSIS-NN
            notes.append(f"- `{variant.name}`: the engine's own kernels run {len(engine.own_kernel_layers)} layers on "
                         f"Armv7E-M cores (CMSIS-NN's on the others): {'; '.join(engine.own_kernel_layers)}")
        notes += _kernel_choice_notes(variant.name, engine)
        if engine.own_kernel_layers_v6m:  # docs/kernels.md: the plain-C kernels of the Cortex-M0+
            notes.append(f"- `{variant.name}`: the engine's own plain-C kernels run {len(engine.own_kernel_layers_v6m)} "
                         f"layers on Armv6-M (Cortex-M0+): {'; '.join(engine.own_kernel_layers_v6m)}")
        notes += _kernel_choice_notes(variant.name, engine, armv6m=True)
    return lines + ([""] + notes if notes else []) + packages_markdown(engines)


def _kernel_choice_notes(name: str, engine: Any, armv6m: bool = False) -> list[str]:
    """How the engine's kernels of one family (Armv7E-M, or `armv6m`) were chosen: measured per layer
    on a target, or by the rule alone."""
    choice = engine.kernel_choice_v6m if armv6m else engine.kernel_choice
    layers = engine.own_kernel_layers_v6m if armv6m else engine.own_kernel_layers
    family, cores = ("Armv6-M ", "Cortex-M0+") if armv6m else ("", "Cortex-M4, M7 or M33")
    if choice is None:
        return [f"- `{name}`: {family}kernels chosen by the rule (docs/kernels.md), not measured: this run ran the "
                f"engine on no {cores}"] if layers else []
    if choice.note:
        return [f"- `{name}`: {family}kernels chosen by the rule; the measurement on {choice.target} did not run: "
                f"{choice.note}"]
    kept = [layer for layer in choice.layers if layer.own_kept]
    back = [layer for layer in choice.layers if not layer.own_kept]
    text = (f"- `{name}`: {family}kernels chosen by measuring each layer both ways on {choice.target} (instructions, own "
            f"kernel against CMSIS-NN's): {len(kept)} of {len(choice.layers)} keep the own kernel")
    if kept:
        text += f" ({sum(layer.own_instructions for layer in kept):,} against " \
                f"{sum(layer.cmsis_nn_instructions for layer in kept):,} in all)"
    if back:
        text += "; CMSIS-NN was faster on " + "; ".join(
            f"{layer.layer.split(':')[0]} ({layer.cmsis_nn_instructions:,} against {layer.own_instructions:,})"
            for layer in back) + ", which call it"
    return [text]



def packages_markdown(engines: list[tuple[Any, Any]]) -> list[str]:
    """--package: per variant, each package written, its manifests' verdict, and that the run built none."""
    rows = [(variant.name, package) for variant, engine in engines for package in engine.packages]
    if not rows:
        return []
    lines = ["", "### The engine's packages (--package)", "",
             "Manifests: checked against the format's rules (required keys and types, name and version "
             "patterns, every file named exists). Built: " + rows[0][1].build_reason + ".", "",
             "| variant | package | folder | files | size (B) | CMSIS-NN sources | manifests | built and run |",
             "|---|---|---|---|---|---|---|---|"]
    for name, package in rows:
        verdict = package.manifest.value if not package.problems else f"FAIL: {'; '.join(package.problems)}"
        lines.append(f"| {name} | {package.system} | `{package.folder}/` | {package.files} | {package.bytes:,} | "
                     f"{package.cmsis_nn_sources} | {verdict} | not checked by this run |")
    return lines

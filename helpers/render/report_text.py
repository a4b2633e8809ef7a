"""Report text: the terminal table, report.md and the log line of a variant's metrics."""
from __future__ import annotations

from typing import Any

from helpers.core.checks import MicroPythonResult, Status, TargetResult
from helpers.core.rewrites import rewrites_line
from helpers.core.results import RunReport, VariantReport
from helpers.measure.metrics import higher_is_better, metric_kind
from helpers.render.board_text import boards_markdown
from helpers.render.engine_text import TARGET_STATUS, engine_cells, engine_header, engine_markdown
from helpers.render.ops_text import ops_markdown
from helpers.render.profile_text import profile_markdown


def _format_metric(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.2f}%" if metric_kind(name) == "accuracy" else f"{value:.4g}"


def format_metrics(metrics: dict[str, float]) -> str:
    """`accuracy 98.14%` / `mae 0.388, rmse 0.4935` for log lines."""
    return ", ".join(f"{name} {_format_metric(name, value)}" for name, value in metrics.items())


def _format_delta(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric_kind(name) == "accuracy":
        return f"{value * 100:+.2f} pt"
    return f"{value:+.3g}"


def table_rows(report: RunReport) -> tuple[list[str], list[list[str]]]:
    """Header and rows shared by the terminal table and report.md."""
    metric_names = list(report.variants[0].metrics) if report.variants else [report.primary_metric]
    header = ["variant", "size (B)", "zlib (B)"] + metric_names
    targets = _targets_run(report)
    main_target = next((name for name in targets if name != "host"), None)
    header += [f"Δ {report.primary_metric}", "tolerance", "TFLM"] + [_SHORT.get(t, t) for t in targets]
    header += ["MicroPython", "ms MPy native/viper/plain"]
    short = _SHORT.get(main_target, main_target) if main_target else ""
    if main_target:
        header += ["arena (B)", f"flash {short} (B)", f"RAM {short} (B)", f"instr. {short}", f"ms {short}"]
    else:  # nothing linked for a Cortex-M: the figure is the cross-compiled C array alone, and says so
        header += ["arena (B)", "C array M4 (B)"]
    engines = any(v.firmware.c_engine is not None for v in report.variants)
    if engines:
        header += engine_header(main_target, short)
    budgets = any(v.firmware.fits_flash is not None or v.firmware.fits_ram is not None
                  or v.firmware.budget_note for v in report.variants)
    if budgets:
        header.append("fits")
    rows = []
    for v in report.variants:
        fw = v.firmware
        tflm = "-" if fw.tflm_runnable is None else ("yes" if fw.tflm_runnable else "no")
        row = [v.name, _int(v.size_bytes), _int(v.compressed_size_bytes)]
        if v.error:  # the reason is in report.md and on stderr; keep the columns narrow
            rows.append(row + ["-"] * len(metric_names) + ["failed"] + ["-"] * (len(header) - len(row) - len(metric_names) - 1))
            continue
        row += [_format_metric(m, v.metrics.get(m)) for m in metric_names]
        row += [_format_delta(report.primary_metric, v.delta.get(report.primary_metric)) if v is not report.variants[0] else "ref",
                _within(v), tflm]
        row += [_status(fw.target(name)) for name in targets]
        row += micropython_cells(fw.micropython)
        if main_target:
            figures = fw.target(main_target) or TargetResult(target=main_target, kernels="", status=Status.NOT_CHECKED)
            latency = figures.latency_ms
            row += [_int(fw.tensor_arena_bytes), _int(figures.flash_bytes_without_self_test),
                    _int(figures.ram_bytes), _int(figures.instructions_per_inference),
                    "-" if latency is None else f"{latency:.3g}"]
        else:
            row += [_int(fw.tensor_arena_bytes), _int((fw.flash_bytes or {}).get("cortex-m4"))]
        if engines:
            row += engine_cells(fw, main_target)
        if budgets:
            row.append(_fits(v))
        rows.append(row)
    return header, rows


_SHORT = {"cortex-m4": "M4", "cortex-m0plus": "M0+"}
_MPY_STATUS = {Status.PASS: "identical", Status.FAIL: "FAIL", Status.NOT_CHECKED: "not checked",
               Status.UNSUPPORTED: "no engine"}


def micropython_cells(result: MicroPythonResult | None) -> list[str]:
    """The MicroPython column (outputs against TFLM's) and its time per inference, native / viper / plain."""
    if result is None:
        return ["-", "-"]
    times = result.us_per_inference or {}
    timing = " / ".join("-" if times.get(k) is None else f"{times[k] / 1000:.3g}"
                        for k in ("native", "viper", "plain"))
    return [_MPY_STATUS.get(result.status, result.status), timing if times else "-"]


def micropython_markdown(report: RunReport) -> list[str]:
    """report.md's section on the generated MicroPython engine of every variant."""
    engines = [(v, v.firmware.micropython) for v in report.variants if v.firmware.micropython]
    if not engines:
        return []
    metric = report.primary_metric
    lines = ["", "## On MicroPython (the generated engine, <id>_infer.py, run on a real MicroPython)", "",
             "Outputs against TFLM's on every evaluation row (int8: identical; float32: within 1e-5 relative). "
             "Time: per inference on this machine's unix port, with the native kernels module, viper and plain "
             "code (the 32-bit board figures are in the next section). Heap: what importing the .mpy took "
             "(weights, constants, buffers), and what one run() allocates.", "",
             f"| variant | result | rows differing / rows | {metric} on MicroPython | ms native / viper / plain | "
             "heap after import (B) | allocated per invoke (B) | engine .mpy (B) |",
             "|---|---|---|---|---|---|---|---|"]
    notes = []
    for variant, r in engines:
        value = (r.metrics or {}).get(metric)
        status, timing = micropython_cells(r)
        rows = "-" if r.rows is None else f"{r.mismatched_rows} / {r.rows}" + (
            f" (of {r.evaluation_rows:,})" if (r.evaluation_rows or 0) > r.rows else "")
        lines.append(f"| `{variant.name}` | {status} | {rows} | {_format_metric(metric, value)} | {timing} | "
                     f"{_int(r.module_heap_bytes)} | {_int(r.invoke_alloc_bytes)} | "
                     f"{_int(r.engine_mpy_bytes)} |")
        if r.reason:
            notes.append(f"- `{variant.name}`: {status}: {r.reason}")
    return lines + ([""] + notes if notes else [])
_STATUS = TARGET_STATUS


def _targets_run(report: RunReport) -> list[str]:
    """Targets any variant's self-test was taken to, in the order they ran."""
    names: dict[str, None] = {}
    for variant in report.variants:
        for result in variant.firmware.targets or ():
            names[result.target] = None
    return list(names)


def _status(result: TargetResult | None) -> str:
    return "-" if result is None else _STATUS.get(result.status, result.status)


def targets_markdown(report: RunReport) -> list[str]:
    """report.md's section with every variant on every target: verdict, the metric the target
    computed, flash, RAM, arena, instructions and the latency estimate."""
    if not _targets_run(report):
        return []
    metric = report.primary_metric
    lines = ["", "## On the targets (the self-test built against TFLM's library and run)", "",
             "Flash: `.text + .rodata + .data` of the linked program without the self-test's `main()` and "
             "vectors (model data + TFLM runtime + kernels + C runtime). RAM: `.data + .bss` with the arena at "
             "the size the header recommends. Latency: instructions counted under QEMU × the stated cycles per "
             "instruction ÷ --mcu_mhz, an estimate; its lower bound is instructions ÷ clock (one instruction "
             "per cycle: a cycle is not an instruction, so a real part is slower).", "",
             f"| variant | target | result | {metric} on target (vectors) | flash (B) | of which model / runtime / "
             "kernels / C runtime | RAM (B) | arena used (B) | instructions / inference | latency estimate | lower bound |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for variant in report.variants:
        for r in variant.firmware.targets or ():
            value = (r.metrics or {}).get(metric)
            parts = r.flash_breakdown or {}
            split = " / ".join(_int(parts.get(k)) for k in ("model_data", "tflm_runtime", "kernels", "c_runtime"))
            latency = (f"{r.latency_ms:.3g} ms at {r.mcu_mhz:g} MHz (CPI {r.cycles_per_instruction})"
                       if r.latency_ms is not None else "-")
            bound = (f"≥ {r.instructions_per_inference / (r.mcu_mhz * 1e3):.3g} ms"
                     if r.instructions_per_inference and r.mcu_mhz else "-")
            lines.append(f"| {variant.name} | {r.target} ({r.kernels}) | {_status(r)} | "
                         f"{_format_metric(metric, value)} ({_int(r.vectors)}) | "
                         f"{_int(r.flash_bytes_without_self_test)} | {split if parts else '-'} | "
                         f"{_int(r.ram_bytes)} | {_int(r.arena_used_bytes)} | "
                         f"{_int(r.instructions_per_inference)} | {latency} | {bound} |")
    problems = [(variant.name, r) for variant in report.variants
                for r in variant.firmware.targets or () if not r.passed]
    if problems:
        lines += [""] + [f"- `{variant}` on {r.target}: {_status(r)}: {r.message}" for variant, r in problems]
    return lines


def _within(variant: VariantReport) -> str:
    """The `tolerance` column: ok, or OUTSIDE in capitals so a wrecked variant cannot be missed."""
    return {True: "ok", False: "OUTSIDE", None: "-"}[variant.within_tolerance]


def _fits(variant: VariantReport) -> str:
    """The `fits` column: yes, no, or "not measured" when a budget could not be judged."""
    if variant.format != "tflite":
        return "-"
    fw = variant.firmware
    if False in (fw.fits_flash, fw.fits_ram):
        return "no"
    return "not measured" if fw.budget_note else "yes"


def _int(value: Any) -> str:
    return "-" if value is None else f"{int(value):,}"


def format_table(report: RunReport) -> str:
    """The plain-text table printed at the end of a run."""
    header, rows = table_rows(report)
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    rewritten = [f"{v.name}: {rewrites_line(v.rewrites)}" for v in report.variants if v.rewrites]
    return "\n".join(lines + ([""] + rewritten if rewritten else []))


def format_markdown(report: RunReport, plots: list[str]) -> str:
    """report.md: the same table as the terminal, the notices, and the plots."""
    header, rows = table_rows(report)
    better = "higher" if higher_is_better(report.primary_metric) else "lower"
    lines = [f"# {report.model}: variant report", "",
             f"Task: {report.task}. Source: `{report.source}`. Evaluated on {report.evaluation_rows} rows "
             f"(calibration: {report.calibration_rows} rows). Primary metric: {report.primary_metric} "
             f"({better} is better); Δ is against the Keras reference."
             + (" Model code trusted (--trust_model_code): the file's own code was allowed to run."
                if report.trust_model_code else ""), "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    outside = [v for v in report.variants if v.within_tolerance is False]
    if outside:
        metric = report.primary_metric
        lines += ["", "## Outside the accuracy tolerance: do not ship", "",
                  "These variants lost more than --max_drop against the reference; their files are written so "
                  "you can inspect them, not so you can flash them.", ""]
        lines += [f"- `{v.name}`: Δ {metric} {_format_delta(metric, v.delta.get(metric))}" for v in outside]
    pruning = report.sparsity_search()
    if pruning is not None:
        metric = report.primary_metric
        lines += ["", "## Sparsity search (--sparsity auto)", "",
                  f"Each candidate pruned a fresh copy, highest first; judged on the validation rows against the "
                  f"unpruned model. Chosen: {pruning.final_sparsity:.0%}.", "",
                  f"| sparsity | validation {metric} | within tolerance | zlib of the kernels (B) |",
                  "|---|---|---|---|"]
        lines += [f"| {c.sparsity:.0%} | {_format_metric(metric, c.validation_metrics.get(metric))} | "
                  f"{'yes' if c.within_tolerance else 'no'} | {c.zlib_weight_bytes:,} |" for c in pruning.search]
    lines += rewrites_markdown(report)
    lines += recovery_markdown(report)
    lines += targets_markdown(report)
    lines += engine_markdown(report, _format_metric)
    lines += profile_markdown(report)
    lines += micropython_markdown(report)
    lines += boards_markdown(report)
    lines += ops_markdown(report)
    failed = [(v.name, v.error) for v in report.variants if v.error]
    if failed:
        lines += ["", "## Variants that could not be built", ""]
        lines += [f"- `{name}`: {error}" for name, error in failed]
    failures = [(v.name, v.firmware.tflm_reason) for v in report.variants if v.firmware.tflm_reason]
    if failures:
        lines += ["", "## Not runnable on TensorFlow Lite for Microcontrollers", ""]
        lines += [f"- `{name}`: {reason}" for name, reason in failures]
    if report.notices:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in report.notices]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def rewrites_markdown(report: RunReport) -> list[str]:
    """## Graph rewrites: per variant, each pass that replaced ops TFLM has no kernel for, and the
    variant's change against Keras, which the accuracy guard judged (an exact pass adds nothing to it)."""
    rewritten = [v for v in report.variants if v.rewrites]
    if not rewritten:
        return []
    metric = report.primary_metric
    lines = ["", "## Graph rewrites (where TFLM lacks a kernel)", "",
             f"| variant | pass | when | ops | exact | proof or measure | variant Δ {metric} |",
             "|---|---|---|---|---|---|---|"]
    for variant in rewritten:
        delta = _format_delta(metric, variant.delta.get(metric))
        lines += [f"| {variant.name} | {r.name} | {r.stage.value.replace('_', ' ')} | {r.ops} | "
                  f"{'yes' if r.exact else 'no'} | {r.proof} | {delta} |" for r in variant.rewrites]
    return lines


def recovery_markdown(report: RunReport) -> list[str]:
    """## Accuracy recovery: per variant that was outside the guard on the validation rows, each
    strategy tried, its validation metric and drop, its time, and which was kept."""
    metric = report.primary_metric
    lines: list[str] = []
    for variant in report.variants:
        recovery = variant.optimization.recovery
        if recovery is None:
            continue
        unit = "points" if metric_kind(metric) == "accuracy" else "% MAE"
        kept = f"kept: {recovery.chosen}" if recovery.chosen else "kept: the converter's own model"
        lines += ["", f"## Accuracy recovery: `{variant.name}`", "",
                  f"Outside --max_drop {recovery.limit:g} on the {recovery.validation_rows} validation rows "
                  f"({recovery.before_drop or 0.0:+.2f} {unit}); strategies tried cheapest first, each an "
                  f"ordinary int8 flatbuffer judged by the guard's rule; {kept}.", "",
                  f"| strategy | validation {metric} | drop ({unit}) | seconds | kept |", "|---|---|---|---|---|",
                  f"| the converter's model | {_format_metric(metric, recovery.before_metrics.get(metric))} | "
                  f"{recovery.before_drop or 0.0:+.2f} | - | {'no' if recovery.chosen else 'yes'} |"]
        for attempt in recovery.attempts:
            value = _format_metric(metric, attempt.validation_metrics.get(metric)) if attempt.validation_metrics \
                else attempt.note or "-"
            drop = "-" if attempt.validation_drop is None else f"{attempt.validation_drop:+.2f}"
            lines.append(f"| {attempt.strategy} | {value} | {drop} | {attempt.seconds:.1f} | "
                         f"{'yes' if attempt.kept else 'no'} |")
        if recovery.stopped:
            lines += ["", f"The search stopped early: {recovery.stopped} (--recovery_seconds)."]
        if recovery.evaluation_check:
            lines += ["", f"The evaluation rows: {recovery.evaluation_check}."]
    return lines

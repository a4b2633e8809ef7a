"""Per-variant firmware artifacts: the context the templates see, and one render function per
template in templates/ (the file names mirror the output)."""
from __future__ import annotations

import json
from typing import Any

from helpers.core.flatbuffer import TFLM_DECODE_OP, TensorInfo
from helpers.core.specs import Specs
from helpers.core.tflm_ops import add_method
from helpers.core.variant import TfliteModel
from helpers.emit.codegen import (
    Rendered,
    c_byte_lines,
    c_values,
    py_byte_lines,
    py_float,
    py_string,
    render,
    tuple_literal,
)
from helpers.emit.identifiers import camel_case
from helpers.measure.variant import TestVector, TflmVerdict
from helpers.render.multi_io import metrics_text, multi_io_context

# The MicroPython module carries a few vectors only: a board's heap is tens of KB.
MICROPYTHON_TEST_VECTORS = 4


def _tensor_json(info: TensorInfo) -> dict[str, Any]:
    return {"name": info.name, "shape": list(info.shape), "dtype": info.dtype,
            "scale": info.scale, "zero_point": info.zero_point}


def _fill_blocks(result: dict[str, Any], key: str, tensors: tuple[TensorInfo, ...]) -> None:
    """Each of the user's `inputs`/`outputs` blocks (or the single block) gets its tensor's dtype,
    scale and zero point."""
    blocks = result.get(key)
    blocks = [dict(b) for b in blocks] if isinstance(blocks, list) else [dict(blocks or {})]
    for block, info in zip(blocks, tensors):
        block.update(dtype=info.dtype, scale=info.scale, zero_point=info.zero_point)
    result[key] = blocks if key.endswith("s") else blocks[0]


def render_specs_json(specs: Specs, model: TfliteModel, tflm: TflmVerdict, extra: dict[str, Any]) -> Rendered:
    """The variant's specs.json: the user's specs plus what firmware needs."""
    firmware: dict[str, Any] = {
        "variant": model.plan.name,
        "quantization": model.plan.quantization.value,
        "model_size_bytes": model.size_bytes,
        "tflite_ops": list(model.info.ops) + list(model.info.custom_ops),
        "input_tensor": _tensor_json(model.info.input),
        "output_tensor": _tensor_json(model.info.output),
        "tflm_checked": tflm.checked,
        "tflm_runnable": tflm.gets_firmware,
        "tensor_arena_bytes": tflm.arena_recommended,
        "tensor_arena_measured_bytes": tflm.arena_measured,
        "tensor_arena_measured_on": tflm.arena_target or ("host (64-bit)" if tflm.arena_measured else None),
    }
    if not tflm.gets_firmware:
        firmware["tflm_reason"] = tflm.reason
    if specs.multi_io:  # every tensor, in specs.json's order (the firmware's)
        del firmware["input_tensor"], firmware["output_tensor"]
        firmware.update(input_tensors=[_tensor_json(t) for t in model.info.input_tensors],
                        output_tensors=[_tensor_json(t) for t in model.info.output_tensors])
    firmware.update(extra)
    # Also fill the user's input/output blocks with scale and zero-point where they expect them.
    result = specs.exported(firmware)
    if specs.multi_io:
        _fill_blocks(result, "inputs" if "inputs" in result else "input", model.info.input_tensors)
        _fill_blocks(result, "outputs" if "outputs" in result else "output", model.info.output_tensors)
    else:
        for key, info in (("input", model.info.input), ("output", model.info.output)):
            block = dict(result.get(key, {}))
            block.update(dtype=info.dtype, scale=info.scale, zero_point=info.zero_point)
            result[key] = block
    return Rendered("specs.json", json.dumps(result, indent=2, sort_keys=False) + "\n")


def template_context(specs: Specs, model: TfliteModel, tflm: TflmVerdict, model_id: str,
                     source: str, layout: dict[str, Any] | None = None,
                     evaluation_rows: int | None = None) -> dict[str, Any]:
    """Everything the templates substitute, formatted already."""
    info = model.info
    layout = layout or {}
    permutation = layout.get("permutation") or list(range(len(specs.input.shape)))
    in_mean, in_std = specs.input.normalisation.as_lists(_norm_count(specs.input.normalisation))
    out_mean, out_std = specs.output.normalisation.as_lists(_norm_count(specs.output.normalisation))
    return {
        "id": model_id,
        "camel": camel_case(model_id),
        "upper": model_id.upper(),
        "guard": f"{model_id.upper()}_MODEL_DATA_H_",
        "header": f"{model_id}_model_data.h",
        "display_name": specs.name,
        "source": source,
        "task": specs.task.value,
        "variant": model.plan.name,
        "quantization": model.plan.quantization.value,
        "description": model.plan.description,
        "size": model.size_bytes,
        "byte_lines": c_byte_lines(model.content),
        "py_byte_lines": py_byte_lines(model.content),
        "input": info.input,
        "output": info.output,
        "input_shape_c": c_values(info.input.shape, "int"),
        "output_shape_c": c_values(info.output.shape, "int"),
        "input_shape_py": tuple_literal(info.input.shape, str),
        "output_shape_py": tuple_literal(info.output.shape, str),
        "input_mean": in_mean, "output_mean": out_mean,
        "input_mean_c": c_values(in_mean, "float"), "input_std_c": c_values(in_std, "float"),
        "output_mean_c": c_values(out_mean, "float"), "output_std_c": c_values(out_std, "float"),
        "input_mean_py": tuple_literal(in_mean, py_float), "input_std_py": tuple_literal(in_std, py_float),
        "output_mean_py": tuple_literal(out_mean, py_float), "output_std_py": tuple_literal(out_std, py_float),
        "classes": list(specs.output.classes),
        "classes_py": tuple_literal(specs.output.classes, py_string) if specs.output.classes else "()",
        "arena_measured": tflm.arena_measured,
        "arena_size": tflm.arena_recommended,
        "arena_target": tflm.arena_target,
        "ops": list(info.ops),
        "layout_note": layout.get("note", ""),
        "channels_last": bool(layout.get("channels_last")),
        "specs_shape_py": tuple_literal(specs.input.shape, str),
        "permutation_py": tuple_literal(permutation, str),
        "add_methods": [add_method(op) for op in info.ops + info.custom_ops],
        "compressed": TFLM_DECODE_OP in info.custom_ops,
        "stateful": info.stateful,
        "vectors": [{"input": c_values(v.input, _kind(info.input.dtype)),
                     "output": c_values(v.output, _kind(info.output.dtype)),
                     "target": c_values(v.label, "float")} for v in tflm.test_vectors],
        "vector_labels": c_values([int(v.label[0]) for v in tflm.test_vectors], "int") if tflm.test_vectors else "0",
        "vectors_note": _vectors_note(len(tflm.test_vectors), evaluation_rows),
        "metric_name": "accuracy" if specs.task.value == "classification" else "mean absolute error",
        "test_tolerance": tflm.test_tolerance,
        "test_vectors_py": _vectors_py(tflm.test_vectors[:MICROPYTHON_TEST_VECTORS], info),
        # several inputs or outputs: each one's values, and the vectors split per tensor
        **multi_io_context(specs, info, tflm.test_vectors, MICROPYTHON_TEST_VECTORS),
    }


def _vectors_note(count: int, evaluation_rows: int | None) -> str:
    if evaluation_rows is None or count >= evaluation_rows:
        return "every evaluation row"
    return f"the first {count} of {evaluation_rows} evaluation rows: as many as fit in 64 KiB of flash"


def _kind(dtype: str) -> str:
    return "float" if dtype.startswith("float") else "int"


def _vectors_py(vectors: tuple[TestVector, ...], info: Any) -> str:
    """TEST_VECTORS for the MicroPython module: a tuple of (inputs, expected outputs)."""
    def values(items: tuple[float, ...], dtype: str) -> str:
        return tuple_literal(items, py_float if _kind(dtype) == "float" else (lambda v: str(int(v))))
    pairs = [f"({values(v.input, info.input.dtype)}, {values(v.output, info.output.dtype)})" for v in vectors]
    return tuple_literal(pairs, str) if pairs else "()"


def _norm_count(normalisation: Any) -> int:
    lengths = [len(v) for v in (normalisation.mean, normalisation.std) if isinstance(v, tuple)]
    return max(lengths) if lengths else 1


def render_model_data_h(context: dict[str, Any]) -> Rendered:
    """<id>_model_data.h: the array's declaration, sizes, scale and zero-point, normalisation."""
    return render("model_data.h.j2", f"{context['id']}_model_data.h", context)


def render_model_data_c(context: dict[str, Any]) -> Rendered:
    """<id>_model_data.c: the flatbuffer as an aligned C array."""
    return render("model_data.c.j2", f"{context['id']}_model_data.c", context)


def render_model_py(context: dict[str, Any]) -> Rendered:
    """<id>_model.py: the MicroPython module."""
    return render("model.py.j2", f"{context['id']}_model.py", context)


def render_op_resolver_h(context: dict[str, Any]) -> Rendered:
    """<id>_op_resolver.h: a MicroMutableOpResolver of exactly the model's ops."""
    return render("op_resolver.h.j2", f"{context['id']}_op_resolver.h", context)


def render_test_data_h(context: dict[str, Any]) -> Rendered:
    """<id>_test_data.h: evaluation rows and the outputs TFLM gave for them."""
    return render("test_data.h.j2", f"{context['id']}_test_data.h", context)


def render_main_cc(context: dict[str, Any]) -> Rendered:
    """main.cc: the self-test that runs the test vectors through TFLM."""
    return render("main.cc.j2", "main.cc", context)


def render_firmware(context: dict[str, Any], checked: bool) -> list[Rendered]:
    """The C array, the MicroPython module and the op resolver; once TFLM has run the variant
    (so there are test vectors to compare with), the test data and the self-test `main.cc`."""
    files = [render_model_data_h(context), render_model_data_c(context), render_model_py(context),
             render_op_resolver_h(context)]
    if checked:
        files += [render_test_data_h(context), render_main_cc(context)]
    return files


def _engine_rows(results: tuple[Any, ...]) -> list[dict[str, Any]]:
    def number(value: Any) -> str:
        return "-" if value is None else f"{value:,}"

    return [{"target": r.target, "status": r.status.upper().replace("_", " "), "message": r.message,
             "identical": {True: "yes", False: "NO", None: "-"}[r.identical_to_tflm],
             "code": number(r.inference_code_bytes), "model": number(r.model_bytes), "ram": number(r.model_ram_bytes),
             "instructions": number(r.instructions_per_inference)} for r in results]


def render_targets_md(context: dict[str, Any], results: tuple[Any, ...], revision: str,
                      engine_results: tuple[Any, ...] = ()) -> Rendered:
    """TARGETS.md: each target's verdict on the self-test, and the targets it does not run on."""
    metric = context["metric_name"]
    rows = []
    for result in results:
        value = (result.metrics or {}).get("accuracy" if metric == "accuracy" else "mae")
        text = "-" if value is None else (f"{value:.2%}" if metric == "accuracy" else f"{value:.4g}")
        rows.append({
            "target": result.target, "kernels": result.kernels, "status": result.status, "message": result.message,
            "metric_text": metrics_text(context, result.metrics) if context.get("multi_io") else text,
            "flash_text": "-" if result.flash_bytes is None else
            f"{result.flash_bytes:,} ({result.flash_bytes_without_self_test:,} without the self-test)",
            "ram_text": "-" if result.ram_bytes is None else f"{result.ram_bytes:,}",
            "instructions_text": "-" if result.instructions_per_inference is None else
            f"{result.instructions_per_inference:,}"})
    vectors = next((r.vectors for r in results if r.vectors), None)
    return render("TARGETS.md.j2", "TARGETS.md",
                  {**context, "results": rows, "revision": revision[:12], "vectors": vectors, "metric": metric,
                   "failing": [r.target for r in results if r.failed],
                   "unchecked": [r.target for r in results if r.status in ("not_checked", "not_built")],
                   "engine_rows": _engine_rows(engine_results)})


def render_not_for_mcu(specs: Specs, model: TfliteModel, reason: str) -> Rendered:
    """NOT_FOR_MCU.md: what a variant TFLM cannot run gets instead of firmware."""
    return render("NOT_FOR_MCU.md.j2", "NOT_FOR_MCU.md",
                  {"display_name": specs.name, "variant": model.plan.name, "reason": reason,
                   "description": model.plan.description})

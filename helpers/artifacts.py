"""Per-variant firmware artifacts: the context the templates see, and the files they become."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from helpers.codegen import Rendered, c_byte_lines, c_values, py_byte_lines, py_float, py_string, render, tuple_literal
from helpers.convert import TfliteModel
from helpers.identifiers import camel_case
from helpers.op_resolver import add_method
from helpers.specs import Specs


@dataclass(frozen=True)
class TestVector:
    """One evaluation row in the model's input dtype and the output TFLM gave for it."""

    input: tuple[float, ...]
    output: tuple[float, ...]


@dataclass(frozen=True)
class FirmwareFacts:
    """What the firmware checks found out about a variant (defaults: checks skipped)."""

    tflm_checked: bool = False
    tflm_runnable: bool = True
    tflm_reason: str = ""
    arena_measured: int | None = None
    arena_size: int | None = None
    test_vectors: tuple[TestVector, ...] = ()
    test_tolerance: float = 0.0


def _tensor_json(info: Any) -> dict[str, Any]:
    return {"name": info.name, "shape": list(info.shape), "dtype": info.dtype,
            "scale": info.scale, "zero_point": info.zero_point}


def exported_specs(specs: Specs, model: TfliteModel, facts: FirmwareFacts, extra: dict[str, Any]) -> str:
    """The variant's specs.json: the user's specs plus what firmware needs."""
    firmware: dict[str, Any] = {
        "variant": model.recipe.name,
        "quantization": model.recipe.quantization.value,
        "model_size_bytes": model.size_bytes,
        "tflite_ops": list(model.info.ops) + list(model.info.custom_ops),
        "input_tensor": _tensor_json(model.info.input),
        "output_tensor": _tensor_json(model.info.output),
        "tflm_checked": facts.tflm_checked,
        "tflm_runnable": facts.tflm_runnable,
        "tensor_arena_bytes": facts.arena_size,
        "tensor_arena_measured_bytes": facts.arena_measured,
    }
    if not facts.tflm_runnable:
        firmware["tflm_reason"] = facts.tflm_reason
    firmware.update(extra)
    # Also fill the user's input/output blocks with scale and zero-point where they expect them.
    result = specs.exported(firmware)
    for key, info in (("input", model.info.input), ("output", model.info.output)):
        block = dict(result.get(key, {}))
        block.update(dtype=info.dtype, scale=info.scale, zero_point=info.zero_point)
        result[key] = block
    return json.dumps(result, indent=2, sort_keys=False) + "\n"


def template_context(specs: Specs, model: TfliteModel, facts: FirmwareFacts, model_id: str,
                     source: str, layout: dict[str, Any] | None = None) -> dict[str, Any]:
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
        "variant": model.recipe.name,
        "quantization": model.recipe.quantization.value,
        "description": model.recipe.description,
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
        "arena_measured": facts.arena_measured,
        "arena_size": facts.arena_size,
        "ops": list(info.ops),
        "layout_note": layout.get("note", ""),
        "channels_last": bool(layout.get("channels_last")),
        "specs_shape_py": tuple_literal(specs.input.shape, str),
        "permutation_py": tuple_literal(permutation, str),
        "add_methods": [add_method(op) for op in info.ops + info.custom_ops],
        "compressed": "TFLM_DECODE" in info.custom_ops,
        "stateful": info.stateful,
        "vectors": [{"input": c_values(v.input, _kind(info.input.dtype)),
                     "output": c_values(v.output, _kind(info.output.dtype))} for v in facts.test_vectors],
        "test_tolerance": facts.test_tolerance,
        "test_vectors_py": _vectors_py(facts.test_vectors, info),
    }


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


def render_firmware(context: dict[str, Any], checked: bool) -> list[Rendered]:
    """The C array, the MicroPython module and, once TFLM has run the variant, the op resolver,
    the test vectors and the self-test `main.cc`."""
    model_id = context["id"]
    files = [
        render("model_data.h.j2", f"{model_id}_model_data.h", context),
        render("model_data.c.j2", f"{model_id}_model_data.c", context),
        render("model.py.j2", f"{model_id}_model.py", context),
        render("op_resolver.h.j2", f"{model_id}_op_resolver.h", context),
    ]
    if checked:
        files += [render("test_data.h.j2", f"{model_id}_test_data.h", context),
                  render("main.cc.j2", "main.cc", context)]
    return files


def render_not_for_mcu(specs: Specs, model: TfliteModel, reason: str) -> Rendered:
    """What a variant TFLM cannot run gets instead of firmware."""
    return render("NOT_FOR_MCU.md.j2", "NOT_FOR_MCU.md",
                  {"display_name": specs.name, "variant": model.recipe.name, "reason": reason,
                   "description": model.recipe.description})

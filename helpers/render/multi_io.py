"""The template context of a model with several inputs or outputs: each tensor's name, type,
shape, quantization and normalisation (and each output's task and classes), and the test vectors
split per tensor. A model with one of each never comes here: its files stay as they were."""
from __future__ import annotations

from typing import Any, Sequence

from helpers.core.flatbuffer import TensorInfo, TfliteInfo
from helpers.core.specs import Specs, TensorSpecs
from helpers.emit.codegen import c_float, c_values, py_float, py_string, tuple_literal
from helpers.emit.ports import name_fields, tensor_names
from helpers.measure.variant import TestVector


def _kind(dtype: str) -> str:
    return "float" if dtype.startswith("float") else "int"


def _norm_count(tensor: TensorSpecs) -> int:
    lengths = [len(v) for v in (tensor.normalisation.mean, tensor.normalisation.std) if isinstance(v, tuple)]
    return max(lengths) if lengths else 1


def _tensor(info: TensorInfo, spec: TensorSpecs, name: str) -> dict[str, Any]:
    """One tensor's values for the templates."""
    mean, std = spec.normalisation.as_lists(_norm_count(spec))
    return {
        **name_fields(name), "dtype": info.dtype, "c_type": info.c_type, "shape": list(info.shape),
        "dims": len(info.shape), "size": info.size, "shape_c": c_values(info.shape, "int"),
        "shape_py": tuple_literal(info.shape, str), "specs_shape_py": tuple_literal(spec.shape, str),
        "scale": info.scale, "scale_c": c_float(info.scale), "scale_py": py_float(info.scale),
        "zero_point": info.zero_point, "is_quantized": info.is_quantized, "norm_count": len(mean),
        "mean_c": c_values(mean, "float"), "std_c": c_values(std, "float"),
        "mean_py": tuple_literal(mean, py_float), "std_py": tuple_literal(std, py_float),
        "task": spec.task.value, "classes": list(spec.classes),
        "classes_py": tuple_literal(spec.classes, py_string) if spec.classes else "()",
        "label_columns": spec.label_columns, "sigmoid": info.size == 1,
        "metric": "accuracy" if spec.task.value == "classification" else "mae",
    }


def _pairs(infos: Sequence[TensorInfo], specs: Sequence[TensorSpecs]) -> list[tuple[TensorInfo, TensorSpecs]]:
    """Each tensor with its specs (a tensor specs.json does not describe gets its shape alone)."""
    return [(info, specs[n] if n < len(specs) else TensorSpecs(shape=info.shape[1:] or (1,)))
            for n, info in enumerate(infos)]


def split(values: Sequence[float], sizes: Sequence[int]) -> list[tuple[float, ...]]:
    """A flat concatenation of several tensors' values, per tensor."""
    parts, start = [], 0
    for size in sizes:
        parts.append(tuple(values[start:start + size]))
        start += size
    return parts


def _vector(vector: TestVector, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> dict[str, Any]:
    ins = split(vector.input, [t["size"] for t in inputs])
    outs = split(vector.output, [t["size"] for t in outputs])
    labels = split(vector.label, [t["label_columns"] for t in outputs])
    return {
        "inputs": [c_values(v, _kind(t["dtype"])) for v, t in zip(ins, inputs)],
        "outputs": [c_values(v, _kind(t["dtype"])) for v, t in zip(outs, outputs)],
        "labels": [c_values(v, "int" if t["metric"] == "accuracy" else "float") for v, t in zip(labels, outputs)],
        "inputs_py": [_py_values(v, t["dtype"]) for v, t in zip(ins, inputs)],
        "outputs_py": [_py_values(v, t["dtype"]) for v, t in zip(outs, outputs)],
    }


def _py_values(values: tuple[float, ...], dtype: str) -> str:
    return tuple_literal(values, py_float if _kind(dtype) == "float" else (lambda v: str(int(v))))


def multi_io_context(specs: Specs, info: TfliteInfo, vectors: tuple[TestVector, ...],
                     python_vectors: int) -> dict[str, Any]:
    """The values the templates' multi-I/O branches read (`multi_io` False: none)."""
    input_names = tensor_names([s.name for s in specs.inputs], len(info.input_tensors), "input")
    output_names = tensor_names([s.name for s in specs.outputs], len(info.output_tensors), "output")
    if not info.multi_io:
        return {"multi_io": False, "input_names": input_names, "output_names": output_names}
    inputs = [_tensor(i, s, n) for (i, s), n in zip(_pairs(info.input_tensors, specs.inputs), input_names)]
    outputs = [_tensor(i, s, n) for (i, s), n in zip(_pairs(info.output_tensors, specs.outputs), output_names)]
    split_vectors = [_vector(v, inputs, outputs) for v in vectors]
    python = [f"({tuple_literal(v['inputs_py'], str)}, {tuple_literal(v['outputs_py'], str)})"
              for v in split_vectors[:python_vectors]]
    return {"multi_io": True, "input_names": input_names, "output_names": output_names, "io_inputs": inputs,
            "io_outputs": outputs, "vectors": split_vectors,
            "test_vectors_py": tuple_literal(python, str) if python else "()",
            "metric_name": ", ".join(f"{t['metric']} of {t['name']}" for t in outputs)}



def metrics_text(context: dict[str, Any], metrics: dict[str, float] | None) -> str:
    """Each output's metric as a self-test computed it (`<output>.accuracy`, `<output>.mae`), for
    TARGETS.md: "kind 97.50%, level 0.1234"; "-" where it printed none."""
    parts = []
    for tensor in context["io_outputs"]:
        value = (metrics or {}).get(f"{tensor['name']}.{tensor['metric']}")
        if value is not None:
            parts.append(f"{tensor['name']} " + (f"{value:.2%}" if tensor["metric"] == "accuracy" else f"{value:.4g}"))
    return ", ".join(parts) or "-"

"""specs.json, version 1: schema, validation and the exported form.

Only `task`, `input.shape` and `output.shape` are required. Every field beyond the ones
read here is kept in `Specs.raw` and passed through to the exported specs untouched.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any, Mapping

from helpers.errors import SpecsError

SPECS_FILENAME = "specs.json"


class Task(str, Enum):
    """What the model predicts; decides the metric and how labels are read."""

    CLASSIFICATION = "classification"
    REGRESSION = "regression"


@dataclass(frozen=True)
class Normalisation:
    """`(x - mean) / std`; each is a scalar or one value per feature (tuple)."""

    mean: float | tuple[float, ...] = 0.0
    std: float | tuple[float, ...] = 1.0

    def as_lists(self, size: int) -> tuple[list[float], list[float]]:
        """Mean and std broadcast to `size` values (for firmware constants)."""
        return _broadcast(self.mean, size), _broadcast(self.std, size)


@dataclass(frozen=True)
class TensorSpecs:
    """One input or output: its shape (without batch), normalisation and class names; an output of a
    model with several outputs has its own task (the single-output form takes the specs' task)."""

    shape: tuple[int, ...]
    normalisation: Normalisation = field(default_factory=Normalisation)
    classes: tuple[str, ...] = ()
    name: str = ""
    task: Task = Task.CLASSIFICATION

    @property
    def label_columns(self) -> int:
        """CSV columns this output's labels take: one class per row, or one column per value."""
        return 1 if self.task is Task.CLASSIFICATION else self.size

    @property
    def size(self) -> int:
        """Number of scalar values in one sample."""
        return math.prod(self.shape)


@dataclass(frozen=True)
class Specs:
    """A validated specs.json."""

    name: str
    task: Task
    input: TensorSpecs
    output: TensorSpecs
    dataset: str | None
    raw: Mapping[str, Any]
    path: Path
    # Every input and output in the CSV's and the firmware's order (`inputs`/`outputs` lists in
    # specs.json); the single `input`/`output` form has one of each, the same as `input`/`output`.
    inputs: tuple[TensorSpecs, ...] = ()
    outputs: tuple[TensorSpecs, ...] = ()

    @property
    def multi_input(self) -> bool:
        """Whether the model takes several input tensors (the dataset's features are then packed)."""
        return len(self.inputs) > 1

    @property
    def multi_output(self) -> bool:
        """Whether the model returns several output tensors (labels and outputs are then packed)."""
        return len(self.outputs) > 1

    @property
    def multi_io(self) -> bool:
        """Several inputs or several outputs."""
        return self.multi_input or self.multi_output

    def output_views(self) -> tuple[tuple[int, "Specs", str], ...]:
        """(index, specs as if the model had that output alone, file-name suffix) per output, for
        what is drawn or written per output (plots); one output: the specs themselves, no suffix."""
        if not self.multi_output:
            return ((0, self, ""),)
        return tuple((number, replace(self, name=f"{self.name} {output.name}", task=output.task, output=output,
                                      outputs=(output,)), f"_{output.name}")
                     for number, output in enumerate(self.outputs))

    def block(self, key: str) -> Mapping[str, Any]:
        """An optional settings block (`training`, `pruning`, `qat`, ...), empty if absent."""
        value = self.raw.get(key, {})
        return value if isinstance(value, Mapping) else {}

    def setting(self, block: str, key: str, default: float, kind: type, low: float, high: float) -> Any:
        """A number from an optional settings block (`pruning.epochs`, ...), checked against its
        range: a SpecsError naming the field otherwise, never a bare ValueError from int()/float()."""
        value = self.block(block).get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise SpecsError(f"specs `{block}.{key}` must be a number from {low} to {high}, got {value!r}",
                             f"fix `{block}.{key}` in specs.json", self.path)
        if kind is int and value != int(value):
            raise SpecsError(f"specs `{block}.{key}` must be a whole number, got {value!r}",
                             f"fix `{block}.{key}` in specs.json", self.path)
        return kind(value)

    def exported(self, firmware: Mapping[str, Any]) -> dict[str, Any]:
        """The specs as shipped next to a variant: the input specs plus what firmware needs."""
        result = json.loads(json.dumps(self.raw))  # deep copy of plain JSON data
        result["name"] = self.name
        result.update(firmware)
        return result


def _broadcast(value: float | tuple[float, ...], size: int) -> list[float]:
    if isinstance(value, tuple):
        if len(value) == size:
            return list(value)
        return [value[i % len(value)] for i in range(size)]
    return [float(value)] * size


def _fail(problem: str, fix: str, path: Path) -> SpecsError:
    return SpecsError(problem, fix, path)


def _shape(block: Mapping[str, Any], key: str, path: Path) -> tuple[int, ...]:
    shape = block.get("shape")
    if shape is None:
        raise _fail(f"specs.json has no `{key}.shape`", f'add e.g. "{key}": {{"shape": [8, 8, 1]}}', path)
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = [shape]
    if (not isinstance(shape, list) or not shape
            or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
        raise _fail(f"`{key}.shape` must be a list of positive integers, got {shape!r}",
                    "write the shape of one sample without the batch dimension, e.g. [24, 1]", path)
    return tuple(shape)


def _number_or_list(block: Mapping[str, Any], key: str, where: str, default: float,
                    path: Path, feature_counts: tuple[int, ...]) -> float | tuple[float, ...]:
    value = block.get(key, default)
    if isinstance(value, bool):
        value = None
    if isinstance(value, (int, float)):
        number = float(value)
        if not math.isfinite(number):
            raise _fail(f"`{where}.{key}` is not a finite number", "use a finite number", path)
        return number
    if isinstance(value, list) and value and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        if len(value) not in feature_counts:
            raise _fail(f"`{where}.{key}` has {len(value)} values",
                        f"give one number, or one per feature ({' or '.join(map(str, sorted(set(feature_counts))))})",
                        path)
        return tuple(float(v) for v in value)
    raise _fail(f"`{where}.{key}` must be a number or a list of numbers, got {value!r}",
                f'write e.g. "{key}": {default}', path)


def _normalisation(block: Mapping[str, Any], where: str, shape: tuple[int, ...], path: Path) -> Normalisation:
    counts = (math.prod(shape), shape[-1])
    mean = _number_or_list(block, "mean", where, 0.0, path, counts)
    std = _number_or_list(block, "std", where, 1.0, path, counts)
    stds = std if isinstance(std, tuple) else (std,)
    if any(s == 0.0 for s in stds):
        raise _fail(f"`{where}.std` is zero, which would divide by zero",
                    "use the standard deviation of the training data, or 1.0 for no scaling", path)
    return Normalisation(mean=mean, std=std)


def _tensor(block: Any, key: str, path: Path, task: Task, name: str = "") -> TensorSpecs:
    """One input or output block; `key` is where it sits in specs.json, for messages."""
    if not isinstance(block, Mapping):
        raise _fail(f"specs.json has no `{key}` object", f'add "{key}": {{"shape": [...]}}', path)
    shape = _shape(block, key, path)
    classes = block.get("classes", [])
    if not isinstance(classes, list) or not all(isinstance(c, (str, int)) and not isinstance(c, bool)
                                                for c in classes):
        raise _fail(f"`{key}.classes` must be a list of class names", 'write e.g. "classes": ["cat", "dog"]', path)
    names = tuple(str(c) for c in classes)
    if len(set(names)) != len(names):
        raise _fail(f"`{key}.classes` has duplicate names", "give every class a distinct name", path)
    if task is Task.CLASSIFICATION and names and math.prod(shape) not in (1, len(names)):
        raise _fail(f"`{key}.shape` {list(shape)} does not fit {len(names)} classes",
                    f"make {key}.shape the number of classes (or [1] for a binary sigmoid)", path)
    return TensorSpecs(shape=shape, normalisation=_normalisation(block, key, shape, path), classes=names,
                       name=name, task=task)


def _task(value: Any, where: str, path: Path) -> Task:
    if value is None:
        raise _fail(f"specs.json has no `{where}`", 'add "task": "classification" or "regression"', path)
    try:
        return Task(value)
    except ValueError:
        raise _fail(f"unknown task {value!r} in specs.json", 'use "classification" or "regression"', path) from None


def _tensor_list(raw: Mapping[str, Any], key: str, path: Path, task: Task | None) -> tuple[TensorSpecs, ...]:
    """`inputs`/`outputs`: a list of blocks, each with a distinct name (the firmware's argument
    names); an output may name its own `task`, else it takes the specs' task."""
    blocks = raw[key]
    if not isinstance(blocks, list) or not blocks:
        raise _fail(f"`{key}` must be a non-empty list of objects", f'write e.g. "{key}": [{{"name": "a", "shape": [4]}}]',
                    path)
    tensors = []
    for number, block in enumerate(blocks):
        where = f"{key}[{number}]"
        if not isinstance(block, Mapping):
            raise _fail(f"`{where}` must be an object", f'write e.g. {{"name": "a", "shape": [4]}}', path)
        name = block.get("name", f"{key[:-1]}{number}")
        if not isinstance(name, str) or not name.isidentifier():
            raise _fail(f"`{where}.name` must be a name of letters, digits and _ (it names the firmware's "
                        f"argument), got {name!r}", f'write e.g. "name": "{key[:-1]}{number}"', path)
        own = _task(block.get("task"), f"{where}.task", path) if key == "outputs" and "task" in block else task
        if key == "inputs":
            own = Task.CLASSIFICATION  # an input has no task; the field is the dataclass's default
        if own is None:
            raise _fail(f"`{where}` has no task and specs.json has no `task`",
                        'add "task": "classification" or "regression" to the output or to specs.json', path)
        tensors.append(_tensor(block, where, path, own, name))
    names = [tensor.name for tensor in tensors]
    if len(set(names)) != len(names):
        raise _fail(f"`{key}` has duplicate names", "give every tensor a distinct name", path)
    return tuple(tensors)


def _io(raw: Mapping[str, Any], path: Path, task: Task | None) -> tuple[tuple[TensorSpecs, ...], tuple[TensorSpecs, ...]]:
    """The inputs and outputs: the `inputs`/`outputs` lists or the single `input`/`output` form."""
    found = []
    for single, several in (("input", "inputs"), ("output", "outputs")):
        if single in raw and several in raw:
            raise _fail(f"specs.json has both `{single}` and `{several}`", "keep one of them", path)
        if several in raw:
            found.append(_tensor_list(raw, several, path, task))
        else:
            if task is None:
                _task(None, "task", path)
            found.append((_tensor(raw.get(single), single, path, task),))
    return found[0], found[1]


def parse_specs(raw: Any, path: Path, default_name: str) -> Specs:
    """Validate the decoded JSON of a specs file and return Specs."""
    if not isinstance(raw, Mapping):
        raise _fail("specs.json must hold a JSON object", 'start from {"task": ..., "input": ..., "output": ...}', path)
    task = _task(raw.get("task"), "task", path) if "task" in raw or "outputs" not in raw else None
    name = raw.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        raise _fail(f"`name` must be a non-empty string, got {name!r}", "write a short model name", path)
    dataset = raw.get("dataset")
    if dataset is not None and (not isinstance(dataset, str) or not dataset.strip()):
        raise _fail(f"`dataset` must be a file name, got {dataset!r}", 'write e.g. "dataset": "data.csv"', path)
    for block in ("training", "pruning", "qat", "clustering"):
        if block in raw and not isinstance(raw[block], Mapping):
            raise _fail(f"`{block}` must be a JSON object", f'write e.g. "{block}": {{}}', path)
    inputs, outputs = _io(raw, path, task)
    return Specs(name=name.strip(), task=outputs[0].task, input=inputs[0], output=outputs[0],
                 dataset=dataset, raw=dict(raw), path=path, inputs=inputs, outputs=outputs)


# What the missing-specs error offers to copy: the fewest keys a run needs (tests/unit checks it parses).
MINIMAL_SPECS = '{"name": "my_model", "task": "classification", "input": {"shape": [8]}, "output": {"shape": [3]}}'


def load_specs(model_dir: Path) -> Specs:
    """Read and validate `<model_dir>/specs.json`."""
    path = model_dir / SPECS_FILENAME
    if not path.is_file():
        raise _fail("specs.json is missing", f"write a specs.json next to the model, e.g. {MINIMAL_SPECS} "
                    "(docs/input.md)", path)
    too_deep = False
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))  # a BOM (Windows editors) is fine
    except UnicodeDecodeError:
        raise _fail("specs.json is not UTF-8 text", "save it as UTF-8 JSON", path) from None
    except json.JSONDecodeError as exc:
        raise _fail(f"specs.json is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
                    "fix the JSON syntax", path) from None
    except RecursionError:
        too_deep = True
    if too_deep or _depth(raw) > MAX_SPECS_DEPTH:
        raise _fail(f"specs.json nests lists or objects more than {MAX_SPECS_DEPTH} levels deep",
                    "write the specs as docs/input.md describes them", path)
    return parse_specs(raw, path, default_name=model_dir.resolve().name)


# Deeper than any specs.json needs; deeper ones would exhaust Python's recursion further on.
MAX_SPECS_DEPTH = 32


def _depth(value: object) -> int:
    """How deeply lists and objects nest in a JSON value (iterative: no recursion limit)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if level > MAX_SPECS_DEPTH:
                return level
            pending += [(child, level + 1) for child in (item.values() if isinstance(item, dict) else item)]
    return deepest

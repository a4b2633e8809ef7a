"""specs.json validation: good specs parse, bad ones raise SpecsError naming the field."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.core.specs import MINIMAL_SPECS, Task, load_specs, parse_specs
from helpers.errors import SpecsError

GOOD = {"task": "regression", "input": {"shape": [24, 1], "mean": 400.0, "std": 20.0},
        "output": {"shape": [1], "mean": 400.0, "std": 20.0}, "extra": {"kept": True}}


def test_minimal_specs_parse_with_defaults():
    specs = parse_specs({"task": "classification", "input": {"shape": [4]}, "output": {"shape": [3]}},
                        Path("specs.json"), default_name="folder")
    assert specs.task is Task.CLASSIFICATION
    assert specs.name == "folder"
    assert specs.input.shape == (4,) and specs.input.size == 4
    assert (specs.input.normalisation.mean, specs.input.normalisation.std) == (0.0, 1.0)


def test_unknown_fields_pass_through_to_exported_specs():
    specs = parse_specs(GOOD, Path("specs.json"), default_name="x")
    exported = specs.exported({"variant": "int8"})
    assert exported["extra"] == {"kept": True}
    assert exported["variant"] == "int8"
    assert specs.raw["extra"] == {"kept": True}  # the original is not mutated


def test_per_feature_normalisation_accepts_one_value_per_channel_or_element():
    per_channel = dict(GOOD, input={"shape": [4, 2], "mean": [1.0, 2.0], "std": [1.0, 4.0]})
    assert parse_specs(per_channel, Path("s"), "x").input.normalisation.mean == (1.0, 2.0)
    wrong = dict(GOOD, input={"shape": [4, 2], "mean": [1.0, 2.0, 3.0]})
    with pytest.raises(SpecsError, match="input.mean"):
        parse_specs(wrong, Path("s"), "x")


@pytest.mark.parametrize("raw, field", [
    ({"input": {"shape": [1]}, "output": {"shape": [1]}}, "task"),
    (dict(GOOD, task="clustering"), "clustering"),
    ({k: v for k, v in GOOD.items() if k != "input"}, "input"),
    (dict(GOOD, input={"mean": 0}), "input.shape"),
    (dict(GOOD, input={"shape": [0, 1]}), "input.shape"),
    (dict(GOOD, input={"shape": ["24"]}), "input.shape"),
    (dict(GOOD, output={"shape": [1], "std": 0}), "output.std"),
    (dict(GOOD, input={"shape": [2], "std": [1.0, 0.0]}), "input.std"),
    (dict(GOOD, input={"shape": [2], "mean": "zero"}), "input.mean"),
    (dict(GOOD, task="classification", output={"shape": [3], "classes": ["a", "b"]}), "classes"),
    (dict(GOOD, name=""), "name"),
    (dict(GOOD, dataset=5), "dataset"),
    (dict(GOOD, training=[1]), "training"),
    ([1, 2], "JSON object"),
])
def test_bad_specs_raise_specs_error_naming_the_problem(raw, field):
    with pytest.raises(SpecsError) as info:
        parse_specs(raw, Path("specs.json"), default_name="x")
    assert field in info.value.problem
    assert info.value.fix


def test_load_specs_reports_missing_file_and_bad_json(tmp_path):
    with pytest.raises(SpecsError, match="missing") as missing:
        load_specs(tmp_path)
    # the fix offers specs to copy: they parse
    assert MINIMAL_SPECS in str(missing.value)
    assert parse_specs(json.loads(MINIMAL_SPECS), Path("specs.json"), default_name="x").name == "my_model"
    (tmp_path / "specs.json").write_text('{"task": "regression",', encoding="utf-8")
    with pytest.raises(SpecsError, match="not valid JSON"):
        load_specs(tmp_path)
    (tmp_path / "specs.json").write_text(json.dumps(GOOD), encoding="utf-8")
    assert load_specs(tmp_path).name == tmp_path.name

"""Property-based: specs and CSV parsing only ever raise the project's own error type."""
from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.core.dataset import load_dataset
from helpers.core.specs import parse_specs
from helpers.errors import PipelineError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)
specs_like = st.fixed_dictionaries({}, optional={
    "task": st.sampled_from(["classification", "regression", "x"]) | json_values,
    "name": json_values,
    "input": st.fixed_dictionaries({}, optional={"shape": json_values | st.lists(st.integers(-2, 5), max_size=3),
                                                 "mean": json_values, "std": json_values}) | json_values,
    "output": st.fixed_dictionaries({}, optional={"shape": json_values | st.lists(st.integers(-2, 5), max_size=3),
                                                  "classes": json_values}) | json_values,
    "dataset": json_values, "training": json_values,
})


@settings(max_examples=300, deadline=None)
@given(raw=specs_like | json_values)
def test_parse_specs_raises_only_pipeline_errors(raw):
    try:
        specs = parse_specs(raw, Path("specs.json"), "m")
    except PipelineError:
        return
    assert specs.input.size >= 1 and specs.output.size >= 1


cells = st.sampled_from(["1", "0.5", "-3", "", "nan", "inf", "abc", '"q"', "1e400", "cat", " 2 "])
rows = st.lists(st.lists(cells, min_size=0, max_size=5), min_size=0, max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.sampled_from(["a,b,c,y", "a,b,y", "", "a"]), body=rows,
       task=st.sampled_from(["classification", "regression"]))
def test_load_dataset_raises_only_pipeline_errors(header, body, task):
    specs = parse_specs({"task": task, "input": {"shape": [3]},
                         "output": {"shape": [2], "classes": ["cat", "dog"]} if task == "classification"
                         else {"shape": [1]}}, Path("specs.json"), "m")
    text = header + "\n" + "\n".join(",".join(r) for r in body)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.csv"
        path.write_text(text)
        try:
            data = load_dataset(path, specs)
        except PipelineError:
            return
    assert data.x.shape[1:] == (3,)

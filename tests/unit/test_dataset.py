"""CSV loading, normalisation and the deterministic split."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers.core.dataset import (
    MIN_ROWS,
    load_dataset,
    locate_dataset,
    normalise,
    split_dataset,
)
from helpers.core.specs import parse_specs
from helpers.errors import DatasetError


def _specs(shape=(2, 2), task="regression", mean=0.0, std=1.0, classes=None, output_shape=(1,)):
    output = {"shape": list(output_shape)}
    if classes:
        output["classes"] = classes
    return parse_specs({"task": task, "input": {"shape": list(shape), "mean": mean, "std": std},
                        "output": output}, Path("specs.json"), "t")


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_features_are_reshaped_in_c_order_and_normalised(tmp_path):
    path = _csv(tmp_path, "a,b,c,d,y\n1,2,3,4,10\n5,6,7,8,20\n")
    data = load_dataset(path, _specs(mean=[1.0, 2.0], std=[2.0, 2.0]))
    assert data.x.shape == (2, 2, 2)
    # per-channel mean/std: channel 0 holds columns a, c; channel 1 holds b, d
    np.testing.assert_allclose(data.x[0], [[0.0, 0.0], [1.0, 1.0]])
    np.testing.assert_allclose(data.y, [10.0, 20.0])
    assert data.x.dtype == np.float32


def test_class_names_and_indices_both_map_to_indices(tmp_path):
    specs = _specs(shape=(1,), task="classification", classes=["cat", "dog"], output_shape=(2,))
    by_name = load_dataset(_csv(tmp_path, "f,label\n0.5,dog\n0.1,cat\n"), specs)
    assert by_name.y.tolist() == [1, 0]
    by_index = load_dataset(_csv(tmp_path, "f,label\n0.5,1\n0.1,0\n"), specs)
    assert by_index.y.tolist() == [1, 0]


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("a,b,c,d,y\n", "no rows"),
    ("a,b,c,d,y\n1,2,3,x,1\n", "non-numeric"),
    ("a,b,c,d,y\n1,2,3,nan,1\n", "NaN"),
    ("a,b,c,d,y\n1,2,3,inf,1\n", "infinite"),
    ("a,b,c,d,y\n1,2,3,4,1\n1,2,3,4,5,6\n", "ragged"),
    ("a,b,c,y\n1,2,3,1\n", "feature columns"),
])
def test_malformed_csv_raises_dataset_error(tmp_path, text, message):
    with pytest.raises(DatasetError, match=message):
        load_dataset(_csv(tmp_path, text), _specs())


def test_labels_outside_the_classes_are_rejected(tmp_path):
    specs = _specs(shape=(1,), task="classification", classes=["cat", "dog"], output_shape=(2,))
    with pytest.raises(DatasetError, match="'bird'"):
        load_dataset(_csv(tmp_path, "f,label\n0.5,bird\n"), specs)
    with pytest.raises(DatasetError, match="not one of the classes"):
        load_dataset(_csv(tmp_path, "f,label\n0.5,7\n"), specs)


def test_split_is_deterministic_disjoint_and_complete(tmp_path):
    rows = "\n".join(f"{i},{i},{i},{i},{i}" for i in range(200))
    data = load_dataset(_csv(tmp_path, "a,b,c,d,y\n" + rows + "\n"), _specs())
    first, second = split_dataset(data), split_dataset(data)
    assert np.array_equal(first.calibration.y, second.calibration.y)
    assert np.array_equal(first.tuning.y, second.tuning.y)
    together = np.concatenate([first.calibration.y, first.tuning.y, first.evaluation.y])
    assert sorted(together.tolist()) == list(range(200))  # disjoint and complete
    assert (len(first.calibration), len(first.tuning), len(first.evaluation)) == (50, 50, 100)
    # fine-tuning learns from calibration and tuning rows, never from an evaluation row
    assert not set(first.fine_tuning.y.tolist()) & set(first.evaluation.y.tolist())
    assert len(first.fine_tuning) == 100


def test_too_few_rows_to_calibrate(tmp_path):
    rows = "\n".join("1,2,3,4,5" for _ in range(MIN_ROWS - 1))
    data = load_dataset(_csv(tmp_path, "a,b,c,d,y\n" + rows + "\n"), _specs())
    with pytest.raises(DatasetError, match="too few"):
        split_dataset(data)


def test_dataset_path_must_stay_inside_model_dir_or_dataset_folder(tmp_path):
    model_dir = tmp_path / "m"
    model_dir.mkdir()
    specs = parse_specs({"task": "regression", "input": {"shape": [1]}, "output": {"shape": [1]},
                         "dataset": "../../../etc/passwd"}, model_dir / "specs.json", "m")
    with pytest.raises(DatasetError, match="outside"):
        locate_dataset(model_dir, specs)


def test_normalise_broadcasts_scalar_mean_and_std():
    specs = _specs(mean=1.0, std=2.0)
    x = np.ones((3, 2, 2), np.float32) * 5
    assert np.allclose(normalise(x, specs), 2.0)

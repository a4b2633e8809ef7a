"""CSV dataset -> normalised arrays, split into calibration and evaluation rows.

CSV layout: a header row, one sample per row, every feature column raw (unnormalised)
and flattened in C order to `input.shape`, the label in the last column (for regression
with k outputs, the last k columns).

A model with several inputs or outputs (specs `inputs`/`outputs`) has the inputs' columns in
order, then each output's label columns in order (one for a classification output, `size` for a
regression one). Its rows are held packed: `x` is (rows, every input's values) and `y` (rows,
every label column); `Specs.split_*` (core/io.py) cut them per tensor where a model is called.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from helpers.core.paths import SHARED_DATASET_DIR
from helpers.core.specs import Specs, Task, TensorSpecs
from helpers.errors import DatasetError

MIN_ROWS = 20              # below this neither calibration nor evaluation means anything
CALIBRATION_FRACTION = 0.25
TUNING_FRACTION = 0.25     # with the calibration rows, what --prune, --cluster and --QAT fine-tune on
MAX_CALIBRATION_ROWS = 1000  # the converter's calibration time grows with it; 1000 is plenty
SPLIT_SEED = 0


@dataclass(frozen=True)
class Dataset:
    """Normalised features and labels; `y` holds class indices or raw regression targets."""

    x: np.ndarray
    y: np.ndarray
    path: Path

    def __len__(self) -> int:
        return len(self.x)

    def rows(self, index: np.ndarray) -> "Dataset":
        """A subset of rows, in the given order."""
        return Dataset(x=self.x[index], y=self.y[index], path=self.path)

    def with_features(self, x: np.ndarray) -> "Dataset":
        """The same rows and labels with the features replaced (e.g. in another layout)."""
        return Dataset(x=x, y=self.y, path=self.path)


@dataclass(frozen=True)
class SplitDataset:
    """Calibration rows feed the representative dataset; calibration and tuning rows together are
    what optimization fine-tunes on; evaluation rows (disjoint from both) measure every variant."""

    calibration: Dataset
    evaluation: Dataset
    tuning: Dataset

    @cached_property
    def fine_tuning(self) -> Dataset:
        """Every row optimization may learn from: the calibration and the tuning rows (concatenated
        once; fine-tuning and every --sparsity auto candidate read them)."""
        return Dataset(x=np.concatenate([self.calibration.x, self.tuning.x]),
                       y=np.concatenate([self.calibration.y, self.tuning.y]), path=self.calibration.path)

    def with_features(self, convert: Callable[[np.ndarray], np.ndarray]) -> "SplitDataset":
        """The same split with every row's features converted (e.g. into another layout)."""
        return SplitDataset(*(part.with_features(convert(part.x)) for part in (self.calibration, self.evaluation,
                                                                                self.tuning)))


def locate_dataset(model_dir: Path, specs: Specs) -> Path:
    """The CSV named by specs `dataset` (model dir, then `dataset/`), else the only CSV in the model dir."""
    if specs.dataset:
        allowed = (model_dir.resolve(), SHARED_DATASET_DIR.resolve())
        for base in allowed:
            candidate = (base / specs.dataset).resolve()
            if not any(candidate.is_relative_to(root) for root in allowed):
                raise DatasetError(f"`dataset` {specs.dataset!r} points outside the model directory and dataset/",
                                   "put the CSV in the model directory or in dataset/ and name it there",
                                   specs.path)
            if candidate.is_file():
                return candidate
        raise DatasetError(f"dataset {specs.dataset!r} named in specs.json was not found",
                           f"put it in {model_dir} or in {SHARED_DATASET_DIR}", specs.path)
    csvs = sorted(model_dir.glob("*.csv"))
    if len(csvs) == 1:
        return csvs[0]
    if not csvs:
        raise DatasetError("no dataset found", 'add a CSV to the model directory or name one in specs.json "dataset"',
                           model_dir)
    raise DatasetError(f"{len(csvs)} CSV files and none named in specs.json",
                       'name the dataset in specs.json, e.g. "dataset": "' + csvs[0].name + '"', model_dir)


def _read_frame(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DatasetError("the dataset is empty", "write a header row and one sample per row", path) from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1]
        raise DatasetError(f"the dataset has ragged rows ({detail})",
                           "give every row the same number of columns as the header", path) from None
    except UnicodeDecodeError:
        raise DatasetError("the dataset is not UTF-8 text", "save the CSV as UTF-8", path) from None
    if frame.empty:
        raise DatasetError("the dataset has a header but no rows", "add one sample per row", path)
    return frame


def _features(frame: pd.DataFrame, n_features: int, path: Path) -> np.ndarray:
    features = frame.iloc[:, :n_features]
    try:
        values = features.to_numpy(dtype=np.float32)
    except (ValueError, TypeError, OverflowError):
        for column in features.columns:
            for row, value in enumerate(features[column].tolist()):
                problem = _not_a_float(value)
                if problem:
                    raise DatasetError(f"{problem} {str(value)[:40]!r} in column {column!r}, data row {row + 1}",
                                       "make every feature cell a number", path) from None
        raise
    _check_finite(values, frame.columns[:n_features], path)
    return values


def _not_a_float(value: object) -> str | None:
    """Why a cell is no float (a word, a 400-digit integer), or None."""
    try:
        float(value)  # type: ignore[arg-type]
    except OverflowError:
        return "a number too large for a float,"
    except (ValueError, TypeError):
        return "non-numeric value"
    return None


def _check_finite(values: np.ndarray, columns: pd.Index, path: Path) -> None:
    finite = np.isfinite(values)
    if not finite.all():
        row, column = (int(i) for i in np.argwhere(~finite)[0])
        what = "an empty cell or NaN" if np.isnan(values[row, column]) else "an infinite value"
        raise DatasetError(f"{what} in column {columns[column]!r}, data row {row + 1}",
                           "fill or drop that row (a short row also leaves empty cells)", path)


def _class_labels(column: pd.Series, output: TensorSpecs, path: Path) -> np.ndarray:
    classes = output.classes
    n_classes = len(classes) or (output.size if output.size > 1 else 2)
    if column.isna().any():
        row = int(np.flatnonzero(column.isna().to_numpy())[0])
        raise DatasetError(f"missing label in data row {row + 1}", "give every row a label", path)
    try:
        numeric = pd.to_numeric(column, errors="coerce")
        values = numeric.to_numpy(dtype=np.float64) if numeric.notna().all() else None
    except (ValueError, TypeError, OverflowError):  # an integer too large for a float
        values = None
    if values is not None:
        bad = (values != np.round(values)) | (values < 0) | (values >= n_classes)
        if not bad.any():
            return values.astype(np.int64)
        if not classes:
            row = int(np.flatnonzero(bad)[0])
            raise DatasetError(f"label {column.iloc[row]!r} in data row {row + 1} is not a class index 0..{n_classes - 1}",
                               "use class indices, or list the class names in specs output.classes", path)
    lookup = {name: index for index, name in enumerate(classes)}
    labels = column.astype(str).str.strip()
    unknown = ~labels.isin(list(lookup))
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise DatasetError(f"label {labels.iloc[row]!r} in data row {row + 1} is not one of the classes "
                           f"{list(classes)}", "fix the label or add the class to specs output.classes", path)
    return labels.map(lookup).to_numpy(dtype=np.int64)


def _regression_targets(frame: pd.DataFrame, n_targets: int, path: Path) -> np.ndarray:
    targets = frame.iloc[:, -n_targets:]
    try:
        values = targets.to_numpy(dtype=np.float32)
    except (ValueError, TypeError, OverflowError):
        raise DatasetError("a regression target is not a number",
                           f"make the last {n_targets} column(s) numeric", path) from None
    _check_finite(values, frame.columns[-n_targets:], path)
    return values.reshape((len(values),) + (() if n_targets == 1 else (n_targets,)))


def normalise(x: np.ndarray, specs: Specs | TensorSpecs) -> np.ndarray:
    """`(x - mean) / std` with the input's normalisation (the specs' first input), in float32."""
    tensor = specs.input if isinstance(specs, Specs) else specs
    mean, std = tensor.normalisation.mean, tensor.normalisation.std
    mean_arr = np.asarray(mean, dtype=np.float32)
    std_arr = np.asarray(std, dtype=np.float32)
    flat = x.reshape(len(x), -1)
    if mean_arr.ndim and mean_arr.size != flat.shape[1]:  # one value per channel (last dimension)
        mean_arr = np.tile(mean_arr, flat.shape[1] // mean_arr.size)
    if std_arr.ndim and std_arr.size != flat.shape[1]:
        std_arr = np.tile(std_arr, flat.shape[1] // std_arr.size)
    return ((flat - mean_arr) / std_arr).astype(np.float32).reshape(x.shape)


def load_dataset(path: Path, specs: Specs) -> Dataset:
    """Read the CSV, check it against the specs and normalise the features."""
    frame = _read_frame(path)
    n_features = sum(tensor.size for tensor in specs.inputs)
    n_labels = sum(output.label_columns for output in specs.outputs)
    if frame.shape[1] != n_features + n_labels:
        shapes, what, need = " + ".join(str(list(tensor.shape)) for tensor in specs.inputs), "input.shape", "needs"
        if specs.multi_input:
            what, need = "the inputs' shapes", "need"
        raise DatasetError(
            f"the dataset has {frame.shape[1] - n_labels} feature columns but {what} {shapes} {need} {n_features}",
            f"give each row {n_features} features and {n_labels} label column(s), or fix {what}", path)
    features = _features(frame, n_features, path)
    labels = _labels(frame.iloc[:, n_features:], specs, path)
    del frame  # keep at most a few copies of a large CSV alive
    if not specs.multi_input:
        x = normalise(features.reshape((len(features),) + specs.input.shape), specs.input)
        return Dataset(x=x, y=labels, path=path)
    parts, start = [], 0
    for tensor in specs.inputs:  # each input its own normalisation, the rows kept packed
        parts.append(normalise(features[:, start:start + tensor.size], tensor))
        start += tensor.size
    return Dataset(x=np.concatenate(parts, axis=1), y=labels, path=path)


def _labels(frame: pd.DataFrame, specs: Specs, path: Path) -> np.ndarray:
    """Each output's labels; several outputs' packed as float64 columns (class indices are exact)."""
    columns, start = [], 0
    for output in specs.outputs:
        if output.task is Task.CLASSIFICATION:
            labels = _class_labels(frame.iloc[:, start], output, path)
        else:
            labels = _regression_targets(frame.iloc[:, start:start + output.label_columns], output.label_columns, path)
        columns.append(labels)
        start += output.label_columns
    if not specs.multi_output:
        return columns[0]
    return np.concatenate([np.asarray(c, np.float64).reshape(len(c), -1) for c in columns], axis=1)


def split_dataset(dataset: Dataset) -> SplitDataset:
    """Deterministic split by a seeded permutation: 25% (at most 1,000 rows) calibration, 25% more for
    fine-tuning, the rest (at least half) evaluation. Each part keeps the CSV's row order."""
    n_rows = len(dataset)
    if n_rows < MIN_ROWS:
        raise DatasetError(f"the dataset has {n_rows} rows, too few to calibrate and evaluate",
                           f"give at least {MIN_ROWS} rows (a few hundred is better)", dataset.path)
    order = np.random.default_rng(SPLIT_SEED).permutation(n_rows)
    n_calibration = min(max(int(n_rows * CALIBRATION_FRACTION), 1), MAX_CALIBRATION_ROWS)
    n_tuning = max(int(n_rows * TUNING_FRACTION), 1)
    return SplitDataset(calibration=dataset.rows(np.sort(order[:n_calibration])),
                        evaluation=dataset.rows(np.sort(order[n_calibration + n_tuning:])),
                        tuning=dataset.rows(np.sort(order[n_calibration:n_calibration + n_tuning])))

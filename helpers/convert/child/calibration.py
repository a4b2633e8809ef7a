"""How the child feeds calibration rows to TensorFlow: one row at a time, batch of 1, each from
reset recurrent state, as inference runs."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np


def representative_dataset(rows: np.ndarray | dict[str, np.ndarray]) -> Callable[[], Iterator[Any]]:
    """The converter's calibration generator over `rows` (already picked by the parent), in order.
    A model with several inputs has its rows as a dict keyed by its signature's input names, and
    each sample is such a dict: the converter matches them by name, never by position."""
    if isinstance(rows, dict):
        named = {name: values.astype(np.float32) for name, values in rows.items()}
        count = len(next(iter(named.values())))

        def generate_named() -> Iterator[dict[str, np.ndarray]]:
            for index in range(count):
                yield {name: values[index][np.newaxis, ...] for name, values in named.items()}

        return generate_named
    single = rows.astype(np.float32)

    def generate() -> Iterator[list[np.ndarray]]:
        for row in single:
            yield [row[np.newaxis, ...]]

    return generate


@contextmanager
def calibration_from_reset_state() -> Iterator[None]:
    """Calibrate every representative row from reset recurrent state, as inference runs.

    TensorFlow's calibrator resets variable tensors (a fused LSTM's state) once, then feeds the
    rows back to back, so each row would start from the state the previous one left: ranges
    measured on sequences that never occur at inference, and dependent on row order. Here the
    calibrator is re-prepared before every row (its Prepare() resets the variable tensors; the
    statistics it collects are kept). Where TensorFlow's private calibrator API differs from the
    one this was written against, the stock calibrator runs unchanged."""
    try:
        from tensorflow.lite.python.optimize import calibrator
        stock = calibrator.Calibrator._feed_tensors
    except (ImportError, AttributeError):
        yield
        return

    def feed_from_reset_state(self: Any, dataset_gen: Callable[[], Any], resize_input: bool) -> None:
        for sample in dataset_gen():
            if not isinstance(sample, list) or not hasattr(self._calibrator, "Prepare"):
                return stock(self, dataset_gen, resize_input)
            self._calibrator.Prepare([list(tensor.shape) for tensor in sample])
            self._calibrator.FeedTensor(sample)
        return None

    calibrator.Calibrator._feed_tensors = feed_from_reset_state
    try:
        yield
    finally:
        calibrator.Calibrator._feed_tensors = stock

"""Measure one built variant: its metric on LiteRT, and TFLM's verdict (runs?, same answers,
arena, test vectors). Returns a typed Measurement that carries the raw outputs along, so later
steps (plots, the LUT twin's proof) read them from the result instead of a shared dict."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.core.dataset import SplitDataset
from helpers.core.flatbuffer import TFLM_DECODE_OP
from helpers.core.specs import Specs
from helpers.core.timings import Timings
from helpers.core.variant import TfliteModel
from helpers.errors import ModelError, first_line
from helpers.measure.litert import LiteRtRunner, dequantize_outputs, quantize_inputs
from helpers.measure.metrics import compute_metrics
from helpers.measure.tflm import MicroCheck, check_variant, max_difference, static_reason

# The self-test carries every evaluation row that fits in this much flash (inputs, expected outputs
# and labels): 64 KiB sits beside a small model on a 256 KB part.
TEST_DATA_FLASH_BYTES = 64 * 1024
_DTYPE_BYTES = {"int8": 1, "uint8": 1, "int16": 2, "int32": 4, "float16": 2, "float32": 4}


@dataclass(frozen=True)
class TestVector:
    """One evaluation row in the model's input dtype, the output TFLM gave for it on the host, and
    its label (class index, or regression targets in output units). A model with several inputs
    or outputs has each packed: every input's values in order, every output's, every output's
    label columns (core/packing.py)."""

    input: tuple[float, ...]
    output: tuple[float, ...]
    label: tuple[float, ...]


def test_vector_count(tflite: TfliteModel, rows: int) -> int:
    """How many evaluation rows the self-test's test data holds within TEST_DATA_FLASH_BYTES."""
    info = tflite.info
    per_row = (sum(int(np.prod(t.shape[1:])) * _DTYPE_BYTES.get(t.dtype, 4) for t in info.input_tensors)
               + sum(int(np.prod(t.shape[1:])) * (_DTYPE_BYTES.get(t.dtype, 4) + 4) for t in info.output_tensors))
    return max(1, min(rows, TEST_DATA_FLASH_BYTES // max(per_row, 1)))


@dataclass(frozen=True)
class TflmVerdict:
    """What the TFLM host interpreter said about a variant; `runnable` None: not checked."""

    runnable: bool | None = None
    reason: str = ""
    raw_outputs: np.ndarray | None = None
    metrics: dict[str, float] | None = None
    max_difference: float | None = None
    difference_unit: str | None = None
    arena_measured: int | None = None
    arena_recommended: int | None = None
    arena_target: str | None = None   # the 32-bit target whose figure the arena is derived from (None: host)
    test_vectors: tuple[TestVector, ...] = ()
    test_tolerance: float = 0.0

    @property
    def checked(self) -> bool:
        """Whether TFLM ran at all."""
        return self.runnable is not None

    @property
    def gets_firmware(self) -> bool:
        """Firmware is written unless TFLM was seen to fail (unchecked firmware says so itself)."""
        return self.runnable is not False


def not_runnable(reason: str) -> TflmVerdict:
    """TFLM cannot run the variant, and why."""
    return TflmVerdict(runnable=False, reason=reason)


@dataclass(frozen=True)
class Measurement:
    """A variant's metric, how it was measured, its dequantized outputs and TFLM's verdict."""

    metrics: dict[str, float]
    evaluation: str
    outputs: np.ndarray | None
    tflm: TflmVerdict


def _tolerance(tflite: TfliteModel, outputs: np.ndarray) -> float:
    """One quantized step for integer outputs (optimized kernels may round differently);
    a relative 1e-4 for float outputs."""
    if tflite.info.output.is_quantized:
        return 1.0
    return float(1e-4 * (1.0 + np.max(np.abs(outputs)))) if outputs.size else 1e-4


def tflm_verdict(tflite: TfliteModel, specs: Specs, quantized_inputs: np.ndarray, labels: np.ndarray,
                 litert_raw: np.ndarray | None, check: MicroCheck | None = None) -> TflmVerdict:
    """TFLM on every evaluation row: runnable?, metric, largest difference to LiteRT, arena.

    `check` is a TFLM run of these very bytes on these rows, when one was already made (--strip)."""
    check = check or check_variant(tflite.content, tflite.info, quantized_inputs)
    if not check.runnable or check.outputs is None:
        return not_runnable(check.reason)
    outputs = check.outputs
    values = dequantize_outputs(outputs, tflite.info)
    if not np.all(np.isfinite(values)):
        return not_runnable("TFLM produced NaN or infinite outputs")
    count = test_vector_count(tflite, len(quantized_inputs))
    vectors = tuple(TestVector(input=tuple(row.reshape(-1).tolist()), output=tuple(out.reshape(-1).tolist()),
                               label=tuple(np.asarray(label, dtype=np.float64).reshape(-1).tolist()))
                    for row, out, label in zip(quantized_inputs[:count], outputs[:count], labels[:count]))
    return TflmVerdict(
        runnable=True, raw_outputs=outputs, metrics=compute_metrics(values, labels, specs),
        max_difference=max_difference(outputs, litert_raw) if litert_raw is not None else None,
        difference_unit="quantized steps" if tflite.info.output.is_quantized else "absolute",
        arena_measured=check.arena_measured, arena_recommended=check.arena_recommended,
        test_vectors=vectors, test_tolerance=_tolerance(tflite, outputs))


def select_ops(tflite: TfliteModel) -> tuple[str, ...]:
    """The TF Select (Flex) ops of a variant built with --allow_select_ops."""
    return tuple(op for op in tflite.info.custom_ops if op.startswith("Flex"))


def _measured_on_tflm(tflite: TfliteModel, specs: Specs, data: SplitDataset, quantized: np.ndarray,
                      timings: Timings, why: str) -> Measurement:
    """The metric from TFLM's outputs, where LiteRT cannot run the variant (`why`)."""
    with timings.phase("tflm_checks"):
        verdict = tflm_verdict(tflite, specs, quantized, data.evaluation.y, None)
    if verdict.raw_outputs is None:
        raise ModelError(f"{tflite.plan.name} cannot be evaluated ({why}; TFLM: {verdict.reason})",
                         "use another variant (the report lists them)", specs.path)
    return Measurement(metrics=verdict.metrics or {}, evaluation=f"tflm ({why})",
                       outputs=dequantize_outputs(verdict.raw_outputs, tflite.info), tflm=verdict)


def measure_variant(tflite: TfliteModel, specs: Specs, data: SplitDataset, check_firmware: bool,
                    timings: Timings, tflm_check: MicroCheck | None = None) -> Measurement:
    """LiteRT metric on the evaluation rows plus TFLM's verdict (unless `check_firmware` is off).

    A variant with TF Select ops cannot be measured here (neither TFLM nor the LiteRT wheel has
    the Flex delegate); a LUT-compressed one only on TFLM, which decodes it."""
    flex = select_ops(tflite)
    if flex:
        return Measurement(metrics={}, evaluation="not evaluated: needs the TF Select (Flex) delegate, which "
                           "LiteRT's wheel does not link", outputs=None,
                           tflm=not_runnable(f"TF Select ops ({', '.join(flex)}) do not exist in TFLM"))
    quantized = quantize_inputs(data.evaluation.x, tflite.info)
    if TFLM_DECODE_OP in tflite.info.custom_ops:
        with timings.phase("tflm_checks"):
            verdict = tflm_verdict(tflite, specs, quantized, data.evaluation.y, None)
        outputs = dequantize_outputs(verdict.raw_outputs, tflite.info) if verdict.raw_outputs is not None else None
        return Measurement(metrics=verdict.metrics or {}, evaluation="tflm (LUT-compressed; LiteRT cannot read it)",
                           outputs=outputs, tflm=verdict)
    try:
        with timings.phase("evaluate"):
            runner = LiteRtRunner(tflite.content, tflite.info)
            raw = runner.run_quantized(quantized)
            outputs = dequantize_outputs(raw, tflite.info)
    except (RuntimeError, ValueError) as exc:  # LiteRT lacks a kernel TFLM has (int16 SQUARED_DIFFERENCE of a
        # LayerNorm), or its verifier refuses the file ("not a valid Flatbuffer buffer")
        why = f"LiteRT cannot run it: {first_line(exc, 120)}"
        if not check_firmware:
            raise ModelError(f"{tflite.plan.name} cannot be evaluated ({why})",
                             "use another variant, or drop --skip_firmware_checks so TFLM evaluates it",
                             specs.path) from None
        return _measured_on_tflm(tflite, specs, data, quantized, timings, why)
    static = static_reason(tflite.info)  # known without running TFLM, so said even when the checks are skipped
    verdict = not_runnable(static) if static else TflmVerdict()
    if check_firmware and not static:
        with timings.phase("tflm_checks"):
            verdict = tflm_verdict(tflite, specs, quantized, data.evaluation.y, raw, tflm_check)
    return Measurement(metrics=compute_metrics(outputs, data.evaluation.y, specs),
                       evaluation=f"litert batch {runner.batch}", outputs=outputs, tflm=verdict)

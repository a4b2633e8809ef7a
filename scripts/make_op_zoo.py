"""Build the op zoo: for every case of scripts/op_zoo_cases.py and every type the converter makes
of it (float32; int8 with int8 input and output; int16 activations with int8 weights), one tiny
converted model in tests/golden/ops/<case>_<type>/model.tflite, with case.json (the op, the type,
the float range the test draws float inputs from). A pair is kept only when the model holds the
intended op, computes in the intended type (no op left in float in a quantized model) and TFLM's
host interpreter runs it; every other pair is printed with the reason and skipped. Then
tests/golden/ops/PENDING.txt is written: the kept cases the engines do not lower today.

    python scripts/make_op_zoo.py            # everything; deterministic (fixed seeds)
    python scripts/make_op_zoo.py relu add   # only the cases whose names start so (PENDING kept)
    python scripts/make_op_zoo.py --pending  # only PENDING.txt, from the models as they are (no
                                             # TensorFlow: seconds), after a lowering step is added
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before tf_runtime's default of 2: the converter is chatty

from helpers.core.flatbuffer import float_compute_ops, inspect_tflite  # noqa: E402
from helpers.lowering.lower import lower_model  # noqa: E402
from scripts.op_zoo_cases import Case, all_cases  # noqa: E402
from scripts.op_zoo_derived import DERIVED, derive  # noqa: E402
from scripts.zoo_hand_quant import quantize_by_hand, swap_op  # noqa: E402
from tests.op_zoo import ZOO_DIR, ZooCase, input_rows, run_tflm, write_pending, zoo_cases  # noqa: E402

TYPES = ("float32", "int8", "int16")
# Few calibration samples: the output's range is then the samples' and not every input's, so the
# test's inputs (over the whole input range) drive binary and reducing ops into saturation.
CALIBRATION_SAMPLES = 8
# Conversions of a quantized pair before an op left in float counts as the converter's answer.
CONVERT_ATTEMPTS = 6


class Skipped(Exception):
    """The converter cannot make this (op, type) pair, or makes something else."""


def _seed(name: str) -> int:
    return zlib.crc32(name.encode())  # stable across runs, unlike hash()


def _converter(tf: Any, case: Case) -> Any:
    rng = np.random.default_rng(_seed(case.name))  # the same constants for every type of a case
    if case.layer is not None:
        import tf_keras as keras  # Keras 2, as everywhere in the tool (helpers/frontend/tf_runtime.py)

        inputs = keras.Input(case.shape[1:], batch_size=case.shape[0])
        model = keras.Model(inputs, case.layer(keras, rng)(inputs))
        return tf.lite.TFLiteConverter.from_keras_model(model)
    assert case.build is not None
    build = case.build

    @tf.function(input_signature=[tf.TensorSpec(case.shape, tf.float32)])
    def graph(x: Any) -> Any:
        return build(tf, x, rng)

    return tf.lite.TFLiteConverter.from_concrete_functions([graph.get_concrete_function()], graph)


def _samples(case: Case) -> np.ndarray:
    samples = np.random.default_rng(_seed(case.name) + 1).uniform(
        case.low, case.high, size=(CALIBRATION_SAMPLES, *case.shape)).astype(np.float32)
    # The range's ends as samples too: the input's scale and zero point are then case.low..case.high.
    samples[0].flat[0], samples[1].flat[0] = case.low, case.high
    return samples


def _configure(tf: Any, converter: Any, case: Case, kind: str) -> None:
    if kind == "float32":
        return
    samples = _samples(case)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([sample] for sample in samples)
    if kind == "int8":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
    else:
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int16


def _convert(tf: Any, case: Case, kind: str) -> bytes:
    """The pair's model; a quantized one is converted again when the converter left the op in float,
    because it does so at random for some ops (UNPACK: about one conversion in two, in one process
    with the same inputs), and the conversion that quantizes it gives the same bytes every time.
    A case `by_hand` (an op the converter never quantizes) is its float32 model quantized here."""
    if case.make is not None:
        if kind == "int16":
            raise Skipped("TFLM's kernel takes int8 and float32 inputs")
        content = case.make(kind, case.low, case.high, _seed(case.name))
        if not content:
            raise Skipped(f"the case is made for other types than {kind}")
        _check(content, case, kind)
        return content
    if kind != "float32" and case.by_hand:
        content = quantize_by_hand(tf, bytes(_converter(tf, case).convert()), _samples(case), kind)
        _check(content, case, kind)
        return content
    for attempt in range(1 if kind == "float32" else CONVERT_ATTEMPTS):
        converter = _converter(tf, case)
        _configure(tf, converter, case, case.convert_as or kind)
        try:
            content = bytes(converter.convert())
            if case.swap is not None:
                content = swap_op(content, case.swap[0], case.op, lookup=case.swap[1])
        except Exception as error:  # noqa: BLE001 - the converter's refusals come as many types
            message = [line for line in str(error).splitlines() if "error" in line.lower()] or [str(error)]
            raise Skipped(f"the converter refuses: {message[0].strip()[:160]}") from None
        if case.rewrite is not None:
            content = case.rewrite(content)
        try:
            _check(content, case, kind)
            return content
        except Skipped as why:
            if "left in float" not in str(why) or attempt == CONVERT_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")


def _check(content: bytes, case: Case, kind: str) -> None:
    info = inspect_tflite(content)
    if case.op not in info.ops:
        raise Skipped(f"the converter made {', '.join(info.ops) or 'no op'}, not {case.op}")
    if kind != "float32":
        floating = float_compute_ops(content)
        if floating:
            raise Skipped(f"{', '.join(floating)} left in float")
        if info.input.dtype != kind:
            raise Skipped(f"the input is {info.input.dtype}")


def _build(tf: Any, cases: list[Case]) -> dict[str, tuple[bytes, dict[str, Any]]]:
    """Every (case, type) pair the converter makes, by directory name, with its case.json."""
    built = {}
    for case in cases:
        for kind in (kind for kind in TYPES if case.types is None or kind in case.types):
            name = f"{case.name}_{kind}"
            try:
                content = _convert(tf, case, kind)
            except Skipped as why:
                print(f"skip {name}: {why}")
                continue
            built[name] = (content, {"op": case.op, "type": kind, "low": case.low, "high": case.high,
                                     "ops": list(inspect_tflite(content).ops)})
    return built


def _runs_on_tflm(built: dict[str, tuple[bytes, dict[str, Any]]]) -> dict[str, tuple[bytes, dict[str, Any]]]:
    """The pairs TFLM's host interpreter runs on the test's inputs (its outputs are the reference)."""
    zoo = {name: ZooCase(name=name, content=content, meta=meta) for name, (content, meta) in built.items()}
    answers = run_tflm({name: (case.content, input_rows(case)) for name, case in zoo.items()})
    kept = {}
    for name, answer in answers.items():
        if isinstance(answer, str):
            print(f"skip {name}: TFLM cannot run it: {answer}")
        else:
            kept[name] = built[name]
    return kept


def _derived(built: dict[str, tuple[bytes, dict[str, Any]]], prefixes: list[str]) -> dict[str, tuple[bytes, dict[str, Any]]]:
    """The derived cases (scripts/op_zoo_derived.py) whose source case was just built or is in the
    zoo already, each with its source's case.json, its op and ops."""
    made = {}
    for case in DERIVED:
        if prefixes and not case.name.startswith(tuple(prefixes)):
            continue
        if case.source in built:
            source, meta = built[case.source]
        elif (ZOO_DIR / case.source / "model.tflite").is_file():
            source = (ZOO_DIR / case.source / "model.tflite").read_bytes()
            meta = json.loads((ZOO_DIR / case.source / "case.json").read_text(encoding="utf-8"))
        else:
            print(f"skip {case.name}: its source {case.source} is not in the zoo")
            continue
        content = derive(case, source)
        made[case.name] = (content, {**meta, "op": case.op, "ops": list(inspect_tflite(content).ops),
                                     "derived_from": case.source})
    return made


def _write(kept: dict[str, tuple[bytes, dict[str, Any]]], everything: bool) -> None:
    if everything and ZOO_DIR.is_dir():
        for folder in ZOO_DIR.iterdir():
            if folder.is_dir() and folder.name not in kept:
                shutil.rmtree(folder)
    for name, (content, meta) in kept.items():
        folder = ZOO_DIR / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.tflite").write_bytes(content)
        (folder / "case.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def pending_from_models() -> None:
    """PENDING.txt from the committed models and this checkout's lowering."""
    reasons = {case.name: lower_model(case.content).reason for case in zoo_cases()}
    write_pending({name: reason for name, reason in reasons.items() if reason is not None})
    print(f"{sum(r is not None for r in reasons.values())} of {len(reasons)} cases pending")


def main(prefixes: list[str]) -> None:
    if prefixes == ["--pending"]:
        pending_from_models()
        return
    if prefixes and not any(case.name.startswith(tuple(prefixes)) for case in all_cases()):
        # derived cases only (their sources read from the zoo): no TensorFlow
        kept = _runs_on_tflm(_derived({}, prefixes))
        _write(kept, everything=False)
        print(f"{len(kept)} models in {ZOO_DIR.relative_to(ROOT)}")
        return
    # TensorFlow prepared as the tool prepares it: Keras 2, deterministic ops, oneDNN off, seeds fixed.
    from helpers.frontend import tf_runtime

    tf_runtime.seed_everything()
    tf = tf_runtime.tf
    cases = [case for case in all_cases() if not prefixes or case.name.startswith(tuple(prefixes))]
    built = _build(tf, cases)
    kept = _runs_on_tflm({**built, **_derived(built, prefixes)})
    _write(kept, everything=not prefixes)
    if not prefixes:
        pending = {name: lower_model(content).reason for name, (content, _) in kept.items()}
        write_pending({name: reason for name, reason in pending.items() if reason is not None})
    size = sum(len(content) for content, _ in kept.values())
    print(f"{len(kept)} models, {size:,} bytes, in {ZOO_DIR.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])

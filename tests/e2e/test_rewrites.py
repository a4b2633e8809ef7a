"""Graph rewrites where TFLM lacks a kernel: each pass before conversion on a traced function
(frontend/graph_rewrites.py), and the tool end to end on the two models of tests/zoo_rewrites.py,
a U-Net-like classifier (UpSampling2D -> TILE) and an attention block (GELU, LayerNorm's NEG).
The flatbuffer pass after conversion has its own TF-free tests (tests/unit/test_rewrite_passes.py)."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from helpers.core.flatbuffer import float_compute_ops, inspect_tflite
from helpers.frontend.graph_rewrites import rewritten_function
from helpers.frontend.tf_runtime import tf
from tests.conftest import TFLM_DIR, require_tool, run_main


@pytest.fixture(scope="module")
def rewrite_zoo(tmp_path_factory):
    from tests.zoo_rewrites import REWRITE_ZOO

    folder = tmp_path_factory.mktemp("rewrite_zoo")
    return {name: build(folder / name) for name, build in REWRITE_ZOO.items()}


def _traced(function, shape):
    return tf.function(function).get_concrete_function(tf.TensorSpec(shape, tf.float32))


def _convert(concrete, int_type=None, shape=None):
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
    if int_type is not None:
        rng = np.random.default_rng(0)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([rng.normal(size=shape).astype(np.float32)] for _ in range(32))
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if int_type == "int8" else
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    return bytes(converter.convert())


def _names(applied):
    return [rewrite.name for rewrite in applied]


def test_gelu_erf_form_becomes_logistic_within_the_tanh_approximation():
    x = np.linspace(-8, 8, 400, dtype=np.float32).reshape(1, 400)
    original = _traced(lambda t: tf.nn.gelu(t, approximate=False), (1, 400))
    rewritten, applied = rewritten_function(original)
    assert "gelu_erf_to_logistic" in _names(applied)
    assert not next(r for r in applied if r.name == "gelu_erf_to_logistic").exact
    error = np.abs(np.asarray(rewritten(tf.constant(x))) - np.asarray(original(tf.constant(x)))).max()
    assert 1e-5 < error <= 4.8e-4  # the approximation's own error: not zero, and within its bound
    assert "GELU" in inspect_tflite(_convert(original)).ops  # what TFLM cannot run ...
    ops = inspect_tflite(_convert(rewritten)).ops
    assert "GELU" not in ops and "LOGISTIC" in ops        # ... gone


def test_gelu_tanh_form_becomes_logistic_exactly():
    x = np.linspace(-8, 8, 400, dtype=np.float32).reshape(1, 400)
    original = _traced(lambda t: tf.nn.gelu(t, approximate=True), (1, 400))
    rewritten, applied = rewritten_function(original)
    assert _names(applied) == ["gelu_tanh_to_logistic", "power_to_mul"] and all(r.exact for r in applied)
    assert np.allclose(np.asarray(rewritten(tf.constant(x))), np.asarray(original(tf.constant(x))), atol=2e-6)
    assert "GELU" in inspect_tflite(_convert(original)).ops
    assert "GELU" not in inspect_tflite(_convert(rewritten)).ops
    int8 = _convert(rewritten, "int8", (1, 400))  # x**3 was a float POW TFLM lacks
    assert "POW" not in inspect_tflite(int8).ops and not float_compute_ops(int8)


def test_whole_powers_and_square_become_mul_and_convert_to_int8():
    x = np.linspace(-3, 3, 16, dtype=np.float32).reshape(1, 16)
    original = _traced(lambda t: tf.square(t) + tf.pow(t, 3.0) + tf.pow(t, 4.0) + tf.pow(t, 0.5 + t * 0), (1, 16))
    rewritten, applied = rewritten_function(original)
    assert _names(applied) == ["power_to_mul"] and applied[0].ops == 3  # the non-constant power is left
    assert np.allclose(np.asarray(rewritten(tf.constant(x))), np.asarray(original(tf.constant(x))),
                       rtol=1e-6, equal_nan=True)
    squared = _traced(lambda t: tf.square(t) + t, (1, 16))
    assert "SQUARE" in inspect_tflite(_convert(squared)).ops
    int8 = _convert(rewritten_function(squared)[0], "int8", (1, 16))
    assert "SQUARE" not in inspect_tflite(int8).ops and not float_compute_ops(int8)


def test_elu_becomes_exp_of_the_negative_part_and_converts_to_int8_without_float_ops():
    x = np.linspace(-6, 6, 32, dtype=np.float32).reshape(1, 32)
    original = _traced(lambda t: tf.nn.elu(t * 1.5), (1, 32))
    assert float_compute_ops(_convert(original, "int8", (1, 32)))  # the converter keeps ELU in float
    rewritten, applied = rewritten_function(original)
    assert _names(applied) == ["elu_to_exp"] and applied[0].ops == 1 and applied[0].exact
    assert np.allclose(np.asarray(rewritten(tf.constant(x))), np.asarray(original(tf.constant(x))), atol=1e-6)
    int8 = _convert(rewritten, "int8", (1, 32))
    assert not float_compute_ops(int8) and "EXP" in inspect_tflite(int8).ops  # then unary_int8_as_gather's


def test_group_norm_squared_difference_of_rank_5_becomes_mul_and_int8_has_no_float_op():
    import keras

    inputs = keras.Input((6, 6, 8))
    model = keras.Model(inputs, keras.layers.GroupNormalization(groups=2)(inputs))
    original = _traced(lambda t: model(t), (1, 6, 6, 8))
    assert float_compute_ops(_convert(original, "int8", (1, 6, 6, 8)))  # the converter's SQUARE (and NEG)
    rewritten, applied = rewritten_function(original)
    assert "squared_difference_to_mul" in _names(applied)
    x = np.random.default_rng(1).normal(size=(1, 6, 6, 8)).astype(np.float32)
    assert np.allclose(np.asarray(rewritten(tf.constant(x))), np.asarray(original(tf.constant(x))), atol=1e-5)
    assert not float_compute_ops(_convert(rewritten, "int8", (1, 6, 6, 8)))
    layer_norm = _traced(lambda t: tf.math.squared_difference(t, tf.reduce_mean(t, -1, keepdims=True)), (1, 4, 8))
    assert rewritten_function(layer_norm) == (layer_norm, ())  # 3 dimensions: SQUARED_DIFFERENCE stays


def test_a_tanh_that_is_not_gelu_and_a_graph_without_candidates_are_left_as_traced():
    for function in (lambda t: tf.tanh(t) * 2.0, lambda t: tf.nn.relu(t) + 1.0):
        original = _traced(function, (1, 8))
        assert rewritten_function(original) == (original, ())


def test_layer_norm_neg_becomes_mul_and_int8_and_int16x8_convert():
    import keras

    keras.utils.set_random_seed(3)
    layer = keras.layers.LayerNormalization()
    model = keras.Sequential([keras.Input((8, 16)), keras.layers.Dense(16), layer])
    layer.set_weights([np.linspace(0.5, 1.5, 16, dtype=np.float32), np.linspace(-1, 1, 16, dtype=np.float32)])
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    original = convert_variables_to_constants_v2(_traced(lambda t: model(t, training=False), (1, 8, 16)))
    rewritten, applied = rewritten_function(original)
    assert _names(applied) == ["neg_to_mul"] and applied[0].exact
    x = np.random.default_rng(1).normal(size=(1, 8, 16)).astype(np.float32)
    assert np.allclose(np.asarray(rewritten(tf.constant(x))), np.asarray(original(tf.constant(x))), atol=1e-6)
    assert float_compute_ops(_convert(original, "int8", (1, 8, 16))) == ("NEG",)  # the converter's float NEG
    assert float_compute_ops(_convert(rewritten, "int8", (1, 8, 16))) == ()
    assert float_compute_ops(_convert(rewritten, "int16x8", (1, 8, 16))) == ()


def _report(export):
    return {v["name"]: v for v in json.loads((export / "report.json").read_text())["variants"]}


def test_unet_int8_runs_on_tflm_after_the_upsampling_rewrite(rewrite_zoo, tmp_path):
    export = tmp_path / "unet"
    result = run_main("--input_dir", str(rewrite_zoo["unet"]), "--PTQ", "-q", "int8", "-e", "--export_dir", str(export))
    assert result.returncode == 0, result.stderr[-2000:]
    int8 = _report(export)["int8"]
    assert int8["firmware"]["tflm_runnable"] is True, int8["firmware"]["tflm_reason"]
    assert "TILE" not in int8["ops"] and "RESIZE_NEAREST_NEIGHBOR" in int8["ops"]
    (rewrite,) = int8["rewrites"]
    assert rewrite["name"] == "upsampling_to_resize_nearest" and rewrite["exact"] and rewrite["ops"] == 1
    assert rewrite["stage"] == "after_conversion"
    assert "int8: rewrites: upsampling_to_resize_nearest (1 op)" in result.stdout
    assert "| int8 | upsampling_to_resize_nearest | after conversion | 1 | yes |" in (export / "report.md").read_text()
    assert (export / "int8" / "zoo_unet_model_data.c").is_file()  # firmware written: TFLM runs it
    assert int8["within_tolerance"] is True


def test_attention_int8_converts_and_runs_on_tflm_after_gelu_and_neg_rewrites(rewrite_zoo, tmp_path):
    export = tmp_path / "attention"
    result = run_main("--input_dir", str(rewrite_zoo["attention"]), "--PTQ", "-q", "int8", "--export_dir", str(export))
    assert result.returncode == 0, result.stderr[-2000:]
    variants = _report(export)
    int8, float32 = variants["int8"], variants["float32"]
    assert {"gelu_erf_to_logistic", "neg_to_mul"} <= {r["name"] for r in int8["rewrites"]}
    assert not {"GELU", "NEG"} & set(int8["ops"]) and not {"GELU", "NEG"} & set(float32["ops"])
    assert int8["firmware"]["tflm_runnable"] is True, int8["firmware"]["tflm_reason"]
    assert float32["firmware"]["tflm_runnable"] is True, float32["firmware"]["tflm_reason"]
    assert int8["within_tolerance"] is True and float32["within_tolerance"] is True


def test_int8_exp_and_log_become_gathers_tflm_runs_and_the_engines_take_as_one_lookup(rewrite_zoo, tmp_path):
    """mish and selu give int8 EXP and LOG, which TFLM has in float only: each becomes
    CAST, ADD 128, GATHER over LiteRT's own table; TFLM runs it on the host, and both engines,
    which read the three ops as one lookup, are identical to TFLM on every row."""
    require_tool("tflm")
    require_tool("c++")
    export = tmp_path / "smooth"
    result = run_main("--input_dir", str(rewrite_zoo["smooth"]), "--PTQ", "-q", "int8", "-e", "--max_drop", "5",
                      "--tflm_dir", str(TFLM_DIR), "--target", "host", "--export_dir", str(export), timeout=2400)
    assert result.returncode == 0, result.stderr[-2000:]
    int8 = _report(export)["int8"]
    (rewrite,) = [r for r in int8["rewrites"] if r["name"] == "unary_int8_as_gather"]
    assert rewrite["exact"] and rewrite["ops"] >= 2 and "identical LiteRT outputs" in rewrite["proof"]
    assert not {"EXP", "LOG"} & set(int8["ops"]) and {"CAST", "GATHER"} <= set(int8["ops"])
    firmware = int8["firmware"]
    assert firmware["tflm_runnable"] is True and firmware["targets"]["host"]["status"] == "pass", firmware
    engine_host = firmware["c_engine"]["targets"]["host"]
    assert engine_host["status"] == "pass" and engine_host["identical_to_tflm"] is True, engine_host
    assert firmware["micropython"]["status"] == "pass" and firmware["micropython"]["mismatched_rows"] == 0
    # each CAST, ADD, GATHER run is one byte lookup in both engines, with no int32 tensor
    engine = next((export / "int8").glob("*_engine.c")).read_text()
    lookups = re.findall(r"/\* GATHER \*/\n(?:  MCU_ENGINE_PROFILE_STEP\(\d+\);\n)?  mcu_lookup_i8\(", engine)
    assert len(lookups) == rewrite["ops"] and "/* CAST */" not in engine
    infer = next((export / "int8").glob("*_infer.py")).read_text()
    # a step's call ends in its op's name (the native and the portable path each have one)
    assert ")  # GATHER\n" in infer and ")  # CAST\n" not in infer
    assert int8["within_tolerance"] is True


def test_a_keras3_bidirectional_lstm_is_unrolled_in_both_directions():
    """Keras 3 converts each direction of a Bidirectional LSTM to a WHILE loop, whose int8
    calibration segfaults; the retry after a converter crash unrolls both directions (plain
    FULLY_CONNECTED / LOGISTIC / TANH steps, with the REVERSE folded away), with the same outputs."""
    import keras
    from sklearn.datasets import load_digits

    from helpers.frontend import unroll
    from helpers.frontend.model_loader import LoadedModel, ModelFormat

    keras.utils.set_random_seed(7)
    data = load_digits()
    x = (data.data / 16.0).astype(np.float32).reshape(-1, 8, 8)  # the 8 rows of a digit as 8 time steps
    model = keras.Sequential([keras.Input((8, 8)), keras.layers.Bidirectional(keras.layers.LSTM(6)),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    model.fit(x[:600], data.target[:600], epochs=2, batch_size=64, verbose=0)
    loaded = LoadedModel(keras=model, format=ModelFormat.KERAS3, path=None, is_keras2=False, input_shape=(8, 8))
    assert unroll.recurrent_layers(loaded) == [model.layers[0].name]
    rebuilt = unroll.unrolled(loaded)
    layer = rebuilt.keras.layers[0]
    assert layer.forward_layer.unroll and layer.backward_layer.unroll and not unroll.recurrent_layers(rebuilt)
    assert np.allclose(rebuilt.predict(x[600:700]), loaded.predict(x[600:700]), atol=1e-5)
    assert "WHILE" in inspect_tflite(_convert(loaded.concrete_function())).ops
    assert "WHILE" not in inspect_tflite(_convert(rebuilt.concrete_function())).ops


def test_attention_int16x8_converts_and_is_evaluated_on_tflm_where_litert_lacks_the_kernel(rewrite_zoo, tmp_path):
    """int16x8 refused NEG before neg_to_mul; LiteRT has no int16 SQUARED_DIFFERENCE (the LayerNorm's
    variance) where TFLM has one, so the variant is evaluated on TFLM instead of failing."""
    export = tmp_path / "attention16"
    result = run_main("--input_dir", str(rewrite_zoo["attention"]), "--PTQ", "-q",
                      "integer_with_8bits_weights_and_16bit_activations", "--export_dir", str(export))
    assert result.returncode == 0, result.stderr[-2000:]
    int16 = _report(export)["int16x8"]
    assert "neg_to_mul" in {r["name"] for r in int16["rewrites"]} and "SQUARED_DIFFERENCE" in int16["ops"]
    assert int16["evaluation"].startswith("tflm (LiteRT cannot run it: SquaredDifference")
    assert int16["firmware"]["tflm_runnable"] is True and int16["metrics"] == int16["firmware"]["tflm_metrics"]
    assert int16["within_tolerance"] is True


@pytest.mark.parametrize("name", ["attention", "unet"])
def test_rewritten_models_are_byte_identical_run_to_run(rewrite_zoo, tmp_path, name):
    """The graph rewrites (new node names; the flatbuffer re-packed) keep the determinism rule."""
    exports = [tmp_path / f"run{i}" for i in (1, 2)]
    for export in exports:
        result = run_main("--input_dir", str(rewrite_zoo[name]), "--PTQ", "-q", "int8",
                          "--skip_firmware_checks", "--export_dir", str(export), "--quiet")
        assert result.returncode == 0, result.stderr[-2000:]
    first, second = ((e / "int8" / "model.tflite").read_bytes() for e in exports)
    assert first == second and _report(exports[0])["int8"]["rewrites"] == _report(exports[1])["int8"]["rewrites"]

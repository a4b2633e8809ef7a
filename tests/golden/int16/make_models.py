"""The int16x8 models tests/unit/test_int16_engines.py runs: small Keras graphs converted as the
tool's `-q int16x8` converts (int8 weights, int16 activations, int64 biases; int16 input and
output), seeded, so they carry real TFLite quantization. Run from the repository root with
TensorFlow: `python tests/golden/int16/make_models.py` (writes <name>.tflite beside it)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

HERE = Path(__file__).resolve().parent
L = tf.keras.layers
# Biases away from zero: a zero bias the converter drops, and the int64 bias path goes untested.
B = {"bias_initializer": "random_normal"}


def _fc():
    x = L.Input((16,))
    h = L.Dense(12, activation="relu", **B)(x)
    return tf.keras.Model(x, L.Dense(5, **B)(h))


def _conv():
    x = L.Input((7, 7, 3))
    h = L.Conv2D(4, 3, padding="same", activation="relu", **B)(x)
    h = L.Conv2D(5, 3, strides=2, padding="valid", **B)(h)
    h = L.Conv2D(3, 1, **B)(h)
    return tf.keras.Model(x, L.Flatten()(h))


def _depthwise():
    x = L.Input((6, 6, 4))
    h = L.DepthwiseConv2D(3, padding="same", activation="relu6", **B)(x)
    return tf.keras.Model(x, L.DepthwiseConv2D(3, depth_multiplier=2, strides=2, **B)(h))


def _add_mul():
    x = L.Input((12,))
    a = L.Dense(12, **B)(x)
    b = L.Dense(12, **B)(x)
    s = L.Add()([a, x])
    return tf.keras.Model(x, L.Multiply()([s, b]))


def _pool():
    x = L.Input((8, 8, 3))
    h = L.MaxPooling2D(2)(x)
    return tf.keras.Model(x, L.AveragePooling2D(3, strides=1, padding="same")(h))


def _softmax():
    x = L.Input((10,))
    return tf.keras.Model(x, L.Softmax()(L.Dense(10, **B)(x)))


def _moves():
    # PAD, CONCATENATION (inputs of different scales: TFLM copies int16 raw), STRIDED_SLICE, RESHAPE
    x = L.Input((6, 6, 2))
    a = L.Conv2D(3, 3, padding="same", **B)(L.ZeroPadding2D(1)(x))
    b = L.Conv2D(2, 1, **B)(L.ZeroPadding2D(1)(x))
    h = L.Cropping2D(((1, 2), (2, 1)))(L.Concatenate()([a, b]))
    return tf.keras.Model(x, L.Reshape((-1,))(h))


def _broadcast():
    # SUB and MUL of a [4, 4, 6] and a [4, 4, 1] tensor (TFLM's broadcast kernels), ADD of the same
    # shapes, ADD of a constant vector (an int16 constant, broadcast)
    x = L.Input((4, 4, 3))
    a = L.Conv2D(6, 1, **B)(x)
    b = L.Conv2D(1, 1, **B)(x)
    s = L.Subtract()([a, b])
    h = L.Add()([L.Multiply()([s, b]), a])
    return tf.keras.Model(x, Offset()(h))


class Offset(L.Layer):
    """y = x + a constant per channel (quantized as an int16 constant)."""

    def call(self, x):
        return x + tf.constant([0.5, -1.0, 0.25, 2.0, -0.75, 1.5])


def _sigmoid_tanh():
    # LOGISTIC and TANH (TFLM's int16 kernels interpolate in its sigmoid table)
    x = L.Input((12,))
    h = L.Dense(10, activation="tanh", **B)(x)
    return tf.keras.Model(x, L.Dense(6, activation="sigmoid", **B)(h))


def _mean():
    # MEAN over the spatial axes (GlobalAveragePooling2D)
    x = L.Input((5, 5, 4))
    h = L.Conv2D(6, 3, **B)(x)
    return tf.keras.Model(x, L.GlobalAveragePooling2D()(h))


def _activations():
    # RELU, RELU6 and LEAKY_RELU as ops of their own: after a MEAN (which has no fused activation)
    # and after a Dense (no fused leaky ReLU)
    x = L.Input((3, 3, 4))
    relu = L.ReLU()(L.GlobalAveragePooling2D()(L.Conv2D(6, 1, **B)(x)))
    relu6 = L.ReLU(max_value=6.0)(L.GlobalAveragePooling2D()(L.Conv2D(6, 1, **B)(x)))
    leaky = L.LeakyReLU(negative_slope=0.2)(L.Dense(6, **B)(relu))
    return tf.keras.Model(x, L.Concatenate()([relu, relu6, leaky]))


def _transpose_conv():
    # TRANSPOSE_CONV, strides 2, SAME and VALID
    x = L.Input((4, 4, 2))
    h = L.Conv2DTranspose(3, 3, strides=2, padding="same", **B)(x)
    return tf.keras.Model(x, L.Conv2DTranspose(2, 2, strides=1, padding="valid", **B)(h))


class Splits(L.Layer):
    """SPLIT_V, SPLIT, UNPACK and EXPAND_DIMS of the int16 input, joined again (the converter
    folds the SQUEEZE into a RESHAPE)."""

    def call(self, x):
        a, b = tf.split(x, [2, 4], axis=-1)
        _, d = tf.split(x, 2, axis=1)
        rows = tf.unstack(x, axis=1)
        f = tf.squeeze(tf.expand_dims(a, 1), 1)
        parts = [tf.reshape(f, (-1, 8)), tf.reshape(b, (-1, 16)), tf.reshape(d, (-1, 12)), rows[3]]
        return tf.concat(parts, axis=-1)


def _splits():
    x = L.Input((4, 6))
    return tf.keras.Model(x, Splits()(x))


class PadWithValue(L.Layer):
    """tf.pad with a constant value: PADV2, whose value the converter leaves float32."""

    def call(self, x):
        return tf.pad(x, [[0, 0], [1, 2]], constant_values=0.5)


def _padv2():
    x = L.Input((6,))
    return tf.keras.Model(x, PadWithValue()(x))


def _iris_dense():
    # Dense layers trained on iris (standardized features), for the rewrite of per-channel int16
    # FULLY_CONNECTED into 1x1 CONV_2D (tests/unit/test_rewrite_passes.py): a Dense over the last
    # axis of a [2, 2] view (an FC of 2 rows), one without a bias, and a softmax. Converted with
    # a batch of 1, as the tool traces models (a free batch adds SHAPE arithmetic to the [2, 2] FC)
    from sklearn.datasets import load_iris

    features, labels = load_iris(return_X_y=True)
    features = ((features - features.mean(axis=0)) / features.std(axis=0)).astype(np.float32)
    layers = [L.Reshape((2, 2)), L.Dense(6, activation="relu", **B), L.Flatten(),
              L.Dense(12, activation="relu", use_bias=False), L.Dense(3, **B), L.Softmax()]

    def model(batch):
        x = h = L.Input((4,), batch_size=batch)
        for layer in layers:
            h = layer(h)
        return tf.keras.Model(x, h)

    trained = model(None)
    trained.compile(optimizer=tf.keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy",
                    metrics=["accuracy"])
    trained.fit(features, labels, epochs=40, batch_size=16, verbose=0, shuffle=False)
    print("iris accuracy", trained.evaluate(features, labels, verbose=0)[1])
    return model(1)  # the same layers, so the same weights


MODELS = {"fc": _fc, "conv": _conv, "depthwise": _depthwise, "add_mul": _add_mul, "pool": _pool,
          "softmax": _softmax, "fc_per_tensor": _fc, "float_io": _fc, "moves": _moves,
          "broadcast": _broadcast, "sigmoid_tanh": _sigmoid_tanh, "mean": _mean,
          "activations": _activations, "transpose_conv": _transpose_conv,
          "splits": _splits, "padv2": _padv2, "iris_dense": _iris_dense}
# Per-tensor int16 FULLY_CONNECTED weights (the converter's default is per channel); float32 input
# and output, so the model starts with a QUANTIZE float32 -> int16 and ends with a DEQUANTIZE.
PER_TENSOR = {"fc_per_tensor"}
FLOAT_IO = {"float_io"}


def convert(model: tf.keras.Model, seed: int, name: str) -> bytes:
    rng = np.random.default_rng(seed)
    shape = model.input_shape[1:]

    def representative():
        for _ in range(64):
            yield [rng.normal(0.0, 1.0, size=(1, *shape)).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    if name not in FLOAT_IO:
        converter.inference_input_type = tf.int16
        converter.inference_output_type = tf.int16
    if name in PER_TENSOR:
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    return converter.convert()


def main(names: list[str]) -> None:
    """Every model, or those named."""
    for seed, (name, build) in enumerate(MODELS.items()):
        if names and name not in names:
            continue
        tf.keras.utils.set_random_seed(seed)
        (HERE / f"{name}.tflite").write_bytes(convert(build(), seed, name))
        print(name)


if __name__ == "__main__":
    main(sys.argv[1:])

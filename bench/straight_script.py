"""The obvious alternative the tool is measured against, as the original tutorials do it.

Converts each variant one after another with the TFLite converter (from the Keras model,
batch-1 concrete function so that LSTMs convert), and evaluates each one sample at a time
with a TFLite interpreter (LiteRT's, since tf.lite.Interpreter is deprecated).

    python bench/straight_script.py models/digits_cnn
"""
from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402


def main(model_dir: str) -> None:
    start = time.perf_counter()
    specs = json.load(open(os.path.join(model_dir, "specs.json")))
    data_path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(model_dir))), "dataset", specs["dataset"])
    frame = pd.read_csv(data_path)
    shape = tuple(specs["input"]["shape"])
    n_features = int(np.prod(shape))
    x = ((frame.iloc[:, :n_features].to_numpy(np.float32) - specs["input"].get("mean", 0.0))
         / specs["input"].get("std", 1.0)).reshape((-1,) + shape)
    y = frame.iloc[:, -1].to_numpy()
    model_file = [f for f in os.listdir(model_dir) if f.endswith(".h5")]
    model = tf_keras.models.load_model(os.path.join(model_dir, model_file[0] if model_file else "tf_model"))
    concrete = tf.function(lambda t: model(t)).get_concrete_function(tf.TensorSpec((1,) + shape, tf.float32))

    def representative():
        for row in x[:300]:
            yield [row[None]]

    settings = {
        "float32": {},
        "dynamic_range": {"optimizations": [tf.lite.Optimize.DEFAULT]},
        "float16": {"optimizations": [tf.lite.Optimize.DEFAULT], "types": [tf.float16]},
        "integer_with_float_fallback": {"optimizations": [tf.lite.Optimize.DEFAULT], "rep": True},
        "int8": {"optimizations": [tf.lite.Optimize.DEFAULT], "rep": True, "int8": True},
        "int16x8": {"optimizations": [tf.lite.Optimize.DEFAULT], "rep": True, "int16": True},
    }
    results = {}
    for name, setting in settings.items():
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)
        converter.optimizations = setting.get("optimizations", [])
        if "types" in setting:
            converter.target_spec.supported_types = setting["types"]
        if setting.get("rep"):
            converter.representative_dataset = representative
        if setting.get("int8"):
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = converter.inference_output_type = tf.int8
        if setting.get("int16"):
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
            converter.inference_input_type = converter.inference_output_type = tf.int16
        try:
            content = converter.convert()
        except Exception:  # noqa: BLE001 - the tutorial just skips what fails
            results[name] = None
            continue
        interpreter = Interpreter(model_content=content)
        interpreter.allocate_tensors()
        inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        predictions = []
        for row in x:
            value = row[None]
            if inp["dtype"] != np.float32:
                scale, zero = inp["quantization"]
                value = np.clip(np.round(value / scale + zero), np.iinfo(inp["dtype"]).min,
                                np.iinfo(inp["dtype"]).max).astype(inp["dtype"])
            interpreter.set_tensor(inp["index"], value)
            interpreter.invoke()
            result = interpreter.get_tensor(out["index"]).astype(np.float32)
            if out["dtype"] != np.float32:
                scale, zero = out["quantization"]
                result = (result - zero) * scale
            predictions.append(result[0])
        predictions = np.array(predictions)
        if specs["task"] == "classification":
            results[name] = float(np.mean(np.argmax(predictions, axis=1) == y))
        else:
            mean, std = specs["output"].get("mean", 0.0), specs["output"].get("std", 1.0)
            results[name] = float(np.mean(np.abs(predictions[:, 0] * std + mean - y)))
    print(json.dumps({"seconds": round(time.perf_counter() - start, 2), "metrics": results}))


if __name__ == "__main__":
    main(sys.argv[1])

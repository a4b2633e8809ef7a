"""A model file that carries code is refused unless the user trusts it (--trust_model_code): a
Lambda .h5, a Lambda .keras, a custom object, a SavedModel with a WriteFile op, a .pt2 with a
malicious pickle. Each would write a file when loaded or called; refused, the file never appears."""
from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from helpers.frontend.model_code import UntrustedCodeError, check_model_code
from helpers.frontend.model_loader import find_model
from tests.conftest import ROOT, run_main, tree_hash


def _writer(mark: Path) -> str:
    """Python source of a function that writes `mark` and passes its input through."""
    return f"lambda x: x + 0.0 * len(open({str(mark)!r}, 'w').name)"


def _model_dir(iris_dir: Path, folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in ("specs.json", "data.csv"):
        shutil.copy(iris_dir / name, folder / name)
    return folder


def _lambda_h5(folder: Path, mark: Path) -> None:
    from helpers.frontend.tf_runtime import seed_everything, tf_keras

    seed_everything()
    layers = tf_keras.layers
    model = tf_keras.Sequential([layers.Input((4,)), layers.Dense(8, activation="relu"),
                                 layers.Lambda(eval(_writer(mark)), name="writes_a_file"),  # noqa: S307
                                 layers.Dense(3, activation="softmax")])
    model.save(folder / "model.h5")


def _lambda_keras3(folder: Path, mark: Path) -> None:
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8),
                              keras.layers.Lambda(eval(_writer(mark)), name="writes_a_file"),  # noqa: S307
                              keras.layers.Dense(3, activation="softmax")])
    model.save(folder / "model.keras")


def _custom_h5(folder: Path, mark: Path) -> None:
    from helpers.frontend.tf_runtime import tf_keras

    class WritesAFile(tf_keras.layers.Layer):
        def call(self, x):  # noqa: ANN001, ANN201
            Path(mark).write_text("x")
            return x

    model = tf_keras.Sequential([tf_keras.layers.Input((4,)), tf_keras.layers.Dense(3), WritesAFile()])
    model.save(folder / "model.h5")


def _write_file_saved_model(folder: Path, mark: Path) -> None:
    from helpers.frontend.tf_runtime import tf

    class Model(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.kernel = tf.Variable(tf.ones((4, 3)) / 4.0)

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
        def __call__(self, x):  # noqa: ANN001, ANN204
            tf.io.write_file(str(mark), "x")
            return tf.nn.softmax(x @ self.kernel)

    model = Model()
    tf.saved_model.save(model, str(folder / "saved_model"), signatures=model.__call__)


class _WritesAFile:
    """Unpickling this runs open(path, 'w'): what torch.load(weights_only=False) would do."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):  # noqa: ANN204
        return (open, (self.path, "w"))


def _pickle_pt2(folder: Path, mark: Path) -> None:
    import torch

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Softmax(dim=1))
    program = torch.export.export(module, (torch.zeros(1, 4),))
    clean = folder / "clean.pt2"
    torch.export.save(program, str(clean))
    # torch.export.load reads the sample inputs with weights_only=True, then retries with False
    with zipfile.ZipFile(clean) as source, zipfile.ZipFile(folder / "model.pt2", "w") as target:
        for member in source.infolist():
            content = source.read(member)
            if "sample_inputs" in member.filename:
                scratch = folder / "evil.pt"
                torch.save(_WritesAFile(str(mark)), scratch)
                content = scratch.read_bytes()
                scratch.unlink()
            target.writestr(member, content)
    clean.unlink()


KINDS = {"lambda_h5": (_lambda_h5, "Lambda (layer 'writes_a_file')"),
         "lambda_keras3": (_lambda_keras3, "Lambda (layer 'writes_a_file')"),
         "custom_object_h5": (_custom_h5, "custom object WritesAFile"),
         "saved_model_write_file": (_write_file_saved_model, "op WriteFile"),
         "pt2_pickle": (_pickle_pt2, "data/sample_inputs/model.pt (GLOBAL io.open")}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_model_carrying_code_is_refused_in_one_line_and_the_file_never_appears(kind, iris_dir, tmp_path):
    build, named = KINDS[kind]
    mark = tmp_path / "pwned.txt"
    model_dir = _model_dir(iris_dir, tmp_path / kind)
    build(model_dir, mark)
    mark.unlink(missing_ok=True)  # building the model in this process called its code once
    before = tree_hash(model_dir)
    export = tmp_path / "out"
    result = run_main("--input_dir", str(model_dir), "--PTQ", "-q", "int8", "-e", "--skip_firmware_checks",
                      "--export_dir", str(export), timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert named in errors[0] and "--trust_model_code" in errors[0], errors[0]
    assert not mark.exists(), "the model's code ran"
    assert not export.exists() and tree_hash(model_dir) == before


def test_a_trusted_lambda_h5_runs_and_the_report_says_so(iris_dir, tmp_path):
    mark = tmp_path / "pwned.txt"
    model_dir = _model_dir(iris_dir, tmp_path / "lambda")
    _lambda_h5(model_dir, mark)
    mark.unlink(missing_ok=True)
    export = tmp_path / "out"
    result = run_main("--input_dir", str(model_dir), "--PTQ", "-q", "int8", "--skip_firmware_checks",
                      "--trust_model_code", "--export_dir", str(export), timeout=600)
    assert result.returncode in (0, 3), result.stderr[-3000:]
    assert mark.exists(), "the trusted Lambda ran"
    report = json.loads((export / "report.json").read_text())
    assert report["trust_model_code"] is True
    assert any("--trust_model_code" in notice for notice in report["notices"])
    assert "--trust_model_code" in (export / "report.md").read_text()


@pytest.mark.parametrize("model", ["digits_cnn", "co2_lstm", "digits_torch_pt2", "digits_torch_onnx"])
def test_the_shipped_models_carry_no_code(model):
    path, model_format = find_model(ROOT / "models" / model)
    check_model_code(path, model_format.value)  # raises UntrustedCodeError on a false alarm


def test_the_keras3_check_answers_before_keras_safe_mode(iris_dir, tmp_path):
    """Keras 3's own safe_mode would refuse too, but with a traceback-shaped message: ours is first."""
    model_dir = _model_dir(iris_dir, tmp_path / "k3")
    _lambda_keras3(model_dir, tmp_path / "pwned.txt")
    with pytest.raises(UntrustedCodeError) as refused:
        check_model_code(model_dir / "model.keras", "keras")
    assert "Lambda" in refused.value.one_line() and "\n" not in refused.value.one_line()


def _common_layers(library, inputs):  # noqa: ANN001, ANN202
    layers = library.layers
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = layers.DepthwiseConv2D(3, padding="same", activation="swish")(layers.BatchNormalization()(x))
    x = layers.Reshape((16, 4))(layers.Dropout(0.1)(layers.MaxPooling2D()(x)))
    x = layers.GRU(4)(layers.LSTM(4, return_sequences=True)(x))
    x = layers.Add()([layers.Dense(3, activation="gelu", kernel_regularizer="l2")(x),
                      layers.Dense(3, activation="softmax")(x)])
    return layers.LayerNormalization()(x)


def test_models_of_common_keras_layers_carry_no_code(tmp_path):
    """No false alarm: Keras 2 and 3 models of common layers (regularizer, compiled optimizer and
    metrics, tf ops in a functional model), as .h5, .keras and SavedModel."""
    import keras

    from helpers.frontend.tf_runtime import seed_everything, tf, tf_keras

    seed_everything()
    for name, library in (("k2", tf_keras), ("k3", keras)):
        inputs = library.Input((8, 8, 1))
        model = library.Model(inputs, _common_layers(library, inputs))
        model.compile(library.optimizers.Adam(), "sparse_categorical_crossentropy", metrics=["accuracy"])
        for suffix, kind in ((".h5", "h5"), (".keras", "keras")):
            model.save(tmp_path / f"{name}{suffix}")
            check_model_code(tmp_path / f"{name}{suffix}", kind)
    tf_keras_model = tf_keras.models.load_model(tmp_path / "k2.h5")
    tf_keras_model.save(tmp_path / "k2_saved", save_format="tf")
    check_model_code(tmp_path / "k2_saved", "saved_model")
    # loaded from .h5, tf_keras writes the compiled loss as a "builtins" function by its name
    tf_keras_model.save(tmp_path / "k2_from_h5.keras")
    check_model_code(tmp_path / "k2_from_h5.keras", "keras")
    inputs = tf_keras.Input((4,))
    tf_keras.Model(inputs, tf.nn.relu6(tf.math.sign(inputs) * inputs)).save(tmp_path / "tf_ops.h5")
    check_model_code(tmp_path / "tf_ops.h5", "h5")


def test_a_builtins_function_is_code_unless_keras_defines_its_name():
    from helpers.frontend.model_code import keras_config_finding

    def compiled(loss: str) -> dict:
        return {"class_name": "Sequential", "config": {"name": "m", "layers": []}, "compile_config": {
            "loss": {"module": "builtins", "class_name": "function", "config": loss, "registered_name": "function"}}}

    assert keras_config_finding(compiled("sparse_categorical_crossentropy")) is None
    for name in ("eval", "exec", "open", "my_loss"):
        finding = keras_config_finding(compiled(name))
        assert finding and "builtins" in finding, name

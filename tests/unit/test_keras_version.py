"""Which Keras loads a Keras file (helpers/frontend/model_loader.py): the version the file says
saved it decides, read without loading the model. Files of the two formats made here, with the
fields Keras writes: a `.keras` archive's metadata.json, an `.h5` file's keras_version attribute."""
from __future__ import annotations

import json
import zipfile

import h5py
import pytest

from helpers.frontend.model_loader import ModelFormat, _keras_major_version, _loads_with_keras3


def _keras_archive(path, version):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": version}))
    return path


def _h5(path, version):
    with h5py.File(path, "w") as handle:
        if version is not None:
            handle.attrs["keras_version"] = version.encode()  # tf_keras writes bytes
    return path


@pytest.mark.parametrize("version, keras3", [("2.15.0", False), ("1.2.2", False), ("3.15.0", True), ("", True)])
def test_a_keras_archive_loads_with_keras3_unless_tf_keras_saved_it(tmp_path, version, keras3):
    path = _keras_archive(tmp_path / "model.keras", version)
    assert _loads_with_keras3(path, ModelFormat.KERAS3) is keras3


@pytest.mark.parametrize("version, keras3", [("2.15.0", False), ("3.15.0", True), (None, False)])
def test_an_h5_loads_with_keras3_only_when_keras3_saved_it(tmp_path, version, keras3):
    path = _h5(tmp_path / "model.h5", version)
    assert _keras_major_version(path, ModelFormat.H5) == (version.split(".")[0] if version else None)
    assert _loads_with_keras3(path, ModelFormat.H5) is keras3


def test_a_damaged_file_goes_to_the_default_loader_which_names_the_problem(tmp_path):
    """Truncated files: no version is read (no exception escapes); a .keras goes to Keras 3 and an
    .h5 to tf_keras, whose loaders then say what is wrong with the file."""
    keras_file = _keras_archive(tmp_path / "model.keras", "3.15.0")
    keras_file.write_bytes(keras_file.read_bytes()[:20])
    h5_file = _h5(tmp_path / "model.h5", "3.15.0")
    h5_file.write_bytes(h5_file.read_bytes()[:100])
    assert _keras_major_version(keras_file, ModelFormat.KERAS3) is None
    assert _keras_major_version(h5_file, ModelFormat.H5) is None
    assert _loads_with_keras3(keras_file, ModelFormat.KERAS3) is True
    assert _loads_with_keras3(h5_file, ModelFormat.H5) is False


def test_a_saved_model_folder_is_never_read_for_a_version(tmp_path):
    assert _loads_with_keras3(tmp_path, ModelFormat.SAVED_MODEL) is False

"""Every bad input: one line `error: ...`, exit code 2, no traceback, nothing changed on disk."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

import pytest

import main as cli
from tests.conftest import tree_hash


def _specs(d: Path, **changes) -> None:
    specs = json.loads((d / "specs.json").read_text())
    for key, value in changes.items():
        if value is None:
            specs.pop(key, None)
        else:
            specs[key] = value
    (d / "specs.json").write_text(json.dumps(specs))


def _csv(d: Path, edit: Callable[[list[str]], list[str]]) -> None:
    lines = (d / "data.csv").read_text().splitlines()
    (d / "data.csv").write_text("\n".join(edit(lines)) + "\n")


def _cell(row: int, column: int, value: str) -> Callable[[list[str]], list[str]]:
    def edit(lines: list[str]) -> list[str]:
        cells = lines[row].split(",")
        cells[column] = value
        lines[row] = ",".join(cells)
        return lines
    return edit


def _lambda_cos_model(d: Path) -> None:
    from helpers.frontend.tf_runtime import seed_everything, tf_keras

    seed_everything()
    # the lambda imports tensorflow itself: a closure over the module would not serialise
    model = tf_keras.Sequential([tf_keras.layers.Input((4,)), tf_keras.layers.Dense(4),
                                 tf_keras.layers.Lambda(lambda x: __import__("tensorflow").cos(x)),
                                 tf_keras.layers.Dense(3)])
    (d / "model.h5").unlink()
    model.save(d / "model.h5")


# name -> (how to break the model directory, extra flags, text the message must contain)
CASES: dict[str, tuple[Callable[[Path], None], list[str], str]] = {
    "input dir missing": (lambda d: shutil.rmtree(d), [], "does not exist"),
    "input dir empty": (lambda d: [p.unlink() for p in d.iterdir()], [], "is empty"),
    "no model": (lambda d: (d / "model.h5").unlink(), [], "no model found"),
    "several models": (lambda d: shutil.copy(d / "model.h5", d / "other.h5"), [], "several candidate models"),
    "corrupt h5": (lambda d: (d / "model.h5").write_bytes(b"\x89HDF\r\n garbage"), [], "cannot load the model"),
    "corrupt keras": (lambda d: ((d / "model.h5").unlink(), (d / "m.keras").write_bytes(b"PK\x03\x04junk")), [],
                      "cannot load the model"),
    "corrupt saved model": (lambda d: ((d / "model.h5").unlink(), (d / "sm").mkdir(),
                                       (d / "sm" / "saved_model.pb").write_bytes(b"junk")), [], "cannot load"),
    "specs missing": (lambda d: (d / "specs.json").unlink(), [], "specs.json is missing"),
    "specs not json": (lambda d: (d / "specs.json").write_text("{task: regression"), [], "not valid JSON"),
    "specs field missing": (lambda d: _specs(d, input={"mean": 0}), [], "input.shape"),
    "specs wrong type": (lambda d: _specs(d, input={"shape": "four"}), [], "list of positive integers"),
    "unknown task": (lambda d: _specs(d, task="detection"), [], "unknown task 'detection'"),
    "std zero": (lambda d: _specs(d, input={"shape": [4], "std": 0}), [], "std` is zero"),
    "shape mismatch": (lambda d: _specs(d, input={"shape": [2, 2]}), [], "does not match the model"),
    "dataset missing": (lambda d: (d / "data.csv").unlink(), [], "no dataset found"),
    "dataset named but missing": (lambda d: _specs(d, dataset="nope.csv"), [], "'nope.csv'"),
    "dataset outside": (lambda d: _specs(d, dataset="../../etc/passwd"), [], "outside the model directory"),
    "dataset empty": (lambda d: (d / "data.csv").write_text(""), [], "dataset is empty"),
    "non-numeric cell": (lambda d: _csv(d, _cell(3, 1, "abc")), [], "non-numeric value 'abc'"),
    "nan cell": (lambda d: _csv(d, _cell(3, 1, "nan")), [], "NaN"),
    "inf cell": (lambda d: _csv(d, _cell(3, 1, "inf")), [], "infinite"),
    "ragged rows": (lambda d: _csv(d, lambda lines: lines[:5] + [lines[5] + ",1,2"] + lines[6:]), [], "ragged"),
    "feature count": (lambda d: _csv(d, lambda lines: [",".join(l.split(",")[1:]) for l in lines]), [],
                      "feature columns"),
    "label outside classes": (lambda d: _csv(d, _cell(2, 4, "tulip")), [], "'tulip'"),
    "too few rows": (lambda d: _csv(d, lambda lines: lines[:10]), [], "too few"),
    "unknown flag": (lambda d: None, ["--frobnicate"], "Unrecognized arguments: --frobnicate"),
    "mistyped -q": (lambda d: None, ["--PTQ", "-q", "flaot16"], "did you mean `-q float16`"),
    "conflicting flags": (lambda d: None, ["--PTQ", "--QAT"], "not allowed with"),
    "q without mode": (lambda d: None, ["-q", "int8"], "needs a quantization mode"),
    "export dir is a file": (lambda d: None, ["--export_dir", "@file"], "is a file"),
    "export dir not writable": (lambda d: None, ["--export_dir", "/proc/mcu-deploy/out"], "not writable"),
    "int8 cannot express an op": (_lambda_cos_model, ["--PTQ", "-q", "int8", "--trust_model_code"],
                                   "cannot express COS"),
    "micropython dir not a tree": (lambda d: None, ["--PTQ", "--micropython_dir", "/proc"],
                                   "is not a MicroPython source tree"),
    "micropython budget not positive": (lambda d: None, ["--PTQ", "--micropython_seconds", "0"],
                                        "must be a positive number of seconds"),
    "recovery budget not positive": (lambda d: None, ["--PTQ", "--recovery_seconds", "-5"],
                                     "--recovery_seconds must be a positive number of seconds"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gives_one_line_exit_2_and_changes_nothing(case, iris_dir, tmp_path, capfd):
    breaker, flags, expected = CASES[case]
    model_dir = tmp_path / "model"
    shutil.copytree(iris_dir, model_dir)
    breaker(model_dir)
    export = tmp_path / "export"
    export.mkdir()
    (export / "previous.txt").write_text("an earlier export")
    flags = [str(tmp_path / "afile") if f == "@file" else f for f in flags]
    (tmp_path / "afile").write_text("not a directory")
    if "--export_dir" not in flags:
        flags += ["--export_dir", str(export)]
    before_model, before_export = tree_hash(model_dir), tree_hash(export)
    capfd.readouterr()

    code = cli.main(["--input_dir", str(model_dir), *flags])

    err = capfd.readouterr().err
    last = err.strip().splitlines()[-1] if err.strip() else ""
    assert code == 2, err
    assert last.startswith("error: ") and expected in last, err
    assert "Traceback" not in err
    assert ": " in last[len("error: "):]  # what is wrong, then the fix
    assert tree_hash(model_dir) == before_model
    assert tree_hash(export) == before_export
    assert not list(tmp_path.glob(".*partial*")) and not list(export.parent.glob(".export.partial-*"))


def test_debug_shows_the_traceback(iris_dir, tmp_path):
    from helpers.errors import SpecsError

    model_dir = tmp_path / "m"
    shutil.copytree(iris_dir, model_dir)
    _specs(model_dir, task="detection")
    with pytest.raises(SpecsError):
        cli.main(["--input_dir", str(model_dir), "--debug", "--export_dir", str(tmp_path / "e")])

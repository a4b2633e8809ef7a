"""The self-test built against TFLM's C++ library and run on host, Cortex-M4 (CMSIS-NN) and
Cortex-M0+ (CMSIS-NN) under qemu-system-arm: PASS on every target (int16x8 too, once its Dense
layers are 1x1 convolutions), and the figures checked against the linked program."""
from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ALL_TARGETS, TFLM_DIR

pytestmark = pytest.mark.xdist_group("targets")  # keep these on one worker where pytest-xdist can


def test_every_exported_file_is_written_once(digits_targets):
    """The checks (toolchains, targets, the arena proof, MicroPython) run on scratch copies; each
    variant's folder is written once, after them, and the export is then moved into place."""
    def in_staging(path: str) -> str | None:  # the path inside the staging folder, else None
        parts = Path(path).parts
        starts = [i for i, part in enumerate(parts) if part.startswith(".digits.partial-")]
        return str(Path(*parts[starts[0] + 1:])) if starts else None

    relative = [name for name in map(in_staging, (digits_targets.parent / "digits.writes").read_text().splitlines())
                if name]
    counts = {name: relative.count(name) for name in set(relative)}
    assert counts and max(counts.values()) == 1, {name: n for name, n in counts.items() if n > 1}
    # every file of the export came from those writes (or from mpy-cross and the plots: none here)
    exported = {str(p.relative_to(digits_targets)) for p in digits_targets.rglob("*") if p.is_file()}
    assert exported - set(counts) <= {"report.json", "report.md"} | {n for n in exported if n.endswith(".mpy")}
    assert {"int8/digits_cnn_model_data.h", "int8/specs.json", "int8/TARGETS.md", "int8/digits_cnn_infer.py"} <= \
        set(counts)


def _variant(export: Path, name: str) -> dict:
    report = json.loads((export / "report.json").read_text())
    return next(v for v in report["variants"] if v["name"] == name)


@pytest.mark.parametrize("variant", ["float32", "int8"])
def test_digits_passes_on_every_target_with_the_hosts_accuracy(digits_targets, variant):
    row = _variant(digits_targets, variant)
    firmware = row["firmware"]
    assert firmware["tflm_runnable"] is True
    for name in ALL_TARGETS.split(","):
        result = firmware["targets"][name]
        assert result["status"] == "pass", result
        assert result["vectors"] == result["vectors_matching"] > 100
        # The target computed the accuracy itself, on its vectors; with every evaluation row (int8
        # holds all 360) it is the host interpreter's figure, up to one row decided differently.
        if result["vectors"] == 360:
            assert abs(result["metrics"]["accuracy"] - firmware["tflm_metrics"]["accuracy"]) <= 1 / 360
    tflm_part = (digits_targets / variant / "TARGETS.md").read_text().split("## The C engine")[0]
    assert tflm_part.count("| PASS |") == 3


def test_int16x8_runs_on_cmsis_nn_once_its_dense_layers_are_1x1_convolutions(digits_targets):
    """TFLM's CMSIS-NN FULLY_CONNECTED refuses per-channel int16 in Prepare (it once failed on
    cortex-m4 and cortex-m0plus); int16_per_channel_fc_as_conv makes the two Dense layers 1x1
    CONV_2D over the same weights, proven on TFLM's reference kernels, and the variant runs on
    every target, the C engine identical to TFLM there."""
    row = _variant(digits_targets, "int16x8")
    (rewrite,) = row["rewrites"]
    assert (rewrite["name"], rewrite["stage"], rewrite["ops"], rewrite["exact"]) == \
        ("int16_per_channel_fc_as_conv", "after_conversion", 2, True)
    assert "identical TFLM outputs (reference kernels) on " in rewrite["proof"]
    assert "FULLY_CONNECTED" not in row["ops"] and "CONV_2D" in row["ops"]
    firmware = row["firmware"]
    assert firmware["tflm_runnable"] is True and not firmware.get("tflm_reason")
    assert firmware["c_engine"]["status"] == "pass", firmware["c_engine"]
    for name in ALL_TARGETS.split(","):
        result = firmware["targets"][name]
        assert result["status"] == "pass", result
        assert result["vectors"] == result["vectors_matching"] > 100
        engine = firmware["c_engine"]["targets"][name]
        assert engine["status"] == "pass" and engine["identical_to_tflm"] is True, engine
    targets_md = (digits_targets / "int16x8" / "TARGETS.md").read_text()
    assert "Does not run on" not in targets_md and targets_md.split("## The C engine")[0].count("| PASS |") == 3
    report_md = (digits_targets / "report.md").read_text()
    assert "| int16x8 | int16_per_channel_fc_as_conv | after conversion | 2 | yes |" in report_md


def test_instruction_counts_and_latency(digits_targets):
    float_m4 = _variant(digits_targets, "float32")["firmware"]["targets"]["cortex-m4"]
    int8_m4 = _variant(digits_targets, "int8")["firmware"]["targets"]["cortex-m4"]
    int8_m0 = _variant(digits_targets, "int8")["firmware"]["targets"]["cortex-m0plus"]
    # Soft-float convolutions cost far more than CMSIS-NN's int8 ones; the M0+ has no DSP extension.
    assert 10_000 < int8_m4["instructions_per_inference"] < float_m4["instructions_per_inference"]
    assert int8_m0["instructions_per_inference"] > int8_m4["instructions_per_inference"]
    assert int8_m4["latency_ms"] == pytest.approx(int8_m4["instructions_per_inference"] * 1.25 / 80e3, abs=1e-3)


def test_header_arena_comes_from_the_32_bit_target(digits_targets):
    row = _variant(digits_targets, "int8")
    used = max(row["firmware"]["targets"][name]["arena_used_bytes"] for name in ("cortex-m4", "cortex-m0plus"))
    expected = row["firmware"]["tensor_arena_bytes"]
    # used + 10%, raised in 25% steps until it ran in exactly that size (the planner's scratch during
    # AllocateTensors is not in arena_used_bytes); the map test below runs it in that size again
    assert expected >= math.ceil(used * 1.1 / 16) * 16
    assert expected < math.ceil(used * 1.1 / 16) * 16 * 1.25 ** 6
    header = (digits_targets / "int8" / "digits_cnn_model_data.h").read_text()
    assert f"kDigitsCnnTensorArenaSize = {expected}," in header
    assert "arena_used_bytes()" in header
    # The RAM figure counts the arena at that size
    assert row["firmware"]["targets"]["cortex-m4"]["ram_breakdown"]["tensor_arena"] == expected


def test_lstm_runs_on_every_target(lstm_targets):
    for variant in ("float32", "int8"):
        firmware = _variant(lstm_targets, variant)["firmware"]
        assert firmware["reset_before_invoke"] is True
        for name in ALL_TARGETS.split(","):
            result = firmware["targets"][name]
            assert result["status"] == "pass", result
            # the target computed the MAE in ppm, close to the host interpreter's on all rows
            assert result["metrics"]["mae"] == pytest.approx(firmware["tflm_metrics"]["mae"], rel=0.1)
    assert _variant(lstm_targets, "int8")["firmware"]["targets"]["cortex-m4"]["instructions_per_inference"] > 1000


def test_figures_match_the_linked_program_and_the_cache_is_reused(digits_targets, tmp_path):
    """Link the int8 self-test again from the export (the library is cached: nothing compiles) and
    check run_self_test's figures against the ELF's own section sizes."""
    from helpers.targets.library import open_library
    from helpers.targets.selftest import run_self_test
    from helpers.targets.target import TARGETS
    from helpers.targets.tree import find_tree

    library = open_library(find_tree(TFLM_DIR), TARGETS["cortex-m4"])
    arena = _variant(digits_targets, "int8")["firmware"]["tensor_arena_bytes"]
    result = run_self_test(library, digits_targets / "int8", "digits_cnn", tmp_path, 80.0, arena, count=False)
    assert result.status == "pass"
    assert library.compiled_count == 0  # every object came from the session's cache
    # it passed in the header's arena, without the large-arena retry
    assert result.arena_linked_bytes == _variant(digits_targets, "int8")["firmware"]["tensor_arena_bytes"]
    sizes = {}
    listing = subprocess.run(["arm-none-eabi-size", "-A", str(tmp_path / "selftest.elf")], capture_output=True,
                             text=True, check=True).stdout
    for line in listing.splitlines()[2:]:
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    flash = sum(sizes.get(s, 0) for s in (".text", ".rodata", ".ARM.extab", ".ARM.exidx", ".init_array", ".data"))
    assert result.flash_bytes == flash
    assert result.ram_bytes == sizes[".data"] + sizes[".bss"]
    assert sum(result.flash_breakdown.values()) == flash
    assert sum(result.ram_breakdown.values()) == result.ram_bytes
    model_size = (digits_targets / "int8" / "model.tflite").stat().st_size
    assert model_size <= result.flash_breakdown["model_data"] < model_size + 1024
    assert result.ram_breakdown["tensor_arena"] == result.arena_linked_bytes
    assert result.flash_bytes_without_self_test == flash - result.flash_breakdown["self_test"]


def test_the_arena_proof_runs_the_first_vector_and_fails_in_too_small_an_arena(digits_targets, tmp_path):
    """The arena proof's program (helpers/targets/bench.py) runs one vector, not all 360 again:
    in the header's arena it passes on that vector; in half the arena TFLM reports it used it
    fails in AllocateTensors, so the proof can fail."""
    from helpers.targets.bench import ARENA_PROOF_DEFINES
    from helpers.targets.library import open_library
    from helpers.targets.program import compile_self_test
    from helpers.targets.runner import run_program
    from helpers.targets.target import TARGETS
    from helpers.targets.tree import find_tree

    library = open_library(find_tree(TFLM_DIR), TARGETS["cortex-m4"])
    firmware = _variant(digits_targets, "int8")["firmware"]
    used = firmware["targets"]["cortex-m4"]["arena_used_bytes"]
    for arena, said in ((firmware["tensor_arena_bytes"], "PASS: 1 of 1 vectors match"),
                        (used // 2 // 16 * 16, "FAIL: AllocateTensors")):
        program = compile_self_test(library, digits_targets / "int8", "digits_cnn", tmp_path / str(arena), arena,
                                    ARENA_PROOF_DEFINES).link()
        assert said in run_program(TARGETS["cortex-m4"], program.path).output

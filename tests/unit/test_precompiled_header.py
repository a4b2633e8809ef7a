"""The precompiled schema header speeds TFLM's library build without changing a byte of its code."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers.targets.precompiled_header import KEEP_ENVIRONMENT, MINIMUM_BATCH, PrecompiledHeaders, headers_for, remove_abandoned
from tests.conftest import TFLM_DIR, require_tool

# The flags of TFLM's host build that matter here (make's CXXFLAGS for TARGET=linux, -Os).
HOST_FLAGS = ["-std=c++17", "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics", "-DTF_LITE_STATIC_MEMORY",
              "-Os", "-I.", "-Itensorflow/lite/micro/tools/make/downloads/flatbuffers/include",
              "-Itensorflow/lite/micro/tools/make/downloads/gemmlowp"]
# One of the sources the seed batch compiles (each takes seconds: one is enough).
SOURCES = ("tensorflow/lite/micro/micro_interpreter.cc",)


def _code(compiler: list[str], source: str, extra: list[str], out: Path, cwd: Path = TFLM_DIR) -> str:
    """The disassembly of one source's object (without the file name line)."""
    subprocess.run([*compiler, *extra, "-c", source, "-o", str(out)], cwd=cwd, check=True, capture_output=True)
    listing = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(out)], check=True, capture_output=True,
                             text=True).stdout
    return listing.split("\n", 3)[3]


def _fake_tree(tmp_path: Path, schema: str = "struct Schema { int version; };\n") -> Path:
    tree = tmp_path / "tree"
    (tree / "tensorflow/lite/schema").mkdir(parents=True)
    (tree / "tensorflow/lite/schema/schema_generated.h").write_text(schema)
    return tree


def test_within_a_run_a_header_is_built_only_for_flags_enough_sources_share(tmp_path, monkeypatch):
    monkeypatch.delenv(KEEP_ENVIRONMENT, raising=False)
    tree = _fake_tree(tmp_path)
    compiler = [shutil.which("c++") or "c++", "-std=c++17", "-I."]
    many = {f"tensorflow/a{i}.cc": [*compiler, "-O2"] for i in range(MINIMUM_BATCH)}
    few = {f"tensorflow/b{i}.cc": [*compiler, "-Os"] for i in range(MINIMUM_BATCH - 1)}
    headers = headers_for(tmp_path / "library", tree)
    assert not headers.kept and headers.folder == tmp_path / "library" / "pch" / f"run-{os.getpid()}"
    headers.prepare({**many, **few, "tensorflow/c.c": [*compiler, "-O2"]})
    with_header = headers.flags_for([*compiler, "-O2"])
    assert with_header[0] == "-include" and Path(with_header[1] + ".gch").is_file()
    assert headers.flags_for([*compiler, "-Os"]) == []  # too few to pay for their header in one run
    # a later batch of the same run reuses it without building again
    built = Path(with_header[1] + ".gch").stat().st_mtime_ns
    headers.prepare(many)
    assert Path(with_header[1] + ".gch").stat().st_mtime_ns == built


def test_headers_of_dead_runs_are_removed_and_live_and_kept_ones_stay(tmp_path):
    library = tmp_path / "library"
    dead = subprocess.Popen(["true"])
    dead.wait()
    for name in (f"run-{dead.pid}", f"run-{os.getpid()}", "kept/abc", "pch-old1234"):
        (library / "pch" / name).mkdir(parents=True)
        (library / "pch" / name / "tflm_schema.h.gch").write_bytes(b"x")
    (library / "pch" / "kept" / "abc" / f"tflm_schema.h.gch.{dead.pid}.1.tmp").write_bytes(b"half")
    remove_abandoned(library)
    assert sorted(str(p.relative_to(library / "pch")) for p in (library / "pch").rglob("*")) == [
        "kept", "kept/abc", "kept/abc/tflm_schema.h.gch", f"run-{os.getpid()}",
        f"run-{os.getpid()}/tflm_schema.h.gch"]


def test_kept_headers_serve_later_runs_and_a_single_source(tmp_path, monkeypatch):
    monkeypatch.setenv(KEEP_ENVIRONMENT, "1")
    tree = _fake_tree(tmp_path)
    command = [shutil.which("c++") or "c++", "-std=c++17", "-I.", "-O2"]
    first = headers_for(tmp_path / "library", tree)
    assert first.kept and first.folder == tmp_path / "library" / "pch" / "kept"
    first.prepare({"tensorflow/one.cc": command})  # one source is enough: the header outlives the run
    header = first.flags_for(command)[1]
    built = Path(header + ".gch").stat().st_mtime_ns
    later = headers_for(tmp_path / "library", tree)  # another run
    assert later.flags_for(command) == ["-include", header]
    later.prepare({"tensorflow/two.cc": command})
    assert Path(header + ".gch").stat().st_mtime_ns == built
    later.discard(command)  # a compile failed with it: gone, and not built again by this run
    assert not Path(header + ".gch").exists() and later.flags_for(command) == []
    assert later.ensure(command) is None


def test_a_header_that_fails_to_build_leaves_the_sources_to_compile_without_one(tmp_path, monkeypatch):
    monkeypatch.delenv(KEEP_ENVIRONMENT, raising=False)
    tree = _fake_tree(tmp_path, "this is not C++\n")
    command = [shutil.which("c++") or "c++", "-std=c++17", "-I."]
    headers = headers_for(tmp_path / "library", tree)
    headers.prepare({f"tensorflow/a{i}.cc": command for i in range(MINIMUM_BATCH)})
    assert headers.flags_for(command) == []
    assert not list(headers.folder.rglob("*.tmp"))


def test_tflm_sources_compile_to_the_same_code_with_the_header(tmp_path):
    require_tool("tflm")
    require_tool("c++")
    compiler = [shutil.which("c++") or "c++", *HOST_FLAGS]
    headers = PrecompiledHeaders(tmp_path / "pch", TFLM_DIR)
    headers.prepare({f"tensorflow/batch{i}.cc": compiler for i in range(MINIMUM_BATCH)})
    extra = headers.flags_for(compiler)
    assert extra, "the header did not build"
    for index, source in enumerate(SOURCES):
        plain = _code(compiler, source, [], tmp_path / f"plain{index}.o")
        # an error, not a silent fallback, if GCC did not take the .gch
        with_header = _code(compiler, source, ["-Werror=invalid-pch", *extra], tmp_path / f"pch{index}.o")
        assert plain == with_header, source
        assert len(plain) > 10_000  # a real object, not an empty one
    # As a self-test's main.cc is compiled: from elsewhere, the tree's include paths absolute, a -D
    # and an -I of its own added. GCC takes the same header (it would refuse it with an error here).
    absolute = [f"-I{TFLM_DIR / flag[2:]}" if flag.startswith("-I") else flag for flag in compiler]
    elsewhere = _code([*absolute[:1], *extra, *absolute[1:], "-DMCU_DEPLOY_TENSOR_ARENA_SIZE=4096", f"-I{tmp_path}"],
                      str(TFLM_DIR / SOURCES[0]), ["-Werror=invalid-pch"], tmp_path / "main.o", cwd=tmp_path)
    assert elsewhere == _code(absolute, str(TFLM_DIR / SOURCES[0]), [], tmp_path / "main_plain.o", cwd=tmp_path)

"""The precompiled schema header speeds TFLM's library build without changing a byte of its code."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from helpers.targets.precompiled_header import MINIMUM_BATCH, precompiled_headers
from tests.conftest import TFLM_DIR, require_tool

# The flags of TFLM's host build that matter here (make's CXXFLAGS for TARGET=linux, -Os).
HOST_FLAGS = ["-std=c++17", "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics", "-DTF_LITE_STATIC_MEMORY",
              "-Os", "-I.", "-Itensorflow/lite/micro/tools/make/downloads/flatbuffers/include",
              "-Itensorflow/lite/micro/tools/make/downloads/gemmlowp"]
# One of the sources the seed batch compiles (each takes seconds: one is enough).
SOURCES = ("tensorflow/lite/micro/micro_interpreter.cc",)


def _code(compiler: list[str], source: str, extra: list[str], out: Path) -> str:
    """The disassembly of one source's object (without the file name line)."""
    subprocess.run([*compiler, *extra, "-c", source, "-o", str(out)], cwd=TFLM_DIR, check=True, capture_output=True)
    listing = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(out)], check=True, capture_output=True,
                             text=True).stdout
    return listing.split("\n", 3)[3]


def test_a_header_is_built_only_for_flags_enough_sources_share(tmp_path):
    fake_tree = tmp_path / "tree"
    (fake_tree / "tensorflow/lite/schema").mkdir(parents=True)
    (fake_tree / "tensorflow/lite/schema/schema_generated.h").write_text("struct Schema { int version; };\n")
    compiler = [shutil.which("c++") or "c++", "-std=c++17", "-I."]
    many = {f"tensorflow/a{i}.cc": [*compiler, "-O2"] for i in range(MINIMUM_BATCH)}
    few = {f"tensorflow/b{i}.cc": [*compiler, "-Os"] for i in range(MINIMUM_BATCH - 1)}
    with precompiled_headers(tmp_path / "pch", fake_tree) as headers:
        headers.prepare({**many, **few, "tensorflow/c.c": [*compiler, "-O2"]})
        with_header = headers.flags_for([*compiler, "-O2"])
        assert with_header[0] == "-include" and Path(with_header[1] + ".gch").is_file()
        assert headers.flags_for([*compiler, "-Os"]) == []  # too few to pay for their header
        folder = headers.folder
    assert not folder.exists()  # a .gch is hundreds of MB for TFLM: it lives only while its batch compiles


def test_a_header_that_fails_to_build_leaves_the_sources_to_compile_without_one(tmp_path):
    fake_tree = tmp_path / "tree"
    (fake_tree / "tensorflow/lite/schema").mkdir(parents=True)
    (fake_tree / "tensorflow/lite/schema/schema_generated.h").write_text("this is not C++\n")
    command = [shutil.which("c++") or "c++", "-std=c++17", "-I."]
    with precompiled_headers(tmp_path / "pch", fake_tree) as headers:
        headers.prepare({f"tensorflow/a{i}.cc": command for i in range(MINIMUM_BATCH)})
        assert headers.flags_for(command) == []


def test_tflm_sources_compile_to_the_same_code_with_the_header(tmp_path):
    require_tool("tflm")
    require_tool("c++")
    compiler = [shutil.which("c++") or "c++", *HOST_FLAGS]
    with precompiled_headers(tmp_path / "pch", TFLM_DIR) as headers:
        headers.prepare({f"tensorflow/batch{i}.cc": compiler for i in range(MINIMUM_BATCH)})
        extra = headers.flags_for(compiler)
        assert extra, "the header did not build"
        for index, source in enumerate(SOURCES):
            plain = _code(compiler, source, [], tmp_path / f"plain{index}.o")
            # an error, not a silent fallback, if GCC did not take the .gch
            with_header = _code(compiler, source, ["-Werror=invalid-pch", *extra], tmp_path / f"pch{index}.o")
            assert plain == with_header, source
            assert len(plain) > 10_000  # a real object, not an empty one

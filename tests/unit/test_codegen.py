"""Escaping helpers and renderers: nothing from specs.json can break out of a comment or literal."""
from __future__ import annotations

import ast
import subprocess

import pytest

from helpers.emit.codegen import (
    c_byte_lines,
    c_comment,
    c_float,
    c_string,
    py_byte_lines,
    py_string,
)
from tests.conftest import require_tool

NASTY = ['*/ int evil(); /*', 'line\nbreak', 'quote " and \\ backslash', "tri??/graph", "ünïcödé 模型", "\x00nul"]


@pytest.mark.parametrize("text", NASTY)
def test_c_comment_cannot_close_the_comment(text):
    out = c_comment(text)
    assert "*/" not in out and "\n" not in out and all(32 <= ord(c) < 127 for c in out)


@pytest.mark.parametrize("text", NASTY)
def test_py_string_round_trips(text):
    assert ast.literal_eval(py_string(text)) == text


def test_byte_lines_round_trip():
    content = bytes(range(256)) * 3
    py_literal = "(" + "\n".join(py_byte_lines(content)) + ")"
    assert ast.literal_eval(py_literal) == content
    c_values = "".join(c_byte_lines(content)).replace(" ", "").rstrip(",").split(",")
    assert bytes(int(v, 16) for v in c_values) == content


def test_c_float_is_a_float_literal():
    assert c_float(1.0) == "1.0f"
    assert c_float(1e-05) == "1e-05f"
    with pytest.raises(ValueError):
        c_float(float("nan"))


def test_c_strings_compile_and_keep_their_bytes(tmp_path):
    require_tool("cc")
    lines = ",\n".join(f"  {c_string(t)}" for t in NASTY)
    source = tmp_path / "s.c"
    source.write_text('#include <stdio.h>\nstatic const char *const s[] = {\n' + lines + '\n};\n'
                      'int main(void) { for (unsigned i = 0; i < sizeof s / sizeof *s; i++) '
                      '{ fputs(s[i], stdout); putchar(0); } return 0; }\n', encoding="utf-8")
    subprocess.run(["cc", "-std=c99", "-Wall", "-Werror", "-Wno-trigraphs", "-o", str(tmp_path / "s"), str(source)],
                   check=True)
    out = subprocess.run([str(tmp_path / "s")], capture_output=True, check=True).stdout
    expected = b"".join(t.encode("utf-8").split(b"\x00")[0] + b"\x00" for t in NASTY)
    assert out == expected

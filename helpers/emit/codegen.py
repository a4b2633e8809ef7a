"""Jinja2 rendering of the firmware artifacts: one Environment, one render function per file.

Templates only loop and substitute. Everything that needs care (hex formatting, escaping text
from specs.json into C comments and strings or Python literals, naming) happens here.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from helpers.core.paths import TEMPLATE_DIR
from helpers.emit.identifiers import camel_case

C_BYTES_PER_LINE = 12
PY_BYTES_PER_LINE = 32


def c_comment(text: Any) -> str:
    """Text safe inside a /* */ or // comment: one line, printable ASCII, no comment terminator."""
    cleaned = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in str(text))
    return cleaned.replace("*/", "* /").replace("/*", "/ *").replace("\\", "/")


def c_string(text: Any) -> str:
    """A C string literal (quotes included) with everything outside printable ASCII escaped."""
    out = []
    for byte in str(text).encode("utf-8"):
        ch = chr(byte)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= byte < 127 and ch != "?":  # '?' escaped to avoid trigraphs
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def py_string(text: Any) -> str:
    """A Python/MicroPython str literal, ASCII only."""
    return json.dumps(str(text), ensure_ascii=True)


def c_float(value: float) -> str:
    """A float constant in C: shortest round-trip digits plus the `f` suffix."""
    if not math.isfinite(value):
        raise ValueError(f"non-finite constant {value!r}")
    text = repr(float(value))
    return text + "f" if ("." in text or "e" in text) else text + ".0f"


def py_float(value: float) -> str:
    """A float literal for MicroPython."""
    return repr(float(value))


def c_byte_lines(content: bytes) -> list[str]:
    """`0x1c, 0x00, ...` lines for a C array initialiser."""
    return [", ".join(f"0x{b:02x}" for b in content[i:i + C_BYTES_PER_LINE]) + ","
            for i in range(0, len(content), C_BYTES_PER_LINE)]


def py_byte_lines(content: bytes) -> list[str]:
    """`b'\\x1c\\x00...'` literals; adjacent literals are joined by the compiler into one bytes object."""
    return ["b'" + "".join(f"\\x{b:02x}" for b in content[i:i + PY_BYTES_PER_LINE]) + "'"
            for i in range(0, len(content), PY_BYTES_PER_LINE)]


def c_values(values: Iterable[Any], kind: str) -> str:
    """Comma-separated C initialiser values."""
    return ", ".join(c_float(v) if kind == "float" else str(int(v)) for v in values)


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)), undefined=StrictUndefined,
                      keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters.update(c_comment=c_comment, c_string=c_string, py_string=py_string, c_float=c_float,
                       py_float=py_float, camel=camel_case, py_tuple=lambda items: tuple_literal(items, str))
    return env


_ENV = _environment()


@dataclass(frozen=True)
class Rendered:
    """One generated file: its name in the variant folder and its text."""

    filename: str
    text: str


def render(template: str, filename: str, context: dict[str, Any]) -> Rendered:
    """Render one template; StrictUndefined turns any missing value into an error, not empty text."""
    return Rendered(filename=filename, text=_ENV.get_template(template).render(**context))


def tuple_literal(values: Sequence[Any], formatter: Any) -> str:
    """A Python tuple literal, with the trailing comma a 1-tuple needs."""
    items = ", ".join(formatter(v) for v in values)
    return f"({items},)" if len(values) == 1 else f"({items})"

"""Rewrite tests/golden/engines/*/<id>_infer.py with the current emitter, for a change to the
MicroPython engine's text that is meant (a new kernel, a fixed comment). Run it, read the diff of
the golden files, and commit it with the change that caused it: the golden test exists so that
no change of the engine's text goes unread."""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers.emit.micropython import render_infer_py  # noqa: E402
from helpers.lowering.graph import read_graph  # noqa: E402
from helpers.lowering.lower import lower  # noqa: E402


def main() -> None:
    for folder in sorted((ROOT / "tests" / "golden" / "engines").iterdir()):
        context = json.loads((folder / "context.json").read_text())
        rendered = render_infer_py(lower(read_graph((folder / "model.tflite").read_bytes())), context)
        target = folder / rendered.filename
        if target.read_text() != rendered.text:
            target.write_text(rendered.text)
            print(f"changed: {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""main.py with every Path.write_text / Path.write_bytes recorded: `python tests/count_writes.py LOG
ARGS...` runs `main.py ARGS...` and appends each written path to LOG, so a test can check that an
export's files are each written once (the checks run on scratch copies, the folder is written after)."""
from __future__ import annotations

import pathlib
import runpy
import sys

LOG = pathlib.Path(sys.argv[1])
ROOT = pathlib.Path(__file__).resolve().parent.parent
_text, _bytes = pathlib.Path.write_text, pathlib.Path.write_bytes


def _record(path: pathlib.Path) -> None:
    with open(LOG, "a", encoding="utf-8") as log:
        log.write(f"{path.resolve()}\n")


def write_text(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201 - Path's own signature
    _record(self)
    return _text(self, *args, **kwargs)


def write_bytes(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
    _record(self)
    return _bytes(self, *args, **kwargs)


pathlib.Path.write_text = write_text
pathlib.Path.write_bytes = write_bytes
sys.path.insert(0, str(ROOT))
sys.argv = [str(ROOT / "main.py"), *sys.argv[2:]]
runpy.run_path(str(ROOT / "main.py"), run_name="__main__")

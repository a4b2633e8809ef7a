"""How the user ran the tool, so that help, usage errors and the fixes messages suggest name a
command they can type: `mcu-deploy` after `pip install .`, else `python main.py` in a checkout."""
from __future__ import annotations

import sys
from pathlib import Path


def command_name() -> str:
    """`mcu-deploy` when this process is the console command, else `python main.py`."""
    return "mcu-deploy" if Path(sys.argv[0]).name == "mcu-deploy" else "python main.py"

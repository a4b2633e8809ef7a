"""Help, usage errors and the fixes messages suggest name the command the user ran: `mcu-deploy`
after `pip install .`, `python main.py` in a checkout (helpers/command.py)."""
from __future__ import annotations

import sys

from helpers.command import command_name
from helpers.config import build_parser
from helpers.fetch.cli import build_fetch_parser


def test_the_console_command_is_named_as_such(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/home/user/.venv/bin/mcu-deploy", "--help"])
    assert command_name() == "mcu-deploy"
    assert build_parser().prog == "mcu-deploy" and build_fetch_parser().prog == "mcu-deploy fetch"
    parser = build_parser()
    assert "`mcu-deploy fetch --tflm --micropython`" in parser.epilog
    assert "pinned tree `mcu-deploy fetch --tflm` keeps" in " ".join(parser.format_help().split())


def test_a_checkout_names_main_py(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["main.py", "--help"])
    assert command_name() == "python main.py"
    assert build_parser().prog == "python main.py" and build_fetch_parser().prog == "python main.py fetch"

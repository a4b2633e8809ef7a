"""`python main.py fetch --tflm --micropython` (or `mcu-deploy fetch ...`): argv -> the fetched trees' paths."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from helpers.command import command_name
from helpers.errors import ConfigError
from helpers.fetch.fetch import MIRROR_ENV, ensure_tree
from helpers.fetch.pins import TREES


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message[0].upper() + message[1:] if message else "bad arguments",
                          f"see `{command_name()} fetch --help`")


def build_fetch_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=f"{command_name()} fetch",
        description="Clone the pinned source trees into the cache ($MCU_DEPLOY_CACHE/trees, default "
                    "~/.cache/mcu-deploy/trees), check them against the recorded digests and print their "
                    f"paths. ${MIRROR_ENV}=DIR|URL fetches from a mirror holding <repository>.git per component.")
    parser.add_argument("--tflm", action="store_true",
                        help="TensorFlow Lite Micro with its make downloads (CMSIS-NN, CMSIS 6, Cortex_DFP, "
                             "flatbuffers, kissfft, gemmlowp, ruy): what --tflm_dir auto uses")
    parser.add_argument("--micropython", action="store_true",
                        help="MicroPython (its qemu port and native modules): what --micropython_dir auto uses")
    parser.add_argument("--verbose", action="store_true", help="accepted for symmetry; fetch always says what it does")
    parser.add_argument("--quiet", action="store_true", help="print only the paths and errors")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    return parser


def fetch_command(argv: Sequence[str]) -> list[Path]:
    """Fetch (or find, verified) every tree argv asks for; their paths in the order tflm, micropython."""
    args = build_fetch_parser().parse_args(list(argv))
    wanted = [name for name in TREES if getattr(args, name)]
    if not wanted:
        raise ConfigError("fetch needs to know which tree", "add --tflm, --micropython or both")
    return [ensure_tree(name) for name in wanted]

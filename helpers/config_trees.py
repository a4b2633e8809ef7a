"""The flags that name trees and what is built from them: --tflm_dir and --target, --micropython_dir,
--package (argparse values -> checked paths and names). Kept apart from config.py, which stays free
of TensorFlow too: nothing here imports it."""
from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from helpers.errors import ConfigError, FetchUnreachableError
from helpers.fetch.fetch import resolve_auto

_log = logging.getLogger("mcu_deploy")
# Why a run has no targets when it was given no tree (the report's notice ends with the reason).
NO_TREE_GIVEN = "no TFLM tree given (--tflm_dir auto fetches the pinned one; or --tflm_dir DIR, TFLM_DIR; docs/fetch.md)"


def not_built_notice(reason: str) -> str:
    """The one line that says the firmware was not taken to a target, and why."""
    return f"the firmware was not built against TFLM's library nor run on a target: {reason}"


def targets_flag(args: argparse.Namespace) -> tuple[tuple[str, ...], Path | None, str | None]:
    """The targets to run the self-test on, the TFLM tree they build against, and why `--tflm_dir
    auto` left no tree (else None). Where the pinned tree's source cannot be reached (no network)
    and nothing but the default proofs wanted it, the run goes on without targets, warned now."""
    from helpers.targets.target import DEFAULT_TARGETS, parse_targets

    chosen = tuple(target.name for target in parse_targets(args.target)) if args.target else None
    tflm_dir = args.tflm_dir or (Path(os.environ["TFLM_DIR"]) if os.environ.get("TFLM_DIR") else None)
    if chosen and tflm_dir is None:
        raise ConfigError("--target needs a TensorFlow Lite Micro tree to build against",
                          "pass --tflm_dir DIR (or set TFLM_DIR), or --tflm_dir auto: the pinned tree, fetched once")
    found: tuple[tuple[str, ...], Path | None] = (chosen or DEFAULT_TARGETS, tflm_dir)
    if tflm_dir is None or args.skip_firmware_checks or args.check:  # --check: TFLM's interpreter, no target
        found = ((), None)
    if args.profile and not [name for name in found[0] if name != "host"]:
        raise ConfigError("--profile times each layer on an emulated target, and this run has none",
                          "give a TFLM tree (--tflm_dir or TFLM_DIR) and a --target such as cortex-m4, "
                          "without --skip_firmware_checks or --check")
    if found[1] is None:
        return (*found, None)
    try:
        return found[0], resolve_auto(found[1], "tflm"), None
    except FetchUnreachableError as error:
        if chosen or args.package or args.board or args.profile:  # asked for by name: the run cannot do it
            raise
        # Conversion, evaluation and the MicroPython engine do not need the tree: one failed download
        # must not lose them. The warning now and the report's notice say the firmware was not built.
        reason = f"the pinned TFLM tree could not be fetched ({error.problem}); {error.fix}"
        _log.warning("warning: %s", not_built_notice(reason))
        return (), None, reason


def micropython_dir_flag(args: argparse.Namespace) -> Path | None:
    """The MicroPython tree (--micropython_dir, else $MICROPYTHON_DIR), checked for what it must hold."""
    configured = args.micropython_dir or (Path(os.environ["MICROPYTHON_DIR"]) if os.environ.get("MICROPYTHON_DIR")
                                          else None)
    if configured is None or args.skip_firmware_checks or args.check:
        return None
    configured = resolve_auto(configured, "micropython")
    if not (configured / "py" / "dynruntime.mk").is_file() or not (configured / "ports" / "qemu").is_dir():
        raise ConfigError(f"{configured} is not a MicroPython source tree with ports/qemu and py/dynruntime.mk",
                          "pass --micropython_dir the root of a MicroPython checkout (or unset MICROPYTHON_DIR)")
    return configured


def packages_flag(args: argparse.Namespace, tflm_dir: Path | None) -> tuple[str, ...]:
    """--package's build systems; it needs -e and a TFLM tree (its CMSIS-NN sources are copied in)."""
    if args.package is None:
        return ()
    from helpers.packages import parse_packages

    systems = parse_packages(args.package)
    if args.sweep:  # each combination exports into a folder the sweep deletes
        raise ConfigError("--sweep keeps one row per combination, not its export, so --package would write nothing",
                          "run the combination you pick without --sweep, with --package")
    if not args.export or args.check:
        raise ConfigError("--package writes the C engine's packages into the export", "add -e (and drop --check)")
    if tflm_dir is None:
        raise ConfigError("--package copies the CMSIS-NN sources the engine calls from a TensorFlow Lite Micro tree",
                          "pass --tflm_dir DIR (or set TFLM_DIR), without --skip_firmware_checks")
    return systems

"""mcu-deploy: a trained Keras model in, measured TFLite variants and firmware artifacts out.

    python main.py --input_dir models/digits_cnn --PTQ -q all -e
    mcu-deploy --input_dir models/digits_cnn --PTQ -q all -e      # the same, after `pip install .`

Only this file prints. Errors the user can fix end as one line on stderr and exit code 2.
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Callable


def _configure_logging(verbose: bool, quiet: bool) -> None:
    # Log to a duplicate of stderr: while TensorFlow runs, fd 2 itself points at /dev/null to
    # hide what its C++ code prints (see helpers/native_output.py), and our messages must still show.
    stream = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("mcu_deploy")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False


def main(argv: list[str]) -> int:
    """Parse argv, run the pipeline, print the table; map user errors to one line and exit 2."""
    if argv[:1] == ["fetch"]:
        return _one_line_errors(lambda: _fetch(argv[1:]), "--debug" in argv[1:],
                                "interrupted; nothing was added to the cache")
    # Configured before parsing too: `--tflm_dir auto` may fetch a tree while the flags are read,
    # and says so as it goes.
    _configure_logging("--verbose" in argv, "--quiet" in argv)
    if _asks_board_list(argv):
        from helpers.targets.boards import boards_table

        print(boards_table())
        return 0
    return _one_line_errors(lambda: _run(argv), "--debug" in argv,
                            "interrupted; the previous export (if any) is unchanged")


def _run(argv: list[str]) -> int:
    from helpers.config import parse_args

    config = parse_args(argv)
    _configure_logging(config.verbose, config.quiet)
    for notice in config.notices:
        logging.getLogger("mcu_deploy").info("note: %s", notice)
    from helpers.pipeline import run as pipeline  # numpy/pandas; TensorFlow only once inputs check out

    summary = pipeline.run(config)
    _print_table(summary, config.check)
    if not config.sweep:
        pipeline.check_outcome(summary, config)
    return 0


def _one_line_errors(action: Callable[[], int], debug: bool, interrupted: str) -> int:
    """`action`'s exit code; what the user can fix ends as one line on stderr and its exit code
    (a full disk, an unwritable temporary folder: exit 2, nothing left half-written)."""
    from helpers.errors import PipelineError, os_error_line

    try:
        return action()
    except PipelineError as exc:
        if debug:
            raise
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"error: {interrupted}", file=sys.stderr)
        return 130
    except OSError as exc:
        if debug:
            raise
        print(f"error: {os_error_line(exc)}", file=sys.stderr)
        return 2


def _fetch(argv: list[str]) -> int:
    """`fetch --tflm / --micropython`: the pinned trees into the cache, verified; prints their paths."""
    from helpers.fetch.cli import fetch_command

    _configure_logging(False, "--quiet" in argv)
    paths = fetch_command(argv)
    print("\n".join(str(path) for path in paths))
    return 0


def _asks_board_list(argv: list[str]) -> bool:
    """`--board list` (or `--board=list`): print the boards instead of running."""
    return "--board=list" in argv or any(a == "--board" and b == "list" for a, b in zip(argv, argv[1:]))


def _print_table(summary, check: bool) -> None:  # type: ignore[no-untyped-def]
    from helpers.render.report_text import format_table

    if check:  # nothing was written: the per-variant verdicts and op tables are the answer
        from helpers.render.check_text import format_check

        print(format_check(summary.report))
        return
    if hasattr(summary, "table"):  # a sweep
        print(summary.table.to_string(index=False, na_rep="-"))
        print("\n" + "\n".join(f"written: {path}" for path in summary.files))
        return
    print(format_table(summary.report))
    print(f"\nexport: {summary.export_dir}")


def cli() -> int:
    """The `mcu-deploy` console command (pyproject.toml's entry point): main() on this process's argv."""
    return main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(cli())

"""git through subprocess, bounded in time, its failures as one line."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from helpers.errors import FetchError

GIT_TIMEOUT_S = 900     # one shallow fetch of tflite-micro is tens of megabytes; a stalled network must end


class GitFailed(Exception):
    """git exited non-zero; the message is its last line of stderr, which names the cause."""


def _environment() -> dict[str, str]:
    # No prompt for credentials (a mistyped mirror URL would otherwise wait forever on a terminal),
    # and English messages, which the one-line errors quote.
    return dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C")


def git(args: list[str], cwd: Path | None = None) -> str:
    """Run `git args...`; its stdout, or GitFailed with git's own reason."""
    try:
        result = subprocess.run(["git", "-c", "advice.detachedHead=false", *args], cwd=cwd, capture_output=True,
                                text=True, timeout=GIT_TIMEOUT_S, env=_environment())
    except FileNotFoundError:
        raise FetchError("git is not installed", "install it (Debian/Ubuntu: apt-get install git)") from None
    except subprocess.TimeoutExpired:
        raise GitFailed(f"git {args[0]} took more than {GIT_TIMEOUT_S // 60} minutes") from None
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {result.returncode}"
        raise GitFailed(reason.removeprefix("fatal: ")[:200])
    return result.stdout

"""The project's own error types.

Every error a user can cause is a `PipelineError`. Its message has three parts so that
`main.py` can print one line of the form

    error: <what is wrong> (<file>): <how to fix>

and exit with code 2. Internal bugs are not PipelineErrors and keep their traceback.
"""
from __future__ import annotations

from pathlib import Path


class PipelineError(Exception):
    """A problem with the user's input, flags or environment, with the fix attached."""

    exit_code = 2

    def __init__(self, problem: str, fix: str, where: str | Path | None = None) -> None:
        self.problem = problem
        self.fix = fix
        self.where = str(where) if where is not None else None
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The message as one line: problem, the file it concerns, the fix."""
        location = f" ({self.where})" if self.where else ""
        text = f"{self.problem}{location}: {self.fix}"
        return " ".join(text.split())


class ConfigError(PipelineError):
    """Conflicting, unknown or not yet available command-line flags."""


class SpecsError(PipelineError):
    """specs.json is missing, not JSON, or does not follow the schema."""


class DatasetError(PipelineError):
    """The CSV dataset is missing, malformed or does not match the specs."""


class ModelError(PipelineError):
    """The model cannot be found, loaded, optimized or converted."""


class ExportError(PipelineError):
    """The export directory cannot be written."""


class FetchError(PipelineError):
    """A pinned source tree could not be fetched into the cache, or what arrived is not what the pins
    record (a mirror holding other files): nothing is added to the cache."""


class FetchUnreachableError(FetchError):
    """The place the pinned tree comes from (the internet, a mirror) could not be reached: a run
    that only wanted the tree for its default proofs goes on without them, and says so."""


class VariantFailedError(PipelineError):
    """The variant the flags asked for could not be built (its report row says why); the export
    with the other variants is still written."""

    exit_code = 3


class BudgetError(PipelineError):
    """The final variant does not fit the flash or RAM budget (the export is still written)."""

    exit_code = 3


class CheckNotRunError(PipelineError):
    """A firmware check could not run because the tool's own build failed (TFLM's library, a broken
    toolchain): the export is written, nothing is said about the model, and the exit code says so."""

    exit_code = 4


def first_line(exc: BaseException, limit: int = 160) -> str:
    """The first non-empty line of an exception's message (its type name when it has none),
    cut to `limit` characters: how a dependency's error is quoted inside a one-line message."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()[:limit]
    return type(exc).__name__


def os_error_line(exc: OSError) -> str:
    """One line for an operating-system error the pipeline did not expect (a full disk, a
    temporary folder that cannot be written): what failed, on which file, and what to do."""
    what = exc.strerror or first_line(exc)
    where = f" ({exc.filename})" if exc.filename else ""
    return (f"the operating system refused a file operation: {what}{where}: free disk space or fix the "
            "permissions (TMPDIR for temporary files), then run again; the previous export is unchanged")

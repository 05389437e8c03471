"""What can go wrong, and the exit code each kind means. The CLI prints these without a traceback and exits
with the exception's own `exit_code`: 2 for input a user can fix (ExpkitError and its kinds), 1 for a
training that failed on valid input (TrainingFailed)."""
from __future__ import annotations

import difflib
from dataclasses import dataclass


def suggest(word: object, options) -> str:
    """' (did you mean 'epochs'?)' for the nearest option, or '' when none is close."""
    if not isinstance(word, str):
        return ""
    lowered = {str(o).lower(): str(o) for o in options}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean '{lowered[close[0]]}'?)" if close else ""


EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130


class ExpkitError(Exception):
    """Bad input: a config, an argument, a missing file. Exit code 2."""

    exit_code = EXIT_BAD_INPUT


class TrainingFailed(Exception):
    """Training itself failed (not the input); recorded in run.json first. Exit code 1."""

    exit_code = EXIT_FAILED


class DataError(ExpkitError):
    """The dataset cannot be found or read."""


class BuildError(ExpkitError):
    """The model described by a valid config cannot be built (shapes, layer arguments)."""


@dataclass(frozen=True)
class Location:
    """Where a value was written: a file position, or a command-line `--set`."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    location: Location | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        what = f"{self.path}: " if self.path else ""
        return f"{where}{what}{self.message}"


class ConfigError(ExpkitError):
    """Every problem found in one config file, reported together."""

    shown = 50  # a generated list of 10,000 bad items should not print 10,000 lines

    def __init__(self, problems: list[Problem] | Problem):
        self.problems = problems if isinstance(problems, list) else [problems]
        count = len(self.problems)
        head = "" if count == 1 else f"{count} problems in the config:\n"
        tail = f"\n... and {count - self.shown} more" if count > self.shown else ""
        super().__init__(head + "\n".join(str(p) for p in self.problems[:self.shown]) + tail)

"""Validation problems: where they are (file, line, path) and how they read.

Owns the path notation (``traffic[1].payload``, ``targets.linear-http.model``), the ``Problem``
record and the ``ScenarioError`` exception. Never validates anything itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

PathPart = str | int
Path = tuple[PathPart, ...]

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_MAX_ORIGIN = 80
"""A ``--set`` longer than this is shortened where a problem names it."""


def format_path(path: Sequence[PathPart]) -> str:
    """Render a path the way ``--set`` reads it: ``traffic[1].payload``, ``payloads["a.b"].seed``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            escaped = part.replace("\\", "\\\\").replace('"', '\\"')
            out += f'["{escaped}"]'
    return out


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario.

    ``source`` is the file as the user named it (or ``<string>``); ``line`` is 1-based, None when
    unknown; ``origin`` is ``"--set"`` when the offending value came from a command-line override.
    """

    source: str
    line: int | None
    path: str
    message: str
    origin: str | None = None

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        if self.origin:
            origin = self.origin if len(self.origin) <= _MAX_ORIGIN else self.origin[: _MAX_ORIGIN - 3] + "..."
            where = f"{where} ({origin})"
        return f"{where} {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ScenarioError(ValueError):
    """A scenario (or an override) is invalid; ``problems`` lists every problem found, in file order."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = sorted(problems, key=_order)
        super().__init__(self._text())

    def _text(self) -> str:
        count = len(self.problems)
        lines = [str(p) for p in self.problems]
        return "\n".join([*lines, f"{count} problem{'s' if count != 1 else ''} found"])


class Locator:
    """Maps a path to where it was written: a line of the file, or the ``--set`` that set it."""

    def __init__(self, source: str, lines: Mapping[Path, int], overrides: Sequence[tuple[Path, str]] = ()) -> None:
        self.source = source
        self.lines = dict(lines)
        self.overrides = list(overrides)
        """(path, text) of each ``--set``, in the order applied."""

    def problem(self, path: Path, message: str) -> Problem:
        """A problem at ``path``, located at the nearest line (or the last override) that wrote it."""
        for override_path, text in reversed(self.overrides):
            if path[: len(override_path)] == override_path:
                return Problem(self.source, None, format_path(path), message, origin=f"--set {text}")
        probe = path
        while probe:
            if probe in self.lines:
                return Problem(self.source, self.lines[probe], format_path(path), message)
            probe = probe[:-1]
        return Problem(self.source, 1 if self.lines else None, format_path(path), message)


def _order(problem: Problem) -> tuple[int, int, str]:
    return (0 if problem.origin is None else 1, problem.line or 0, problem.path)

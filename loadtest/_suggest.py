"""Hints for misspelt names in error messages ("did you mean ...?"). Pure; never raises."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``word`` (case-insensitive), or None when nothing is close."""
    options = list(candidates)
    by_lower = {c.lower(): c for c in options}
    matches = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[matches[0]] if matches else None


def hint(word: str, candidates: Iterable[str], *, noun: str = "known") -> str:
    """A suffix for an error message: ``"; did you mean 'x'?"`` or ``"; known: a, b, c"``.

    ``noun`` names the list when there is no close match (``"known"`` gives ``"; known: a, b"``).
    Returns ``""`` when there are no candidates at all.
    """
    options = list(candidates)
    if not options:
        return ""
    match = closest(word, options)
    if match is not None:
        return f"; did you mean {match!r}?"
    return f"; {noun}: {', '.join(options)}"

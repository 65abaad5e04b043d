"""``--set path=value`` overrides, applied to the parsed YAML data before validation.

Owns the path grammar shared with error messages (``traffic[0].weight``, ``load.users``,
``payloads["a.b"].seed``) and the rules for applying a value: missing mappings on the way are
created, a list index must exist (or be the list's length, to append), values are read as YAML
(``4`` is an integer, ``[a, b]`` a list, ``null`` resets a field to its default). Pure: never reads
files or the environment; ``${VAR}`` is not expanded in overrides (the shell already did).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from loadtest._yaml_limits import YamlLimitError, load_plain_yaml
from loadtest.scenario._problems import Path, PathPart, format_path

_SEGMENT = re.compile(r'\.?(?P<name>[^.\[\]="]+)|\[(?P<index>\d+)\]|\["(?P<quoted>(?:[^"\\]|\\.)*)"\]')


class OverrideError(ValueError):
    """An override that cannot be parsed or applied; the message says what to change."""


@dataclass(frozen=True)
class Override:
    """One parsed ``--set``: the path, the value (already typed as YAML) and the text as given."""

    path: Path
    value: Any
    text: str


def parse_path(text: str) -> Path:
    """Parse ``traffic[0].weight`` into ``("traffic", 0, "weight")``.

    Raises:
        OverrideError: the path is empty or malformed.
    """
    parts: list[PathPart] = []
    position = 0
    while position < len(text):
        match = _SEGMENT.match(text, position)
        if match is None or (match.group("name") is not None and text[position] == "." and not parts):
            raise OverrideError(f"cannot read the path {text!r} at {text[position:]!r}; write e.g. traffic[0].weight")
        if match.group("name") is not None:
            parts.append(match.group("name"))
        elif match.group("index") is not None:
            parts.append(int(match.group("index")))
        else:
            parts.append(re.sub(r"\\(.)", r"\1", match.group("quoted")))
        position = match.end()
    if not parts or isinstance(parts[0], int):
        raise OverrideError(f"the path {text!r} must start with a top-level key, e.g. load.users")
    return tuple(parts)


def parse_override(text: str) -> Override:
    """Parse one ``path=value`` (the value is read as YAML).

    Raises:
        OverrideError: no ``=``, a malformed path, or a value that is not valid YAML.
    """
    path_text, sep, value_text = text.partition("=")
    if not sep:
        raise OverrideError("expected path=value, e.g. load.users=4")
    path = parse_path(path_text.strip())
    try:
        value = load_plain_yaml(value_text) if value_text.strip() else None
    except yaml.YAMLError as exc:
        shown = value_text if len(value_text) <= 60 else value_text[:57] + "..."
        raise OverrideError(f"the value {shown!r} is not valid YAML ({exc.__class__.__name__})") from None
    except YamlLimitError as exc:
        raise OverrideError(f"the value is refused: {exc.message}") from None
    return Override(path, value, text)


def apply_overrides(data: dict[str, Any], overrides: Iterable[Override]) -> dict[str, Any]:
    """Apply overrides in order to a copy of ``data`` and return the copy.

    Raises:
        OverrideError: a path goes through a value that is not a mapping or list, or an index is
            out of range.
    """
    root: dict[str, Any] = _copy(data)
    for override in overrides:
        _apply(root, override)
    return root


def _apply(root: dict[str, Any], override: Override) -> None:
    container: Any = root
    path = override.path
    for depth, part in enumerate(path):
        last = depth == len(path) - 1
        where = format_path(path[:depth]) or "the top level"
        if isinstance(part, int):
            if not isinstance(container, list):
                raise OverrideError(f"{where} is not a list")
            if part > len(container):
                raise OverrideError(f"{where} has {len(container)} items; index {part} is out of range")
            if part == len(container):
                container.append(override.value if last else {})
        elif not isinstance(container, dict):
            raise OverrideError(f"{where} is not a mapping")
        elif not last and (part not in container or container[part] is None):
            container[part] = [] if isinstance(path[depth + 1], int) else {}
        if last:
            container[part] = override.value
        else:
            container = container[part]


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value

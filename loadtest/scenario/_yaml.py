"""Read scenario YAML into plain data, remembering the line of every value and interpolating ``${VAR}``.

Owns the YAML reading rules: one document, safe tags only, string keys, no duplicate keys, merge keys
(``<<``) honoured, ``${VAR}`` interpolation in string values, and the limits of
:mod:`loadtest._yaml_limits` (depth, size, aliases) checked before any value is built. Never
validates meaning (that is the model's and the checks' job) and never touches the file system (the
caller passes the text).

A plain (unquoted) scalar that held ``${...}`` is read again as YAML after interpolation, so
``users: ${USERS:-4}`` is the integer 4; a quoted one stays a string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from loadtest._yaml_limits import LimitedLoader, YamlLimitError, check_graph, unreadable_value
from loadtest.scenario._interpolate import interpolate
from loadtest.scenario._problems import Path

MERGE_KEY = "<<"


@dataclass
class YamlDocument:
    """A parsed scenario file: the data, where each path was written, and what went wrong."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    """Path -> 1-based line: a mapping entry's key line, a sequence item's first line."""
    errors: list[tuple[Path, int | None, str]] = field(default_factory=list)
    """(path, line, message) of each reading problem."""
    interpolated: dict[Path, str] = field(default_factory=dict)
    """Path -> value, for values that came (in part) from environment variables: never echo them."""


def read_yaml(text: str, env: Mapping[str, str]) -> YamlDocument:
    """Parse one YAML document; YAML errors are collected in the result, never raised."""
    try:
        return _read(text, env)
    except YamlLimitError as exc:
        return YamlDocument(data=None, errors=[(exc.path, exc.line, exc.message)])
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        return YamlDocument(data=None, errors=[((), line, f"invalid YAML: {message}")])
    except yaml.YAMLError as exc:
        return YamlDocument(data=None, errors=[((), None, f"invalid YAML: {exc}")])


def _read(text: str, env: Mapping[str, str]) -> YamlDocument:
    loader = LimitedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDocument(data=None)
        check_graph(node)
        doc = YamlDocument(data=None)
        doc.data = _Walker(loader, env, doc).value(node, ())
        return doc
    finally:
        loader.dispose()


class _Walker:
    def __init__(self, loader: yaml.SafeLoader, env: Mapping[str, str], doc: YamlDocument) -> None:
        self.loader = loader
        self.env = env
        self.doc = doc

    def value(self, node: yaml.Node, path: Path) -> Any:
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            out = []
            for index, item in enumerate(node.value):
                self.doc.lines[(*path, index)] = item.start_mark.line + 1
                out.append(self.value(item, (*path, index)))
            return out
        return self.scalar(node, path)

    def mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        own = sum(1 for key, _ in node.value if not (isinstance(key, yaml.ScalarNode) and key.value == MERGE_KEY))
        self.loader.flatten_mapping(node)
        merged = len(node.value) - own
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for index, (key_node, value_node) in enumerate(node.value):
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self.doc.errors.append((path, line, "keys must be plain names, not lists or mappings"))
                continue
            key = str(key_node.value)
            if index >= merged:  # keys written here override merged ones; written twice is an error
                if key in first_line:
                    message = f"duplicate key {key!r} (first at line {first_line[key]})"
                    self.doc.errors.append(((*path, key), line, message))
                    continue
                first_line[key] = line
            self.doc.lines[(*path, key)] = line
            out[key] = self.value(value_node, (*path, key))
        return out

    def scalar(self, node: yaml.Node, path: Path) -> Any:
        try:
            value = self.loader.construct_object(node, deep=True)
        except ValueError as exc:  # e.g. an integer of thousands of digits, a date like 2020-13-45
            self.doc.errors.append((path, node.start_mark.line + 1, unreadable_value(node, exc)))
            return None
        if not isinstance(value, str) or "$" not in value:
            return value
        result = interpolate(value, self.env)
        if result.used:
            self.doc.interpolated[path] = result.text
        for message in result.errors:
            self.doc.errors.append((path, node.start_mark.line + 1, message))
        if result.text == value:
            return value
        if isinstance(node, yaml.ScalarNode) and node.style is None:
            return _reread_scalar(result.text)
        return result.text


def _reread_scalar(text: str) -> Any:
    """Type an interpolated plain scalar as YAML would (``4`` -> int); non-scalars stay text."""
    try:
        loader = LimitedLoader(text)
    except YamlLimitError:
        return text
    try:
        node = loader.get_single_node()
        if not isinstance(node, yaml.ScalarNode):
            return None if node is None else text
        value = loader.construct_object(node, deep=True)
    except (yaml.YAMLError, YamlLimitError, ValueError):
        return text
    finally:
        loader.dispose()
    return value if value is None or isinstance(value, (str, int, float, bool)) else text

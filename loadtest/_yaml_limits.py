"""Limits on reading YAML: hostile or broken files fail fast with one problem, in bounded time and memory.

Owns the limits of every YAML text the tool reads (scenario files, ``--set`` values, a run
directory's ``scenario.yaml``) and the checks that enforce them before any value is built:

- the file's size and encoding (:func:`decode_scenario_bytes`: UTF-8, with a clear word for
  UTF-16/UTF-32 and for stray bytes, and no NUL characters);
- nesting depth while PyYAML scans and composes, and node count while it composes
  (:class:`LimitedLoader`: its composer is recursive and its scanner slows down quadratically with
  flow nesting, so a 5,000-deep ``[[[[...`` would otherwise take seconds and end in a ``RecursionError``);
- the node graph after composing (:func:`check_graph`): an alias that refers to a value containing
  it, a value that expands to too many values through aliases (a "billion laughs" bomb), nesting made
  deep through chains of aliases, and any tag that is not plain data (:data:`PLAIN_DATA_TAGS`).

Every violation is a :class:`YamlLimitError` with a line and a path, turned into a normal problem
line by the caller. :func:`load_plain_yaml` is the one place that builds values, and only after the
checks passed. Never touches the file system. A module of its own (not in ``loadtest.scenario``), so
reports read a run's ``scenario.yaml`` without importing the scenario model.
"""

from __future__ import annotations

import codecs
from typing import Any

import yaml

Path = tuple[str | int, ...]
MAX_FILE_BYTES = 1 << 20
"""Largest scenario file read (1 MiB; real scenarios are a few KiB)."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences (real scenarios nest about 6 levels)."""
MAX_NODES = 5_000
"""Most values written in a file (each scalar, mapping and sequence counts once)."""
MAX_EXPANDED_VALUES = 100_000
"""Most values once every alias is expanded (what the reader would build)."""

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_YAML_TAG = "tag:yaml.org,2002:"
PLAIN_DATA_TAGS = frozenset(
    _YAML_TAG + name for name in ("null", "bool", "int", "float", "str", "timestamp", "binary", "merge", "seq", "map")
)
"""The only tags a scenario may hold (written or implied): plain data. Any other tag (``!!python/...``,
``!!set``, a local ``!tag``) is refused before a value is built, so no tag can construct an object."""


class YamlLimitError(Exception):
    """A file breaks a reading limit: ``line`` (1-based or None), ``path`` and a message for people."""

    def __init__(self, message: str, line: int | None = None, path: Path = ()) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.path = path


def decode_scenario_bytes(data: bytes) -> str:
    """The text of a scenario file read as bytes (at most :data:`MAX_FILE_BYTES` + 1 of them).

    Raises:
        YamlLimitError: too large, not UTF-8 (with the line of the first bad byte), or holding NUL.
    """
    if len(data) > MAX_FILE_BYTES:
        raise YamlLimitError(f"the file is larger than {MAX_FILE_BYTES // 1024} KiB; a scenario is a few KiB of YAML")
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise YamlLimitError(f"the file is {name} text; save it as UTF-8")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise YamlLimitError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); save the file as UTF-8", line
        ) from None
    nul = text.find("\0")
    if nul >= 0:
        raise YamlLimitError("the file holds a NUL character; it is not a text file", text.count("\n", 0, nul) + 1)
    return text


class LimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader that stops beyond :data:`MAX_DEPTH` levels or :data:`MAX_NODES` values.

    Raises:
        YamlLimitError: from the constructor, for a character YAML does not allow (with its line).
    """

    def __init__(self, stream: str) -> None:
        try:
            super().__init__(stream)  # checks that every character is printable
        except yaml.reader.ReaderError as exc:
            line = stream.count("\n", 0, exc.position) + 1
            raise YamlLimitError(f"invalid YAML: the character {exc.character:#06x} is not allowed", line) from None
        self._depth = 0
        self._nodes = 0

    # The scanner runs ahead of the composer, and it slows down quadratically with flow nesting
    # (``[[[[...``), so the depth is checked where it scans, long before a node is composed.
    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        if self.flow_level >= MAX_DEPTH:
            raise YamlLimitError(f"nested more than {MAX_DEPTH} levels deep", self.line + 1)
        super().fetch_flow_collection_start(TokenClass)

    def add_indent(self, column: int) -> bool:
        if len(self.indents) >= MAX_DEPTH:
            raise YamlLimitError(f"nested more than {MAX_DEPTH} levels deep", self.line + 1)
        return bool(super().add_indent(column))

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        if not isinstance(event, yaml.AliasEvent):
            self._nodes += 1
            if self._nodes > MAX_NODES:
                raise YamlLimitError(f"more than {MAX_NODES} values in one file; a scenario needs far fewer", line)
        if self._depth >= MAX_DEPTH:
            raise YamlLimitError(f"nested more than {MAX_DEPTH} levels deep", line)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def check_graph(root: yaml.Node) -> None:
    """Check a composed node graph before building values from it.

    Raises:
        YamlLimitError: a recursive alias, more than :data:`MAX_EXPANDED_VALUES` values after
            expanding aliases, nesting deeper than :data:`MAX_DEPTH` through aliases, or a tag outside
            :data:`PLAIN_DATA_TAGS` (``!!python/object``, ``!!set``, ``!custom``, ...).
    """
    _GraphCheck().visit(root, (), 0)


class _GraphCheck:
    """One pass over the graph; every node is measured once (aliases share nodes), so it is linear."""

    def __init__(self) -> None:
        self.sizes: dict[int, tuple[int, int]] = {}
        """id(node) -> (values it expands to, levels below it)."""
        self.active: set[int] = set()

    def visit(self, node: yaml.Node, path: Path, depth: int) -> tuple[int, int]:
        key = id(node)
        line = node.start_mark.line + 1 if node.start_mark is not None else None
        if key in self.active:
            raise YamlLimitError("this alias refers to a value that contains it (a recursive alias)", line, path)
        known = self.sizes.get(key)
        if known is not None:
            if depth + known[1] > MAX_DEPTH:
                raise YamlLimitError(f"nested more than {MAX_DEPTH} levels deep once aliases are expanded", line, path)
            return known
        if depth > MAX_DEPTH:
            raise YamlLimitError(f"nested more than {MAX_DEPTH} levels deep once aliases are expanded", line, path)
        if node.tag not in PLAIN_DATA_TAGS:
            tag = "!!" + node.tag.removeprefix(_YAML_TAG) if node.tag.startswith(_YAML_TAG) else node.tag
            raise YamlLimitError(f"the tag {tag} is not allowed; a scenario holds plain data", line, path)
        self.active.add(key)
        size, height = 1, 0
        for child_path, child in _children(node, path):
            child_size, child_height = self.visit(child, child_path, depth + 1)
            size += child_size
            height = max(height, child_height + 1)
            if size > MAX_EXPANDED_VALUES:
                raise YamlLimitError(
                    f"expands to more than {MAX_EXPANDED_VALUES} values through aliases (an alias bomb?)", line, path
                )
        self.active.discard(key)
        self.sizes[key] = (size, height)
        return size, height


def _children(node: yaml.Node, path: Path) -> list[tuple[Path, yaml.Node]]:
    if isinstance(node, yaml.SequenceNode):
        return [((*path, index), item) for index, item in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        out: list[tuple[Path, yaml.Node]] = []
        for key, value in node.value:
            name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
            out += [(path, key), ((*path, name), value)]
        return out
    return []


def load_plain_yaml(text: str) -> Any:
    """One YAML document as plain Python data, read with every limit of this module.

    Raises:
        yaml.YAMLError: not valid YAML.
        YamlLimitError: too deep, too many values, a recursive alias, an alias bomb, a tag that is
            not plain data or a scalar Python cannot hold.
    """
    loader = LimitedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_graph(node)
        try:
            return loader.construct_document(node)
        except ValueError as exc:
            raise YamlLimitError(unreadable_value(node, exc)) from None
    finally:
        loader.dispose()


def unreadable_value(node: yaml.Node, exc: ValueError) -> str:
    """Why a scalar that parsed as YAML cannot become a Python value."""
    if "digits" in str(exc):
        return "a number with thousands of digits; write a smaller value"
    return f"cannot read this {node.tag.rsplit(':', 1)[-1]} value: {exc}"

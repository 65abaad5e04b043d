"""Load a scenario: read YAML, apply ``--set`` overrides, validate everything, fill in defaults.

Owns the order of the steps and the mapping from problems to file lines. Every problem found in
any step is reported together in one ``ScenarioError``. Reads the scenario file and (for ``${VAR}``)
the environment it is given; never reads payload file contents and never logs values.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path as FsPath
from typing import Any

from pydantic import TypeAdapter, ValidationError

from loadtest.scenario._checks import Parts, check
from loadtest.scenario._model import Embedded, Load, Payload, Scenario, SloField, Target, Traffic
from loadtest.scenario._overrides import Override, OverrideError, apply_overrides, parse_override
from loadtest.scenario._problems import Path, Problem, ScenarioError, format_path
from loadtest.scenario._resolve import resolve
from loadtest.scenario._translate import translate
from loadtest.scenario._yaml import read_yaml

_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
_REFERENCES = ("name", "target", "payload")


class Locator:
    """Maps a path to where it was written: a line of the file, or the ``--set`` that set it."""

    def __init__(self, source: str, lines: Mapping[Path, int], overrides: Sequence[Override] = ()) -> None:
        self.source = source
        self.lines = dict(lines)
        self.overrides = list(overrides)

    def problem(self, path: Path, message: str) -> Problem:
        """A problem at ``path``, located at the nearest line (or override) that wrote it."""
        for override in reversed(self.overrides):
            if path[: len(override.path)] == override.path:
                return Problem(self.source, None, format_path(path), message, origin=f"--set {override.text}")
        probe = path
        while probe:
            if probe in self.lines:
                return Problem(self.source, self.lines[probe], format_path(path), message)
            probe = probe[:-1]
        return Problem(self.source, 1 if self.lines else None, format_path(path), message)


def load_scenario(
    path: str | os.PathLike[str],
    overrides: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
) -> Scenario:
    """Read, validate and resolve a scenario file.

    Args:
        path: the YAML file; relative paths inside it are resolved against its directory.
        overrides: ``--set`` expressions such as ``"load.users=4"`` or ``"traffic[0].weight=2"``.
        env: variables for ``${VAR}`` interpolation; default ``os.environ``.

    Raises:
        ScenarioError: every problem found, each with file, line and path.
    """
    source = os.fspath(path)
    file = FsPath(source)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ScenarioError([Problem(source, None, "", f"cannot read the scenario file: {reason}")]) from None
    return parse_scenario(
        text, source=source, base_dir=file.resolve().parent, overrides=overrides, env=env, default_name=file.stem
    )


def parse_scenario(
    text: str,
    *,
    source: str = "<string>",
    base_dir: str | os.PathLike[str] | None = None,
    overrides: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    default_name: str | None = None,
) -> Scenario:
    """Validate and resolve a scenario given as YAML text (see :func:`load_scenario`).

    ``base_dir`` (default: the current directory) anchors relative paths; ``default_name`` is the
    name used when the scenario has none (default ``"scenario"``).

    Raises:
        ScenarioError: every problem found.
    """
    root_dir = FsPath(base_dir) if base_dir is not None else FsPath.cwd()
    doc = read_yaml(text, os.environ if env is None else env)
    parsed, override_problems = _parse_overrides(source, overrides)
    locator = Locator(source, doc.lines, parsed)
    problems = [Problem(source, line, format_path(p), message) for p, line, message in doc.errors]
    problems += override_problems
    data = doc.data
    if data is None and not doc.errors:
        problems.append(Problem(source, None, "", "the file is empty; start from `tritonload init`"))
    elif data is not None and not isinstance(data, dict):
        problems.append(Problem(source, 1, "", "a scenario is a mapping (key: value lines) at the top level"))
    if not isinstance(data, dict):
        raise ScenarioError(problems)
    data = apply_overrides(data, ())
    for override in parsed:
        try:
            data = apply_overrides(data, [override])
        except OverrideError as exc:
            path = format_path(override.path)
            problems.append(Problem(source, None, path, str(exc), origin=f"--set {override.text}"))
    data = _drop_nulls(data)
    unreadable = [p for p, _, _ in doc.errors]

    findings, parts = _validate(data, root_dir, doc.interpolated)
    findings += check(parts)
    for where, message in findings:
        if not any(where[: len(bad)] == bad for bad in unreadable):
            problems.append(locator.problem(where, message))
    if problems:
        raise ScenarioError(_unique(problems))
    scenario = resolve(Scenario.model_validate(data), _default_name(default_name))
    scenario._source = source
    scenario._base_dir = root_dir
    scenario._lines = {path: line for path, line in doc.lines.items() if locator.problem(path, "").origin is None}
    return scenario


def _parse_overrides(source: str, overrides: Iterable[str]) -> tuple[list[Override], list[Problem]]:
    parsed: list[Override] = []
    problems: list[Problem] = []
    for text in overrides:
        try:
            parsed.append(parse_override(text))
        except OverrideError as exc:
            problems.append(Problem(source, None, "", str(exc), origin=f"--set {text}"))
    return parsed, problems


def _validate(data: dict[str, Any], base_dir: FsPath, interpolated: set[Path]) -> tuple[list[tuple[Path, str]], Parts]:
    """Type-check the whole scenario, then collect its valid parts for the cross-field checks."""
    findings: list[tuple[Path, str]] = []
    try:
        Scenario.model_validate(data)
        bad: list[Path] = []
    except ValidationError as exc:
        bad = []
        for error in exc.errors():
            loc: Path = tuple(error["loc"])
            bad.append(loc)
            findings.append(translate(error, Scenario, echo=loc not in interpolated))

    def valid(path: Path) -> bool:
        return not any(loc[: len(path)] == path for loc in bad)

    parts = Parts(base_dir=base_dir)
    if valid(("seed",)) and isinstance(data.get("seed"), int):
        parts.seed = data["seed"]
    if "embedded" in data and valid(("embedded",)):
        parts.embedded = TypeAdapter(Embedded).validate_python(data["embedded"])
    parts.targets, parts.target_names = _valid_items(data, "targets", Target, valid)
    parts.payloads, parts.payload_names = _valid_items(data, "payloads", Payload, valid)
    traffic = data.get("traffic")
    if isinstance(traffic, list):
        parts.traffic_count = len(traffic)
        adapter = TypeAdapter(Traffic)
        parts.traffic = {i: adapter.validate_python(t) for i, t in enumerate(traffic) if valid(("traffic", i))}
        parts.traffic_refs = {
            i: {k: v for k, v in t.items() if k in _REFERENCES and isinstance(v, str) and valid(("traffic", i, k))}
            for i, t in enumerate(traffic)
            if i not in parts.traffic and isinstance(t, dict)
        }
    if valid(("load",)):
        parts.load = TypeAdapter(Load).validate_python(data.get("load", {}))
    parts.duration_valid = valid(("duration_s",))
    parts.duration_s = data.get("duration_s") if parts.duration_valid else None
    slos = data.get("slos")
    if isinstance(slos, list):
        slo_adapter: TypeAdapter[Any] = TypeAdapter(SloField)
        parts.slos = [slo_adapter.validate_python(s) for i, s in enumerate(slos) if valid(("slos", i))]
    return findings, parts


def _valid_items(data: dict[str, Any], section: str, model: type[Any], valid: Any) -> tuple[dict[str, Any], list[str]]:
    raw = data.get(section)
    if not isinstance(raw, dict):
        return {}, []
    adapter = TypeAdapter(model)
    items = {name: adapter.validate_python(value) for name, value in raw.items() if valid((section, name))}
    return items, [str(name) for name in raw]


def _drop_nulls(value: Any) -> Any:
    """``key: null`` (or an empty value) means "use the default": drop such keys from mappings."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _default_name(name: str | None) -> str:
    cleaned = _NAME_CHARS.sub("-", name or "").strip("-")
    return cleaned[:100] or "scenario"


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    out = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            out.append(problem)
    return out

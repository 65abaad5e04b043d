"""Load a scenario: read YAML, apply ``--set`` overrides, validate everything, fill in defaults.

Owns the order of the steps and the mapping from problems to file lines. Every problem found in
any step is reported together in one ``ScenarioError``. Reads the scenario file and (for ``${VAR}``)
the environment it is given; never reads payload file contents and never logs values.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path as FsPath
from typing import Any

from pydantic import TypeAdapter, ValidationError

from loadtest.scenario._checks import check
from loadtest.scenario._model import (
    Embedded,
    InputSpec,
    Load,
    LoadStage,
    Payload,
    Scenario,
    SloField,
    Target,
    Traffic,
)
from loadtest.scenario._overrides import Override, OverrideError, apply_overrides
from loadtest.scenario._parts import Parts
from loadtest.scenario._problems import Locator, Path, Problem, ScenarioError, format_path
from loadtest.scenario._resolve import resolve
from loadtest.scenario._source import read_scenario_file, read_stage
from loadtest.scenario._translate import suggested_path, translate

_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
_REFERENCES = ("name", "target", "payload")
EXTENSION_PREFIX = "x-"
"""Top-level keys starting with this are ignored: a place for YAML anchors (``x-common: &common ...``)."""
_NULL_PROBE = "<null override probe>"


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
    text = read_scenario_file(source)
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
    stage = read_stage(text, source, overrides, os.environ if env is None else env)
    doc, parsed, problems = stage.doc, stage.overrides, stage.problems
    locator = Locator(source, doc.lines, [(o.path, o.text) for o in parsed])
    data = doc.data
    if not isinstance(data, dict):
        raise ScenarioError(problems)
    data = apply_overrides(data, ())
    for override in parsed:
        try:
            data = apply_overrides(data, [override])
        except OverrideError as exc:
            path = format_path(override.path)
            problems.append(Problem(source, None, path, str(exc), origin=f"--set {override.text}"))
    problems += [locator.problem(where, message) for where, message in _unknown_null_paths(data, parsed)]
    data = {k: v for k, v in _drop_nulls(data).items() if not k.startswith(EXTENSION_PREFIX)}
    unreadable = [p for p, _, _ in doc.errors]

    findings, _ = _validate(data, root_dir, set(doc.interpolated))
    for where, message in findings:
        if not any(where[: len(bad)] == bad for bad in unreadable):
            problems.append(locator.problem(where, _scrub(message, where, doc.interpolated)))
    if problems:
        raise ScenarioError(_unique(problems))
    scenario = resolve(Scenario.model_validate(data), _default_name(default_name))
    scenario._source = source
    scenario._base_dir = root_dir
    scenario._locator = locator
    return scenario


def _unknown_null_paths(data: dict[str, Any], overrides: list[Override]) -> list[tuple[Path, str]]:
    """``--set path=null`` resets a field to its default, so its path must name a field that exists.

    A null value is dropped before validation (it means "the default"), which would let a misspelt
    path pass silently; each one is checked by validating once more with a placeholder in its place.
    """
    nulls = [o for o in overrides if o.value is None]
    if not nulls:
        return []
    try:
        probe = apply_overrides(data, [Override(o.path, _NULL_PROBE, o.text) for o in nulls])
    except OverrideError:
        return []  # already reported where the override was applied
    probe = {k: v for k, v in _drop_nulls(probe).items() if not k.startswith(EXTENSION_PREFIX)}
    try:
        Scenario.model_validate(probe)
    except ValidationError as exc:
        paths = {o.path for o in nulls}
        return [
            translate(error, Scenario)
            for error in exc.errors()
            if error["type"] == "extra_forbidden" and tuple(error["loc"]) in paths
        ]
    return []


def _validate(data: dict[str, Any], base_dir: FsPath, interpolated: set[Path]) -> tuple[list[tuple[Path, str]], Parts]:
    """Type-check the whole scenario, then collect its valid parts for the cross-field checks."""
    findings: list[tuple[Path, str]] = []
    bad: list[Path] = []
    suggested: set[Path] = set()
    try:
        Scenario.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        suggested = {p for e in errors if (p := suggested_path(e, Scenario)) is not None}
        for error in errors:
            loc: Path = tuple(error["loc"])
            bad.append(loc)
            findings.append(translate(error, Scenario, echo=loc not in interpolated))
    parts = _Salvage(bad).parts(data, base_dir)
    findings += check(parts)
    # A misspelt key's "did you mean" already says that the key it misspells is missing.
    return [(p, m) for p, m in findings if not (p in suggested and m.startswith("required"))], parts


class _Salvage:
    """Builds the valid parts of a scenario from the locations of its type errors.

    An item with errors is kept without its invalid keys when none of those keys changes a rule
    (``essential``); otherwise it is left out, so the checks never reason from a guessed value.
    """

    def __init__(self, bad: list[Path]) -> None:
        self.bad = bad

    def valid(self, path: Path) -> bool:
        return not any(loc[: len(path)] == path for loc in self.bad)

    def item(self, model: type[Any], raw: Any, path: Path, essential: frozenset[str] = frozenset()) -> Any:
        adapter: TypeAdapter[Any] = TypeAdapter(model)
        inner = [loc[len(path) :] for loc in self.bad if loc[: len(path)] == path]
        if not inner:
            return adapter.validate_python(raw)
        if not isinstance(raw, dict) or any(not loc for loc in inner):
            return None
        keys = {loc[0] for loc in inner}
        if keys & essential:
            return None
        try:
            return adapter.validate_python({k: v for k, v in raw.items() if k not in keys})
        except ValidationError:
            return None

    def parts(self, data: dict[str, Any], base_dir: FsPath) -> Parts:
        parts = Parts(base_dir=base_dir)
        if self.valid(("seed",)) and isinstance(data.get("seed"), int):
            parts.seed = data["seed"]
        if "embedded" in data:
            parts.embedded = self.item(Embedded, data["embedded"], ("embedded",), frozenset({"models"}))
        targets = _mapping(data.get("targets"))
        target_essential = frozenset({"embedded", "url", "protocol", "model"})
        parts.target_names = list(targets)
        for name, raw in targets.items():
            if (target := self.item(Target, raw, ("targets", name), target_essential)) is not None:
                parts.targets[name] = target
        payloads = _mapping(data.get("payloads"))
        parts.payload_names = list(payloads)
        input_essential = frozenset({"generator", "dtype", "shape"})
        for name, raw in payloads.items():
            if (payload := self.item(Payload, raw, ("payloads", name))) is not None:
                parts.payloads[name] = payload
            for input_name, spec in _mapping(_mapping(raw).get("inputs")).items():
                path = ("payloads", name, "inputs", input_name)
                if (valid_spec := self.item(InputSpec, spec, path, input_essential)) is not None:
                    parts.inputs[(name, input_name)] = valid_spec
        self._traffic(data, parts)
        self._load(data, parts)
        parts.duration_valid = self.valid(("duration_s",))
        parts.duration_s = data.get("duration_s") if parts.duration_valid else None
        for index, raw in enumerate(_sequence(data.get("slos"))):
            if (slo := self.item(SloField, raw, ("slos", index))) is not None:
                parts.slos[index] = slo
        return parts

    def _traffic(self, data: dict[str, Any], parts: Parts) -> None:
        traffic = data.get("traffic")
        if not isinstance(traffic, list):
            return
        parts.traffic_count = len(traffic)
        essential = frozenset({"name", "pattern", "method", "users", "target", "payload"})
        for index, raw in enumerate(traffic):
            entry = self.item(Traffic, raw, ("traffic", index), essential)
            if entry is not None:
                parts.traffic[index] = entry
            elif isinstance(raw, dict):
                parts.traffic_refs[index] = {
                    k: v
                    for k, v in raw.items()
                    if k in _REFERENCES and isinstance(v, str) and self.valid(("traffic", index, k))
                }
            for slo_index, slo_raw in enumerate(_sequence(_mapping(raw).get("slos"))):
                if (slo := self.item(SloField, slo_raw, ("traffic", index, "slos", slo_index))) is not None:
                    parts.traffic_slos[(index, slo_index)] = slo

    def _load(self, data: dict[str, Any], parts: Parts) -> None:
        raw = data.get("load", {})
        if not isinstance(raw, dict):
            return
        stages = raw.get("stages")
        if isinstance(stages, list):
            parts.stage_count = len(stages)
            for index, stage in enumerate(stages):
                if (valid_stage := self.item(LoadStage, stage, ("load", "stages", index))) is not None:
                    parts.stages[index] = valid_stage
        without_stages = {k: v for k, v in raw.items() if k != "stages"}
        stage_errors = _Salvage([loc for loc in self.bad if loc[:2] != ("load", "stages")])
        parts.load = stage_errors.item(
            Load, without_stages, ("load",), frozenset({"kind", "users", "rate", "variable", "levels"})
        )


def _scrub(message: str, path: Path, interpolated: Mapping[Path, str]) -> str:
    """Keep values read from environment variables out of a message about their path."""
    value = interpolated.get(path)
    if value:
        message = message.replace(value, "<value from the environment>")
    return message


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _sequence(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


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

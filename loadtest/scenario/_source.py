"""Reading a scenario's text and YAML: the first, light stage of loading, before any validation.

Owns reading the file (bounded, UTF-8, no device) and the reading stage that turns its text and the
``--set`` expressions into data or into problems that end the load at once (unreadable file, invalid
or hostile YAML, a document that is not a mapping). Imports neither pydantic nor numpy, so
``tritonload validate`` refuses a hostile file before importing the heavy scenario model
(:func:`precheck_file`). Never validates meaning.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath

from loadtest._yaml_limits import MAX_FILE_BYTES, YamlLimitError, decode_scenario_bytes
from loadtest.scenario._overrides import Override, OverrideError, parse_override
from loadtest.scenario._problems import Problem, ScenarioError, format_path
from loadtest.scenario._yaml import YamlDocument, read_yaml


def read_scenario_file(path: str | os.PathLike[str]) -> str:
    """The text of a scenario file, read without ever holding more than the size limit.

    Raises:
        ScenarioError: unreadable, a device, too large, not UTF-8 or holding NUL.
    """
    source = os.fspath(path)
    try:
        with FsPath(source).open("rb") as stream:  # bounded: a huge file or a pipe never fills memory
            mode = os.fstat(stream.fileno()).st_mode
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                raise YamlLimitError("not a regular file (a device)")
            return decode_scenario_bytes(stream.read(MAX_FILE_BYTES + 1))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ScenarioError([Problem(source, None, "", f"cannot read the scenario file: {reason}")]) from None
    except YamlLimitError as exc:
        raise ScenarioError([Problem(source, exc.line, "", exc.message)]) from None


@dataclass
class ReadStage:
    """The text read as YAML, the ``--set`` expressions parsed, and the problems found so far."""

    doc: YamlDocument
    overrides: list[Override]
    problems: list[Problem] = field(default_factory=list)

    @property
    def fatal(self) -> bool:
        """True when there is no mapping to validate: the problems so far are all there is to say."""
        return not isinstance(self.doc.data, dict)


def read_stage(text: str, source: str, overrides: Iterable[str], env: Mapping[str, str]) -> ReadStage:
    """Read ``text`` as YAML and parse ``overrides``; collect the problems of both."""
    doc = read_yaml(text, env)
    stage = ReadStage(doc, [])
    stage.problems = [Problem(source, line, format_path(p), message) for p, line, message in doc.errors]
    for expression in overrides:
        try:
            stage.overrides.append(parse_override(expression))
        except OverrideError as exc:
            stage.problems.append(Problem(source, None, "", str(exc), origin=f"--set {expression}"))
    if doc.data is None and not doc.errors:
        stage.problems.append(Problem(source, None, "", "the file is empty; start from `tritonload init`"))
    elif doc.data is not None and not isinstance(doc.data, dict):
        stage.problems.append(Problem(source, 1, "", "a scenario is a mapping (key: value lines) at the top level"))
    return stage


def precheck_file(
    path: str | os.PathLike[str], overrides: Iterable[str] = (), env: Mapping[str, str] | None = None
) -> None:
    """Refuse a file that cannot be read as a scenario mapping, with the problems loading would give.

    Cheap (no scenario model imported): lets the command line answer a hostile or broken file at
    once. A file that passes still goes through the full :func:`loadtest.scenario.load_scenario`.

    Raises:
        ScenarioError: the same problems :func:`loadtest.scenario.load_scenario` would raise.
    """
    source = os.fspath(path)
    stage = read_stage(read_scenario_file(source), source, overrides, os.environ if env is None else env)
    if stage.fatal:
        raise ScenarioError(stage.problems)

"""Scenarios: the YAML format (``version: 1``), its validation and its resolved form.

Usage::

    from loadtest.scenario import ScenarioError, load_scenario

    try:
        scenario = load_scenario("scenarios/quickstart.yaml", overrides=["load.users=4"])
    except ScenarioError as exc:
        for problem in exc.problems:
            print(problem)            # scenarios/quickstart.yaml:14 traffic[1].payload: unknown payload ...

The format is documented in docs/scenario.md; its JSON Schema is :func:`json_schema`.
"""

from __future__ import annotations

import importlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loadtest.scenario._checks import is_open_loop, served_models
    from loadtest.scenario._loader import load_scenario, parse_scenario
    from loadtest.scenario._model import (
        GENERATORS,
        METHODS,
        PATTERNS,
        SCHEMA_VERSION,
        Embedded,
        InputSpec,
        Load,
        LoadStage,
        Payload,
        Recording,
        Scenario,
        Target,
        Timeouts,
        Tls,
        Traffic,
        is_sensitive_header,
    )
    from loadtest.scenario._overrides import OverrideError, parse_override, parse_path
    from loadtest.scenario._payload_rules import MAX_POOL_BYTES
    from loadtest.scenario._problems import Problem, ScenarioError, format_path

_MODULE_OF: dict[str, str] = {
    **dict.fromkeys(("is_open_loop", "served_models"), "_checks"),
    **dict.fromkeys(("load_scenario", "parse_scenario"), "_loader"),
    **dict.fromkeys(
        (
            "GENERATORS",
            "METHODS",
            "PATTERNS",
            "SCHEMA_VERSION",
            "Embedded",
            "InputSpec",
            "Load",
            "LoadStage",
            "Payload",
            "Recording",
            "Scenario",
            "Target",
            "Timeouts",
            "Tls",
            "Traffic",
            "is_sensitive_header",
        ),
        "_model",
    ),
    **dict.fromkeys(("OverrideError", "parse_override", "parse_path"), "_overrides"),
    "MAX_POOL_BYTES": "_payload_rules",
    **dict.fromkeys(("Problem", "ScenarioError", "format_path"), "_problems"),
}
"""Public name -> the private module defining it. Imported on first use (PEP 562), so reading a
scenario's text (``loadtest.scenario._source``) does not pay for pydantic and numpy."""


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the scenario format, for editors (also in docs/scenario.schema.json)."""
    from loadtest.scenario._model import Scenario

    schema = Scenario.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "tritonload scenario (version 1)",
        **{k: v for k, v in schema.items() if k != "title"},
        "patternProperties": {"^x-": {"description": "Ignored: a place for YAML anchors."}},
    }


def json_schema_text() -> str:
    """:func:`json_schema` as the exact text of docs/scenario.schema.json."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


__all__ = [
    "GENERATORS",
    "MAX_POOL_BYTES",
    "METHODS",
    "PATTERNS",
    "SCHEMA_VERSION",
    "Embedded",
    "InputSpec",
    "Load",
    "LoadStage",
    "OverrideError",
    "Payload",
    "Problem",
    "Recording",
    "Scenario",
    "ScenarioError",
    "Target",
    "Timeouts",
    "Tls",
    "Traffic",
    "format_path",
    "is_open_loop",
    "is_sensitive_header",
    "json_schema",
    "json_schema_text",
    "load_scenario",
    "parse_override",
    "parse_path",
    "parse_scenario",
    "served_models",
]

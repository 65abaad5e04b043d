"""The example scenarios, the starter and the JSON Schema: all valid, all in step with the model."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from loadtest.engine.patterns import NAMES as PATTERNS
from loadtest.plan import make_plan
from loadtest.scenario import json_schema, json_schema_text, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "scenarios").glob("*.yaml"))
SCHEMA_FILE = ROOT / "docs" / "scenario.schema.json"
STARTER = resources.files("loadtest.scenario").joinpath("starter.yaml").read_text(encoding="utf-8")
REQUIRED = {"quickstart", "sync", "futures", "asyncio", "decoupled", "asyncio-decoupled", "open-loop", "stages"}


def test_the_required_examples_exist() -> None:
    assert {path.stem for path in EXAMPLES} >= REQUIRED


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_validates_and_round_trips(path: Path) -> None:
    scenario = load_scenario(path, env={})
    again = parse_scenario(scenario.to_yaml(), env={})
    assert again.scenario_hash == scenario.scenario_hash


def test_quickstart_runs_every_pattern_on_the_embedded_server_at_modest_load() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "quickstart.yaml", env={})
    assert {t.pattern for t in scenario.traffic} == set(PATTERNS)
    assert all(target.embedded for target in scenario.targets.values())
    by_pattern = {t.pattern: scenario.targets[t.target] for t in scenario.traffic}
    assert by_pattern["sync"].protocol == "http"
    assert by_pattern["asyncio"].protocol == "grpc"
    assert by_pattern["decoupled"].model == "streaming_bot"
    plan = make_plan(scenario)
    assert by_pattern["asyncio-decoupled"].model == "streaming_bot"
    assert next(t for t in scenario.traffic if t.pattern == "asyncio-decoupled").in_flight == 4
    assert 5 <= sum(e.users[0] for e in plan.entries) <= 6
    assert 15 <= plan.duration_s <= 25


@pytest.mark.parametrize(
    ("stem", "check"),
    [
        ("sync", lambda s: {t.pattern for t in s.traffic} == {"sync"}),
        ("futures", lambda s: {t.pattern for t in s.traffic} == {"futures"}),
        ("asyncio", lambda s: {t.pattern for t in s.traffic} == {"asyncio"}),
        ("decoupled", lambda s: {t.pattern for t in s.traffic} == {"decoupled"}),
        ("asyncio-decoupled", lambda s: {t.pattern for t in s.traffic} == {"asyncio-decoupled"}),
        ("open-loop", lambda s: s.load.kind == "open" and s.load.arrival == "constant"),
        (
            "stages",
            lambda s: (
                s.load.kind == "stages"
                and [st.users for st in s.load.stages] == sorted(st.users for st in s.load.stages)
            ),
        ),
    ],
)
def test_each_example_shows_what_its_name_says(stem: str, check: object) -> None:
    assert check(load_scenario(ROOT / "scenarios" / f"{stem}.yaml", env={}))  # type: ignore[operator]


def test_starter_validates() -> None:
    scenario = parse_scenario(STARTER, env={})
    assert scenario.load.users == 4
    assert parse_scenario(STARTER, env={}, overrides=["load.users=8"]).load.users == 8


def test_schema_file_is_generated_from_the_model() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == json_schema_text(), (
        "docs/scenario.schema.json is stale; regenerate it with: tritonload schema > docs/scenario.schema.json"
    )


def _validator() -> jsonschema.protocols.Validator:
    schema = json_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


@pytest.mark.parametrize(
    "text", [*(p.read_text(encoding="utf-8") for p in EXAMPLES), STARTER], ids=[*(p.stem for p in EXAMPLES), "starter"]
)
def test_editors_accept_the_examples_and_their_resolved_form(text: str) -> None:
    validator = _validator()
    assert list(validator.iter_errors(yaml.safe_load(text))) == []
    resolved = parse_scenario(text, env={}).to_dict()
    assert list(validator.iter_errors(json.loads(json.dumps(resolved)))) == []


def test_editors_accept_extension_keys_and_slo_aliases() -> None:
    validator = _validator()
    raw = yaml.safe_load((ROOT / "scenarios" / "sync.yaml").read_text(encoding="utf-8"))
    raw["x-anchors"] = {"common": {"dtype": "float32"}}
    raw["slos"].append({"metric": "latency", "statistic": "p99", "comparator": "<", "threshold": "5ms"})
    assert list(validator.iter_errors(raw)) == []
    assert parse_scenario(yaml.safe_dump(raw), env={}).slos[-1].text == "p99 latency < 5ms"


def test_editors_flag_unknown_keys_and_bad_choices() -> None:
    validator = _validator()
    raw = yaml.safe_load((ROOT / "scenarios" / "sync.yaml").read_text(encoding="utf-8"))
    raw["traffic"][0]["wieght"] = 2
    raw["traffic"][1]["pattern"] = "futurs"
    raw["slos"].append({"metric": "latency", "op": "=", "threshold": "5ms"})
    messages = [error.message for error in validator.iter_errors(raw)]
    assert any("wieght" in m for m in messages)
    assert any("futurs" in m for m in messages)
    assert len(messages) == 3

"""The ab TARGET grammar and the overrides that point a scenario's targets at a side's server."""

from __future__ import annotations

import pytest

from loadtest.gate.targets import (
    TargetError,
    needs_server,
    parse_target,
    server_parameters,
    target_overrides,
)
from loadtest.scenario import parse_scenario

SCENARIO = """
version: 1
embedded: {models: [Sleep, Linear], model_parameters: {Sleep: {latency_ms: 20}}}
targets:
  sleep: {embedded: true, protocol: http, model: Sleep}
  linear.grpc: {embedded: true, protocol: grpc, model: Linear}
payloads:
  one: {inputs: {INPUT: {dtype: float32, shape: [4], generator: zeros}}}
  two: {inputs: {INPUT_1: {dtype: float32, shape: [2], generator: zeros}}}
traffic:
  - {name: s, pattern: sync, target: sleep, payload: one}
  - {name: l, pattern: sync, target: linear.grpc, payload: two}
load: {kind: closed, users: 2}
duration_s: 1
"""


@pytest.mark.parametrize(
    ("text", "kind", "parameters", "urls"),
    [
        ("scenario", "scenario", {}, {}),
        ("embedded", "embedded", {}, {}),
        ("embedded:Sleep.latency_ms=24", "embedded", {"Sleep": {"latency_ms": "24"}}, {}),
        (
            "embedded:Sleep.latency_ms=24, Sleep.seed=3,Linear.x=1",
            "embedded",
            {"Sleep": {"latency_ms": "24", "seed": "3"}, "Linear": {"x": "1"}},
            {},
        ),
        ("http://10.0.0.2:8000", "urls", {}, {"http": "http://10.0.0.2:8000"}),
        ("grpcs://h:8001,https://h", "urls", {}, {"grpc": "grpcs://h:8001", "http": "https://h"}),
    ],
)
def test_targets_parse(text: str, kind: str, parameters: dict[str, dict[str, str]], urls: dict[str, str]) -> None:
    choice = parse_target(text)
    assert (choice.kind, dict(choice.model_parameters), dict(choice.urls)) == (kind, parameters, urls)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("embedded:Sleep=24", "expected embedded:MODEL.KEY=VALUE"),
        ("embedded:latency_ms", "expected embedded:MODEL.KEY=VALUE"),
        ("localhost:8000", "is not a server URL"),
        ("ftp://h:21", "is not a server URL"),
        ("http://a:1,http://b:2", "two http URLs"),
        (",", "no URL given"),
    ],
)
def test_bad_targets_say_what_to_write(text: str, message: str) -> None:
    with pytest.raises(TargetError, match=message):
        parse_target(text)


def test_embedded_sides_start_a_server_with_the_scenarios_and_their_own_parameters() -> None:
    scenario = parse_scenario(SCENARIO)
    choice = parse_target("embedded:Sleep.latency_ms=24")
    assert needs_server(choice, scenario) and needs_server(parse_target("scenario"), scenario)
    assert not needs_server(parse_target("http://h:1"), scenario)
    assert server_parameters(choice, scenario) == {"Sleep": {"latency_ms": "24"}}
    assert server_parameters(parse_target("scenario"), scenario) == {"Sleep": {"latency_ms": 20}}


def test_overrides_point_each_target_at_the_url_of_its_protocol() -> None:
    scenario = parse_scenario(SCENARIO)
    urls = {"http": "http://127.0.0.1:1", "grpc": "grpc://127.0.0.1:2"}
    overrides = target_overrides(scenario, parse_target("embedded"), urls)
    pointed = parse_scenario(SCENARIO, overrides=overrides)
    assert {name: (t.embedded, t.url) for name, t in pointed.targets.items()} == {
        "sleep": (False, "http://127.0.0.1:1"),
        "linear.grpc": (False, "grpc://127.0.0.1:2"),
    }
    assert target_overrides(scenario, parse_target("scenario"), None) == []


def test_a_url_target_must_cover_every_protocol_the_scenario_speaks() -> None:
    scenario = parse_scenario(SCENARIO)
    with pytest.raises(TargetError, match=r"target 'linear\.grpc' speaks grpc: add a grpc:// URL"):
        target_overrides(scenario, parse_target("http://h:8000"), None)
    both = target_overrides(scenario, parse_target("http://h:8000,grpc://h:8001"), None)
    pointed = parse_scenario(SCENARIO, overrides=both)
    assert pointed.targets["linear.grpc"].url == "grpc://h:8001"

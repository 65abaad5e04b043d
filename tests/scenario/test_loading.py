"""Loading a scenario: ${ENV} interpolation, --set overrides, defaults, secrets, hash, round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest.scenario import Problem, ScenarioError, load_scenario, parse_scenario
from tests.scenario.helpers import write

BASE = """\
version: 1
targets:
  remote:
    url: ${URL:-grpc://triton.example.com:8001}
    model: m
payloads:
  p:
    inputs:
      x: {dtype: float32, shape: [2], generator: uniform}
traffic:
  - name: a
    pattern: futures
    target: remote
    payload: p
  - name: b
    pattern: sync
    target: remote
    payload: p
    weight: 3
load:
  users: ${USERS:-4}
duration_s: 10
"""


def _problems(text: str, **kwargs: object) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, source="s.yaml", **kwargs)  # type: ignore[arg-type]
    return [str(problem) for problem in caught.value.problems]


# -- ${ENV} -------------------------------------------------------------------------------------
def test_defaults_apply_when_variables_are_unset() -> None:
    scenario = parse_scenario(BASE, env={})
    assert scenario.targets["remote"].url == "grpc://triton.example.com:8001"
    assert scenario.load.users == 4


def test_plain_scalars_are_typed_after_interpolation_quoted_ones_stay_text() -> None:
    scenario = parse_scenario(BASE, env={"USERS": "8", "URL": "http://10.0.0.1:8000"})
    assert scenario.load.users == 8
    assert scenario.targets["remote"].protocol == "http"
    quoted = BASE.replace("users: ${USERS:-4}", 'users: "${USERS:-4}"')
    assert _problems(quoted, env={"USERS": "8"}) == [
        "s.yaml:21 load.users: should be a whole number (value from an environment variable)"
    ]


def test_empty_variable_uses_the_default_and_escapes_stay_literal() -> None:
    text = BASE.replace("model: m", 'model: "$${MODEL}-${SUFFIX:-v2}"')
    assert parse_scenario(text, env={"SUFFIX": ""}).targets["remote"].model == "${MODEL}-v2"
    assert parse_scenario(text, env={"SUFFIX": "v3"}).targets["remote"].model == "${MODEL}-v3"


def test_missing_variable_is_reported_with_its_path_and_line() -> None:
    text = BASE.replace("model: m", "model: ${MODEL_NAME}")
    assert _problems(text, env={}) == [
        "s.yaml:5 targets.remote.model: environment variable MODEL_NAME is not set "
        "(give a default with ${MODEL_NAME:-value})"
    ]


def test_values_from_the_environment_are_never_echoed() -> None:
    secret = "s3cr3t-t0ken"
    assert all(secret not in line for line in _problems(BASE, env={"USERS": secret}))
    assert all(secret not in line for line in _problems(BASE, env={"URL": secret}))


def test_environment_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USERS", "6")
    assert parse_scenario(BASE).load.users == 6


# -- --set --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("override", "check"),
    [
        ("load.users=5", lambda s: s.load.users == 5),
        ("duration_s=5", lambda s: s.duration_s == 5.0),
        ("traffic[1].weight=1", lambda s: s.traffic[1].weight == 1.0),
        ("traffic[0].in_flight=3", lambda s: s.traffic[0].in_flight == 3),
        ("targets.remote.model=other", lambda s: s.targets["remote"].model == "other"),
        ('payloads["p"].seed=9', lambda s: s.payloads["p"].seed == 9),
        ("payloads.p.inputs.x.shape=[4, 2]", lambda s: s.payloads["p"].inputs["x"].shape == [4, 2]),
        ("traffic[1].weight=null", lambda s: s.traffic[1].weight == 1.0),
        ("slos[0]=error_rate < 1%", lambda s: s.slos[0].text == "error_rate < 1%"),
        ("traffic[1].headers.x-tenant=blue", lambda s: s.traffic[1].headers == {"x-tenant": "blue"}),
        ("recording.percentiles=[99, 50]", lambda s: s.recording.percentiles == [50.0, 99.0]),
        ("description='1'", lambda s: s.description == "1"),
    ],
)
def test_overrides_apply_before_validation(override: str, check: object) -> None:
    scenario = parse_scenario(BASE, env={}, overrides=[override])
    assert check(scenario)  # type: ignore[operator]


def test_later_overrides_win() -> None:
    assert parse_scenario(BASE, env={}, overrides=["load.users=5", "load.users=6"]).load.users == 6


def test_override_problems_name_the_override() -> None:
    assert _problems(BASE, env={}, overrides=["load.users=many", "traffic[0].wieght=2"]) == [
        "s.yaml (--set load.users=many) load.users: should be a whole number, got 'many'",
        "s.yaml (--set traffic[0].wieght=2) traffic[0].wieght: unknown key 'wieght'; did you mean 'weight'?",
    ]


def test_null_override_of_an_unknown_path_is_refused_like_any_other_value() -> None:
    assert _problems(BASE, env={}, overrides=["foo=null", "traffic[0].wieght=", "x-anchors=null"]) == [
        "s.yaml (--set foo=null) foo: unknown key 'foo'; known keys: version, name, description, seed, embedded, "
        "targets, payloads, traffic, load, duration_s, warmup_s, max_requests, grace_s, processes, fast_path, "
        "recording, slos",
        "s.yaml (--set traffic[0].wieght=) traffic[0].wieght: unknown key 'wieght'; did you mean 'weight'?",
    ]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("load.users", "s.yaml (--set load.users): expected path=value, e.g. load.users=4"),
        ("[0].x=1", "s.yaml (--set [0].x=1): the path '[0].x' must start with a top-level key, e.g. load.users"),
        (
            "load..users=1",
            "s.yaml (--set load..users=1): cannot read the path 'load..users' at '..users'; "
            "write e.g. traffic[0].weight",
        ),
        (
            "traffic[5].weight=1",
            "s.yaml (--set traffic[5].weight=1) traffic[5].weight: traffic has 2 items; index 5 is out of range",
        ),
        ("duration_s.x=1", "s.yaml (--set duration_s.x=1) duration_s.x: duration_s is not a mapping"),
        ("load[0]=1", "s.yaml (--set load[0]=1) load[0]: load is not a list"),
        ("load.users=[1", "s.yaml (--set load.users=[1): the value '[1' is not valid YAML (ParserError)"),
    ],
)
def test_malformed_overrides_are_reported(override: str, message: str) -> None:
    assert _problems(BASE, env={}, overrides=[override]) == [message]


# -- defaults and the resolved form ---------------------------------------------------------------
def test_defaults_are_filled_in(tmp_path: Path) -> None:
    path = write(tmp_path, BASE, name="my scenario!.yaml")
    scenario = load_scenario(path, env={})
    assert scenario.name == "my-scenario"
    assert scenario.seed == 0
    assert scenario.payloads["p"].seed == 0
    assert scenario.payloads["p"].pool_size == 16
    assert (scenario.payloads["p"].inputs["x"].low, scenario.payloads["p"].inputs["x"].high) == (0.0, 1.0)
    futures, sync = scenario.traffic
    assert (futures.weight, futures.in_flight, futures.method) == (1.0, 1, "infer_sample")
    assert (sync.weight, sync.in_flight) == (3.0, None)
    load = scenario.load
    assert (load.kind, load.users, load.spawn_rate, load.pacing_s) == ("closed", 4, 4.0, 0.0)
    assert (load.rate, load.arrival, load.max_in_flight, load.stages) == (None, None, None, None)
    assert scenario.targets["remote"].timeouts.inference_s == 60.0
    assert (scenario.warmup_s, scenario.max_requests) == (0.0, None)
    assert scenario.recording.percentiles == [50.0, 90.0, 95.0, 99.0, 99.9]
    assert scenario.base_dir == tmp_path
    assert scenario.source == str(path)


def test_open_loop_and_stage_defaults() -> None:
    open_loop = parse_scenario(BASE, env={}, overrides=["load={kind: open, rate: 20}", "traffic[0].in_flight=null"])
    assert (open_loop.load.arrival, open_loop.load.max_in_flight, open_loop.load.users) == ("constant", 64, None)
    assert open_loop.traffic[0].in_flight is None
    stages = parse_scenario(
        BASE,
        env={},
        overrides=[
            "load={kind: stages, stages: [{duration_s: 3, users: 2}, {duration_s: 4, users: 6}]}",
            "duration_s=",
        ],
    )
    assert stages.duration_s == 7.0
    assert [s.spawn_rate for s in stages.load.stages or []] == [6.0, 6.0]
    assert stages.load.pacing_s == 0.0


def test_fixed_users_alone_set_load_users() -> None:
    text = BASE.replace("    weight: 3", "    users: 3").replace(
        "  - name: a\n    pattern: futures", "  - name: a\n    users: 2\n    pattern: futures"
    )
    scenario = parse_scenario(text.replace("  users: ${USERS:-4}\n", "  kind: closed\n"), env={})
    assert scenario.load.users == 5
    assert scenario.load.spawn_rate == 5.0


def test_round_trip_of_the_resolved_form_keeps_the_hash(tmp_path: Path) -> None:
    original = parse_scenario(BASE, env={}, overrides=["traffic[1].headers.Authorization=Bearer abc"])
    again = parse_scenario(original.to_yaml(), env={})
    assert again.to_dict() == original.to_dict()
    assert again.scenario_hash == original.scenario_hash


def test_hash_is_stable_and_follows_meaning_not_formatting() -> None:
    base = parse_scenario(BASE, env={})
    reformatted = parse_scenario("# a comment\n" + BASE.replace("weight: 3", "weight: 3.0"), env={})
    assert base.scenario_hash == reformatted.scenario_hash
    assert len(base.scenario_hash) == 64
    assert parse_scenario(BASE, env={}, overrides=["load.users=5"]).scenario_hash != base.scenario_hash
    # an explicit default is the same scenario as an omitted one
    assert parse_scenario(BASE, env={}, overrides=["seed=0", "warmup_s=0"]).scenario_hash == base.scenario_hash


def test_secrets_stay_out_of_dumps_reprs_and_errors() -> None:
    text = BASE.replace("    model: m", "    model: m\n    access_token_env: TRITON_TOKEN")
    token = "tok-123456"
    scenario = parse_scenario(
        text,
        env={"TRITON_TOKEN": token, "KEY": "key-987"},
        overrides=["traffic[1].headers={Authorization: Bearer abc, x-api-key: k, x-tenant: blue}"],
    )
    dumped = scenario.to_yaml()
    assert "TRITON_TOKEN" in dumped
    assert token not in dumped
    assert "Bearer abc" not in dumped
    assert scenario.to_dict()["traffic"][1]["headers"] == {
        "authorization": "<redacted>",
        "x-api-key": "<redacted>",
        "x-tenant": "blue",
    }
    assert "Bearer" not in repr(scenario)
    assert scenario.traffic[1].headers["authorization"] == "Bearer abc"  # the runner still sends it


def test_access_token_is_read_from_the_named_variable_only_when_asked(tmp_path: Path) -> None:
    text = BASE.replace("    model: m", "    model: m\n    access_token_env: TRITON_TOKEN")
    scenario = load_scenario(write(tmp_path, text), env={})
    assert scenario.access_token("remote", {"TRITON_TOKEN": "tok-1"}) == "tok-1"
    with pytest.raises(ScenarioError) as caught:
        scenario.access_token("remote", {"TRITON_TOKEN": ""})
    assert str(caught.value).splitlines()[0] == (
        f"{tmp_path / 'scenario.yaml'}:6 targets.remote.access_token_env: "
        "environment variable TRITON_TOKEN is not set (it holds the token)"
    )
    plain = parse_scenario(BASE, env={})
    assert plain.access_token("remote", {"TRITON_TOKEN": "tok-1"}) is None


def test_problem_locates_later_findings(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, BASE), env={})
    problem = scenario.problem(("payloads", "p", "inputs", "x", "path"), "cannot read it")
    assert problem == Problem(str(tmp_path / "scenario.yaml"), 9, "payloads.p.inputs.x.path", "cannot read it")


def test_unreadable_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(missing)
    assert str(caught.value).startswith(f"{missing}: cannot read the scenario file: No such file or directory")


def test_merge_keys_anchors_and_extension_keys() -> None:
    text = BASE.replace(
        "payloads:\n",
        "x-common: &common {dtype: float32, shape: [2]}\npayloads:\n",
    ).replace("x: {dtype: float32, shape: [2], generator: uniform}", "x: {<<: *common, generator: normal}")
    assert parse_scenario(text, env={}).payloads["p"].inputs["x"].generator == "normal"
    assert "x-common" not in parse_scenario(text, env={}).to_yaml()
    twice = BASE.replace("generator: uniform}", "generator: uniform, generator: zeros}")
    assert _problems(twice, env={}) == [
        "s.yaml:9 payloads.p.inputs.x.generator: duplicate key 'generator' (first at line 9)"
    ]
    inline = BASE.replace(
        "x: {dtype: float32, shape: [2], generator: uniform}",
        "x: &spec {dtype: float32, shape: [2], generator: uniform}\n      y: {<<: *spec, generator: zeros}",
    )
    scenario = parse_scenario(inline, env={})
    assert scenario.payloads["p"].inputs["y"].generator == "zeros"
    assert scenario.payloads["p"].inputs["y"].shape == [2]

"""Usage errors of run --repeat, ab and calibrate: exit 2 with a message, no traceback, nothing run."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from loadtest.cli import main
from loadtest.exit_codes import ExitCode

SCENARIO = """
version: 1
targets:
  sleep: {url: "http://127.0.0.1:9", model: Sleep, access_token_env: GATE_TEST_TOKEN_THAT_IS_UNSET}
payloads:
  one: {inputs: {INPUT: {dtype: float32, shape: [4], generator: zeros}}}
traffic:
  - {name: sleep, pattern: sync, target: sleep, payload: one}
load: {kind: closed, users: 1}
duration_s: 1
"""


def invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def _no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


def test_calibrate_with_an_unset_token_variable_exits_2_and_closes_its_run_sets(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO)
    result = invoke("calibrate", scenario, "--repeat", 2, "--out", tmp_path / "cal", "-q")
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "GATE_TEST_TOKEN_THAT_IS_UNSET is not set" in result.output
    _no_traceback(result)
    index = json.loads((tmp_path / "cal" / "a" / "runset.json").read_text())
    assert (index["status"], index["exit_code"], index["runs"]) == ("failed", 2, [])


def test_run_repeat_with_an_unset_token_variable_exits_2(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO)
    result = invoke("run", scenario, "--repeat", 2, "--out", tmp_path / "set", "-q")
    assert result.exit_code == ExitCode.USAGE
    assert "GATE_TEST_TOKEN_THAT_IS_UNSET is not set" in result.output
    _no_traceback(result)


def test_run_repeat_refuses_the_web_ui(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO.replace(", access_token_env: GATE_TEST_TOKEN_THAT_IS_UNSET", ""))
    result = invoke("run", scenario, "--repeat", 2, "--web", "--out", tmp_path / "set")
    assert result.exit_code == ExitCode.USAGE
    assert "--web serves the UI of one run" in result.output


def test_ab_rejects_a_malformed_target_before_running_anything(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO)
    result = invoke("ab", scenario, "--candidate", "embedded:Sleep=24", "--out", tmp_path / "ab")
    assert result.exit_code == ExitCode.USAGE
    assert "--candidate" in result.output and "expected embedded:MODEL.KEY=VALUE" in result.output
    assert not (tmp_path / "ab").exists()
    _no_traceback(result)


def test_ab_rejects_a_url_target_missing_a_protocol_the_scenario_speaks(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO)
    result = invoke("ab", scenario, "--candidate", "grpc://127.0.0.1:9", "--out", tmp_path / "ab")
    assert result.exit_code == ExitCode.USAGE
    assert "target 'sleep' speaks http: add a http:// URL" in result.output
    _no_traceback(result)

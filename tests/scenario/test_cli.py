"""``tritonload validate | plan | init | schema`` through click's CliRunner: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from loadtest.cli import main
from loadtest.exit_codes import ExitCode
from loadtest.scenario import json_schema_text, load_scenario

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"
INVALID = Path(__file__).resolve().parent / "invalid"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_validate_ok_prints_a_summary(runner: CliRunner) -> None:
    result = runner.invoke(main, ["validate", str(QUICKSTART)])
    assert result.exit_code == ExitCode.OK, result.output
    assert result.stdout == (
        f"ok: {QUICKSTART}: quickstart: 5 traffic entries (sync, futures, asyncio, decoupled, asyncio-decoupled), "
        "closed loop, 6 users, 2 s warm-up + 20 s, 3 SLOs\n"
    )


def test_validate_prints_every_problem_and_exits_2(runner: CliRunner) -> None:
    case = INVALID / "08-unknown-references.yaml"
    result = runner.invoke(main, ["validate", str(case)])
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{case}:16 traffic[1].target: unknown target 'linaer'; did you mean 'linear'?",
        f"{case}:17 traffic[1].payload: unknown payload 'img'; known: linear-batch",
        "2 problems found",
    ]
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_validate_several_files_reports_each(runner: CliRunner) -> None:
    result = runner.invoke(main, ["validate", str(QUICKSTART), str(INVALID / "02-empty.yaml")])
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout.startswith(f"ok: {QUICKSTART}: quickstart")
    assert "02-empty.yaml: the file is empty" in result.stderr


def test_validate_applies_overrides(runner: CliRunner) -> None:
    ok = runner.invoke(main, ["validate", str(QUICKSTART), "--set", "load.users=6", "--set", "duration_s=5"])
    assert ok.exit_code == ExitCode.OK
    assert "6 users, 2 s warm-up + 5 s" in ok.stdout
    bad = runner.invoke(main, ["validate", str(QUICKSTART), "--set", "load.users=0"])
    assert bad.exit_code == ExitCode.USAGE
    assert f"{QUICKSTART} (--set load.users=0) load.users: should be greater than or equal to 1, got 0" in bad.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "does-not-exist.yaml"],
        ["validate", str(QUICKSTART), "--set", "nonsense"],
        ["validate", str(QUICKSTART), "--set", "traffic[99].weight=1"],
        ["plan", "does-not-exist.yaml"],
        ["plan", str(INVALID / "01-yaml-syntax.yaml")],
        ["validate"],
    ],
)
def test_invalid_input_exits_2_without_a_traceback(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(main, args)
    assert result.exit_code == ExitCode.USAGE
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_payload_file_problems_fail_validation(runner: CliRunner, tmp_path: Path) -> None:
    import numpy as np

    np.save(tmp_path / "x.npy", np.zeros((2, 3), dtype=np.float64))
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "version: 1\n"
        "targets: {r: {url: 'http://h:8000', model: m}}\n"
        "payloads: {p: {inputs: {x: {generator: file, path: x.npy, dtype: float32}}}}\n"
        "traffic: [{name: a, pattern: sync, target: r, payload: p}]\n"
        "load: {users: 1}\n"
        "duration_s: 1\n",
        encoding="utf-8",
    )
    result = runner.invoke(main, ["validate", str(scenario)])
    assert result.exit_code == ExitCode.USAGE
    assert f"{scenario}:3 payloads.p.inputs.x.dtype: x.npy holds float64, not float32" in result.stderr


def test_plan_prints_the_plan_first_and_the_resolved_scenario_only_when_asked(runner: CliRunner) -> None:
    result = runner.invoke(main, ["plan", str(QUICKSTART), "--set", "load.users=7"])
    assert result.exit_code == ExitCode.OK, result.output
    assert result.stdout.startswith("Scenario  quickstart")
    assert "Load      closed loop: 7 users, spawn 6/s, no pacing" in result.stdout
    assert "linear-sync 3, textgen-futures 1, linear-asyncio 1, bot-stream 1, bot-async-streams 1" in result.stdout
    assert "# resolved scenario" not in result.stdout
    assert "version: 1" not in result.stdout
    shown = runner.invoke(main, ["plan", str(QUICKSTART), "--set", "load.users=7", "--show-scenario"])
    assert shown.exit_code == ExitCode.OK, shown.output
    scenario = load_scenario(QUICKSTART, ["load.users=7"])
    plan_text, _, scenario_text = shown.stdout.partition("\n# resolved scenario")
    assert plan_text == result.stdout  # then a blank line and the scenario
    assert scenario_text == f" (sha256 {scenario.scenario_hash})\n{scenario.to_yaml()}"


def test_init_writes_a_starter_that_validates_and_refuses_to_overwrite(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "new" / "scenario.yaml"
    written = runner.invoke(main, ["init", str(target)])
    assert written.exit_code == ExitCode.OK
    assert target.read_text(encoding="utf-8").startswith("# A tritonload scenario.")
    validated = runner.invoke(main, ["validate", str(target)])
    assert validated.exit_code == ExitCode.OK, validated.output
    target.write_text("mine", encoding="utf-8")
    refused = runner.invoke(main, ["init", str(target)])
    assert refused.exit_code == ExitCode.USAGE
    assert "exists" in refused.stderr and "--force" in refused.stderr
    assert target.read_text(encoding="utf-8") == "mine"
    forced = runner.invoke(main, ["init", str(target), "--force"])
    assert forced.exit_code == ExitCode.OK
    assert target.read_text(encoding="utf-8") != "mine"


def test_init_names_the_written_file_in_the_starter_commands(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "load tests" / "nightly.yaml"
    result = runner.invoke(main, ["init", str(target)])
    assert result.exit_code == ExitCode.OK
    quoted = f"'{target}'"
    assert result.stdout == f"wrote {target}; check it with: tritonload validate {quoted}\n"
    commands = [line for line in target.read_text(encoding="utf-8").splitlines() if line.startswith("#   tritonload")]
    assert [line.split()[1:3] for line in commands] == [
        ["tritonload", "validate"],
        ["tritonload", "plan"],
        ["tritonload", "run"],
    ]
    assert all(quoted in line and "scenario.yaml" not in line for line in commands)


def test_init_defaults_to_scenario_yaml_in_the_current_directory(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["init"])
    assert result.exit_code == ExitCode.OK
    assert (tmp_path / "scenario.yaml").is_file()


def test_schema_prints_the_json_schema(runner: CliRunner) -> None:
    result = runner.invoke(main, ["schema"])
    assert result.exit_code == ExitCode.OK
    assert result.stdout == json_schema_text()
    assert json.loads(result.stdout)["title"] == "tritonload scenario (version 1)"

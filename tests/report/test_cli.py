"""``tritonload report`` and ``tritonload compare`` through click's CliRunner: output and exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from loadtest.cli import main
from loadtest.exit_codes import ExitCode

from .runs import FIXTURES, fixture_copy


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def _no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


# ---- report


def test_report_writes_the_chosen_formats_into_the_run_directory(tmp_path: Path) -> None:
    run_dir = fixture_copy("mixed", tmp_path)
    result = invoke("report", run_dir, "--format", "text,csv", "-f", "markdown", "-f", "junit")
    assert result.exit_code == ExitCode.OK, result.output
    for name in ("report.txt", "report.csv", "report.md", "junit.xml"):
        assert f"report: {run_dir / name}" in result.output
        assert (run_dir / name).stat().st_size > 0
    assert "tritonload run mixed: completed" in result.output  # the text report is shown too


def test_report_to_stdout_writes_no_file(tmp_path: Path) -> None:
    run_dir = fixture_copy("sleep-20ms", tmp_path)
    result = invoke("report", run_dir, "-f", "markdown", "--stdout")
    assert result.exit_code == ExitCode.OK
    assert result.output.startswith("### tritonload: sleep")
    assert not (run_dir / "report.md").exists()


def test_report_out_directory(tmp_path: Path) -> None:
    result = invoke("report", FIXTURES / "open-100rps", "-f", "json", "--out", tmp_path / "out")
    assert result.exit_code == ExitCode.OK
    document = json.loads((tmp_path / "out" / "report.json").read_text())
    assert document["traffic"]["sleep"]["metrics"]["response_time"]["p99"] == 25023


def test_report_exits_3_when_a_command_line_slo_is_breached(tmp_path: Path) -> None:
    result = invoke(
        "report",
        FIXTURES / "mixed",
        "--out",
        tmp_path,
        "-f",
        "junit",
        "--slo",
        "lin-sync: p99 latency < 10ms",
        "--slo",
        "error_rate < 1%",
    )
    assert result.exit_code == ExitCode.SLO_BREACHED
    junit = (tmp_path / "junit.xml").read_text()
    assert junit.count("<testcase") == 2 and junit.count("<failure") == 1


def test_report_passes_when_every_slo_is_met(tmp_path: Path) -> None:
    result = invoke("report", FIXTURES / "mixed", "--out", tmp_path, "--slo", "bot: p99 ttfr < 250ms")
    assert result.exit_code == ExitCode.OK
    assert "SLOs: 1 passed, 0 breached" in result.output


def test_report_reevaluates_the_slos_of_the_runs_scenario(tmp_path: Path) -> None:
    run_dir = fixture_copy("sleep-20ms", tmp_path)
    (run_dir / "scenario.yaml").write_text("traffic:\n  - name: sleep\n    slos: ['p50 latency < 20ms']\n")
    result = invoke("report", run_dir, "-f", "json")
    assert result.exit_code == ExitCode.SLO_BREACHED
    [slo] = json.loads((run_dir / "report.json").read_text())["slos"]
    assert (slo["scope"], slo["measured"], slo["passed"]) == ("sleep", 21487.0, False)


def test_report_shows_the_stored_slo_results(tmp_path: Path) -> None:
    run_dir = fixture_copy("sleep-20ms", tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["slos"] = [
        {
            "slo": "p99 latency < 1s",
            "scope": "overall",
            "traffic": None,
            "unit": "us",
            "measured": 25535.0,
            "threshold": 1e6,
            "comparator": "<",
            "passed": True,
        }
    ]
    (run_dir / "summary.json").write_text(json.dumps(summary))
    result = invoke("report", run_dir)
    assert result.exit_code == ExitCode.OK
    assert "PASS  overall  p99 latency < 1s" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "pdf"], "unknown format 'pdf'"),
        (["-f", "text", "-f", "csv", "--stdout"], "--stdout prints one format"),
        (["--slo", "p99 latency < fast"], "--slo"),
        (["--slo", "nope: p99 latency < 5ms"], "no traffic entry 'nope'"),
    ],
)
def test_report_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = invoke("report", FIXTURES / "mixed", *args)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert message in result.output
    _no_traceback(result)


def test_report_on_a_missing_path_exits_2(tmp_path: Path) -> None:
    result = invoke("report", tmp_path / "nothing")
    assert result.exit_code == ExitCode.USAGE
    assert "does not exist" in result.output


def test_report_on_a_directory_that_is_no_run_exits_5(tmp_path: Path) -> None:
    result = invoke("report", tmp_path)
    assert result.exit_code == ExitCode.NOT_COMPARABLE
    assert "is not a run directory (no summary.json)" in result.output
    _no_traceback(result)


def test_report_on_a_corrupt_interval_log_exits_5(tmp_path: Path) -> None:
    run_dir = fixture_copy("sleep-20ms", tmp_path)
    lines = (run_dir / "latency.hlog").read_text().splitlines()
    lines[6] = lines[6][:80] + "AAAA" + lines[6][84:]  # valid base64, broken zlib stream
    (run_dir / "latency.hlog").write_text("\n".join(lines) + "\n")
    result = invoke("report", run_dir, "-f", "html")
    assert result.exit_code == ExitCode.NOT_COMPARABLE
    assert "latency.hlog:7: not a valid interval line" in result.output
    _no_traceback(result)


def test_report_into_an_unwritable_place_exits_1(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = invoke("report", FIXTURES / "sleep-20ms", "--out", tmp_path / "file" / "sub")
    assert result.exit_code == ExitCode.RUNTIME_ERROR
    assert "cannot write reports" in result.output
    _no_traceback(result)


# ---- compare


def test_compare_of_single_runs_says_it_cannot_separate_noise_and_does_not_fail(tmp_path: Path) -> None:
    result = invoke("compare", FIXTURES / "sleep-20ms", FIXTURES / "sleep-24ms", "--json", tmp_path / "c.json")
    assert result.exit_code == ExitCode.OK, result.output
    assert result.output.startswith("### tritonload compare: ✅ no regression")
    assert "One run per side cannot separate run-to-run noise from a change" in result.output
    assert "| sleep | latency | p50 | 21.5 ms | 25.5 ms | +4.00 ms (+18.6%) |" in result.output
    rows = {(r["metric"], r["statistic"]): r for r in json.loads((tmp_path / "c.json").read_text())["rows"]}
    assert rows[("latency", "p50")]["verdict"] == "inconclusive"
    assert rows[("latency", "p50")]["method"] == "noise floor"
    assert "≥ 4 runs per side (run --repeat) would decide it" in rows[("latency", "p50")]["reason"]
    assert "repeat each side (`tritonload run --repeat 5`)" in result.output


def test_compare_a_run_with_itself_exits_0_unchanged() -> None:
    result = invoke("compare", FIXTURES / "sleep-20ms", FIXTURES / "sleep-20ms")
    assert result.exit_code == ExitCode.OK
    assert "✅ no regression" in result.output
    assert "0 regressed, 0 improved, 7 unchanged, 0 inconclusive." in result.output


def test_compare_runs_of_different_scenarios_exits_5_unless_forced(tmp_path: Path) -> None:
    candidate = fixture_copy("sleep-24ms", tmp_path)
    summary = json.loads((candidate / "summary.json").read_text())
    summary["scenario"]["hash"] = "other"
    (candidate / "summary.json").write_text(json.dumps(summary))
    result = invoke("compare", FIXTURES / "sleep-20ms", candidate)
    assert result.exit_code == ExitCode.NOT_COMPARABLE
    assert "scenario hash differs: baseline h, candidate other" in result.output
    assert "use --force" in result.output
    assert "| sleep |" not in result.output
    forced = invoke("compare", FIXTURES / "sleep-20ms", candidate, "--force")
    assert forced.exit_code == ExitCode.OK
    assert "compared anyway with `--force`" in forced.output
    assert "| sleep | latency | p50 |" in forced.output


def test_compare_runs_with_nothing_in_common_exits_5() -> None:
    result = invoke("compare", FIXTURES / "sleep-20ms", FIXTURES / "mixed", "--force")
    assert result.exit_code == ExitCode.NOT_COMPARABLE
    assert "no traffic entry and metric in common" in result.output


def test_compare_with_a_directory_that_is_no_run_exits_5(tmp_path: Path) -> None:
    result = invoke("compare", FIXTURES / "sleep-20ms", tmp_path)
    assert result.exit_code == ExitCode.NOT_COMPARABLE
    assert "not a run directory" in result.output
    _no_traceback(result)


def test_compare_into_an_unwritable_file_exits_1(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = invoke("compare", FIXTURES / "sleep-20ms", FIXTURES / "sleep-20ms", "--json", tmp_path / "file" / "c.json")
    assert result.exit_code == ExitCode.RUNTIME_ERROR
    assert "cannot write" in result.output
    _no_traceback(result)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tolerance", "5"], "ambiguous"),
        (["--tolerance", "mean=5%"], "not a statistic"),
        (["--percentiles", "50,abc"], "not a list of percentiles"),
        (["--percentiles", "0"], "percentiles lie in (0, 100]"),
        (["--confidence", "2"], "--confidence"),
    ],
)
def test_compare_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = invoke("compare", FIXTURES / "sleep-20ms", FIXTURES / "sleep-24ms", *args)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert message in result.output
    _no_traceback(result)


def test_compare_chosen_percentiles_only() -> None:
    result = invoke("compare", FIXTURES / "sleep-20ms", FIXTURES / "sleep-24ms", "--percentiles", "p50,99")
    assert result.exit_code == ExitCode.OK
    assert "| p50 |" in result.output and "| p99 |" in result.output and "| p90 |" not in result.output


# ---- exit codes are documented in one place


def test_docs_cli_lists_every_exit_code() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    documented = {int(code): name for code, name in re.findall(r"^\|\s*(\d+)\s*\|\s*`(\w+)`\s*\|", text, re.M)}
    assert documented == {int(code): code.name for code in ExitCode}

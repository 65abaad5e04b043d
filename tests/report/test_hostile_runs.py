"""Run directories that are truncated, corrupt, foreign or hostile: ``report`` and ``compare`` answer
with one clear line and exit code 5 (a directory that is not a readable run), never a traceback, and
write nothing. A torn last line (a run killed mid-write, a full disk) is not corruption: what was
written before it stays readable.

Each case starts from a copy of the committed ``mixed`` fixture run and breaks one thing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from loadtest.cli import main
from loadtest.exit_codes import ExitCode
from loadtest.recording.rundir import load_run

from .runs import fixture_copy

CPU_BOUND_S = 2.0
Mutation = Callable[[Path], None]


def _summary(run_dir: Path, change: Callable[[dict[str, Any]], None]) -> None:
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    change(summary)
    (run_dir / "summary.json").write_text(json.dumps(summary), encoding="utf-8")


def _first_entry(summary: dict[str, Any]) -> dict[str, Any]:
    return next(iter(summary["traffic"].values()))


def _replace_line(run_dir: Path, name: str, index: int, text: str) -> None:
    lines = (run_dir / name).read_text(encoding="utf-8").splitlines()
    lines[index] = text
    (run_dir / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write(name: str, data: bytes) -> Mutation:
    return lambda run_dir: (run_dir / name).write_bytes(data)


def _symlink_summary_to_dev_zero(run_dir: Path) -> None:
    (run_dir / "summary.json").unlink()
    (run_dir / "summary.json").symlink_to("/dev/zero")


def _summary_is_a_directory(run_dir: Path) -> None:
    (run_dir / "summary.json").unlink()
    (run_dir / "summary.json").mkdir()


def _oversize_summary(run_dir: Path) -> None:
    with (run_dir / "summary.json").open("w", encoding="utf-8") as stream:
        stream.write('{"summary_version": 1, "pad": "')
        stream.write("x" * (65 << 20))
        stream.write('"}')


def _bomb_scenario(run_dir: Path) -> None:
    lines = ["x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    (run_dir / "scenario.yaml").write_text("\n".join(lines) + "\nslos: [p99 latency < 1ms]\n", encoding="utf-8")


SUMMARY_CASES: dict[str, tuple[Mutation, str]] = {
    "not-a-run": (lambda d: (d / "summary.json").unlink(), "is not a run directory (no summary.json)"),
    "summary-is-a-directory": (_summary_is_a_directory, "is not a run directory (no summary.json)"),
    "summary-links-to-dev-zero": (_symlink_summary_to_dev_zero, "is not a run directory (no summary.json)"),
    "summary-empty": (_write("summary.json", b""), "summary.json is not valid JSON: Expecting value (line 1)"),
    "summary-truncated": (
        lambda d: (d / "summary.json").write_bytes((d / "summary.json").read_bytes()[:3000]),
        "summary.json is not valid JSON",
    ),
    "summary-oversize": (_oversize_summary, "summary.json is larger than 64 MiB"),
    "summary-latin1": (
        lambda d: (d / "summary.json").write_bytes((d / "summary.json").read_bytes().replace(b'"t"', b'"\xe9"', 1)),
        "summary.json is not UTF-8 text",
    ),
    "summary-nested-deeply": (_write("summary.json", b"[" * 100_000 + b"]" * 100_000), "nested too deeply"),
    "summary-a-list": (_write("summary.json", b"[]"), "summary.json is not a tritonload summary (a JSON object)"),
    "summary-no-version": (
        lambda d: _summary(d, lambda s: s.pop("summary_version")),
        "summary.json is not a tritonload summary (no summary_version)",
    ),
    "summary-newer-version": (
        lambda d: _summary(d, lambda s: s.update(summary_version=2)),
        "summary.json was written by a newer tritonload (summary_version 2); this one reads summary_version 1: "
        "upgrade tritonload to read it",
    ),
    "summary-version-as-text": (
        lambda d: _summary(d, lambda s: s.update(summary_version="1")),
        "has an unknown summary_version '1'",
    ),
    "traffic-not-a-mapping": (
        lambda d: _summary(d, lambda s: s.update(traffic="x")),
        "summary.json is not a valid summary: traffic should be a mapping of traffic entries, got 'x'",
    ),
    "entry-a-list": (
        lambda d: _summary(d, lambda s: s["traffic"].update({"lin-sync": []})),
        "traffic.lin-sync should be a mapping, got []",
    ),
    "requests-as-text": (
        lambda d: _summary(d, lambda s: _first_entry(s).update(requests="many")),
        "traffic.lin-sync.requests should be a whole number >= 0, got 'many'",
    ),
    "percentile-as-text": (
        lambda d: _summary(d, lambda s: _first_entry(s)["metrics"]["latency"].update(p99="slow")),
        "traffic.lin-sync.metrics.latency.p99 should be a number or null, got 'slow'",
    ),
    "percentiles-not-a-list": (
        lambda d: _summary(d, lambda s: s.update(percentiles="x")),
        "percentiles should be a list of percentiles in (0, 100], got 'x'",
    ),
    "duration-nan": (
        lambda d: _summary(d, lambda s: s.update(duration_s=float("nan"))),
        "duration_s should be a number >= 0, got nan",
    ),
    "histogram-range-negative": (
        lambda d: _summary(d, lambda s: s.update(highest_trackable_us=-5)),
        "highest_trackable_us should be a whole number of microseconds >= 2, got -5",
    ),
    "slos-not-a-list": (lambda d: _summary(d, lambda s: s.update(slos={"a": 1})), "slos should be a list"),
    "slo-not-a-mapping": (lambda d: _summary(d, lambda s: s.update(slos=[1])), "slos[0] should be a mapping, got 1"),
    "many-problems-in-one-line": (
        lambda d: _summary(d, lambda s: s.update(duration_s="a", warmup_requests="b", status=1, complete="c")),
        "(and 1 more)",
    ),
    "intervals-corrupt-line": (
        lambda d: _replace_line(d, "intervals.jsonl", 2, "{garbage"),
        "intervals.jsonl:3: not a JSON record",
    ),
    "intervals-record-a-list": (
        lambda d: _replace_line(d, "intervals.jsonl", 2, "[1, 2]"),
        "intervals.jsonl:3: a record should be a JSON object",
    ),
    "intervals-record-without-end": (
        lambda d: _replace_line(d, "intervals.jsonl", 2, '{"start_s": 1.0, "traffic": {}}'),
        "intervals.jsonl:3: end_s should be a number, got None",
    ),
    "server-stats-strings": (
        _write("server-stats.jsonl", b'"a"\n"b"\n'),
        "server-stats.jsonl:1: a record should be a JSON object",
    ),
    "server-stats-models-a-list": (
        _write("server-stats.jsonl", b'{"models": [1, 2]}\n{"models": []}\n'),
        "server-stats.jsonl:1: models should be a mapping, got [1, 2]",
    ),
    "scenario-not-utf8": (_write("scenario.yaml", b"\xff\xfe\x00garbage"), "scenario.yaml is not UTF-8 text"),
}
"""Problems that make the run unreadable for every command: (break it, what the error line says)."""

HLOG_CASES: dict[str, tuple[Mutation, str]] = {
    "hlog-binary": (_write("latency.hlog", bytes(range(256)) * 4), "latency.hlog:1: not a valid interval line"),
    "hlog-corrupt-payload": (
        lambda d: _replace_line(
            d, "latency.hlog", 8, (d / "latency.hlog").read_text().splitlines()[8][:60] + "!!!garbage!!!"
        ),
        "latency.hlog:9: not a valid interval line",
    ),
}
"""Problems of the histogram log: fatal for what reads histograms (HTML, compare), not for the text report."""


def _invoke(*args: object) -> tuple[Result, float]:
    started_s = time.process_time()
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result, time.process_time() - started_s


def _one_clear_line(result: Result, message: str) -> None:
    assert result.exit_code == ExitCode.NOT_COMPARABLE, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert message in lines[0]


def _files(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}


@pytest.mark.parametrize("name", list(SUMMARY_CASES))
def test_a_broken_run_directory_is_one_clear_line_and_exit_5(name: str, tmp_path: Path) -> None:
    mutate, message = SUMMARY_CASES[name]
    run_dir = fixture_copy("mixed", tmp_path)
    mutate(run_dir)
    before = _files(tmp_path)
    for args in (
        ("report", run_dir),
        ("report", run_dir, "-f", "html,json,csv,markdown,junit", "--out", tmp_path / "out"),
        ("report", run_dir, "--reevaluate", "--stdout"),
        ("compare", run_dir, run_dir, "--json", tmp_path / "c.json"),
    ):
        result, cpu_s = _invoke(*args)
        _one_clear_line(result, message)
        assert cpu_s < CPU_BOUND_S
    assert _files(tmp_path) == before  # nothing written, in the run directory or elsewhere


@pytest.mark.parametrize("name", list(HLOG_CASES))
def test_a_broken_interval_log_fails_what_reads_histograms_only(name: str, tmp_path: Path) -> None:
    mutate, message = HLOG_CASES[name]
    run_dir = fixture_copy("mixed", tmp_path)
    mutate(run_dir)
    result, cpu_s = _invoke("report", run_dir, "-f", "html")
    _one_clear_line(result, message)
    assert cpu_s < CPU_BOUND_S
    assert not (run_dir / "report.html").exists()
    # compare judges one value per run from summary.json (issue 12), so a broken interval log does not stop it
    compared, _ = _invoke("compare", run_dir, run_dir)
    assert compared.exit_code == ExitCode.OK, compared.output
    text, _ = _invoke("report", run_dir, "--stdout")
    assert text.exit_code == ExitCode.OK, text.output
    assert text.stdout.startswith("tritonload run mixed: completed")


def test_a_run_without_interval_log_still_renders_and_says_why_it_has_no_plots(tmp_path: Path) -> None:
    run_dir = fixture_copy("mixed", tmp_path)
    (run_dir / "latency.hlog").unlink()
    compared, _ = _invoke("compare", run_dir, run_dir)
    assert compared.exit_code == ExitCode.OK, compared.output  # compare reads summary.json values only
    result, _ = _invoke("report", run_dir, "-f", "html")
    assert result.exit_code == ExitCode.OK, result.output
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert page.count("The run wrote no latency.hlog, so there is no latency to plot.") == 2
    assert '<a href="latency.hlog">' not in page
    assert '<a href="summary.json">' in page


def test_a_hostile_scenario_yaml_in_a_run_is_refused_not_expanded(tmp_path: Path) -> None:
    run_dir = fixture_copy("mixed", tmp_path)
    _bomb_scenario(run_dir)
    result, cpu_s = _invoke("report", run_dir, "--reevaluate", "--stdout")
    assert cpu_s < CPU_BOUND_S
    assert "Traceback" not in result.output
    assert (
        f"warning: SLOs of {run_dir / 'scenario.yaml'} not evaluated: scenario.yaml is refused: "
        "expands to more than 100000 values through aliases (an alias bomb?)" in result.stderr
    )


def test_torn_last_lines_are_left_out_and_the_rest_stays_readable(tmp_path: Path) -> None:
    intact = load_run(fixture_copy("mixed", tmp_path / "intact"))
    run_dir = fixture_copy("mixed", tmp_path / "torn")
    for name, keep in (("latency.hlog", 40), ("intervals.jsonl", 25), ("server-stats.jsonl", 25)):
        text = (run_dir / name).read_text(encoding="utf-8")
        last_start = text.rstrip("\n").rfind("\n") + 1
        (run_dir / name).write_text(text[: last_start + keep], encoding="utf-8")  # the last line cut short
    torn = load_run(run_dir)
    assert torn.intervals == intact.intervals[:-1]
    assert torn.server_stats == intact.server_stats[:-1]
    intact_lines = len(intact.interval_histograms())
    assert len(torn.interval_histograms()) == intact_lines - 1
    result, _ = _invoke("compare", run_dir, run_dir)
    assert result.exit_code == ExitCode.OK, result.output

"""Acceptance with real runs against a real Triton: SLO gate, JUnit, baseline comparison, HTML in Chromium.

Three closed-loop runs against the session server's ``Sleep`` model (20 ms, 20 ms and 24 ms) run
*at the same time*, as an A/B benchmark should on a shared machine: whatever else the machine does
(other test suites on these 2 cores) then disturbs all of them alike instead of one of them. The
quickstart example's HTML report is opened in headless Chromium (Debian's ``chromium``;
``scripts/test`` installs it when missing).
"""

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from loadtest.cli import main
from loadtest.embedded import EmbeddedTriton
from loadtest.exit_codes import ExitCode

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]
CONSOLE_LINE = re.compile(r":CONSOLE[:(\]]")


def tritonload(*args: str, timeout_s: float = 90) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "loadtest", *args]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout_s, cwd=ROOT)


SLOWER = ["--set", "traffic[0].parameters.latency_ms=24"]


def _scenario(path: Path, server: EmbeddedTriton) -> Path:
    path.write_text(
        f"""
version: 1
name: sleep-gate
targets:
  sleep: {{url: "{server.http_url}", model: Sleep, timeouts: {{inference_s: 5}}}}
payloads:
  one: {{inputs: {{INPUT: {{dtype: float32, shape: [4], generator: zeros}}}}}}
traffic:
  - name: sleep
    pattern: sync
    target: sleep
    payload: one
    parameters: {{latency_ms: 20}}
    slos: ["p99 latency < 5ms"]
load: {{kind: closed, users: 2}}
recording: {{interval_s: 0.5}}
warmup_s: 1
duration_s: 12
slos: ["error_rate < 1%", "p99.99 latency < 1s"]
"""
    )
    return path


def run_together(scenario: Path, runs: dict[str, list[str]], work: Path) -> dict[str, int]:
    """Start one ``tritonload run`` per entry at once; wait for all; their exit codes by name."""
    processes = {}
    for name, extra in runs.items():
        command = [sys.executable, "-m", "loadtest", "run", str(scenario), *extra, "--out", str(work / name), "-q"]
        command += ["--format", "text,junit"]
        processes[name] = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    codes = {}
    for name, process in processes.items():
        _, stderr = process.communicate(timeout=90)
        assert "Traceback" not in stderr, stderr[-3000:]
        codes[name] = process.returncode
    return codes


@dataclass
class SleepRuns:
    work: Path
    scenario: Path
    exit_codes: dict[str, int]


@pytest.fixture(scope="module")
def sleep_runs(triton_server: EmbeddedTriton, tmp_path_factory: pytest.TempPathFactory) -> SleepRuns:
    """``baseline`` and ``same`` at 20 ms, ``slower`` at 24 ms (the same scenario with one ``--set``)."""
    work = tmp_path_factory.mktemp("sleep-runs")
    scenario = _scenario(work / "sleep.yaml", triton_server)
    codes = run_together(scenario, {"baseline": [], "same": [], "slower": SLOWER}, work)
    return SleepRuns(work, scenario, codes)


def compare_rows(baseline: Path, candidate: Path, *options: str) -> tuple[int, str, dict[tuple[str, str], Any]]:
    report = baseline.parent / f"{baseline.name}-vs-{candidate.name}.json"
    result = CliRunner().invoke(main, ["compare", str(baseline), str(candidate), "--json", str(report), *options])
    rows = json.loads(report.read_text())["rows"] if report.exists() else []
    return result.exit_code, result.output, {(r["metric"], r["statistic"]): r for r in rows}


@pytest.mark.timeout(180)
def test_a_breached_slo_exits_3_with_one_failing_junit_case(sleep_runs: SleepRuns) -> None:
    assert sleep_runs.exit_codes == {"baseline": 3, "same": 3, "slower": 3}
    suite = ET.parse(sleep_runs.work / "baseline" / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [case.get("name") for case in cases] == ["error_rate < 1%", "p99.99 latency < 1s", "p99 latency < 5ms"]
    assert [case.find("failure") is not None for case in cases] == [False, False, True]
    assert suite.get("failures") == "1"
    slos = json.loads((sleep_runs.work / "baseline" / "summary.json").read_text())["slos"]
    assert [(s["scope"], s["passed"]) for s in slos] == [("overall", True), ("overall", True), ("sleep", False)]
    assert slos[1]["measured"] >= 20_000  # p99.99 is not in the summary: computed from latency.hlog
    assert slos[2]["measured"] >= 20_000


@pytest.mark.timeout(180)
def test_compare_two_runs_at_20ms_finds_no_regression(sleep_runs: SleepRuns) -> None:
    code, output, rows = compare_rows(sleep_runs.work / "baseline", sleep_runs.work / "same")
    assert code == ExitCode.OK, output
    assert "✅ no regression" in output
    assert rows[("latency", "p50")]["verdict"] == "unchanged"


@pytest.mark.timeout(300)
def test_compare_20ms_with_24ms_flags_p50_and_p99(sleep_runs: SleepRuns) -> None:
    work = sleep_runs.work
    # The 24 ms run changed the scenario (a request parameter): not comparable unless forced.
    code, output, _ = compare_rows(work / "baseline", work / "slower")
    assert code == ExitCode.NOT_COMPARABLE
    assert "scenario hash differs" in output
    code, output, rows = compare_rows(work / "baseline", work / "slower", "--force")
    assert code == ExitCode.REGRESSION, output
    assert rows[("latency", "p50")]["verdict"] == "regressed"
    assert 3_000 <= rows[("latency", "p50")]["change"] <= 5_000
    # A run disturbed by the rest of this shared machine (other test suites on its 2 cores) widens
    # the p99 interval until it straddles the tolerance: "inconclusive", an honest verdict. Such a
    # pair is measured again, at most twice; every pair must still show exit 4 and p50 regressed.
    verdicts = [_brief(rows[("latency", "p99")])]
    for attempt in (2, 3):
        if rows[("latency", "p99")]["verdict"] == "regressed":
            break
        baseline, slower = f"baseline-{attempt}", f"slower-{attempt}"
        codes = run_together(sleep_runs.scenario, {baseline: [], slower: SLOWER}, work)
        assert codes == {baseline: 3, slower: 3}
        code, output, rows = compare_rows(work / baseline, work / slower, "--force")
        assert code == ExitCode.REGRESSION, output
        assert rows[("latency", "p50")]["verdict"] == "regressed"
        verdicts.append(_brief(rows[("latency", "p99")]))
    assert rows[("latency", "p99")]["verdict"] == "regressed", verdicts


def _brief(row: dict[str, Any]) -> str:
    keys = ("baseline", "candidate", "change", "ci_low", "ci_high", "allowed")
    return f"{row['verdict']}: " + ", ".join(f"{k} {row[k]:.0f}" for k in keys)


def _chromium(url: str, screenshot: Path, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM.exists(), "Debian's chromium is missing: scripts/test installs it (apt-get install chromium)"
    command = [
        str(CHROMIUM),
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        f"--screenshot={screenshot}",
        "--window-size=1280,2000",
        url,
    ]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)


@pytest.mark.timeout(120)
def test_chromium_reports_console_errors_on_a_broken_page(tmp_path: Path) -> None:
    """Control for the test below: the console capture does see errors."""
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>console.error('boom'); missingFunction();</script></body></html>")
    result = _chromium(page.as_uri(), tmp_path / "broken.png", tmp_path / "profile")
    console = [line for line in result.stderr.splitlines() if CONSOLE_LINE.search(line)]
    assert any("boom" in line for line in console), result.stderr[-2000:]
    assert any("missingFunction" in line for line in console)


@pytest.mark.timeout(180)
def test_the_quickstart_html_report_renders_in_chromium_with_visible_plots(tmp_path: Path) -> None:
    run_dir = tmp_path / "quickstart"
    result = tritonload(
        "run", "scenarios/quickstart.yaml", "--set", "duration_s=3", "--set", "warmup_s=1", "--out", str(run_dir), "-q"
    )
    assert result.returncode == ExitCode.OK, result.stderr[-3000:]
    report = run_dir / "report.html"
    assert report.stat().st_size > 0
    screenshot = tmp_path / "quickstart-report.png"
    browser = _chromium(report.as_uri(), screenshot, tmp_path / "profile")
    assert browser.returncode == 0, browser.stderr[-2000:]
    console = [line for line in browser.stderr.splitlines() if CONSOLE_LINE.search(line)]
    assert console == []
    with Image.open(screenshot) as image:
        assert image.size == (1280, 2000)
        pixels = np.asarray(image.convert("RGB"), dtype=np.int32).reshape(-1, 3)
    non_white = int((pixels.sum(axis=1) < 700).sum())
    assert non_white > 0.03 * len(pixels), f"only {non_white} non-white pixels in {screenshot}"
    # matplotlib's first two line colours (#1f77b4 blue, #ff7f0e orange): the plots' lines are drawn
    blue = int((np.abs(pixels - (31, 119, 180)).max(axis=1) < 30).sum())
    orange = int((np.abs(pixels - (255, 127, 14)).max(axis=1) < 30).sum())
    assert blue > 200 and orange > 200, (blue, orange, screenshot)

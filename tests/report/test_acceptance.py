"""Acceptance with real runs against a real Triton: SLO gate, JUnit, baseline comparison, HTML in Chromium.

Three run sets of 6 short closed-loop runs against the session server's ``Sleep`` model (200 ms,
200 ms and 240 ms) run *at the same time*: whatever else the machine does (other test suites on
these 2 cores) then disturbs all of them alike instead of one of them. The
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


SLOWER = ["--set", "traffic[0].parameters.latency_ms=240"]
REPEATS = 6


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
    parameters: {{latency_ms: 200}}
    slos: ["p99 latency < 5ms"]
load: {{kind: closed, users: 8, spawn_rate: 100}}
recording: {{interval_s: 0.25}}
warmup_s: 0.25
duration_s: 1
slos: ["error_rate < 1%", "p99.99 latency < 5s"]
"""
    )
    return path


def run_together(scenario: Path, runs: dict[str, list[str]], work: Path) -> dict[str, int]:
    """Start one ``tritonload run --repeat`` per entry at once; wait for all; their exit codes by name."""
    processes = {}
    for name, extra in runs.items():
        command = [sys.executable, "-m", "loadtest", "run", str(scenario), *extra, "--out", str(work / name), "-q"]
        command += ["--repeat", str(REPEATS), "--format", "text,junit"]
        processes[name] = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    codes = {}
    for name, process in processes.items():
        _, stderr = process.communicate(timeout=150)
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
    """Run sets of 6: ``baseline`` and ``same`` at 200 ms, ``slower`` at 240 ms (one ``--set``), measured together.

    The three sets start together and their runs last alike, so run i of each set runs next to run i
    of the others: ``compare --paired`` judges them as pairs, and the machine's noise falls on both
    sides of each pair. ``Sleep`` at 200 ms rather than 20 ms: the same +20% change, but the
    scheduling delays of this shared 2-core machine (tens of ms under load) stay small next to it.
    """
    work = tmp_path_factory.mktemp("sleep-runs")
    scenario = _scenario(work / "sleep.yaml", triton_server)
    codes = run_together(scenario, {"baseline": [], "same": [], "slower": SLOWER}, work)
    return SleepRuns(work, scenario, codes)


def compare_rows(baseline: Path, candidate: Path, *options: str) -> tuple[int, str, dict[tuple[str, str], Any]]:
    report = baseline.parent / f"{baseline.name}-vs-{candidate.name}.json"
    result = CliRunner().invoke(main, ["compare", str(baseline), str(candidate), "--json", str(report), *options])
    rows = json.loads(report.read_text())["rows"] if report.exists() else []
    return result.exit_code, result.output, {(r["metric"], r["statistic"]): r for r in rows}


@pytest.mark.serial  # sleep_runs: paired 200/240 ms run sets (flagged "no regression" at load 12)
@pytest.mark.timeout(240)
def test_a_breached_slo_exits_3_with_one_failing_junit_case(sleep_runs: SleepRuns) -> None:
    assert sleep_runs.exit_codes == {"baseline": 3, "same": 3, "slower": 3}  # the worst of each set's repeats
    suite = ET.parse(sleep_runs.work / "baseline" / "r01" / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [case.get("name") for case in cases] == ["error_rate < 1%", "p99.99 latency < 5s", "p99 latency < 5ms"]
    assert [case.find("failure") is not None for case in cases] == [False, False, True]
    assert suite.get("failures") == "1"
    slos = json.loads((sleep_runs.work / "baseline" / "r01" / "summary.json").read_text())["slos"]
    assert [(s["scope"], s["passed"]) for s in slos] == [("overall", True), ("overall", True), ("sleep", False)]
    assert slos[1]["measured"] >= 200_000  # p99.99 is not in the summary: computed from latency.hlog
    assert slos[2]["measured"] >= 200_000


@pytest.mark.serial  # sleep_runs: paired 200/240 ms run sets (flagged "no regression" at load 12)
@pytest.mark.timeout(240)
def test_compare_two_run_sets_at_200ms_finds_no_regression(sleep_runs: SleepRuns) -> None:
    for paired in ([], ["--paired"]):
        code, output, rows = compare_rows(sleep_runs.work / "baseline", sleep_runs.work / "same", *paired)
        assert code == ExitCode.OK, output
        assert "✅ no regression" in output
        assert rows[("latency", "p50")]["verdict"] in ("unchanged", "inconclusive"), output


@pytest.mark.serial  # sleep_runs: paired 200/240 ms run sets (flagged "no regression" at load 12)
@pytest.mark.timeout(240)
def test_compare_200ms_with_240ms_flags_p50_and_says_what_p99_needs(sleep_runs: SleepRuns) -> None:
    work = sleep_runs.work
    # The 240 ms sets changed the scenario (a request parameter): not comparable unless forced.
    code, output, _ = compare_rows(work / "baseline", work / "slower")
    assert code == ExitCode.NOT_COMPARABLE
    assert "scenario hash differs" in output
    code, output, rows = compare_rows(work / "baseline", work / "slower", "--force", "--paired")
    assert code == ExitCode.REGRESSION, output
    p50 = rows[("latency", "p50")]
    assert p50["verdict"] == "regressed" and p50["method"] == "paired", p50["reason"]
    assert 0.10 < p50["relative_change"] < 0.40  # +40 ms on ~205 ms: about +20%, give or take the load
    # Runs of ~40 requests cannot show a p99 (1,000 samples per run put 10 beyond it): the verdict
    # says so, whatever the machine's load, instead of a verdict that depends on it.
    p99 = rows[("latency", "p99")]
    assert p99["verdict"] == "inconclusive"
    assert "samples beyond p99 per run: needs ≥ 10 (≥ 1,000 samples/run" in p99["reason"]
    assert all(row["verdict"] != "improved" for row in rows.values())


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
        "run",
        "scenarios/quickstart.yaml",
        "--set",
        "duration_s=2",
        "--set",
        "warmup_s=0.5",
        "--out",
        str(run_dir),
        "-q",
    )
    # The run must complete; its SLOs may breach on a box shared with other test workers (exit 3, seen once in
    # a full run), and the report is written either way.
    assert result.returncode in (ExitCode.OK, ExitCode.SLO_BREACHED), result.stderr[-3000:]
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

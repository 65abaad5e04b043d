"""The gate's commands end to end against a real Triton: run --repeat, Ctrl-C, ab, calibrate.

Short runs on the ``Sleep`` model. ``ab`` compares 200 ms with 240 ms: the +20% of the issue's
20 vs 24 ms, at a scale where the scheduling delays of this shared machine (measured: tens of ms
per request in some 1 s chunks at load 8-10) stay small; paired chunk differences then lie within
+19% to +25% (measured at load 8), so the paired interval clears the 5% tolerance by a wide margin.
Tail percentiles of such short chunks are inconclusive (too few samples) and are not asserted.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from loadtest.embedded import EmbeddedTriton
from loadtest.exit_codes import ExitCode

ROOT = Path(__file__).resolve().parents[2]


def tritonload(*args: object, timeout_s: float = 150) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "loadtest", *(str(a) for a in args)]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout_s, cwd=ROOT)


def _sleep_scenario(path: Path, target: str, duration_s: float, latency_ms: int = 20) -> Path:
    path.write_text(
        f"""
version: 1
name: gate
embedded: {{models: [Sleep], model_parameters: {{Sleep: {{latency_ms: {latency_ms}}}}}}}
targets:
  sleep: {target}
payloads:
  one: {{inputs: {{INPUT: {{dtype: float32, shape: [4], generator: zeros}}}}}}
traffic:
  - {{name: sleep, pattern: sync, target: sleep, payload: one, parameters: {{latency_ms: {latency_ms}}}}}
load: {{kind: closed, users: 16, spawn_rate: 100}}
recording: {{interval_s: 0.25}}
warmup_s: 0.25
duration_s: {duration_s}
"""
    )
    return path


def _on(server: EmbeddedTriton) -> str:
    return f'{{url: "{server.http_url}", model: Sleep, timeouts: {{inference_s: 5}}}}'


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.mark.timeout(120)
def test_run_repeat_leaves_a_run_set_that_compare_and_report_read(
    triton_server: EmbeddedTriton, tmp_path: Path
) -> None:
    scenario = _sleep_scenario(tmp_path / "s.yaml", _on(triton_server), 1)
    result = tritonload("run", scenario, "--repeat", 2, "--out", tmp_path / "set", "-q", "--format", "json")
    assert result.returncode == ExitCode.OK, result.stderr[-3000:]
    assert "repeat 1/2" in result.stderr and "repeat 2/2" in result.stderr
    index = _json(tmp_path / "set" / "runset.json")
    assert (index["status"], index["exit_code"], [r["dir"] for r in index["runs"]]) == ("completed", 0, ["r01", "r02"])
    for run in ("r01", "r02"):
        assert _json(tmp_path / "set" / run / "summary.json")["complete"] is True
        assert (tmp_path / "set" / run / "report.json").is_file()
    assert "spread (CV)" in result.stdout and f"run set: {tmp_path / 'set'}" in result.stdout
    same = tritonload("compare", tmp_path / "set", tmp_path / "set")
    assert same.returncode == ExitCode.OK and "0 regressed, 0 improved" in same.stdout


@pytest.mark.timeout(120)
def test_ctrl_c_in_a_repeat_keeps_the_finished_ones_and_exits_130(
    triton_server: EmbeddedTriton, tmp_path: Path
) -> None:
    scenario = _sleep_scenario(tmp_path / "s.yaml", _on(triton_server), 2)
    out = tmp_path / "set"
    command = [sys.executable, "-m", "loadtest", "run", str(scenario), "--repeat", "3", "--out", str(out), "-q"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out / "r02" / "intervals.jsonl").exists():
        time.sleep(0.2)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == ExitCode.INTERRUPTED, stderr[-3000:]
    assert "Traceback" not in stderr
    index = _json(out / "runset.json")
    assert (index["status"], index["exit_code"]) == ("interrupted", 130)
    assert [(r["dir"], r["status"]) for r in index["runs"]] == [("r01", "completed"), ("r02", "interrupted")]
    assert not (out / "r03").exists()
    assert _json(out / "r02" / "summary.json")["traffic"]["sleep"]["ok"] > 0


@pytest.mark.serial  # +20% found in 8 paired chunks of 1 s (inconclusive at load 12)
@pytest.mark.timeout(180)
def test_ab_of_200_and_240_ms_on_two_embedded_servers_finds_the_regression(tmp_path: Path) -> None:
    # 200 vs 240 ms: the +20% of Sleep 20 vs 24 ms, on a scale where this shared machine's scheduling
    # delays (tens of ms under load) stay small: paired chunk differences then agree within a few %.
    scenario = _sleep_scenario(tmp_path / "s.yaml", "{embedded: true, protocol: http, model: Sleep}", 1, 200)
    scenario.write_text(scenario.read_text().replace(", parameters: {latency_ms: 200}", ""))  # the servers decide
    out = tmp_path / "ab"
    result = tritonload(
        "ab",
        scenario,
        "--candidate",
        "embedded:Sleep.latency_ms=240",
        "--chunks",
        8,
        "--chunk-s",
        1,
        "--chunk-warmup-s",
        0.25,
        "--out",
        out,
        "-q",
    )
    assert result.returncode == ExitCode.REGRESSION, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    comparison = _json(out / "comparison.json")
    assert comparison["paired"] is True and comparison["baseline_runs"] == comparison["candidate_runs"] == 8
    rows = {(r["metric"], r["statistic"]): r for r in comparison["rows"]}
    p50 = rows[("latency", "p50")]
    assert p50["verdict"] == "regressed" and p50["method"] == "paired", p50["reason"]
    assert 0.14 < p50["relative_change"] < 0.26
    assert all(row["verdict"] != "improved" for row in comparison["rows"])
    assert "99% CI" in result.stdout and (out / "comparison.md").read_text() in result.stdout
    for side in ("baseline", "candidate"):
        index = _json(out / side / "runset.json")
        assert (index["kind"], len(index["runs"]), index["status"]) == (f"ab-{side}", 8, "completed")
        assert (out / side / "tritonserver.log").is_file()
    assert _json(out / "candidate" / "runset.json")["target"] == "embedded:Sleep.latency_ms=240"


@pytest.mark.timeout(120)
def test_calibrate_measures_the_noise_and_writes_calibration_json(
    triton_server: EmbeddedTriton, tmp_path: Path
) -> None:
    scenario = _sleep_scenario(tmp_path / "s.yaml", _on(triton_server), 1)
    result = tritonload("calibrate", scenario, "--repeat", 2, "--out", tmp_path / "cal", "-q")
    assert result.returncode == ExitCode.OK, result.stderr[-3000:]
    calibration = _json(tmp_path / "cal" / "calibration.json")
    assert calibration["calibration_version"] == 1 and calibration["repeats"] == 2
    assert {"p50", "throughput", "error_rate"} <= set(calibration["tolerances"])
    assert calibration["noise_floor"]["p50"] > 0
    assert next(s["statistic"] for s in calibration["statistics"] if s["metric"] == "latency") == "p50"
    assert "compare --calibration uses the noise" in result.stdout and "--tolerance p50=" in result.stdout
    for side in ("a", "b"):
        assert len(_json(tmp_path / "cal" / side / "runset.json")["runs"]) == 2

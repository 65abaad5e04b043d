"""The raw tritonclient tool of the perf_analyzer benchmark (tests/benchmarks/_raw_client.py): its pure
schedule and percentile rules, and short runs as its own process against the session's embedded server."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from loadtest.embedded import EmbeddedTriton
from loadtest.engine.rules import LATE_THRESHOLD_NS

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "_raw_client.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_raw_client", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_raw_client"] = module  # dataclasses resolve their module through sys.modules
    spec.loader.exec_module(module)
    return module


raw = _load()


def test_open_loop_slots_are_constant_arrivals_dealt_round_robin() -> None:
    slots = raw.open_loop_slots(1000.0, 3, 5_000_000, 5_000_000 + 10_000_000)  # 10 ms at 1000/s
    assert slots == [
        [5_000_000, 8_000_000, 11_000_000, 14_000_000],
        [6_000_000, 9_000_000, 12_000_000],
        [7_000_000, 10_000_000, 13_000_000],
    ]


def test_nearest_rank_percentiles() -> None:
    values = list(range(1, 101))
    assert raw.percentile(values, 50) == 50
    assert raw.percentile(values, 99) == 99
    assert raw.percentile(values, 100) == 100
    assert raw.percentile([7], 99) == 7


def test_late_rule_is_tritonloads() -> None:
    assert raw.LATE_THRESHOLD_NS == LATE_THRESHOLD_NS


def _run(server: EmbeddedTriton, protocol: str, tmp_path: Path, *load: str) -> tuple[int, dict, str]:
    port = server.http_port if protocol == "http" else server.grpc_port
    out = tmp_path / f"{protocol}.json"
    command = [sys.executable, str(SCRIPT), "--url", f"127.0.0.1:{port}", "--protocol", protocol]
    command += ["--model", "Linear", "--input", "INPUT_1", "--shape", "1,2", *load, "--json", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    return done.returncode, json.loads(out.read_text()) if out.exists() else {}, done.stderr


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_closed_loop_measures_after_the_warmup(triton_server: EmbeddedTriton, protocol: str, tmp_path: Path) -> None:
    code, result, stderr = _run(
        triton_server, protocol, tmp_path, "--concurrency", "2", "--seconds", "1", "--warmup", "0.5"
    )
    assert code == 0, stderr
    assert result["errors"] == 0 and result["first_error"] is None
    assert result["mode"] == "closed" and result["threads"] == 2 and result["protocol"] == protocol
    assert result["requests"] >= 1
    assert result["requests_with_warmup"] > result["requests"]
    assert result["throughput_rps"] == pytest.approx(result["requests"] / 1.0)
    assert 0 < result["p50_us"] <= result["p99_us"]
    assert result["late_percent"] is None and result["late_sends"] == 0


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_open_loop_sends_or_skips_every_slot(triton_server: EmbeddedTriton, protocol: str, tmp_path: Path) -> None:
    code, result, stderr = _run(
        triton_server, protocol, tmp_path, "--rate", "200", "--max-in-flight", "4", "--seconds", "1", "--warmup", "0.5"
    )
    assert code == 0, stderr
    assert result["errors"] == 0
    assert result["mode"] == "open" and result["threads"] == 4 and result["rate_rps"] == 200
    # 300 slots in 1.5 s; the measured ones are those due in the last second, late warm-up sends excluded.
    assert result["requests_with_warmup"] + result["unsent_slots"] == math.ceil(200 * 1.5)
    assert 1 <= result["requests"] <= 201
    assert result["requests_with_warmup"] > result["requests"]
    assert result["throughput_rps"] == pytest.approx(result["requests"] / 1.0)
    assert 0 <= result["late_sends"] <= result["requests"]
    assert result["late_percent"] == pytest.approx(100.0 * result["late_sends"] / result["requests"])
    assert "5 ms" in result["late_rule"]
    assert 0 < result["p50_us"] <= result["p99_us"]


def test_failed_requests_are_counted_and_exit_1(triton_server: EmbeddedTriton, tmp_path: Path) -> None:
    port = triton_server.grpc_port
    out = tmp_path / "missing.json"
    command = [sys.executable, str(SCRIPT), "--url", f"127.0.0.1:{port}", "--protocol", "grpc", "--model", "NoSuch"]
    command += ["--input", "INPUT_1", "--shape", "1,2", "--concurrency", "1", "--seconds", "0.3", "--warmup", "0"]
    done = subprocess.run([*command, "--json", str(out)], capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 1
    result = json.loads(out.read_text())
    assert result["requests"] == 0 and result["errors"] >= 1
    assert "NoSuch" in result["first_error"]
    assert result["p50_us"] is None


def test_bad_arguments_exit_2() -> None:
    command = [sys.executable, str(SCRIPT), "--url", "127.0.0.1:1", "--protocol", "grpc", "--model", "m"]
    command += ["--input", "x", "--shape", "1,2", "--rate", "0", "--seconds", "1"]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--rate must be positive" in done.stderr

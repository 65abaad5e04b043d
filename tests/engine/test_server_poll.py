"""The pure parts of server polling: Prometheus text, statistics counts, config hashes. No server."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from loadtest.engine.server_poll import config_hash, parse_metrics, success_count

METRICS = Path(__file__).resolve().parents[1] / "fixtures" / "metrics"
GPU_A = 'gpu_uuid="GPU-0a1b2c3d-1111-2222-3333-444455556666"'
GPU_B = 'gpu_uuid="GPU-9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff"'


def test_a_recorded_cpu_only_page_keeps_every_inference_cpu_and_pinned_memory_series() -> None:
    # Recorded from the embedded Triton (nvidia-pytriton 0.7.0) after five Linear requests of batch 2.
    values = parse_metrics((METRICS / "triton-2.51-cpu.prom").read_text())
    assert len(values) == 18
    assert values['nv_inference_request_success{model="Linear",version="1"}'] == 5.0
    assert values['nv_inference_count{model="Linear",version="1"}'] == 10.0
    assert values['nv_inference_exec_count{model="Linear",version="1"}'] == 5.0
    failures = {key: value for key, value in values.items() if key.startswith("nv_inference_request_failure")}
    assert failures == {
        f'nv_inference_request_failure{{model="Linear",reason="{reason}",version="1"}}': 0.0
        for reason in ("OTHER", "BACKEND", "CANCELED", "REJECTED")
    }
    assert values['nv_inference_compute_infer_duration_us{model="Linear",version="1"}'] == 274071.0
    assert values["nv_pinned_memory_pool_total_bytes"] == 268435456.0
    assert values["nv_cpu_utilization"] == 1.0
    assert values["nv_cpu_memory_total_bytes"] == 25276063744.0
    assert values["nv_cpu_memory_used_bytes"] == 1867300864.0
    assert not [key for key in values if key.startswith("#") or " " in key]


def test_a_gpu_page_keeps_utilisation_memory_power_and_energy_per_gpu() -> None:
    values = parse_metrics((METRICS / "gpu.prom").read_text())
    assert values == {
        f"nv_gpu_utilization{{{GPU_A}}}": 0.37,
        f"nv_gpu_utilization{{{GPU_B}}}": 0.0,
        f"nv_gpu_memory_total_bytes{{{GPU_A}}}": 85899345920.0,
        f"nv_gpu_memory_total_bytes{{{GPU_B}}}": 85899345920.0,
        f"nv_gpu_memory_used_bytes{{{GPU_A}}}": 21474836480.0,
        f"nv_gpu_memory_used_bytes{{{GPU_B}}}": 524288000.0,
        f"nv_gpu_power_usage{{{GPU_A}}}": 212.493,
        f"nv_gpu_power_usage{{{GPU_B}}}": 61.027,
        f"nv_gpu_power_limit{{{GPU_A}}}": 700.0,
        f"nv_gpu_power_limit{{{GPU_B}}}": 700.0,
        f"nv_energy_consumption{{{GPU_A}}}": 1843920.117,
        f"nv_energy_consumption{{{GPU_B}}}": 530118.004,
        'nv_inference_request_success{model="resnet50",version="1"}': 1024.0,
    }  # the response-cache family (nv_cache_*) and every comment line are left out


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("nv_cpu_utilization 0.25", {"nv_cpu_utilization": 0.25}),
        ("nv_cpu_memory_total_bytes 2.5e+10", {"nv_cpu_memory_total_bytes": 2.5e10}),
        ("nv_cpu_memory_used_bytes 1E3", {"nv_cpu_memory_used_bytes": 1000.0}),
        ('nv_gpu_power_usage{gpu_uuid="a"} -1', {'nv_gpu_power_usage{gpu_uuid="a"}': -1.0}),
        ('nv_gpu_utilization{gpu_uuid="a"} 0.5 1700000000000', {'nv_gpu_utilization{gpu_uuid="a"}': 0.5}),
        ('nv_gpu_utilization{gpu_uuid="a"}\t0.5', {'nv_gpu_utilization{gpu_uuid="a"}': 0.5}),
        (
            'nv_inference_count{model="my model",version="2"} 7',
            {'nv_inference_count{model="my model",version="2"}': 7.0},
        ),
        ("nv_energy_consumption{} 3", {"nv_energy_consumption{}": 3.0}),
        ("nv_pinned_memory_pool_used_bytes 0", {"nv_pinned_memory_pool_used_bytes": 0.0}),
        ("# HELP nv_gpu_utilization GPU utilization rate [0.0 - 1.0)", {}),
        ("# TYPE nv_gpu_utilization gauge", {}),
        ("process_cpu_seconds_total 12", {}),
        ("nv_cache_num_entries 3", {}),
        ("nv_gpu_utilization", {}),  # no value
        ('nv_gpu_utilization{gpu_uuid="a"}', {}),
        ("nv_cpu_utilization abc", {}),  # a word, not a number
        ("nv_cpu_utilization 1.2.3", {}),
        ("nv_cpu_utilization fast", {}),
        ("", {}),
    ],
)
def test_one_line(line: str, expected: dict[str, float]) -> None:
    assert parse_metrics(line) == expected


@pytest.mark.parametrize(
    ("value", "check"),
    [("NaN", math.isnan), ("+Inf", lambda v: v == math.inf), ("-Inf", lambda v: v == -math.inf)],
)
def test_nan_and_infinities_are_kept_as_floats(value: str, check: object) -> None:
    values = parse_metrics(f'nv_gpu_power_usage{{gpu_uuid="a"}} {value}\nnv_cpu_utilization 0.5\n')
    assert callable(check) and check(values['nv_gpu_power_usage{gpu_uuid="a"}'])
    assert values["nv_cpu_utilization"] == 0.5  # the line after still counts


def test_windows_line_ends_and_a_repeated_series_keep_the_last_value() -> None:
    text = "# HELP nv_cpu_utilization x\r\nnv_cpu_utilization 0.1\r\nnv_cpu_utilization 0.9\r\n"
    assert parse_metrics(text) == {"nv_cpu_utilization": 0.9}


def test_success_count_adds_every_version_and_tolerates_missing_parts() -> None:
    statistics = {
        "model_stats": [
            {"name": "m", "version": "1", "inference_stats": {"success": {"count": 3, "ns": 10}}},
            {"name": "m", "version": "2", "inference_stats": {"success": {"count": "4"}}},
            {"name": "m", "version": "3", "inference_stats": {}},
            {"name": "m", "version": "4"},
        ]
    }
    assert success_count(statistics) == 7
    assert success_count({}) == 0


def test_config_hash_ignores_key_order_and_sees_every_value() -> None:
    config = {"name": "Linear", "max_batch_size": 8, "input": [{"name": "x", "dims": [2]}]}
    reordered = {"input": [{"dims": [2], "name": "x"}], "max_batch_size": 8, "name": "Linear"}
    assert config_hash(config) == config_hash(reordered)
    assert config_hash(config).startswith("sha256:") and len(config_hash(config)) == len("sha256:") + 64
    assert config_hash({**config, "max_batch_size": 4}) != config_hash(config)

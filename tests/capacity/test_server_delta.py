"""A step's server section: statistics counters' increase and metrics, from recorded snapshots."""

from __future__ import annotations

from typing import Any

from loadtest.capacity.server_delta import stats_delta

LABEL = "Capacity@http://127.0.0.1:8000"


def _snapshot(
    t_s: float, success: int, queue_ns: int, infer_ns: int, metric: float, *, grpc: bool = False
) -> dict[str, Any]:
    def pair(count: int, ns: int) -> dict[str, Any]:
        return {"count": str(count), "ns": str(ns)} if grpc else {"count": count, "ns": ns}

    return {
        "t_s": t_s,
        "models": {
            LABEL: {
                "model_stats": [
                    {
                        "name": "Capacity",
                        "version": "1",
                        "inference_count": success,
                        "execution_count": success,
                        "inference_stats": {
                            "success": pair(success, infer_ns + queue_ns),
                            "queue": pair(success, queue_ns),
                            "compute_infer": pair(success, infer_ns),
                        },
                        "batch_stats": [{"batch_size": 1, "compute_infer": pair(success, infer_ns)}],
                    }
                ]
            }
        },
        "metrics": {"http://127.0.0.1:8002/metrics": {'nv_inference_pending_request_count{model="Capacity"}': metric}},
    }


def test_counters_become_their_increase_over_the_step() -> None:
    start = _snapshot(10.0, 100, 1_000, 2_000_000_000, 0.0)
    end = _snapshot(16.0, 1300, 5_000_000_000, 26_000_000_000, 12.0, grpc=True)
    section = stats_delta(start, end)
    assert section is not None
    model = section["models"][LABEL][0]
    assert model["inference_count"] == 1200
    assert model["inference_stats"]["queue"] == {"count": 1200, "ns": 4_999_999_000}
    assert model["inference_stats"]["compute_infer"] == {"count": 1200, "ns": 24_000_000_000}
    assert model["batch_stats"] == [{"batch_size": 1, "compute_infer": {"count": 1200, "ns": 24_000_000_000}}]
    assert section["metrics"] == {'nv_inference_pending_request_count{model="Capacity"}': 12.0}
    assert section["metrics_delta"] == {'nv_inference_pending_request_count{model="Capacity"}': 12.0}
    assert section["window_s"] == 6.0


def test_missing_end_or_failed_model() -> None:
    assert stats_delta(_snapshot(0, 1, 1, 1, 0), None) is None
    end = {"t_s": 1.0, "models": {LABEL: {"error": "connection refused"}}}
    assert stats_delta(None, end)["models"][LABEL] == {"error": "connection refused"}  # type: ignore[index]

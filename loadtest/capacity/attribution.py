"""Where a sweep step's time went on the server, and which resource saturated first.

Owns two things:

- reading one step's server record (``step["server"]``: the Triton statistics delta of the step per
  ``model@url`` label, and ``"metrics"``: the Prometheus page parsed by
  :func:`loadtest.engine.server_poll.parse_metrics`) into :class:`StepServer`: mean queue and compute
  times per request, executed batch sizes, pending requests, GPU utilisation, memory and power;
- the rule over a sweep's steps that names what saturated first (:func:`first_saturation`):
  the load generator, the GPU, or the server's queue.

Pure: takes the records already read; never polls a server, never renders.

The rules, checked on the steps in level order (the lowest level that saturates names the resource):

1. **generator**: the step's ``generator.saturated`` is true: the load generator could not send what
   the level asked for, so the step measured the generator, not the server.
2. **GPU**: the busiest GPU's ``nv_gpu_utilization`` is at least :data:`GPU_SATURATED_UTILIZATION`.
3. **server queue**: throughput has plateaued (it grew by less than :data:`PLATEAU_ELASTICITY` of
   the relative growth of the level; in open loop also: the step achieved less than
   :data:`RATE_SHORTFALL` of its offered rate, or never became stable, the sign of a queue that
   keeps growing) while the queue holds at least
   :data:`QUEUE_SHARE_SATURATED` of the server time of a request and that share grew by at least
   :data:`QUEUE_SHARE_GROWTH` since the lowest level.

A step can meet several; the first in this order is named (a saturated generator makes the step no
measurement at all; a busy GPU is why a queue grows).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loadtest.report._server import SERVER_PHASES, model_totals

GPU_SATURATED_UTILIZATION = 0.95
"""Utilisation (0..1) of the busiest GPU from which the GPU counts as saturated."""
QUEUE_SHARE_SATURATED = 1.0 / 3.0
"""Share of a request's server time spent queued from which the queue counts as a bottleneck
(requests wait at least half as long as they compute)."""
QUEUE_SHARE_GROWTH = 0.2
"""How much the queue's share must have grown since the lowest level (a queue that was always
there, e.g. a dynamic batcher's delay, is no sign of saturation)."""
PLATEAU_ELASTICITY = 0.5
"""Throughput has plateaued when its relative growth is below this fraction of the level's
relative growth from the previous level (doubling the users gave less than +50 % throughput)."""
RATE_SHORTFALL = 0.95
"""An open-loop step that achieved less than this fraction of its offered rate has plateaued."""

GENERATOR = "generator"
GPU = "GPU"
SERVER_QUEUE = "server queue"
NONE = "none"
RESOURCES: tuple[str, ...] = (GENERATOR, GPU, SERVER_QUEUE, NONE)
"""The verdicts of :func:`first_saturation`, in the order they are checked."""


@dataclass(frozen=True)
class GpuMetrics:
    """The GPUs' gauges at the step's metrics snapshot (only what the server exposed)."""

    gpus: int
    """GPUs on the page."""
    utilization_max: float | None
    """Utilisation (0..1) of the busiest GPU."""
    utilization_mean: float | None
    memory_used_bytes: float | None
    """Used memory summed over the GPUs."""
    memory_total_bytes: float | None
    power_w: float | None
    """Power draw summed over the GPUs (watts)."""

    @property
    def memory_fraction(self) -> float | None:
        """Used over total memory (None when either is missing)."""
        if self.memory_used_bytes is None or not self.memory_total_bytes:
            return None
        return self.memory_used_bytes / self.memory_total_bytes


@dataclass(frozen=True)
class StepServer:
    """One model's server-side view of one step."""

    label: str
    """The ``model@url`` label of the statistics."""
    model: str
    requests: int
    """Requests the model completed in the step."""
    phase_us: dict[str, float | None]
    """Mean µs per request in each of :data:`~loadtest.report._server.SERVER_PHASES` (None: no request)."""
    executions: int = 0
    inferences: int = 0
    batch_sizes: dict[int, int] = field(default_factory=dict)
    """Executed batch size → model executions of that size in the step (Triton's ``batch_stats``)."""
    pending_requests: float | None = None
    """``nv_inference_pending_request_count`` of the model at the snapshot."""
    gpu: GpuMetrics | None = None

    @property
    def server_us(self) -> float | None:
        """Mean server time of a request: queue plus compute input, infer and output."""
        values = [v for v in self.phase_us.values() if v is not None]
        return sum(values) if values else None

    @property
    def queue_share(self) -> float | None:
        """The queue's share of the server time (0..1)."""
        total, queue = self.server_us, self.phase_us.get("queue")
        if not total or queue is None:
            return None
        return queue / total

    @property
    def average_batch(self) -> float | None:
        """Batch rows per execution."""
        return self.inferences / self.executions if self.executions else None


@dataclass(frozen=True)
class Saturation:
    """What saturated first over a sweep, and at which step."""

    resource: str
    """One of :data:`RESOURCES`."""
    reason: str
    """One line for people: the numbers behind the verdict."""
    step_index: int | None = None
    level: float | None = None


def _stats_replies(server: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """``model@url`` → a statistics reply (``{"model_stats": [...]}``), whichever shape the step stored."""
    models = server.get("models")
    source = models if isinstance(models, Mapping) else server
    replies: dict[str, Mapping[str, Any]] = {}
    for label, value in source.items():
        if isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
            replies[str(label)] = {"model_stats": value}  # one delta per model version
            continue
        if label in ("metrics", "metrics_delta") or not isinstance(value, Mapping):
            continue
        if isinstance(value.get("model_stats"), list):
            replies[str(label)] = value
        elif isinstance(value.get("inference_stats"), Mapping):
            replies[str(label)] = {"model_stats": [value]}
    return replies


def flat_metrics(server: Mapping[str, Any]) -> dict[str, float]:
    """The step's parsed Prometheus series, merged when stored per metrics URL."""
    metrics = server.get("metrics")
    if not isinstance(metrics, Mapping):
        return {}
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, Mapping):
            flat.update({str(k): float(v) for k, v in value.items() if _is_number(v)})
        elif _is_number(value):
            flat[str(key)] = float(value)
    return flat


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _series(metrics: Mapping[str, float], name: str) -> dict[str, float]:
    """Every series of metric ``name``: labels text → value (a key may start with its page's URL and a space)."""
    found = {}
    for key, value in metrics.items():
        base, _, labels = key.partition("{")
        if base.rsplit(" ", 1)[-1] == name:
            found[labels.rstrip("}")] = value
    return found


def gpu_metrics(metrics: Mapping[str, float]) -> GpuMetrics | None:
    """The GPU gauges of a parsed metrics page; None on a server without GPU metrics."""
    utilization = list(_series(metrics, "nv_gpu_utilization").values())
    used = list(_series(metrics, "nv_gpu_memory_used_bytes").values())
    total = list(_series(metrics, "nv_gpu_memory_total_bytes").values())
    power = list(_series(metrics, "nv_gpu_power_usage").values())
    gpus = max(len(utilization), len(used), len(total), len(power))
    if gpus == 0:
        return None
    return GpuMetrics(
        gpus=gpus,
        utilization_max=max(utilization) if utilization else None,
        utilization_mean=sum(utilization) / len(utilization) if utilization else None,
        memory_used_bytes=sum(used) if used else None,
        memory_total_bytes=sum(total) if total else None,
        power_w=sum(power) if power else None,
    )


def pending_requests(metrics: Mapping[str, float], model: str) -> float | None:
    """``nv_inference_pending_request_count`` of ``model`` (summed over its versions)."""
    series = _series(metrics, "nv_inference_pending_request_count")
    values = [value for labels, value in series.items() if f'model="{model}"' in labels.split(",")]
    return sum(values) if values else None


def _batch_sizes(reply: Mapping[str, Any]) -> dict[int, int]:
    stats = (reply.get("model_stats") or [{}])[0]
    sizes: dict[int, int] = {}
    for entry in stats.get("batch_stats") or [] if isinstance(stats, Mapping) else []:
        if not isinstance(entry, Mapping):
            continue
        try:
            size = int(entry.get("batch_size", 0))
            count = int((entry.get("compute_infer") or {}).get("count", 0))
        except (TypeError, ValueError):
            continue
        if size > 0 and count > 0:
            sizes[size] = sizes.get(size, 0) + count
    return dict(sorted(sizes.items()))


def step_servers(step: Mapping[str, Any]) -> list[StepServer]:
    """Every model's server-side view of one step, the busiest model (most requests) first."""
    server = step.get("server")
    if not isinstance(server, Mapping):
        return []
    metrics = flat_metrics(server)
    gpu = gpu_metrics(metrics)
    views = []
    for label, reply in _stats_replies(server).items():
        try:
            view = _step_server(label, reply, metrics, gpu)
        except (AttributeError, TypeError, ValueError, IndexError):
            continue  # statistics of a shape Triton never sends: that model shows no server columns
        if view is not None:
            views.append(view)
    return sorted(views, key=lambda view: -view.requests)


def _step_server(
    label: str, reply: Mapping[str, Any], metrics: Mapping[str, float], gpu: GpuMetrics | None
) -> StepServer | None:
    totals = model_totals(reply)
    if totals is None:
        return None
    phase_us: dict[str, float | None] = {}
    for phase in SERVER_PHASES:
        count, spent_ns = totals["phases"][phase]
        phase_us[phase] = spent_ns / count / 1000.0 if count > 0 else None
    model = str(totals["name"] or label.split("@", 1)[0])
    return StepServer(
        label=label,
        model=model,
        requests=totals["requests"],
        phase_us=phase_us,
        executions=totals["executions"],
        inferences=totals["inferences"],
        batch_sizes=_batch_sizes(reply),
        pending_requests=pending_requests(metrics, model),
        gpu=gpu,
    )


def main_server(step: Mapping[str, Any]) -> StepServer | None:
    """The busiest model's view of the step (what the sweep loaded), or None without statistics."""
    servers = step_servers(step)
    return servers[0] if servers else None


def _number(value: Any) -> float | None:
    return float(value) if _is_number(value) else None


def _plateau(step: Mapping[str, Any], previous: Mapping[str, Any] | None, open_loop: bool) -> str | None:
    """Why the step's throughput counts as plateaued, or None."""
    level, achieved = _number(step.get("level")), _number(step.get("throughput_rps"))
    if level is None or achieved is None:
        return None
    if open_loop and level > 0 and achieved < RATE_SHORTFALL * level:
        return f"achieved {achieved:.1f} of {level:g} req/s offered"
    if open_loop and step.get("stable") is False:
        return f"{achieved:.1f} req/s achieved of {level:g} offered never became stable"
    if previous is None:
        return None
    prev_level, prev_achieved = _number(previous.get("level")), _number(previous.get("throughput_rps"))
    if not prev_level or not prev_achieved or level <= prev_level:
        return None
    elasticity = ((achieved - prev_achieved) / prev_achieved) / ((level - prev_level) / prev_level)
    if elasticity < PLATEAU_ELASTICITY:
        return f"throughput {prev_achieved:.1f} → {achieved:.1f} req/s while the level went {prev_level:g} → {level:g}"
    return None


def step_saturation(
    step: Mapping[str, Any],
    previous: Mapping[str, Any] | None,
    lowest: Mapping[str, Any] | None,
    open_loop: bool,
) -> tuple[str, str] | None:
    """(resource, reason) when ``step`` shows a saturated resource, else None.

    Args:
        step: the step record.
        previous: the step at the next lower level (None for the lowest).
        lowest: the step at the lowest level (the queue's baseline).
        open_loop: True for a rate sweep (the level is an offered arrival rate).
    """
    generator = step.get("generator")
    if isinstance(generator, Mapping) and generator.get("saturated"):
        return GENERATOR, str(generator.get("reason") or "the load generator saturated")
    server = main_server(step)
    gpu = server.gpu if server else None
    if gpu is not None and gpu.utilization_max is not None and gpu.utilization_max >= GPU_SATURATED_UTILIZATION:
        return GPU, f"GPU utilisation {gpu.utilization_max:.0%}"
    plateau = _plateau(step, previous, open_loop)
    share = server.queue_share if server else None
    if plateau is None or share is None or share < QUEUE_SHARE_SATURATED:
        return None
    base = main_server(lowest) if lowest is not None and lowest is not step else None
    base_share = (base.queue_share if base else None) or 0.0
    if share - base_share < QUEUE_SHARE_GROWTH:
        return None
    queue_us = server.phase_us.get("queue") if server else None
    return SERVER_QUEUE, (
        f"{plateau}; requests queued {(queue_us or 0) / 1000:.1f} ms ({share:.0%} of their server time, "
        f"{base_share:.0%} at the lowest level)"
    )


def ordered_steps(steps: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Steps by level (then by index: a confirming run after the first at that level)."""
    measured = [s for s in steps if _number(s.get("level")) is not None]
    return sorted(measured, key=lambda s: (float(s["level"]), int(s.get("index", 0) or 0)))


def step_saturations(steps: Sequence[Mapping[str, Any]], open_loop: bool) -> dict[int, tuple[str, str]]:
    """Step index → (resource, reason) for every step that shows a saturated resource."""
    ordered = ordered_steps(steps)
    lowest = ordered[0] if ordered else None
    found: dict[int, tuple[str, str]] = {}
    previous: Mapping[str, Any] | None = None
    for step in ordered:
        if previous is not None and _number(previous.get("level")) == _number(step.get("level")):
            compare_with = _previous_distinct(ordered, step)
        else:
            compare_with = previous
        verdict = step_saturation(step, compare_with, lowest, open_loop)
        if verdict is not None:
            found[int(step.get("index", 0) or 0)] = verdict
        previous = step
    return found


def _previous_distinct(ordered: Sequence[Mapping[str, Any]], step: Mapping[str, Any]) -> Mapping[str, Any] | None:
    lower = [s for s in ordered if float(s["level"]) < float(step["level"])]
    return lower[-1] if lower else None


def first_saturation(steps: Sequence[Mapping[str, Any]], open_loop: bool) -> Saturation:
    """What saturated first: the verdict of the lowest level that shows one, or ``none``."""
    verdicts = step_saturations(steps, open_loop)
    for step in ordered_steps(steps):
        index = int(step.get("index", 0) or 0)
        if index in verdicts:
            resource, reason = verdicts[index]
            return Saturation(resource, reason, index, float(step["level"]))
    return Saturation(NONE, "no step shows a saturated generator, GPU or server queue")

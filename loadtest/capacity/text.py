"""The text report of a sweep or a capacity search (``report.txt``, and what the CLI prints at the end).

Owns one renderer over the content of ``sweep.json`` / ``capacity.json``: a table of the steps (level,
achieved throughput, p50/p99, stable, verdict) and the answer. Pure: a dict in, text out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _ms(value: Any) -> str:
    return "-" if value is None else f"{float(value) / 1000:.2f}"


def render_text(data: Mapping[str, Any]) -> str:
    """The report as text (ends with a newline)."""
    unit = data.get("unit", "")
    title = "Capacity search" if data.get("kind") == "capacity" else "Sweep"
    lines = [f"{title}: {data.get('scenario')} ({data.get('variable')}, {unit}), run {data.get('run_id')}"]
    rule = data.get("stability") or {}
    lines.append(
        f"stability: last {rule.get('windows')} windows of {rule.get('window_s')} s within "
        f"±{rule.get('tolerance_pct')} % (at most {rule.get('max_windows')} windows)"
    )
    if data.get("slos"):
        lines.append("SLOs: " + "; ".join(data["slos"]))
    lines.append("")
    lines.append(
        f"{'step':>4} {'level':>10} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'stable':>7} {'verdict':>8}  note"
    )
    for step in data.get("steps", []):
        latency = step.get("latency_us") or {}
        verdict = {True: "pass", False: "FAIL", None: "-"}.get(step.get("passed"), "-")
        if (step.get("generator") or {}).get("saturated"):
            verdict = "gen-sat"
        lines.append(
            f"{step.get('index'):>4} {step.get('level'):>10g} {step.get('throughput_rps', 0):>9.1f} "
            f"{_ms(latency.get('p50')):>9} {_ms(latency.get('p99')):>9} {'yes' if step.get('stable') else 'no':>7} "
            f"{verdict:>8}  {step.get('note') or ''}".rstrip()
        )
    lines.append("")
    lines += [f"note: {note}" for note in data.get("notes", [])]
    lines += _answer_lines(data)
    status = data.get("status")
    if status not in ("completed", None):
        lines.append(f"status: {status} (the steps above are what was measured)")
    return "\n".join(lines).rstrip() + "\n"


def _answer_lines(data: Mapping[str, Any]) -> list[str]:
    answer = data.get("answer") or {}
    unit = data.get("unit", "")
    lines = []
    if data.get("kind") == "capacity":
        level = answer.get("level")
        if level is None:
            lines.append("answer: none — even the lowest level did not meet the SLOs")
        else:
            fail = answer.get("first_fail")
            bound = f"below {fail:g} {unit} (first failing level)" if fail is not None else "the highest level tried"
            confirmed = "confirmed" if answer.get("confirmed") else "NOT confirmed by a second measurement"
            last = (data.get("steps") or [{}])[-1]
            if not answer.get("confirmed") and "confirming" in str(last.get("note")) and last.get("level") != level:
                confirmed = f"measured once; {last.get('level'):g} {unit} did not hold when measured again"
            lines.append(f"answer: {level:g} {unit} meets every SLO ({confirmed}); capacity lies {bound}")
        if answer.get("generator_saturated_levels"):
            levels = ", ".join(f"{x:g}" for x in answer["generator_saturated_levels"])
            lines.append(f"generator saturated at {levels} {unit}: those steps do not measure the server")
        if answer.get("instances_needed") is not None:
            lines.append(
                f"instances needed for {answer['target_rate']:g} req/s with {answer['headroom_pct']:g} % headroom: "
                f"{answer['instances_needed']} (now {answer['instances_now']}, "
                f"{answer.get('capacity_per_instance_rps')} req/s each, assuming capacity scales with instances)"
            )
    elif answer.get("highest_passing_level") is not None:
        lines.append(f"highest level meeting every SLO: {answer['highest_passing_level']:g} {unit}")
    knee_point = answer.get("knee")
    if knee_point:
        lines.append(
            f"knee: {knee_point['level']:g} {unit} ({knee_point['throughput_rps']:.1f} req/s, "
            f"p99 {_ms(knee_point['p99_us'])} ms): latency starts to climb here"
        )
    return lines


__all__ = ["render_text"]

"""What a run watches in itself while it goes: stalls, a saturated generator, requests left unfinished.

Owns turning the pure rules' findings (``rules.StallTracker``, ``rules.generator_verdict``) into live
notices, the counts and ages that ``summary.json`` shows (``stalls``, ``unfinished``,
``generator.saturated_intervals``, the open-loop sends behind ``generator.late_share``), and the
``unfinished`` errors recorded after the grace. Never sleeps, never reads a clock (times come in as
arguments), never talks to a server.
"""

from __future__ import annotations

import logging
from typing import Any

from loadtest.engine.control import RunControl
from loadtest.engine.progress import Progress
from loadtest.engine.rules import GeneratorVerdict, LateSends, StallTracker
from loadtest.recording.recorder import Recorder

LOGGER = logging.getLogger("loadtest.run")


class RunWatch:
    """Stalls, generator saturation and unfinished requests of one run, said live and kept for the summary."""

    def __init__(self, progress: Progress, *, interval_s: float) -> None:
        self.progress = progress
        self.stalls = StallTracker(threshold_s=2 * interval_s)
        self.unfinished: dict[str, dict[str, int]] = {}
        """Traffic entry -> {count, max_age_ms} of requests still out after the grace."""
        self.saturated_intervals = 0
        self.late_sends = LateSends()
        """Open loop: the measured intervals' sends, for the run's late-send verdict."""
        self._saturated_streak = 0

    def _say(self, message: str) -> None:
        LOGGER.warning("%s", message)
        self.progress.notice(message)

    def stalled(self, now_ns: int, control: RunControl) -> None:
        """Look for a stall beginning or ending at ``now_ns`` and say so."""
        changed = self.stalls.update(now_ns, control.in_flight, control.last_completion_ns)
        if changed is None:
            return
        if changed.end_ns is None:
            quiet_s = (now_ns - changed.start_ns) / 1e9
            self._say(f"stall: no response for {quiet_s:.1f} s with {control.in_flight} requests in flight")
        else:
            self._say(f"stall over after {(changed.end_ns - changed.start_ns) / 1e9:.1f} s")

    def saturation(self, verdict: GeneratorVerdict) -> None:
        """Count a saturated interval; say so once two in a row are (one busy second is noise)."""
        previous = self._saturated_streak
        self._saturated_streak = self._saturated_streak + 1 if verdict.saturated else 0
        if verdict.saturated:
            self.saturated_intervals += 1
        if self._saturated_streak == 2:
            self._say(str(verdict.reason))
        elif previous >= 2 and not verdict.saturated:
            self.progress.notice("the load generator keeps up again")

    def unfinished_after_grace(self, now_ns: int, control: RunControl, recorder: Recorder, grace_s: float) -> None:
        """Requests still out after the grace: errors of kind ``unfinished``, with their ages kept."""
        for name, age_us in control.unfinished(now_ns):
            entry = self.unfinished.setdefault(name, {"count": 0, "max_age_ms": 0})
            entry["count"] += 1
            entry["max_age_ms"] = max(entry["max_age_ms"], age_us // 1000)
            if recorder.measuring:
                recorder.record_request(name, None, "unfinished", None, False)
        if self.unfinished:
            total = sum(e["count"] for e in self.unfinished.values())
            self._say(f"{total} requests still in flight after the {grace_s:g} s grace: recorded as unfinished")

    def stall_list(self, origin_ns: int, now_ns: int) -> list[dict[str, Any]]:
        """``summary.json["stalls"]``: each stall's start (s after ``origin_ns``) and length."""
        return [
            {
                "start_s": round((stall.start_ns - origin_ns) / 1e9, 3),
                "duration_s": round(((stall.end_ns or now_ns) - stall.start_ns) / 1e9, 3),
                **({"ongoing": True} if stall.end_ns is None else {}),
            }
            for stall in self.stalls.stalls
        ]


__all__ = ["RunWatch"]

"""What a sweep or a capacity search is asked to do, checked all at once: levels, stability, search.

Owns the sweep/capacity settings and their validation: every problem is reported with its path
(``sweep.levels[2]: ...``, ``capacity.rate_max: ...``) so the CLI and the Python API can refuse bad
input with exit code 2 before anything starts. Parses the level lists of the command line
(``1,2,4,8`` or ``100:1000:100``). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loadtest.capacity.stability import StabilityRule

CONCURRENCY = "concurrency"
RATE = "rate"
UNITS = {CONCURRENCY: "users", RATE: "req/s"}
MAX_LEVELS = 1000


class SweepOptionsError(ValueError):
    """Bad sweep or capacity options; ``problems`` lists every one as ``(path, message)``."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(f"{path}: {message}" for path, message in self.problems))


def parse_levels(text: str, path: str, problems: list[tuple[str, str]]) -> list[float]:
    """``"1,2,4,8"`` or ``"start:stop:step"`` (stop included) as numbers; problems go to ``problems``."""
    text = text.strip()
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            problems.append((path, f"{text!r}: write start:stop:step, e.g. 100:1000:100"))
            return []
        try:
            start, stop, step = (float(p) for p in parts)
        except ValueError:
            problems.append((path, f"{text!r}: start, stop and step must be numbers"))
            return []
        if step <= 0 or stop < start:
            problems.append((path, f"{text!r}: needs step > 0 and stop >= start"))
            return []
        if (stop - start) / step + 1 > MAX_LEVELS:
            problems.append((path, f"{text!r}: more than {MAX_LEVELS} levels"))
            return []
        count = int((stop - start) / step + 1e-9) + 1
        return [round(start + i * step, 6) for i in range(count)]
    levels = []
    for index, item in enumerate(text.split(",")):
        try:
            levels.append(float(item))
        except ValueError:
            problems.append((f"{path}[{index}]", f"{item.strip()!r} is not a number"))
    return levels


SETTING_DEFAULTS: dict[str, Any] = {
    "window_s": 5.0,
    "windows": 3,
    "stability_pct": 10.0,
    "max_windows": 10,
    "warmup_s": 2.0,
    "early_stop": True,
}
"""The step settings when neither the caller nor the scenario's ``load: {kind: sweep}`` gives them."""

CAPACITY_DEFAULTS: dict[str, Any] = {"max_windows": 6}
"""A capacity search's own defaults, over :data:`SETTING_DEFAULTS`. Its steps near capacity are there to give
a verdict, and their p99 rarely settles within ±10 % (queues come and go): a step still moving after 6
windows ends unstable, and passes only if each of its last ``windows`` windows met every SLO. A sweep,
which characterises every level, keeps perf_analyzer's 10."""


def _scenario_settings(load: Any) -> dict[str, Any]:
    if load is None or getattr(load, "kind", None) != "sweep":
        return {}
    return {
        "window_s": load.window_s,
        "windows": load.windows,
        "stability_pct": load.stability_pct,
        "max_windows": load.max_windows,
        "warmup_s": load.step_warmup_s,
        "early_stop": load.early_stop,
    }


@dataclass
class SweepOptions:
    """One sweep's or capacity search's settings (defaults as the CLI documents them)."""

    variable: str = CONCURRENCY
    levels: list[float] = field(default_factory=list)
    """Sweep: the levels, in order. Capacity: unused (``low``/``high`` bound the search)."""
    rule: StabilityRule = field(default_factory=StabilityRule)
    warmup_s: float = 2.0
    """Warm-up of every step (requests sent, not measured)."""
    early_stop: bool = True
    min_achieved_pct: float = 90.0
    slos: list[str] = field(default_factory=list)
    # capacity search
    low: float | None = None
    high: float | None = None
    precision_pct: float = 5.0
    target_rate: float | None = None
    headroom_pct: float = 20.0

    @property
    def unit(self) -> str:
        """``users`` or ``req/s``."""
        return UNITS.get(self.variable, "")

    def settle(self, kind: str, given: Mapping[str, Any], load: Any = None) -> None:
        """Fill the step settings: what the caller ``given`` (None = not given), else the scenario's
        ``load: {kind: sweep}`` (``load``), else :data:`SETTING_DEFAULTS`; a sweep without levels takes the
        scenario's variable and levels."""
        if kind == "sweep" and not self.levels and getattr(load, "kind", None) == "sweep":
            self.variable = str(load.variable)
            self.levels = [float(level) for level in load.levels or []]
        merged = dict(SETTING_DEFAULTS)
        if kind == "capacity":
            merged.update(CAPACITY_DEFAULTS)
        chosen = {key: value for key, value in _scenario_settings(load).items() if value is not None}
        chosen.update({key: value for key, value in given.items() if value is not None and key in SETTING_DEFAULTS})
        merged.update(chosen)
        if "max_windows" not in chosen:  # a default never refuses the windows asked for
            merged["max_windows"] = max(int(merged["max_windows"]), int(merged["windows"]))
        self.rule = StabilityRule(
            tolerance_pct=float(merged["stability_pct"]),
            window_s=float(merged["window_s"]),
            windows=int(merged["windows"]),
            max_windows=int(merged["max_windows"]),
        )
        self.warmup_s = float(merged["warmup_s"])
        self.early_stop = bool(merged["early_stop"])

    def problems(self, kind: str) -> list[tuple[str, str]]:
        """Every problem of these options for a ``sweep`` or a ``capacity`` run, with its path."""
        found: list[tuple[str, str]] = []
        if self.variable not in UNITS:
            found.append((f"{kind}.variable", f"must be concurrency or rate, not {self.variable!r}"))
        integer = self.variable == CONCURRENCY
        if kind == "sweep":
            if not self.levels:
                found.append(
                    (
                        "sweep.levels",
                        "give the levels (--concurrency 1,2,4 or --rate 100:500:100, or load: {kind: sweep})",
                    )
                )
            for index, level in enumerate(self.levels):
                if level <= 0 or (integer and level != int(level)):
                    what = "a positive whole number of users" if integer else "a positive rate"
                    found.append((f"sweep.levels[{index}]", f"{level:g} is not {what}"))
        else:
            if self.low is None or self.low <= 0:
                found.append(("capacity.low", "give the lowest level to try, > 0 (--rate-min or --concurrency-min)"))
            elif integer and self.low != int(self.low):
                found.append(("capacity.low", f"{self.low:g} is not a whole number of users"))
            if self.high is not None and self.low is not None and self.high < self.low:
                found.append(("capacity.high", f"{self.high:g} is below the lowest level {self.low:g}"))
            if not 0 < self.precision_pct < 100:
                found.append(("capacity.precision_pct", f"must be between 0 and 100, not {self.precision_pct:g}"))
            if self.target_rate is not None and self.target_rate <= 0:
                found.append(("capacity.target_rate", f"must be positive, not {self.target_rate:g}"))
            if self.headroom_pct < 0:
                found.append(("capacity.headroom_pct", f"must be >= 0, not {self.headroom_pct:g}"))
        found += [(f"{kind}.stability.{name}", message) for name, message in self.rule.problems()]
        if self.warmup_s < 0:
            found.append((f"{kind}.warmup_s", f"must be >= 0, not {self.warmup_s:g}"))
        if not 0 < self.min_achieved_pct <= 100:
            found.append((f"{kind}.min_achieved_pct", f"must be in (0, 100], not {self.min_achieved_pct:g}"))
        return found

    def check(self, kind: str) -> None:
        """Raise :class:`SweepOptionsError` listing every problem (nothing when all is well)."""
        found = self.problems(kind)
        if found:
            raise SweepOptionsError(found)


__all__ = [
    "CAPACITY_DEFAULTS",
    "CONCURRENCY",
    "RATE",
    "SETTING_DEFAULTS",
    "UNITS",
    "SweepOptions",
    "SweepOptionsError",
    "parse_levels",
]

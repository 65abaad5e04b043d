"""The partial view of a scenario that the cross-field checks run on.

Owns ``Parts``: the sections and items of a scenario that passed type validation (invalid ones are
absent, or kept without keys that change no rule). Built by the loader; read by the checks. Never
validates and never reads files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from loadtest.scenario._model import Embedded, InputSpec, Load, LoadStage, Payload, Target, Traffic
from loadtest.slo import Slo

Finding = tuple[tuple[str | int, ...], str]
"""(path, message) of one problem found by a check."""


@dataclass
class Parts:
    """The validated parts of a scenario; invalid sections and items are absent."""

    base_dir: Path
    seed: int = 0
    embedded: Embedded | None = None
    targets: dict[str, Target] = field(default_factory=dict)
    target_names: list[str] = field(default_factory=list)
    payloads: dict[str, Payload] = field(default_factory=dict)
    payload_names: list[str] = field(default_factory=list)
    inputs: dict[tuple[str, str], InputSpec] = field(default_factory=dict)
    """(payload, input) -> valid input spec, also for payloads that are invalid elsewhere."""
    traffic: dict[int, Traffic] = field(default_factory=dict)
    traffic_count: int | None = None
    """How many traffic entries the file has (valid or not); None when traffic is missing or not a list."""
    traffic_refs: dict[int, dict[str, str]] = field(default_factory=dict)
    """Invalid traffic entries: their valid ``name``, ``target`` and ``payload`` texts, still cross-checked."""
    traffic_slos: dict[tuple[int, int], Slo] = field(default_factory=dict)
    """(entry index, SLO index) -> valid SLO of a traffic entry."""
    load: Load | None = None
    """The load section without its stages (those are in ``stages``)."""
    stages: dict[int, LoadStage] = field(default_factory=dict)
    stage_count: int | None = None
    duration_s: float | None = None
    duration_valid: bool = True
    slos: dict[int, Slo] = field(default_factory=dict)

    @property
    def open_loop(self) -> bool:
        """True when the (valid part of the) load follows an arrival rate."""
        load = self.load
        if load is None or load.kind == "closed":
            return False
        if load.kind == "open":
            return True
        if load.kind == "sweep":
            return load.variable == "rate"
        kinds = [s.rate is not None for _, s in sorted(self.stages.items()) if (s.users is None) != (s.rate is None)]
        return bool(kinds) and kinds[0]

    @property
    def all_traffic_valid(self) -> bool:
        """True when every traffic entry is in ``traffic`` (so user counts can be checked)."""
        return bool(self.traffic_count) and len(self.traffic) == self.traffic_count


def resolve_file(base_dir: Path, value: str) -> Path:
    """A path written in the scenario, made absolute against the scenario file's folder."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else base_dir / path


def missing_file_problem(file: Path) -> str | None:
    """Why ``file`` cannot be read as a data file (missing, a directory, a device), or None."""
    if file.is_file():
        return None
    if file.exists():
        return f"not a regular file: {file}"
    return f"file not found: {file}"

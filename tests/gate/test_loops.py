"""The repeat and interleave loops with a fake run: order, exit-code precedence, stops, Ctrl-C.

The engine is replaced by a fake ``run_one`` (these are unit tests of the loops alone); real runs are
in ``test_real_runs.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from loadtest.exit_codes import ExitCode
from loadtest.gate import runs
from loadtest.gate.runs import Side, run_interleaved, run_repeats, worst_exit_code
from loadtest.recording.runset import RunSetWriter

SCENARIO = SimpleNamespace(name="fake", scenario_hash="h")


class FakeRuns:
    """Stands in for run_one: returns the next exit code, or raises KeyboardInterrupt for 'ctrl-c'."""

    def __init__(self, outcomes: list[int | str]) -> None:
        self.outcomes: Iterator[int | str] = iter(outcomes)
        self.calls: list[str] = []

    def __call__(
        self, scenario: Any, pools: Any, run_dir: Path, *, progress: bool = True, distributed: Any = None
    ) -> Any:
        self.calls.append(f"{scenario.name}:{run_dir.name}")
        outcome = next(self.outcomes)
        run_dir.mkdir(parents=True)
        (run_dir / "summary.json").write_text("{}")
        if outcome == "ctrl-c":
            raise KeyboardInterrupt
        status = {0: "completed", 3: "completed", 130: "interrupted"}.get(int(outcome), "failed")
        return SimpleNamespace(exit_code=int(outcome), run_dir=run_dir, summary={"status": status})


def _index(path: Path) -> dict[str, Any]:
    return json.loads((path / "runset.json").read_text())


@pytest.mark.parametrize(
    ("codes", "worst"),
    [([], 0), ([0, 0], 0), ([0, 3, 0], 3), ([3, 1], 1), ([1, 2], 2), ([0, 130, 2], 130), ([0, 7], 1)],
)
def test_the_worst_exit_code_follows_the_documented_precedence(codes: list[int], worst: int) -> None:
    assert worst_exit_code(codes) == worst


def test_repeats_run_in_order_and_an_slo_breach_does_not_stop_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeRuns([0, 3, 0])
    monkeypatch.setattr(runs, "run_one", fake)
    said: list[str] = []
    outcome = run_repeats(SCENARIO, {}, tmp_path / "set", 3, say=said.append)
    assert outcome.exit_code == ExitCode.SLO_BREACHED
    assert said == [f"repeat {i}/3: {tmp_path / 'set' / f'r0{i}'}" for i in (1, 2, 3)]
    index = _index(tmp_path / "set")
    assert [(r["dir"], r["exit_code"]) for r in index["runs"]] == [("r01", 0), ("r02", 3), ("r03", 0)]
    assert (index["status"], index["exit_code"], index["planned"]) == ("completed", 3, 3)


def test_a_failed_repeat_stops_the_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs, "run_one", FakeRuns([0, 1, 0]))
    outcome = run_repeats(SCENARIO, {}, tmp_path / "set", 3, say=lambda _: None)
    assert outcome.exit_code == ExitCode.RUNTIME_ERROR
    index = _index(tmp_path / "set")
    assert (index["status"], len(index["runs"])) == ("failed", 2)


def test_ctrl_c_between_or_in_a_repeat_keeps_what_ran_and_exits_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "run_one", FakeRuns([0, "ctrl-c"]))
    outcome = run_repeats(SCENARIO, {}, tmp_path / "set", 3, say=lambda _: None)
    assert outcome.exit_code == ExitCode.INTERRUPTED
    index = _index(tmp_path / "set")
    assert index["status"] == "interrupted" and index["exit_code"] == 130
    assert [(r["dir"], r["status"]) for r in index["runs"]] == [("r01", "completed"), ("r02", "interrupted")]


def test_a_set_directory_that_holds_a_run_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loadtest.recording.rundir import RunDirectoryError

    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "summary.json").write_text("{}")
    monkeypatch.setattr(runs, "run_one", FakeRuns([0]))
    with pytest.raises(RunDirectoryError, match="already holds a run"):
        run_repeats(SCENARIO, {}, tmp_path / "set", 1, say=lambda _: None)


def _sides(tmp_path: Path) -> tuple[Side, Side]:
    return tuple(
        Side(name, SimpleNamespace(name=name), {}, RunSetWriter(tmp_path / name, planned=3, kind="test"))
        for name in ("a", "b")
    )


def test_interleaved_pairs_alternate_which_side_goes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRuns([0] * 6)
    monkeypatch.setattr(runs, "run_one", fake)
    assert run_interleaved(_sides(tmp_path), 3, say=lambda _: None) == ExitCode.OK
    assert fake.calls == ["a:r01", "b:r01", "b:r02", "a:r02", "a:r03", "b:r03"]
    assert _index(tmp_path / "a")["status"] == _index(tmp_path / "b")["status"] == "completed"


def test_interleaving_stops_at_a_failure_and_at_ctrl_c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs, "run_one", FakeRuns([0, 0, 1]))
    assert run_interleaved(_sides(tmp_path / "x"), 3, say=lambda _: None) == ExitCode.RUNTIME_ERROR
    assert len(_index(tmp_path / "x" / "b")["runs"]) == 2 and len(_index(tmp_path / "x" / "a")["runs"]) == 1
    monkeypatch.setattr(runs, "run_one", FakeRuns([0, "ctrl-c"]))
    assert run_interleaved(_sides(tmp_path / "y"), 3, say=lambda _: None) == ExitCode.INTERRUPTED
    assert _index(tmp_path / "y" / "b")["runs"] == [{"dir": "r01", "exit_code": 130, "status": "interrupted"}]

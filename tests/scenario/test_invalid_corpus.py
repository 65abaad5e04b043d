"""A corpus of malformed scenarios: each ``invalid/NN-*.yaml`` must fail with exactly the problems
in its ``.expected`` file (one ``<file>:<line> <path>: <message>`` per line, in report order).

Absolute paths of the corpus folder are written relative to it (``<dir>`` for the folder itself),
and the environment is empty, so the expectations do not depend on the machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest.scenario import ScenarioError, load_scenario

INVALID_DIR = Path(__file__).resolve().parent / "invalid"
CASES = sorted(INVALID_DIR.glob("*.yaml"))


def _problem_lines(path: Path) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, env={})
    folder = str(INVALID_DIR)
    return [str(problem).replace(folder + "/", "").replace(folder, "<dir>") for problem in caught.value.problems]


def test_corpus_has_at_least_twenty_cases_each_with_expectations() -> None:
    assert len(CASES) >= 20
    missing = [case.name for case in CASES if not case.with_suffix(".expected").is_file()]
    assert missing == []


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_malformed_scenario_reports_every_expected_problem(case: Path) -> None:
    expected = case.with_suffix(".expected").read_text(encoding="utf-8").splitlines()
    assert _problem_lines(case) == expected


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_every_problem_names_file_and_message(case: Path) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(case, env={})
    error = caught.value
    assert error.problems
    for problem in error.problems:
        assert problem.source == str(case)
        assert problem.message
    assert str(error).splitlines()[-1].endswith("found")

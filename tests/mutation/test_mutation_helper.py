"""The scoring helper of tests/mutation/run.sh: names, equivalent entries and scores (pure, no mutmut)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.mutation import mutation


@pytest.mark.parametrize(
    ("module", "dotted", "patterns"),
    [
        ("loadtest/slo/__init__.py", "loadtest.slo", ["loadtest.slo.x_*", "loadtest.slo.xǁ*"]),
        ("pytriton_client/_url.py", "pytriton_client._url", ["pytriton_client._url.x_*", "pytriton_client._url.xǁ*"]),
    ],
)
def test_module_names(module: str, dotted: str, patterns: list[str]) -> None:
    assert mutation.dotted(module) == dotted
    assert mutation.patterns(module) == patterns


def test_the_listed_modules_are_the_pyproject_ones_and_exist() -> None:
    modules = mutation.modules()
    assert "loadtest/recording/recorder.py" in modules
    assert all((mutation.ROOT / module).is_file() for module in modules)


def test_the_equivalent_list_is_well_formed() -> None:
    entries, problems = mutation.read_equivalents()
    assert problems == []
    assert all(len(entry.function_hash) == 12 and entry.reason for entry in entries.values())


def test_malformed_and_repeated_entries_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "equivalent.txt"
    path.write_text(
        "# comment\n\n"
        "a.b.x_f__mutmut_1 0123456789ab same thing\n"
        "a.b.x_f__mutmut_1 0123456789ab again\n"
        "a.b.x_f__mutmut_2 no-reason\n"
        "not-a-mutant abc reason\n"
    )
    entries, problems = mutation.read_equivalents(path)
    assert list(entries) == ["a.b.x_f__mutmut_1"] and entries["a.b.x_f__mutmut_1"].line == 4
    assert problems == [
        "equivalent.txt:4: a.b.x_f__mutmut_1 is listed twice",
        "equivalent.txt:5: expected '<mutant id> <function hash> <reason>'",
        "equivalent.txt:6: expected '<mutant id> <function hash> <reason>'",
    ]


def _meta(root: Path, module: str, codes: dict[str, int | None], hashes: dict[str, str]) -> None:
    path = root / f"{module}.meta"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"exit_code_by_key": codes, "hash_by_function_name": hashes}))


def _entry(mutant: str, function_hash: str, line: int) -> mutation.Equivalent:
    return mutation.Equivalent(mutant, function_hash, "because", line)


def test_a_score_counts_detected_mutants_over_the_non_equivalent_ones(tmp_path: Path) -> None:
    module = "pkg/mod.py"
    codes: dict[str, int | None] = {
        "pkg.mod.x_f__mutmut_1": 1,  # killed
        "pkg.mod.x_f__mutmut_2": 36,  # timeout
        "pkg.mod.x_f__mutmut_3": -9,  # crashed (killed by the runner)
        "pkg.mod.x_f__mutmut_4": 0,  # survived, listed as equivalent
        "pkg.mod.xǁCǁm__mutmut_1": 0,  # survived
        "pkg.mod.xǁCǁm__mutmut_2": 33,  # no test reached it
        "pkg.mod.xǁCǁm__mutmut_3": None,  # not checked yet
        "pkg.mod.xǁCǁm__mutmut_4": 35,  # suspicious
    }
    _meta(tmp_path, module, codes, {"x_f": "aaaaaaaaaaaa0000", "xǁCǁm": "bbbbbbbbbbbb0000"})
    score = mutation.score_module(
        module, {"pkg.mod.x_f__mutmut_4": _entry("pkg.mod.x_f__mutmut_4", "aaaaaaaaaaaa", 3)}, tmp_path
    )
    assert (score.total, score.equivalent, score.detected) == (8, 1, 3)
    assert score.score == pytest.approx(100 * 3 / 7)
    assert score.not_killed == [
        ("pkg.mod.xǁCǁm__mutmut_1", "survived"),
        ("pkg.mod.xǁCǁm__mutmut_2", "no tests"),
        ("pkg.mod.xǁCǁm__mutmut_3", "not checked"),
        ("pkg.mod.xǁCǁm__mutmut_4", "suspicious"),
    ]
    assert score.entry_problems == []


def test_stale_entries_do_not_count_and_are_reported(tmp_path: Path) -> None:
    module = "pkg/mod.py"
    codes: dict[str, int | None] = {"pkg.mod.x_f__mutmut_1": 0, "pkg.mod.x_f__mutmut_2": 1}
    _meta(tmp_path, module, codes, {"x_f": "cccccccccccc0000"})
    entries = {
        "pkg.mod.x_f__mutmut_1": _entry("pkg.mod.x_f__mutmut_1", "aaaaaaaaaaaa", 1),  # the function changed
        "pkg.mod.x_f__mutmut_2": _entry("pkg.mod.x_f__mutmut_2", "cccccccccccc", 2),  # killed now
        "pkg.mod.x_f__mutmut_9": _entry("pkg.mod.x_f__mutmut_9", "cccccccccccc", 3),  # gone
        "pkg.mod.sub.x_g__mutmut_1": _entry("pkg.mod.sub.x_g__mutmut_1", "dddddddddddd", 4),  # another module
    }
    score = mutation.score_module(module, entries, tmp_path)
    assert (score.total, score.equivalent, score.detected) == (2, 0, 1)
    assert score.not_killed == [("pkg.mod.x_f__mutmut_1", "survived")]
    assert score.entry_problems == [
        "equivalent.txt:1: the function of pkg.mod.x_f__mutmut_1 changed (hash cccccccccccc); "
        "re-check the mutant and update the entry",
        "equivalent.txt:2: pkg.mod.x_f__mutmut_2 is killed now; remove the entry",
        "equivalent.txt:3: pkg.mod.x_f__mutmut_9 does not exist (any more)",
    ]


def test_a_module_without_results_has_no_score(tmp_path: Path) -> None:
    score = mutation.score_module("pkg/none.py", {}, tmp_path)
    assert score.score is None
    assert score.entry_problems == ["no mutmut results for pkg/none.py: run tests/mutation/run.sh pkg/none.py"]

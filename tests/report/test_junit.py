"""JUnit XML: one test case per SLO, failures and skips where CI systems expect them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from loadtest.recording.rundir import load_run
from loadtest.report import build_view, render_view
from loadtest.slo import parse_slo
from loadtest.slo.verdicts import evaluate_slos

from .runs import FIXTURES, write_run


def _junit(run_dir: Path, slos: list[str]) -> ET.Element:
    run = load_run(run_dir)
    parsed = []
    for text in slos:
        traffic, _, rest = text.rpartition(": ")
        parsed.append(parse_slo(rest, traffic=traffic or None))
    return ET.fromstring(render_view(build_view(run, evaluate_slos(parsed, run.summary)), "junit"))


def test_one_case_per_slo_with_failures_and_skips() -> None:
    root = _junit(FIXTURES / "mixed", ["error_rate < 1%", "lin-sync: p99 latency < 10ms", "p99 response_time < 5ms"])
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("tritonload.slo.overall", "error_rate < 1%"),
        ("tritonload.slo.lin-sync", "p99 latency < 10ms"),
        ("tritonload.slo.overall", "p99 response_time < 5ms"),
    ]
    assert cases[0].find("failure") is None and cases[0].find("skipped") is None
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("message") == "measured 14.2 ms, objective < 10.0 ms"
    skipped = cases[2].find("skipped")
    assert skipped is not None and "open loop only" in (skipped.get("message") or "")


def test_a_run_without_slos_is_an_empty_suite() -> None:
    root = _junit(FIXTURES / "sleep-20ms", [])
    assert root.get("tests") == "0" and root.findall("testsuite/testcase") == []


def test_names_with_markup_and_control_characters_stay_well_formed_xml(tmp_path: Path) -> None:
    name = 'a<b>&"c\x01'
    meta = {"scenario": {"name": name, "hash": "h", "seed": 0}}
    write_run(tmp_path / "run", [{"t": [1000] * 10}], meta=meta)
    root = _junit(tmp_path / "run", ["t: p50 latency < 0.5ms"])
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == 'tritonload.slo.a<b>&"c\ufffd'
    assert suite.get("failures") == "1"

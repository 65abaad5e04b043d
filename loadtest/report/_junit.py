"""The JUnit XML report: one test case per SLO, so CI systems show SLOs as tests.

A breached SLO is a ``<failure>``, an SLO that could not be measured is ``<skipped>``. Pure: takes
a view, returns text; ElementTree does the XML escaping, and characters XML 1.0 cannot carry
(control characters in a hostile name) are replaced.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from loadtest.report._view import ReportView, fmt_measured, slo_scope

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: object) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def render_junit(view: ReportView) -> str:
    """The JUnit XML document of one run's SLOs."""
    failures = view.slos_breached
    skipped = view.slos_unmeasured
    suites = ET.Element("testsuites", name="tritonload", tests=str(len(view.slos)), failures=str(failures))
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=_xml(f"tritonload.slo.{view.scenario.get('name', view.run_id)}"),
        tests=str(len(view.slos)),
        failures=str(failures),
        errors="0",
        skipped=str(skipped),
        time=f"{view.duration_s:.3f}",
        timestamp=_xml(view.started_at),
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("run_id", view.run_id),
        ("status", view.status),
        ("complete", str(view.complete).lower()),
        ("scenario_hash", str(view.scenario.get("hash", ""))),
    ):
        ET.SubElement(properties, "property", name=name, value=_xml(value))
    for slo in view.slos:
        unit = str(slo.get("unit", ""))
        measured = fmt_measured(unit, slo.get("measured"))
        threshold = fmt_measured(unit, slo.get("threshold"))
        case = ET.SubElement(
            suite,
            "testcase",
            classname=_xml(f"tritonload.slo.{slo_scope(slo)}"),
            name=_xml(slo.get("slo", "")),
            time="0",
        )
        passed = slo.get("passed")
        if passed is False:
            failure = ET.SubElement(
                case,
                "failure",
                message=f"measured {measured}, objective {slo.get('comparator', '')} {threshold}",
                type="SloBreached",
            )
            failure.text = _xml(f"{slo_scope(slo)}: {slo.get('slo', '')} -- measured {measured}")
        elif passed is None:
            ET.SubElement(case, "skipped", message=_xml(slo.get("reason") or "not measured"))
        else:
            ET.SubElement(case, "system-out").text = f"measured {measured}"
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"

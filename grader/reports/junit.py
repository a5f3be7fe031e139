"""`--format junit`: JUnit XML for CI dashboards and test-report actions.

The shape is pytest's (research/autograding-formats.md §4.1): `<testsuites>`, one `<testsuite>`
per rung with `tests/failures/errors/skipped/time`, one `<testcase classname name time>` per spec
test, and `<failure>`, `<error>` or `<skipped>` inside it. JUnit has no points field, so points
ride in `<properties>` by the usual convention: `points` and `max_points` on the suite, `task`,
`category` and `visibility` on each case. A todo task is a `<skipped>` case (nothing to judge
yet); a rung that stopped before any test reported (a crash, a timeout, a missing extra) becomes
one case carrying the rung's message, so a dashboard never shows it as green and empty.
What the learner's code printed during a check goes in the case's `<system-out>`, capped at the
text report's 40 lines.

This is the instructor's view: hidden checks keep their messages.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from grader.reports.text import printed_block
from grader.results import Result, RungResult, TestResult

# XML 1.0 forbids most control characters (an ANSI colour code in a learner's message would
# make the whole file unreadable), so they are written out as \xNN.
NOT_XML_CHARACTER = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
OUTCOME_ELEMENT = {"fail": "failure", "error": "error", "skipped": "skipped", "todo": "skipped"}


def xml_text(text: str) -> str:
    return NOT_XML_CHARACTER.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def properties(parent: ET.Element, values: dict[str, object]) -> None:
    element = ET.SubElement(parent, "properties")
    for name, value in values.items():
        ET.SubElement(element, "property", name=name, value=xml_text(f"{value}"))


def outcome(case: ET.Element, status: str, message: str, task: str) -> None:
    """The `<failure>`, `<error>` or `<skipped>` child a non-passing case carries."""
    if status not in OUTCOME_ELEMENT:
        return
    if status == "todo":
        message = f"the task {task} is still todo" + (f": {message}" if message else "")
    element = ET.SubElement(case, OUTCOME_ELEMENT[status], message=xml_text(first_line(message)))
    if status in ("fail", "error"):
        element.set("type", status)
    element.text = xml_text(message)


def junit_case(rung: RungResult, test: TestResult) -> ET.Element:
    case = ET.Element("testcase", classname=f"{rung.id}.{test.task}", name=test.name,
                      time=f"{test.duration:.3f}")
    properties(case, {"task": test.task, "category": test.category,
                      "visibility": test.visibility})
    outcome(case, test.status, test.message, test.task)
    printed = printed_block(test.output)
    if printed:
        ET.SubElement(case, "system-out").text = xml_text(printed)
    return case


def rung_case(rung: RungResult) -> ET.Element | None:
    """One case for a rung-level verdict no test reported: a crash, a timeout, a skip."""
    if rung.status not in ("error", "skipped") or not rung.message:
        return None
    if rung.status == "error" and any(t.status == "error" for t in rung.tests):
        return None  # a test already carries the error
    case = ET.Element("testcase", classname=rung.id, name=f"{rung.id} (whole rung)",
                      time=f"{rung.duration:.3f}")
    outcome(case, rung.status, rung.message, "")
    return case


def junit_suite(rung: RungResult) -> ET.Element:
    cases = [junit_case(rung, test) for test in rung.tests]
    whole = rung_case(rung)
    if whole is not None:
        cases.append(whole)

    def count(tag: str) -> str:
        return str(sum(case.find(tag) is not None for case in cases))

    suite = ET.Element("testsuite", name=rung.id, tests=str(len(cases)),
                       failures=count("failure"), errors=count("error"),
                       skipped=count("skipped"), time=f"{rung.duration:.3f}")
    properties(suite, {"title": rung.title, "status": rung.status, "points": f"{rung.points:g}",
                       "max_points": f"{rung.max_points:g}"})
    suite.extend(cases)
    return suite


def render_junit(result: Result, verbose: bool = False) -> str:
    suites = [junit_suite(rung) for rung in result.rungs]
    root = ET.Element("testsuites", name="torchkata")
    for total in ("tests", "failures", "errors", "skipped"):
        root.set(total, str(sum(int(suite.get(total, "0")) for suite in suites)))
    root.set("time", f"{sum(rung.duration for rung in result.rungs):.3f}")
    root.extend(suites)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")

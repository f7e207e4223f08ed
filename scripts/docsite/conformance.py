"""The conformance matrix page, from a ``report.json`` written by ``blockyard conformance run``.

The cells are the kit's own (:func:`blockyard_conformance.reports.matrix_rows`), so the page and the
kit's Markdown / HTML reports always agree. Without a report the page says so; it never shows a
result no run produced.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from blockyard_conformance.reports import by_kind, matrix_rows
from blockyard_conformance.results import CaseResult, TestOutcome
from docsite.tables import table

__all__ = ["load_report", "matrix_page"]

PAGE = "conformance.md"
HTML_REPORT = "conformance/report.html"
"""Where the kit's HTML report of the same run is published beside the page (the details)."""


def load_report(path: Path) -> list[CaseResult]:
    """The case results in a ``report.json``.

    :raises ValueError: naming the file when it is not a kit report.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        cases = data["cases"]
        known = {f.name for f in fields(CaseResult)}
        return [_case(c, known) for c in cases]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a conformance report.json ({type(exc).__name__}: {exc})") from exc


def _case(data: dict[str, Any], known: set[str]) -> CaseResult:
    tests = [TestOutcome(**t) for t in data.get("tests", [])]
    return CaseResult(**{k: v for k, v in data.items() if k in known and k != "tests"}, tests=tests)


def matrix_page(report: Path | None, component_pages: dict[str, str], *, has_html: bool) -> str:
    """The page: summary, then one components x capability groups table per building block.

    ``component_pages`` maps a component type to its page path (cases link to their component).
    """
    lines = ["# Conformance", ""]
    lines += [
        "Each row is one conformance case: a component against one backend flavour, run by the kit",
        "(`blockyard conformance run`). A declared feature's suite must pass; an undeclared one must raise",
        "`NotSupportedError` (*not declared*). A backend the machine could not have is *not run*, never passed.",
        "",
    ]
    if report is None or not report.is_file():
        where = f"`{report}`" if report is not None else "no report was given"
        return "\n".join(
            [
                *lines,
                '!!! warning "No conformance results in this build"',
                f"    The site was built without a conformance report ({where} does not exist). Run",
                "    `make conformance` (writes `reports/report.json`) and build again: `make docs`.",
                "",
            ]
        )
    results = load_report(report)
    built = dt.datetime.fromtimestamp(report.stat().st_mtime, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    passed = sum(r.status == "passed" for r in results)
    failed = sum(r.status == "failed" for r in results)
    not_run = sum(r.status == "not-run" for r in results)
    lines += [
        f"From `{report.name}` written {built}: **{len(results)} case(s)**: {passed} passed, {failed} failed, "
        f"{not_run} not run.",
        "",
    ]
    if has_html:
        lines += [f"Details of every test, with failures and backend logs: [the HTML report]({HTML_REPORT}).", ""]
    summary = [
        (
            r.case,
            _link(r.component, component_pages),
            r.backend,
            r.status,
            r.passed,
            r.failed,
            r.skipped,
            r.xfailed,
        )
        for r in results
    ]
    lines += [*table(("case", "component", "backend", "status", "passed", "failed", "skipped", "xfailed"), summary)]
    for kind, subset in by_kind(results):
        columns, rows = matrix_rows(subset)
        if columns:
            lines += ["", f"## {kind}", "", *table(("case", "backend", *columns), rows)]
    not_run_cases = [r for r in results if r.status == "not-run"]
    if not_run_cases:
        lines += ["", "## Not run", ""]
        lines += [
            f"- **{r.case}** ({r.backend}): {r.reason} — enable with: `{r.enable_command}`" for r in not_run_cases
        ]
    return "\n".join(lines) + "\n"


def _link(component: str, pages: dict[str, str]) -> str:
    page = pages.get(component)
    return f"[{component}]({page})" if page else component

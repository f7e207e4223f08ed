"""Write a run's results: JUnit XML, Markdown (GitHub step summary), HTML, and ``report.json``.

Every format names each case's backend flavour ("vault via openbao 2.7.2", "embedded").
"""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from blockyard.kinds import ComponentKind, kind_of
from blockyard_conformance.results import GROUP_ORDER, CaseResult

__all__ = ["CELL", "matrix_rows", "write_reports"]

CELL = {
    "passed": "✅ passed",
    "failed": "❌ failed",
    "xfailed": "⚠️ xfailed",
    "skipped": "⏭️ skipped",
    "not declared": "— not declared",
    "not run": "⛔ not run",
}


def matrix_columns(results: Sequence[CaseResult]) -> list[str]:
    """The capability groups any case has, in report order."""
    seen = {g for r in results for g in r.present_groups()}
    return [g for g in GROUP_ORDER if g in seen] + sorted(seen - set(GROUP_ORDER))


SHORT = {"passed": "✓", "failed": "✗", "xfailed": "xfail", "skipped": "skip", "not declared": "—", "not run": "not run"}
"""Compact cells for the terminal; the legend is printed below the table."""


def by_kind(results: Sequence[CaseResult]) -> list[tuple[str, list[CaseResult]]]:
    """The results grouped by building block (the first part of the component type), in report order."""
    groups: dict[str, list[CaseResult]] = {}
    for r in results:
        groups.setdefault(kind_of(r.component), []).append(r)
    return sorted(groups.items(), key=lambda kv: (ComponentKind.order(kv[0]), kv[0]))


def matrix_rows(results: Sequence[CaseResult], *, short: bool = False) -> tuple[list[str], list[list[str]]]:
    """(columns, rows) of the components x capability groups matrix, as plain text cells."""
    columns = matrix_columns(results)
    rows = []
    for r in results:
        groups = r.groups()
        cells = []
        for g in columns:
            status, reason = groups.get(g, ("", None))
            text = (SHORT if short else CELL).get(status, status)
            if status in ("skipped", "xfailed") and reason and not short:
                text += f" ({reason})"
            cells.append(text)
        rows.append([r.case, r.backend, *cells])
    return columns, rows


def write_reports(results: Sequence[CaseResult], directory: Path) -> list[Path]:
    """Write ``junit.xml``, ``report.md``, ``report.html`` and ``report.json`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    return [
        _write(directory / "report.json", _json(results)),
        _write(directory / "junit.xml", _junit(results)),
        _write(directory / "report.md", markdown(results)),
        _write(directory / "report.html", _html(results)),
    ]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _json(results: Sequence[CaseResult]) -> str:
    return json.dumps({"cases": [r.to_json() for r in results]}, indent=2) + "\n"


def _junit(results: Sequence[CaseResult]) -> str:
    root = ET.Element("testsuites", name="blockyard conformance")
    for r in results:
        suite = ET.SubElement(
            root,
            "testsuite",
            name=r.case,
            tests=str(max(len(r.tests), 1)),
            failures=str(r.failed),
            skipped=str(r.skipped + r.xfailed + (1 if r.status == "not-run" and not r.tests else 0)),
            time=f"{r.duration_s:.3f}",
        )
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="component", value=r.component)
        ET.SubElement(props, "property", name="backend", value=r.backend)
        if r.status == "not-run" and not r.tests:
            case = ET.SubElement(suite, "testcase", classname=r.case, name="not-run", time="0")
            ET.SubElement(case, "skipped", message=f"not run: {r.reason}; enable with: {r.enable_command}")
        for t in r.tests:
            case = ET.SubElement(
                suite, "testcase", classname=f"{r.case} [{r.backend}]", name=t.name, time=f"{t.duration_s:.3f}"
            )
            if t.outcome == "failed":
                ET.SubElement(case, "failure", message=(t.details or "failed").splitlines()[-1][:200]).text = t.details
            elif t.outcome in ("skipped", "xfailed"):
                ET.SubElement(case, "skipped", message=f"{t.outcome}: {t.reason or ''}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def markdown(results: Sequence[CaseResult]) -> str:
    """The Markdown report: summary table, capability matrix, notes, not-run list, failures."""
    failed = sum(r.status == "failed" for r in results)
    lines = [
        "## Blockyard conformance",
        "",
        f"{len(results)} case(s): {sum(r.status == 'passed' for r in results)} passed, {failed} failed, "
        f"{sum(r.status == 'not-run' for r in results)} not run.",
        "",
        "| case | component | backend | status | passed | failed | skipped | xfailed | time (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines.extend(
        f"| {r.case} | {r.component} | {r.backend} | {r.status} | {r.passed} | {r.failed} | {r.skipped} | "
        f"{r.xfailed} | {r.duration_s:.1f} |"
        for r in results
    )
    for kind, subset in by_kind(results):
        columns, rows = matrix_rows(subset)
        if columns:
            lines += [
                "",
                f"### Capabilities: {kind}",
                "",
                "| case | backend | " + " | ".join(columns) + " |",
                "|---" * (len(columns) + 2) + "|",
            ]
            lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    lines += _reliability_md(results)
    noted = [(r, note) for r in results for note in r.notes()]
    if noted:
        lines += ["", "### Notes", ""]
        lines += [f"- **{r.case}**: {_md(note)}" for r, note in noted]
    not_run = [r for r in results if r.status == "not-run"]
    if not_run:
        lines += ["", "### Not run", ""]
        lines += [f"- **{r.case}** ({r.backend}): {r.reason} — enable with: `{r.enable_command}`" for r in not_run]
    for r in results:
        bad = [t for t in r.tests if t.outcome == "failed"]
        if not bad:
            continue
        lines += ["", f"### Failures of {r.case} ({r.backend})", ""]
        for t in bad:
            lines += [
                f"<details><summary>{html.escape(t.name)}</summary>",
                "",
                "```",
                (t.details or "")[-6000:],
                "```",
                "</details>",
            ]
        if r.log_tail:
            lines += ["", "<details><summary>backend log tail</summary>", "", "```", r.log_tail, "```", "</details>"]
    return "\n".join(lines) + "\n"


def reliability_rows(results: Sequence[CaseResult]) -> tuple[list[str], list[list[str]]]:
    """(columns, rows) of the reliability section: one row per case and scenario, its figures as cells."""
    entries = [(r, fig) for r in results for fig in r.reliability()]
    fixed = {"scenario", "test", "outcome"}
    columns = list(dict.fromkeys(k for _, fig in entries for k in fig if k not in fixed))
    rows = [
        [r.case, str(fig["scenario"]), str(fig["outcome"]), *(_cell(fig.get(c)) for c in columns)] for r, fig in entries
    ]
    return columns, rows


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def _reliability_md(results: Sequence[CaseResult]) -> list[str]:
    columns, rows = reliability_rows(results)
    if not rows:
        return []
    head = ["case", "scenario", "outcome", *columns]
    lines = ["", "### Reliability", "", "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    return lines + ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:14px}th{background:#f3f3f3}
.passed{background:#e6f7e6}.failed{background:#fde2e2}.not-run,.not{background:#eee;color:#666}
.xfailed,.skipped{background:#fff6d6}pre{background:#f7f7f7;padding:8px;overflow:auto;max-height:30em}"""


def _html(results: Sequence[CaseResult]) -> str:
    e = html.escape
    out = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Blockyard conformance</title>",
        f"<style>{_CSS}</style></head><body><h1>Blockyard conformance</h1>",
        "<table><tr><th>case</th><th>component</th><th>backend</th><th>status</th><th>passed</th>"
        "<th>failed</th><th>skipped</th><th>xfailed</th><th>time (s)</th><th>reason</th></tr>",
    ]
    for r in results:
        out.append(  # noqa: PERF401
            f"<tr class='{e(r.status)}'><td>{e(r.case)}</td><td>{e(r.component)}</td><td>{e(r.backend)}</td>"
            f"<td>{e(r.status)}</td><td>{r.passed}</td><td>{r.failed}</td><td>{r.skipped}</td><td>{r.xfailed}</td>"
            f"<td>{r.duration_s:.1f}</td><td>{e(r.reason or '')}"
            + (f"<br>enable with: <code>{e(r.enable_command)}</code>" if r.enable_command else "")
            + "</td></tr>"
        )
    out.append("</table>")
    for kind, subset in by_kind(results):
        columns, rows = matrix_rows(subset)
        if not columns:
            continue
        out.append(f"<h2>Capabilities: {e(kind)}</h2><table><tr><th>case</th><th>backend</th>")
        out += [f"<th>{e(c)}</th>" for c in columns]
        out.append("</tr>")
        for row in rows:
            cells = "".join(f"<td class='{e(c.split(' ')[1] if ' ' in c else c)}'>{e(c)}</td>" for c in row[2:])
            out.append(f"<tr><td>{e(row[0])}</td><td>{e(row[1])}</td>{cells}</tr>")
        out.append("</table>")
    columns, rows = reliability_rows(results)
    if rows:
        out.append("<h2>Reliability</h2><table><tr>")
        out += [f"<th>{e(c)}</th>" for c in ("case", "scenario", "outcome", *columns)]
        out.append("</tr>")
        out += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows]
        out.append("</table>")
    for r in results:
        bad = [t for t in r.tests if t.outcome == "failed"]
        if bad:
            out.append(f"<h2>Failures of {e(r.case)} ({e(r.backend)})</h2>")
            out += [f"<details><summary>{e(t.name)}</summary><pre>{e(t.details or '')}</pre></details>" for t in bad]
            if r.log_tail:
                out.append(f"<details><summary>backend log tail</summary><pre>{e(r.log_tail)}</pre></details>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"

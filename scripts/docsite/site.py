"""Everything generated for the site, in one place: the files and the navigation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blockyard.registry import Registry, get_registry
from docsite import benchmarks, components, conformance, pages

__all__ = ["CONTRACTS", "GeneratedSite", "generate_site"]

CONTRACTS = (
    ("State stores", "contracts/state.md"),
    ("Pub/sub", "contracts/pubsub.md"),
    ("Bindings", "contracts/bindings.md"),
    ("Secret stores", "contracts/secretstores.md"),
    ("Errors", "contracts/errors.md"),
)
"""Hand-written pages (in ``docs/``) whose bodies mkdocstrings generates from the docstrings."""


@dataclass(frozen=True, slots=True)
class GeneratedSite:
    """Generated files (site path -> content) and the whole navigation."""

    files: dict[str, str | bytes]
    nav: list[Any]


def generate_site(root: Path, *, report: Path, bench: Path, registry: Registry | None = None) -> GeneratedSite:
    """Generate every page from the installed components (``registry``, default the process-wide
    one), ``report`` (a conformance ``report.json``, may be absent) and the benchmark results in ``bench``.

    :raises RuntimeError: when a plugin cannot be loaded (see :func:`components.component_pages`).
    :raises ValueError: when the report or a results file is malformed.
    """
    files: dict[str, str | bytes] = {}
    component_pages = components.component_pages(registry or get_registry())
    files[components.INDEX] = components.components_index(component_pages)
    files.update({p.path: p.markdown for p in component_pages})
    html = report.with_name("report.html")
    has_html = report.is_file() and html.is_file()
    if has_html:
        files[conformance.HTML_REPORT] = html.read_bytes()
    by_type = {p.spec.type: p.path for p in component_pages}
    files[conformance.PAGE] = conformance.matrix_page(report, by_type, has_html=has_html)
    scripts = sorted(p.name for p in (root / "bench").glob("*_bench.py"))
    page, plots = benchmarks.benchmarks_page(benchmarks.load_results(bench), scripts)
    files[benchmarks.PAGE] = page
    files.update(plots)
    files["getting-started.md"] = pages.getting_started_page(root)
    files["contributing.md"] = pages.contributing_page(root)
    nav: list[Any] = [
        {"Home": "index.md"},
        {"Getting started": "getting-started.md"},
        {"Contracts": [{title: path} for title, path in CONTRACTS]},
        {"Components": [components.INDEX, *({p.title: p.path} for p in component_pages)]},
        {"Conformance": conformance.PAGE},
        {"Benchmarks": benchmarks.PAGE},
        {"Contributing": "contributing.md"},
    ]
    return GeneratedSite(files, nav)

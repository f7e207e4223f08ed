"""The site's generated pages against what they document: every component has a page, each page says
what its model says (a page that lags its model fails here), the conformance and benchmark pages show
only what a report or a results file holds."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from blockyard.metadata import ComponentMetadata, meta
from blockyard.registry import ComponentSpec, PluginFailure, Registry
from blockyard_conformance.reports import write_reports
from blockyard_conformance.results import CaseResult, TestOutcome
from blockyard_local.state_memory import InMemoryStateMetadata, InMemoryStateStore
from docsite import benchmarks, components, conformance, pages
from docsite.rst import roles_in_html, rst_to_markdown
from docsite.site import generate_site

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed() -> Registry:
    """The installed plugins only (other tests register components in the process-wide registry)."""
    return Registry()


@pytest.fixture(scope="module")
def site(installed: Registry, tmp_path_factory: pytest.TempPathFactory) -> Any:
    report = tmp_path_factory.mktemp("none") / "report.json"
    return generate_site(ROOT, report=report, bench=ROOT / "bench" / "results", registry=installed)


def _metadata_rows(page: str) -> dict[str, list[str]]:
    """name -> [type, default, required, sensitive] from a page's metadata table."""
    body = page.split("## Metadata", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in body.splitlines():
        match = re.match(r"^\| `([^`]+)` \| (.*)$", line)
        if match:
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", match.group(2))]
            rows[match.group(1)] = cells[:4]
    return rows


def stale(page: str, cls: type[Any]) -> list[str]:
    """How ``page`` disagrees with ``cls`` and its metadata model (empty when it is up to date)."""
    problems = []
    model = cls.Metadata or ComponentMetadata
    rows = _metadata_rows(page)
    entries = {e["name"]: e for e in model.dapr_metadata()}
    for name, info in model.model_fields.items():
        dapr_name = info.alias or name
        row = rows.get(dapr_name)
        if row is None:
            problems.append(f"field {dapr_name} has no row")
            continue
        sensitive = info.annotation is SecretStr or "SecretStr" in str(info.annotation)
        default = entries[dapr_name].get("default")
        expected = [entries[dapr_name]["type"], f"`{default}`" if default is not None else ""]
        expected += ["yes" if info.is_required() else "", "yes" if sensitive else ""]
        if row != expected:
            problems.append(f"field {dapr_name}: page says {row}, model says {expected}")
    problems += [f"row {name} is no field" for name in rows if name not in entries]
    features = [str(getattr(f, "value", f)) for f in getattr(cls, "features", ())]
    problems += [f"feature {f} missing" for f in features if f"- `{f}`" not in page]
    return problems


def test_every_registered_component_has_a_page(site: Any, installed: Registry) -> None:
    specs = installed.specs()
    assert len(specs) >= 30
    missing = [s.type for s in specs if components.page_path(s) not in site.files]
    assert not missing
    nav_components = next(item["Components"] for item in site.nav if "Components" in item)
    assert len(nav_components) == len(specs) + 1
    index = site.files[components.INDEX]
    assert all(f"]({s.type}.md)" in index for s in specs)


def test_every_page_says_what_its_model_says(site: Any, installed: Registry) -> None:
    registry = installed
    problems = {}
    for spec in registry.specs():
        page = site.files[components.page_path(spec)]
        cls = registry.resolve(spec.type, spec.version)
        found = stale(page, cls)
        if found:
            problems[spec.type] = found
        distribution = components.distribution_of(spec)
        assert distribution, spec.type
        assert f"pip install {distribution}" in page, spec.type
    assert not problems


def test_redis_page_in_detail(site: Any) -> None:
    page = site.files["components/state.redis.md"]
    assert page.startswith("# state.redis\n")
    rows = _metadata_rows(page)
    assert rows["redisHost"][2] == "yes"
    assert rows["redisPassword"][3] == "yes"
    example = yaml.safe_load(page.split("```yaml\n", 1)[1].split("```", 1)[0])
    assert example["spec"]["type"] == "state.redis"
    names = {m["name"]: m for m in example["spec"]["metadata"]}
    assert "secretKeyRef" in names["redisPassword"]
    assert example["auth"] == {"secretStore": "secrets"}
    assert "## Guide" in page
    assert ":class:" not in page
    assert "``" not in page.split("## Guide", 1)[1].replace("```", "")


def test_a_stale_page_is_caught() -> None:
    """Self-test: a page generated before its model gained a field, or changed a default, is stale."""

    class Grown(InMemoryStateMetadata):
        brand_new: int = meta(5, description="a field added after the page was written")

    class GrownStore(InMemoryStateStore):
        Metadata = Grown

    registry = Registry(autoload=False)
    registry.register(ComponentSpec("state", "in-memory", "blockyard_local.state_memory:InMemoryStateStore"))
    (page,) = components.component_pages(registry)
    assert stale(page.markdown, InMemoryStateStore) == []
    assert stale(page.markdown, GrownStore) == ["field brandNew has no row"]
    changed = page.markdown.replace("| `cleanupInterval` | duration | `", "| `cleanupInterval` | duration | `9", 1)
    assert changed != page.markdown
    assert any("cleanupInterval" in p for p in stale(changed, InMemoryStateStore))


def test_a_component_registered_in_process_gets_a_page_too() -> None:
    registry = Registry(autoload=False)
    registry.register(ComponentSpec("state", "mine", "blockyard_local.state_memory:InMemoryStateStore", status="beta"))
    (page,) = components.component_pages(registry)
    assert page.path == "components/state.mine.md"
    assert "registered in-process (no distribution)" in page.markdown
    assert "pip install" not in page.markdown


def test_a_plugin_that_fails_to_load_stops_the_build() -> None:
    registry = Registry(autoload=False)
    registry.specs()
    registry.failures.append(PluginFailure("broken", "blockyard-broken", "ImportError: no"))
    with pytest.raises(RuntimeError, match="blockyard-broken"):
        components.component_pages(registry)


def _report(folder: Path) -> Path:
    results = [
        CaseResult(
            "state.sqlite",
            "state.sqlite",
            "embedded",
            "passed",
            passed=2,
            tests=[TestOutcome("state.sqlite", "t1", "core"), TestOutcome("state.sqlite", "t2", "etag")],
        ),
        CaseResult("state.redis", "state.redis", "redis", "not-run", reason="no redis", enable_command="make it"),
    ]
    write_reports(results, folder)
    return folder / "report.json"


def test_conformance_page_from_a_report(tmp_path: Path) -> None:
    report = _report(tmp_path)
    page = conformance.matrix_page(report, {"state.sqlite": "components/state.sqlite.md"}, has_html=True)
    assert "**2 case(s)**: 1 passed, 0 failed, 1 not run" in page
    assert "| state.sqlite | [state.sqlite](components/state.sqlite.md) | embedded | passed |" in page
    assert "| case | backend | core | etag |" in page
    assert "| state.sqlite | embedded | ✅ passed | ✅ passed |" in page
    assert "**state.redis** (redis): no redis — enable with: `make it`" in page
    assert "](conformance/report.html)" in page


def test_conformance_page_without_a_report_says_so(tmp_path: Path) -> None:
    page = conformance.matrix_page(tmp_path / "report.json", {}, has_html=False)
    assert "No conformance results in this build" in page
    assert "|" not in page


def test_a_malformed_report_is_an_error_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "report.json"
    bad.write_text('{"cases": [{"case": 1, "nonsense": true}]}')
    with pytest.raises(ValueError, match=r"report\.json: not a conformance report"):
        conformance.load_report(bad)


def test_benchmark_plots_from_the_results(tmp_path: Path) -> None:
    results = benchmarks.load_results(ROOT / "bench" / "results")
    assert results, "bench/results holds the results of real runs"
    scripts = sorted(p.name for p in (ROOT / "bench").glob("*_bench.py"))
    page, files = benchmarks.benchmarks_page(results, scripts)
    for r in results:
        assert files[f"benchmarks/{r.name}-ratios.svg"].lstrip().startswith("<?xml")
        assert r.data["date"] in page
        for m in r.data["measurements"]:
            assert f"| {m['scenario']} | {m['raw']:,.0f} {m['unit']} |" in page
    assert {f"{r.name}_bench.py" for r in results} == set(scripts), "every benchmark has checked-in results"
    assert "## Not plotted" not in page


def test_latency_percentiles_are_plotted(tmp_path: Path) -> None:
    data = {
        "schema": 1,
        "benchmark": "rabbitmq",
        "title": "pubsub.rabbitmq vs pika",
        "date": "2026-12-02T01:00:00+00:00",
        "machine": {"platform": "test", "python": "3.11", "cpus": 2, "note": ""},
        "measurements": [{"scenario": "publish", "unit": "msg/s", "raw": 100.0, "blockyard": 90.0, "target": 0.8}],
        "latencies": [
            {"scenario": "publish", "side": "raw", "p50_ms": 1.5, "p99_ms": 4.0},
            {"scenario": "publish", "side": "blockyard", "p50_ms": 1.7, "p99_ms": 4.4},
        ],
    }
    (tmp_path / "rabbitmq.json").write_text(json.dumps(data))
    page, files = benchmarks.benchmarks_page(benchmarks.load_results(tmp_path), ["rabbitmq_bench.py"])
    assert set(files) == {"benchmarks/rabbitmq-ratios.svg", "benchmarks/rabbitmq-latency.svg"}
    assert "publish (blockyard)" in files["benchmarks/rabbitmq-latency.svg"]
    assert "](benchmarks/rabbitmq-latency.svg)" in page
    assert "| publish | 100 msg/s | 90 msg/s | 0.90 | ≥ 0.80 |" in page
    assert "Not plotted" not in page


def test_no_benchmark_results_is_said_plainly(tmp_path: Path) -> None:
    page, files = benchmarks.benchmarks_page(benchmarks.load_results(tmp_path), ["redis_bench.py"])
    assert files == {}
    assert "No benchmark results in this build" in page
    assert "- `bench/redis_bench.py`" in page


def test_a_malformed_results_file_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text(json.dumps({"schema": 1, "measurements": [{"raw": "fast"}]}))
    with pytest.raises(ValueError, match=r"x\.json: not a benchmark results file"):
        benchmarks.load_results(tmp_path)


def test_rst_to_markdown() -> None:
    text = (
        "Use ``state.redis`` with :class:`~blockyard.errors.ETagMismatchError` and :mod:`blockyard.query`.\n\n"
        "Example::\n\n    async with store:\n        pass\n\n"
        "==== =====\nname value\n==== =====\na    1\n==== =====\n"
    )
    md = rst_to_markdown(text)
    assert "Use `state.redis` with `ETagMismatchError` and `blockyard.query`." in md
    assert "Example:\n\n```python\nasync with store:\n    pass\n```" in md
    assert "```text\n==== =====\nname value\n==== =====\na    1\n==== =====\n```" in md


def test_roles_in_rendered_docstrings() -> None:
    html = "raises :class:<code>~blockyard.errors.ETagMismatchError</code>; see :mod:<code>blockyard.values</code>"
    assert roles_in_html(html) == "raises <code>ETagMismatchError</code>; see <code>blockyard.values</code>"


def test_pages_from_the_readme_and_contributing() -> None:
    started = pages.getting_started_page(ROOT)
    assert "blockyard.open(" in started
    assert "make conformance" in started
    assert "](CONTRIBUTING.md)" not in pages.contributing_page(ROOT)
    assert pages.repository_links("see [it](CONTRIBUTING.md) or [x](#a)") == (
        f"see [it]({pages.REPOSITORY}/CONTRIBUTING.md) or [x](#a)"
    )
    with pytest.raises(KeyError, match="No such"):
        pages.section("## A\ntext\n", "No such")

"""The entry point: specs match the classes; the conformance cases load and build components."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from blockyard.bindings import InputBinding, OutputBinding
from blockyard.registry import Registry
from blockyard_local import plugin


def _registry() -> Registry:
    return Registry(autoload=True)


def test_entry_point_lists_all_eight() -> None:
    reg = _registry()
    types = {s.type for s in reg.specs() if s.distribution == "blockyard-local"}
    assert types == {
        "state.in-memory",
        "state.sqlite",
        "pubsub.in-memory",
        "secretstores.local.file",
        "secretstores.local.env",
        "bindings.localstorage",
        "bindings.cron",
        "bindings.http",
    }
    assert reg.resolve("state.sqlite3").__name__ == "SQLiteStateStore"


@pytest.mark.parametrize("spec", plugin.blockyard_components(), ids=lambda s: s.type)
def test_spec_matches_class(spec) -> None:  # type: ignore[no-untyped-def]
    cls = _registry().resolve(spec.type)
    assert cls.type == spec.type
    assert set(spec.features) == {f.value for f in cls.features}
    if issubclass(cls, OutputBinding):
        assert set(spec.operations) == cls.operations
    if spec.kind == "bindings":
        expected = ",".join(d for d, c in (("input", InputBinding), ("output", OutputBinding)) if issubclass(cls, c))
        assert spec.direction == expected


def test_cases_file() -> None:
    (path,) = plugin.blockyard_conformance_cases()
    cases = yaml.safe_load(path.read_text())["cases"]
    ids = [c["id"] for c in cases]
    types = {s.type for s in plugin.blockyard_components()}
    assert types <= set(ids), "every component has a case named by its type"
    variants = set(ids) - types
    assert all(any(v.startswith(f"{t}.") for t in types) for v in variants), f"cases of no component: {variants}"
    assert len(ids) == len(set(ids))
    secrets = json.loads((path.parent / "secrets.json").read_text())
    assert secrets["conftestsecret"] == "abcd"
    assert secrets["secondsecret"] == "efgh"
    assert secrets["multiplekeyvaluessecret"] == {"first": "1", "second": "2", "third": "3"}


@pytest.mark.parametrize(
    "case", yaml.safe_load(plugin.blockyard_conformance_cases()[0].read_text())["cases"], ids=lambda c: c["id"]
)
def test_case_components_construct(case: dict[str, object], tmp_path: Path) -> None:
    case_dir = plugin.blockyard_conformance_cases()[0].parent
    text = str(case["component"])
    for key, value in {
        "tmpdir": str(tmp_path),
        "case_dir": str(case_dir),
        "backend.url": "http://127.0.0.1:1",
        "run_id": "construct",
    }.items():
        text = text.replace("${" + key + "}", value)
    doc = yaml.safe_load(text)
    props = {m["name"]: m["value"] for m in doc["spec"]["metadata"] or []}
    component = _registry().create(doc["spec"]["type"], props, name=doc["metadata"]["name"])
    assert component.type == doc["spec"]["type"] or doc["spec"]["type"] == "state.sqlite3"

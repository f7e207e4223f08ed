"""Hostile configuration input: no YAML text, document or metadata value, however odd, gives a traceback.

Every problem is a :class:`ComponentConfigError` (or a :class:`Problem` in a validation report)
that names the file, the component and the field. The metadata fuzz iterates every installed
component's model, so a new plugin is covered without touching this file.
"""

from __future__ import annotations

import math
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blockyard.cli import cli
from blockyard.component import Component
from blockyard.errors import ComponentConfigError
from blockyard.metadata import (
    MAX_DURATION,
    ComponentMetadata,
    Duration,
    PositiveDuration,
    SignedDuration,
    format_duration,
    meta,
    parse_duration,
)
from blockyard.problems import Severity
from blockyard.registry import ComponentSpec, get_registry
from blockyard.resources import parse_resources, validate_resources
from blockyard.resources.loading import read_text

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Values that broke, or could break, a parser: Go's refusals, float specials, extremes, odd text.
NASTY = [
    "inf", "-inf", "+Inf", "nan", "NaN", "1e3", "1E3", "1e309", "-1", "-5s", "0", "-0", "0.0", "2.5",
    "9" * 30, "9" * 400, "9" * 5000 + "s", "1" * 30 + "h", "2562048h", "-2562048h", "0x10", "1_000",
    "", " ", "\t", "\x00", "\u202e", "🙂" * 50, "é" * 1000, "x" * 100_000, "{uuid}", "${HOME}", "%s%n",
    "true", "yes", "null", "~", "[]", "{}", "a: b", "- x", "'", '"', "\\", "\n\n", "5 s", "1h-5m", ".s",
]  # fmt: skip

scalars = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
python_values = st.one_of(
    scalars,
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.lists(scalars, max_size=4),
    st.dictionaries(scalars, scalars, max_size=3),
    st.binary(max_size=8),
)
yaml_values = st.recursive(
    st.one_of(scalars, st.none(), st.booleans(), st.integers(), st.floats()),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


def _specs() -> list[ComponentSpec]:
    return sorted(get_registry().specs(), key=lambda s: (s.type, s.version))


def _model(spec: ComponentSpec) -> type[ComponentMetadata]:
    return get_registry().resolve(spec.type, spec.version).Metadata or ComponentMetadata


# -- the duration rule -------------------------------------------------------------------------


class _Times(ComponentMetadata):
    any_: SignedDuration = meta(timedelta(0), description="signed", alias="signed")
    wait: Duration = meta(timedelta(0), description="zero or more")
    timeout: PositiveDuration = meta(timedelta(seconds=1), description="more than zero")


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("timeout", "inf", "expected a duration such as '5s', '1m30s', '500ms' or integer seconds"),
        ("timeout", "1e3", "expected a duration such as '5s', '1m30s', '500ms' or integer seconds"),
        ("timeout", "0", "expected a duration greater than 0s"),
        ("timeout", "-5s", "expected a duration greater than 0s"),
        ("wait", "-1", "expected a duration at least 0s"),
        ("signed", "9" * 400, "expected a duration within Go's range (at most 2562047h47m16.854775s either way)"),
        ("signed", "2562048h", "expected a duration within Go's range (at most 2562047h47m16.854775s either way)"),
    ],
)
def test_a_bad_duration_names_its_field_and_what_is_expected(field: str, value: str, expected: str) -> None:
    with pytest.raises(ComponentConfigError) as ei:
        _Times.parse({field: value}, component="times")
    assert ei.value.problems == [f"field {field!r}: {expected}"]
    assert "datetime.timedelta" not in str(ei.value)


def test_zero_and_negative_mean_what_the_field_type_says() -> None:
    parsed = _Times.parse({"wait": "0", "signed": "-1"})
    assert parsed.wait == timedelta(0)
    assert parsed.any_ == timedelta(seconds=-1)


@given(st.integers(min_value=-(10**6), max_value=10**6), st.sampled_from(["h", "m", "s", "ms", "us", "ns"]))
def test_go_strings_round_trip_through_the_formatter(number: int, unit: str) -> None:
    parsed = parse_duration(f"{number}{unit}")
    assert parse_duration(format_duration(parsed)) == parsed


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_numbers_from_python_are_seconds_when_finite_and_in_range(number: float) -> None:
    if math.isfinite(number) and abs(number) <= MAX_DURATION.total_seconds():
        assert parse_duration(number).total_seconds() == pytest.approx(number, abs=1e-6)
    else:
        with pytest.raises(ValueError, match="expected a duration"):
            parse_duration(number)


def test_reconnect_wait_zero_from_dapr_docs_loads() -> None:
    """Dapr's own RabbitMQ example sets ``reconnectWait: "0"``: reconnect at once."""
    spec = next((s for s in _specs() if s.type == "pubsub.rabbitmq"), None)
    if spec is None:
        pytest.skip("blockyard-rabbitmq is not installed")
    parsed = _model(spec).parse({"host": "amqp://localhost:5672", "consumerID": "app", "reconnectWait": "0"})
    assert parsed.reconnect_wait == timedelta(0)  # type: ignore[attr-defined]


# -- every metadata model ------------------------------------------------------------------------


@pytest.mark.parametrize("spec", _specs(), ids=lambda s: f"{s.type}.{s.version}")
@FUZZ
@given(data=st.data())
def test_every_metadata_model_refuses_hostile_values_with_a_named_problem(spec: ComponentSpec, data: Any) -> None:
    cls = get_registry().resolve(spec.type, spec.version)
    model = cls.Metadata or ComponentMetadata
    names = sorted({*model.field_lookup(), "notAField"})
    chosen = data.draw(st.lists(st.sampled_from(names), unique_by=str.lower, max_size=6), label="names")
    properties = {name: data.draw(python_values, label=name) for name in chosen}
    checked = model.check(properties)
    assert (checked.model is None) == bool(checked.problems)
    for problem in checked.problems:
        assert problem.message
        assert problem.code
        assert problem.field, f"a problem of {spec.type} names no field: {problem.message}"
    error: ComponentConfigError | None = None
    try:
        component = cls(properties, name="fuzzed")
    except ComponentConfigError as exc:
        error = exc
    else:
        assert isinstance(component, Component)
    if error is not None:
        assert error.component == "fuzzed"
        assert error.details
        assert all(p.field for p in error.details)


# -- the loader and `blockyard validate` ----------------------------------------------------------


def _component_yaml(spec_type: str, entries: list[tuple[str, Any]], extra: dict[str, Any]) -> str:
    doc: dict[str, Any] = {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "fuzzed"},
        "spec": {"type": spec_type, "version": "v1", "metadata": [{"name": n, "value": v} for n, v in entries]},
    }
    doc["spec"].update(extra)
    return yaml.safe_dump(doc, allow_unicode=True)


@st.composite
def component_files(draw: st.DrawFn) -> str:
    spec = draw(st.sampled_from(_specs()))
    names = sorted(_model(spec).field_lookup()) or ["x"]
    entries = draw(st.lists(st.tuples(st.sampled_from(names), yaml_values), max_size=5))
    extra = draw(
        st.dictionaries(st.sampled_from(["initTimeout", "ignoreErrors", "version", "metadata", "type"]), yaml_values)
    )
    return _component_yaml(spec.type, entries, extra)


any_text = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "a: " + "[" * 5000,
            "".join(f"{' ' * i}k{i}:\n" for i in range(400)),
            "&a [*a]",
            "a: &x 1\nb: *y",
            "kind: Component\n---\n\x00",
            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: [1]}\nspec: 5",
            "kind: Resiliency\nspec: []",
        ]
    ),
)


@FUZZ
@given(text=st.one_of(component_files(), any_text))
def test_the_loader_reports_problems_never_a_traceback(text: str) -> None:
    _, problems = read_text(text, "fuzz.yaml")
    for problem in problems:
        assert problem.file == "fuzz.yaml"
        assert problem.message
    if problems:
        with pytest.raises(ComponentConfigError) as ei:
            parse_resources(text, source="fuzz.yaml")
        assert list(ei.value.details) == problems
    else:
        parse_resources(text, source="fuzz.yaml")


@FUZZ
@given(text=component_files())
def test_validation_names_file_component_and_field(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "component.yaml"
    path.write_text(text, encoding="utf-8")
    report = validate_resources([str(path)])
    for problem in report.details:
        assert problem.file == str(path)
        if problem.severity is Severity.ERROR and problem.message.startswith("metadata "):
            assert problem.component == "fuzzed"
            assert problem.field


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(component_files(), any_text))
def test_the_validate_command_exits_cleanly(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    folder: Path = tmp_path_factory.mktemp("fuzzcli")
    (folder / "c.yaml").write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(folder)])
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    if result.exit_code == 1:
        assert "error:" in result.output or "problem" in result.output


def test_the_validate_command_reports_inf_for_a_duration(tmp_path: Path) -> None:
    """The case that crashed with OverflowError: ``value: inf`` for a duration field."""
    path = tmp_path / "store.yaml"
    path.write_text(
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: cache}\n"
        "spec:\n  type: state.in-memory\n  version: v1\n  metadata:\n    - {name: cleanupInterval, value: inf}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"{path}:8: component 'cache': metadata field 'cleanupInterval': expected a duration" in result.output


def _dapr_test_configs() -> list[Path]:
    """Dapr's own conformance test component files, from the Go module cache the daprd build fills."""
    cache = Path(os.environ.get("GOMODCACHE") or Path.home() / "go" / "pkg" / "mod")
    roots = sorted(cache.glob("github.com/dapr/components-contrib@*/tests/config"))
    return sorted(roots[-1].rglob("*.yaml")) if roots else []


def test_daprs_own_test_components_keep_loading() -> None:
    """Every Dapr test component of a type Blockyard implements validates, but for fields it declares unsupported."""
    files = _dapr_test_configs()
    if not files:
        pytest.skip("components-contrib is not in the Go module cache (the daprd build puts it there)")
    registry = get_registry()
    checked = 0
    for path in files:
        report = validate_resources([str(path)])
        if not report.resources or not all(_known(registry, r.type, r.version) for r in report.resources):
            continue
        checked += 1
        assert [p for p in report.details if p.severity is Severity.ERROR and p.code != "unsupported"] == [], path
    assert checked >= 3


def _known(registry: Any, type_: str, version: str) -> bool:
    try:
        registry.spec(type_, version)
    except ComponentConfigError:
        return False
    return True

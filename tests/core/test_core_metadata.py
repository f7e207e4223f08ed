"""Metadata models: Dapr's parsing rules, sensitive fields, generated schemas."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, ClassVar, Literal

import pytest
from core_testkit import MemStateMetadata

from blockyard.errors import BlockyardError, BulkError, ComponentConfigError, ETagMismatchError
from blockyard.metadata import ComponentMetadata, SecretStr, meta, parse_duration

PASSWORD = "hunter2-never-printed"


def parse(**props: Any) -> MemStateMetadata:
    return MemStateMetadata.parse({"host": "h", **props}, component="cache")


def test_names_match_case_insensitively_and_by_alias() -> None:
    m = MemStateMetadata.parse({"HOST": "a", "EnableTls": "true", "PREFIX": "p", "max_size": "1k"})
    assert (m.host, m.enable_tls, m.key_prefix, m.max_size) == ("a", True, "p", 1000)
    m = MemStateMetadata.parse({"host": "a", "enable_tls": "on", "keyPrefix": "q"})
    assert (m.enable_tls, m.key_prefix) == (True, "q")


def test_same_name_twice_in_any_case_is_an_error() -> None:
    with pytest.raises(ComponentConfigError) as ei:
        MemStateMetadata.parse({"host": "a", "Host": "b"}, component="c")
    assert "field 'Host' is given twice (also as 'host')" in str(ei.value)
    with pytest.raises(ComponentConfigError, match="given twice"):
        MemStateMetadata.parse({"host": "a", "prefix": "x", "keyPrefix": "y"})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5s", 5),
        ("1m30s", 90),
        ("500ms", 0.5),
        ("1h2m3.5s", 3723.5),
        ("10", 10),
        (7, 7),
        ("0", 0),
        ("+10", 10),
        ("1.5h", 5400),
        ("100us", 0.0001),
        ("1µs", 0.000001),
    ],
)
def test_go_durations_and_integer_seconds(text: Any, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == pytest.approx(seconds)
    assert parse(timeout=text).timeout == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["soon", "5 s", "1x", "", True, "m5", "1e3", "inf", "-inf", "nan", "2.5", "1s2"])
def test_bad_durations_name_the_field_and_the_expected_forms(bad: Any) -> None:
    with pytest.raises(ComponentConfigError) as ei:
        parse(timeout=bad)
    assert ei.value.problems == [
        "field 'timeout': expected a duration such as '5s', '1m30s', '500ms' or integer seconds"
    ]
    assert ei.value.component == "cache"
    assert ei.value.field == "timeout"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("1", True),
        ("yes", True),
        ("on", True),
        ("TRUE", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("off", False),
    ],
)
def test_truthy_booleans(text: str, value: bool) -> None:
    assert parse(enableTLS=text).enable_tls is value


def test_comma_lists_and_byte_sizes() -> None:
    m = parse(hosts="a, b ,,c", maxSize="100Mi")
    assert m.hosts == ["a", "b", "c"]
    assert m.max_size == 100 * 1024**2
    assert parse(hosts=["x", "y"], maxSize="10MB").max_size == 10_000_000
    assert parse(maxSize=2048).max_size == 2048
    with pytest.raises(ComponentConfigError, match="field 'maxSize': expected a byte size"):
        parse(maxSize="lots")


def test_missing_required_and_bad_types_are_all_listed() -> None:
    with pytest.raises(ComponentConfigError) as ei:
        MemStateMetadata.parse({"port": "x", "timeout": "soon"}, component="cache", source="f.yaml")
    problems = ei.value.problems
    assert "field 'host' is required" in problems
    assert any(p.startswith("field 'port': Input should be a valid integer") for p in problems)
    assert len(problems) == 3
    assert str(ei.value).startswith("component 'cache': f.yaml: ")


def test_sensitive_fields_never_print(caplog: pytest.LogCaptureFixture) -> None:
    m = parse(password=PASSWORD)
    assert m.password is not None
    assert m.password.get_secret_value() == PASSWORD
    for text in (repr(m), str(m), str(m.model_dump())):
        assert PASSWORD not in text

    class IntSecret(ComponentMetadata):
        pin: int = meta(description="a numeric secret")
        token: SecretStr = meta(description="token")

    with caplog.at_level(logging.DEBUG), pytest.raises(ComponentConfigError) as ei:
        IntSecret.parse({"pin": PASSWORD, "token": ["not", PASSWORD]}, component="c")
    assert PASSWORD not in str(ei.value)
    assert PASSWORD not in repr(ei.value.problems)
    assert PASSWORD not in caplog.text


def test_unknown_fields_are_warned_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="blockyard.metadata"):
        m = parse(colour="red", Shape="round")
    assert m.host == "h"
    assert "component 'cache': ignoring unknown metadata field(s) 'colour', 'Shape'" in caplog.text


def test_unsupported_fields_are_rejected_with_the_reason() -> None:
    with pytest.raises(ComponentConfigError) as ei:
        parse(REDISTYPE="cluster")
    assert ei.value.problems == [
        "field 'redisType' is not supported by this component: cluster mode is not implemented"
    ]


def test_generated_dapr_metadata() -> None:
    entries = {e["name"]: e for e in MemStateMetadata.dapr_metadata()}
    assert entries["host"] == {
        "name": "host",
        "description": "host:port of the server",
        "type": "string",
        "required": True,
        "example": "localhost:6379",
    }
    assert entries["password"]["sensitive"] is True
    assert "default" not in entries["password"]
    assert entries["timeout"]["type"] == "duration"
    assert entries["timeout"]["default"] == "5s"
    assert entries["enableTLS"]["type"] == "bool"
    assert entries["enableTLS"]["default"] == "false"
    assert entries["port"]["type"] == "number"
    assert entries["port"]["default"] == "6379"
    assert entries["maxSize"]["type"] == "bytesize"
    assert entries["keyPrefix"]["aliases"] == ["prefix"]


def test_generated_json_schema() -> None:
    schema = MemStateMetadata.json_schema()
    props = schema["properties"]
    assert schema["required"] == ["host"]
    assert props["password"]["sensitive"] is True
    assert set(props) >= {"host", "password", "port", "timeout", "enableTLS", "hosts", "maxSize", "keyPrefix"}
    assert props["timeout"]["format"] == "duration"


def test_allowed_values_and_literal_types() -> None:
    class Mode(ComponentMetadata):
        mode: Literal["fast", "safe"] = meta("safe", description="mode", allowed=("fast", "safe"))
        unsupported: ClassVar[dict[str, str]] = {}

    assert Mode.parse({"MODE": "fast"}).mode == "fast"
    assert Mode.dapr_metadata()[0]["allowedValues"] == ["fast", "safe"]
    with pytest.raises(ComponentConfigError, match="field 'mode': Input should be 'fast' or 'safe'"):
        Mode.parse({"mode": "reckless"})


def test_error_rendering_and_fill() -> None:
    err = ETagMismatchError("the etag does not match")
    assert str(err) == "the etag does not match"
    assert err.fill("store", "set", "k") is err
    assert str(err) == "component 'store', operation 'set', key 'k': the etag does not match"
    err.fill("other", "get", "z")  # already known context is kept
    assert (err.component, err.operation, err.key) == ("store", "set", "k")
    bulk = BulkError({f"k{i}": BlockyardError("x") for i in range(7)}, component="s", operation="bulk_set")
    assert str(bulk) == "component 's', operation 'bulk_set': 7 item(s) failed: 'k0', 'k1', 'k2', 'k3', 'k4' and 2 more"
    config = ComponentConfigError("field 'x' is required", component="c", source="f.yaml", field="x")
    assert (config.problems, config.field, config.key, config.source) == (["field 'x' is required"], "x", "x", "f.yaml")

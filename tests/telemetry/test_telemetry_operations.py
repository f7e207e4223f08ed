"""One span and the metrics per public component operation; nothing secret recorded."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode
from otel_testkit import Otel

from blockyard import telemetry
from blockyard.errors import ETagMismatchError, InvalidRequestError, SecretNotFoundError
from blockyard.state import SetRequest
from blockyard_local.secretstores_env import LocalEnvSecretStore
from blockyard_local.state_memory import InMemoryStateStore

SECRET_VALUE = "s3cr3t-value-9f2c"


def attributes(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_each_state_operation_is_one_span_with_its_attributes(otel: Otel) -> None:
    async with InMemoryStateStore(name="orders") as store:
        etag = await store.set("order-1", {"qty": 3})
        await store.get("order-1")
        await store.bulk_get(["order-1", "order-2", "order-3"])
        await store.bulk_set([SetRequest("a", 1), SetRequest("b", 2)])
        await store.transact([SetRequest("c", 3)])
        await store.delete("order-1", etag=None)
    assert [s.name for s in otel.spans()] == [
        "state.set",
        "state.get",
        "state.bulk_get",
        "state.bulk_set",
        "state.transact",
        "state.delete",
    ]
    get = otel.spans("state.get")[0]
    assert get.kind is SpanKind.CLIENT
    assert attributes(get) == {
        "blockyard.component": "orders",
        "blockyard.component.type": "state.in-memory",
        "blockyard.kind": "state",
        "blockyard.operation": "get",
        "blockyard.key_count": 1,
    }
    assert get.status.status_code is StatusCode.UNSET
    assert attributes(otel.spans("state.bulk_get")[0])["blockyard.key_count"] == 3
    assert attributes(otel.spans("state.bulk_set")[0])["blockyard.key_count"] == 2
    assert attributes(otel.spans("state.transact")[0])["blockyard.key_count"] == 1
    assert etag is not None


async def test_no_key_or_value_is_recorded(otel: Otel) -> None:
    async with InMemoryStateStore(name="orders") as store:
        await store.set("customer-key-77", {"card": SECRET_VALUE})
        await store.get("customer-key-77")
        with pytest.raises(ETagMismatchError):
            await store.set("customer-key-77", {"card": SECRET_VALUE}, etag="stale-etag")
    recorded = repr([(s.name, attributes(s), s.status.description, s.events) for s in otel.spans()])
    recorded += repr(otel.points("blockyard.operations")) + repr(otel.points("blockyard.errors"))
    for leaked in ("customer-key-77", SECRET_VALUE, "stale-etag"):
        assert leaked not in recorded


async def test_secret_names_and_values_are_never_recorded(otel: Otel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BY_TEST_DB_PASSWORD", SECRET_VALUE)
    async with LocalEnvSecretStore(name="env") as store:
        assert (await store.get_secret("BY_TEST_DB_PASSWORD")) == {"BY_TEST_DB_PASSWORD": SECRET_VALUE}
        with pytest.raises(SecretNotFoundError):
            await store.get_secret("BY_TEST_MISSING_NAME")
    spans = otel.spans()
    assert [s.name for s in spans] == ["secretstores.get_secret", "secretstores.get_secret"]
    recorded = repr([(attributes(s), s.status.description, s.events) for s in spans])
    for leaked in ("BY_TEST_DB_PASSWORD", "BY_TEST_MISSING_NAME", SECRET_VALUE):
        assert leaked not in recorded


async def test_a_failed_operation_has_error_status_and_is_counted_by_type(otel: Otel) -> None:
    async with InMemoryStateStore(name="orders") as store:
        etag = await store.set("k", 1)
        await store.set("k", 2, etag=etag)
        for _ in range(2):
            with pytest.raises(ETagMismatchError):
                await store.set("k", 3, etag=etag)
    failed = otel.spans("state.set")[2:]
    assert len(failed) == 2
    for span in failed:
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == "ETagMismatchError"
        assert attributes(span)["error.type"] == "ETagMismatchError"
    errors = otel.points("blockyard.errors")
    assert [(dict(p.attributes), p.value) for p in errors] == [
        (
            {
                "blockyard.component": "orders",
                "blockyard.component.type": "state.in-memory",
                "blockyard.kind": "state",
                "blockyard.operation": "set",
                "error.type": "ETagMismatchError",
            },
            2,
        )
    ]


async def test_operations_are_counted_and_timed(otel: Otel) -> None:
    async with InMemoryStateStore(name="orders") as store:
        for i in range(5):
            await store.set(f"k{i}", i)
        await store.get("k1")
    counts = {p.attributes["blockyard.operation"]: p.value for p in otel.points("blockyard.operations")}
    assert counts == {"set": 5, "get": 1}
    durations = {p.attributes["blockyard.operation"]: p for p in otel.points("blockyard.operation.duration")}
    assert durations["set"].count == 5
    assert durations["get"].count == 1
    assert durations["set"].sum > 0
    assert otel.points("blockyard.errors") == []


async def test_an_operation_continues_the_callers_trace(otel: Otel) -> None:
    async with InMemoryStateStore(name="orders") as store:
        with otel.tracer().start_as_current_span("handle-request") as parent:
            await store.get("k")
    (child,) = otel.spans("state.get")
    assert child.parent is not None
    assert child.parent.span_id == parent.get_span_context().span_id
    assert child.context.trace_id == parent.get_span_context().trace_id


async def test_validation_errors_happen_before_any_span(otel: Otel) -> None:
    async with InMemoryStateStore(name="orders") as store:
        with pytest.raises(InvalidRequestError):
            await store.get("")
    assert otel.spans() == []


async def test_switched_off_nothing_is_recorded(otel: Otel) -> None:
    telemetry.configure(enabled=False, tracer_provider=otel.tracer_provider)
    assert not telemetry.enabled()
    async with InMemoryStateStore(name="orders") as store:
        await store.set("k", 1)
        with pytest.raises(ETagMismatchError):
            await store.set("k", 1, etag="1")
    assert otel.spans() == []
    assert otel.points("blockyard.operations") == []


@pytest.mark.parametrize(("value", "on"), [("0", False), ("off", False), ("FALSE", False), ("1", True), ("", True)])
def test_the_environment_switch(monkeypatch: pytest.MonkeyPatch, value: str, on: bool) -> None:
    monkeypatch.setenv(telemetry.ENV_SWITCH, value)
    assert telemetry._from_env() is on


GLOBAL_PROVIDERS_SCRIPT = """
import asyncio
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from blockyard import telemetry
from blockyard_local.state_memory import InMemoryStateStore

async def main():
    async with InMemoryStateStore(name="s") as store:
        await store.get("before")  # nothing configured yet: not recorded
        print(telemetry.enabled(), telemetry.active)  # on, but calls take the switched-off path
        exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        await store.get("after")
        await store.set("after", 1)
    print([s.name for s in exporter.get_finished_spans()])
    points = [
        (dict(p.attributes)["blockyard.operation"], p.value)
        for rm in reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "blockyard.operations"
        for p in m.data.data_points
    ]
    print(sorted(points))

asyncio.run(main())
"""


def test_global_providers_set_after_start_are_picked_up() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", GLOBAL_PROVIDERS_SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["True None", "['state.get', 'state.set']", "[('get', 1), ('set', 1)]"]


def test_without_the_api_guards_providers_are_looked_up_at_each_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should the API keep its provider guards elsewhere, a provider set later is picked up by the
    next component start (the instrumentation looks again instead of being told)."""

    def missing(changed: object) -> None:
        raise LookupError("not here")

    placeholders = telemetry._placeholder_providers
    monkeypatch.setattr(telemetry, "_watch_global_providers", missing)
    monkeypatch.setattr(telemetry, "_armed", False)
    try:
        telemetry.configure()
        telemetry.arm()  # a component starts: no provider yet
        before = telemetry.active
        monkeypatch.setattr(telemetry, "_placeholder_providers", lambda: ())  # a provider is set
        after_set = telemetry.active
        telemetry.arm()  # the next component starts
        assert (before, after_set, telemetry.active is not None) == (None, None, True)
    finally:
        monkeypatch.undo()
        assert telemetry._placeholder_providers is placeholders
        telemetry.configure()
    assert telemetry.active is None

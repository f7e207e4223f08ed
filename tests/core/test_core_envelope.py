"""CloudEvents envelopes: what a publish writes, what a handler gets, and Dapr's edge cases."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

import orjson
import pytest

from blockyard.envelope import CloudEvent, is_raw_payload, unwrap, wrap
from blockyard.errors import InvalidRequestError
from blockyard.pubsub import Message
from blockyard_conformance.support import Inbox
from blockyard_local.pubsub_memory import InMemoryPubSub


def _wrap(
    payload: bytes, *, ct: str | None = None, is_json: bool = True, md: dict[str, str] | None = None
) -> dict[str, Any]:
    raw = wrap(payload, topic="t", pubsubname="ps", source="app", content_type=ct, is_json=is_json, metadata=md or {})
    event = orjson.loads(raw)
    assert isinstance(event, dict)
    return event


def test_a_json_value_is_wrapped_with_daprd_s_fields() -> None:
    event = _wrap(b'{"a":1}', md={"traceparent": "00-tp", "tracestate": "s=1"})
    event_id = event.pop("id")
    assert uuid.UUID(event_id).version == 4
    assert str(uuid.UUID(event_id)) == event_id  # the canonical form, as daprd writes it
    assert datetime.fromisoformat(event.pop("time")).tzinfo is not None
    assert event == {
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "source": "app",
        "type": "com.dapr.event.sent",
        "topic": "t",
        "pubsubname": "ps",
        "traceid": "00-tp",
        "traceparent": "00-tp",
        "tracestate": "s=1",
        "data": {"a": 1},
    }


def test_payload_placement_follows_the_content_type() -> None:
    assert _wrap(b"\x00\xff", is_json=False)["data_base64"] == base64.b64encode(b"\x00\xff").decode()
    assert _wrap(b"hello", ct="text/plain", is_json=False)["data"] == "hello"
    assert _wrap(b"\xff", ct="text/plain", is_json=False)["data_base64"] == "/w=="
    assert _wrap(b"{not json", ct="application/json", is_json=False)["data"] == "{not json"
    assert _wrap(b"[1,2]", ct="application/json; charset=utf-8", is_json=False)["data"] == [1, 2]


def test_metadata_overrides_attributes_as_dapr_does() -> None:
    md = {"CloudEvent.Id": "my-id", "cloudevent.type": "my.type", "cloudevent.source": "src", "cloudevent.subject": "s"}
    event = _wrap(b"1", md=md)
    assert (event["id"], event["type"], event["source"], event["subject"]) == ("my-id", "my.type", "src", "s")


def test_a_cloudevent_payload_is_completed_not_wrapped() -> None:
    given = orjson.dumps({"id": "x", "specversion": "1.0", "data": {"k": 2}, "topic": "old"})
    event = _wrap(given, ct="application/cloudevents+json", is_json=False)
    assert (event["id"], event["topic"], event["pubsubname"], event["data"]) == ("x", "t", "ps", {"k": 2})
    assert (event["source"], event["type"]) == ("Dapr", "com.dapr.event.sent")
    with pytest.raises(InvalidRequestError, match="CloudEvent JSON object"):
        _wrap(b"[1]", ct="application/cloudevents+json", is_json=False)


def test_unwrap_reverses_wrap_and_refuses_non_events() -> None:
    for payload, is_json, ct in [
        (b'{"a":[1,{"b":null}]}', True, None),
        (b"\x00\x01", False, None),
        (b"hi", False, "text/plain"),
    ]:
        raw = wrap(payload, topic="t", pubsubname="ps", source=None, content_type=ct, is_json=is_json, metadata={})
        found = unwrap(raw, "t", "ps", {})
        assert found is not None
        data, event = found
        assert data == payload
        assert isinstance(event, CloudEvent)
        assert event.source == "Dapr"
    for other in (b"", b"plain", b"[1]", b'{"no":"specversion"}', b"{bad json"):
        assert unwrap(other, "t", "ps", {}) is None


def test_unwrap_reads_attributes_extensions_and_edge_cases_as_daprd_writes_them() -> None:
    def opened(event: dict[str, Any], metadata: dict[str, str] | None = None) -> tuple[bytes, CloudEvent]:
        found = unwrap(orjson.dumps(event), "t", "ps", metadata or {})
        assert found is not None
        return found

    data, event = opened(
        {"specversion": "1.0", "id": 7, "source": "", "time": None, "data": "x", "traceid": "00-t", "ext": [1]},
        {"traceparent": "00-md", "tracestate": "md=1"},
    )
    assert data == b"x"
    assert (event.id, event.source, event.type, event.time) == ("7", "Dapr", "com.dapr.event.sent", None)
    assert (event.topic, event.pubsubname, event.datacontenttype) == ("t", "ps", None)
    assert (event.traceparent, event.tracestate) == ("00-t", "md=1")  # traceid before the metadata's
    assert event.extensions == {"traceid": "00-t", "ext": [1]}  # every attribute not named above
    assert opened({"specversion": "1.0"}, {"traceparent": "00-md"})[1].traceparent == "00-md"
    assert opened({"specversion": "1.0", "traceparent": "00-e", "traceid": "00-t"})[1].traceparent == "00-e"
    assert opened({"specversion": "1.0", "datacontenttype": "application/json", "data": "s"})[0] == b'"s"'
    assert opened({"specversion": "1.0", "data": {"k": 1}})[0] == b'{"k":1}'
    assert opened({"specversion": "1.0", "data": None})[0] == b""
    both = {"specversion": "1.0", "data_base64": "AAE=", "data": "ignored"}
    assert opened(both) == (b"\x00\x01", opened({"specversion": "1.0", "data_base64": "AAE="})[1])
    for bad in ("%%%", "AAE", 12, "AA\u00e9="):
        assert unwrap(orjson.dumps({"specversion": "1.0", "data_base64": bad}), "t", "ps", {}) is None


def test_raw_payload_must_be_a_boolean() -> None:
    assert is_raw_payload({"RAWPAYLOAD": "True"})
    assert not is_raw_payload({"rawPayload": "false"})
    with pytest.raises(InvalidRequestError, match="rawPayload"):
        is_raw_payload({"rawPayload": "maybe"}, component="c")


async def test_handlers_get_payload_attributes_and_trace_context() -> None:
    async with InMemoryPubSub(name="bus") as bus:
        bus.app_id = "checkout"
        inbox, raw_inbox = Inbox(), Inbox()

        async def handler(message: Message) -> None:
            inbox.add(message)

        async def raw_handler(message: Message) -> None:
            raw_inbox.add(message)

        async with (
            await bus.subscribe("orders", handler),
            await bus.subscribe("orders", raw_handler, consumer_group="raw", metadata={"rawPayload": "true"}),
        ):
            await bus.publish("orders", {"id": 7}, metadata={"traceparent": "00-abc-def-01", "tracestate": "k=v"})
            await bus.publish("orders", b"bare", metadata={"rawPayload": "true"})
            await inbox.wait_for(lambda: len(inbox.items) == 2, within=10, what="both messages")
            await raw_inbox.wait_for(lambda: len(raw_inbox.items) == 2, within=10, what="both raw messages")
        got: list[Message] = inbox.items
        wire: list[Message] = raw_inbox.items
        event_message = next(m for m in got if m.data.startswith(b"{"))
        assert event_message.json() == {"id": 7}
        assert event_message.event is not None
        assert (event_message.event.source, event_message.event.pubsubname) == ("checkout", "bus")
        assert (event_message.traceparent, event_message.tracestate) == ("00-abc-def-01", "k=v")
        bare = next(m for m in got if m.data == b"bare")
        assert bare.event is not None
        assert bare.event.datacontenttype == "application/octet-stream"
        assert bare.traceparent is None
        assert orjson.loads(next(m for m in wire if m.data.startswith(b"{")).data)["data"] == {"id": 7}

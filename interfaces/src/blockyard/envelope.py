"""CloudEvents 1.0 envelopes, written and read exactly as daprd does.

Every pub/sub component publishes through :func:`wrap` and delivers through :func:`unwrap` (the
:class:`~blockyard.pubsub.PubSub` base calls them; a plugin never does), so a Blockyard app and a
Dapr app on the same broker read each other's messages.

Publishing (structured JSON, ``datacontenttype`` ``application/cloudevents+json`` on the wire):

- attributes: ``id`` (a fresh uuid4), ``specversion`` ``"1.0"``, ``source`` (the app id, else
  ``"Dapr"``), ``type`` ``"com.dapr.event.sent"``, ``datacontenttype``, ``topic``, ``pubsubname``
  (the component's name), ``traceid`` = ``traceparent``, ``tracestate``, ``time`` (RFC 3339, UTC,
  seconds), and ``subject`` when given;
- the payload: JSON content types (the default for non-bytes values) go in ``data`` as JSON;
  ``application/octet-stream`` (the default for bytes) goes in ``data_base64``; any other content
  type goes in ``data`` as a string (bytes that are not UTF-8 go in ``data_base64``);
- request metadata ``cloudevent.id`` / ``.source`` / ``.type`` / ``.subject`` / ``.traceparent`` /
  ``.tracestate`` override those attributes, as in Dapr; plain ``traceparent`` / ``tracestate``
  metadata set the trace context;
- content type ``application/cloudevents+json``: the payload already is an event; missing
  ``source``/``type``/``specversion``/``time``/trace fields are filled in and ``topic``/``pubsubname``
  set, as daprd does;
- metadata ``rawPayload: "true"`` sends the bare payload (no envelope).

Receiving: a JSON object carrying ``specversion`` is an event: the handler gets its ``data`` (or
decoded ``data_base64``) as bytes and its attributes as :class:`CloudEvent`. Anything else, and
every message of a subscription with ``rawPayload: "true"``, is wrapped as daprd wraps a raw
payload: a fresh ``id``, source ``"Dapr"``, content type ``application/octet-stream``, the bytes
unchanged. Trace context missing from the event is taken from the message metadata.
"""

from __future__ import annotations

import base64
import binascii
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from blockyard.errors import InvalidRequestError
from blockyard.metadata import parse_bool

__all__ = [
    "CLOUDEVENT_CONTENT_TYPE",
    "DEFAULT_SOURCE",
    "EVENT_TYPE",
    "RAW_PAYLOAD",
    "SPEC_VERSION",
    "CloudEvent",
    "is_raw_payload",
    "raw_event",
    "unwrap",
    "wrap",
]

SPEC_VERSION = "1.0"
EVENT_TYPE = "com.dapr.event.sent"
DEFAULT_SOURCE = "Dapr"
CLOUDEVENT_CONTENT_TYPE = "application/cloudevents+json"
JSON_CONTENT_TYPE = "application/json"
BINARY_CONTENT_TYPE = "application/octet-stream"
RAW_PAYLOAD = "rawPayload"

_OVERRIDES = ("id", "source", "type", "subject", "traceid", "traceparent", "tracestate")


@dataclass(slots=True)
class CloudEvent:
    """The attributes of a received CloudEvent (the payload is ``Message.data``).

    ``extensions`` holds every other attribute (``traceid``, ``expiration``, custom ones) as decoded
    from JSON. ``datacontenttype`` is the payload's content type. (Not frozen: a frozen dataclass
    costs several microseconds more per delivered message.)
    """

    id: str
    source: str
    type: str
    specversion: str = SPEC_VERSION
    datacontenttype: str | None = None
    topic: str | None = None
    pubsubname: str | None = None
    time: str | None = None
    subject: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None
    extensions: Mapping[str, Any] = field(default_factory=dict)


def is_raw_payload(metadata: Mapping[str, str], *, component: str | None = None) -> bool:
    """True when request metadata ``rawPayload`` (any case) is true.

    :raises InvalidRequestError: when it is not a boolean.
    """
    if not metadata:
        return False
    for name, value in metadata.items():
        if name.lower() == "rawpayload":
            try:
                return parse_bool(value)
            except ValueError:
                raise InvalidRequestError(
                    f"metadata {RAW_PAYLOAD!r} must be true or false, got {value!r}", component=component
                ) from None
    return False


def _is(content_type: str, expected: str) -> bool:
    ct = content_type.lower()
    return ct == expected or ct.partition(";")[0].strip() == expected


def _is_json(content_type: str) -> bool:
    return _is(content_type, JSON_CONTENT_TYPE)


def _overrides(metadata: Mapping[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in metadata.items():
        low = name.lower()
        if low.startswith("cloudevent."):
            attr = low[11:]
            if attr in _OVERRIDES and value:
                found[attr] = value
        elif low in ("traceparent", "tracestate") and value:
            found.setdefault(low, value)
    return found


_UUID4_CLEAR = 0xFFFFFFFFFFFF0FFF3FFFFFFFFFFFFFFF
_UUID4_SET = 0x00000000000040008000000000000000


def new_event_id() -> str:
    """A random (version 4) UUID, as daprd makes for each event.

    From the ``random`` module (seeded from the OS, reseeded after ``fork``): event ids need to be
    unique, not unpredictable, and ``uuid.uuid4()`` reads the OS's random source on every call,
    which is the dearest step of an envelope.
    """
    h = (random.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET).to_bytes(16, "big").hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_clock: list[Any] = [0, ""]


def _now() -> str:
    """The current time as RFC 3339 UTC seconds, formatted once per second."""
    second = int(time.time())
    if _clock[0] != second:
        _clock[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))]
    return str(_clock[1])


def wrap(
    payload: bytes,
    *,
    topic: str,
    pubsubname: str,
    source: str | None,
    content_type: str | None,
    is_json: bool,
    metadata: Mapping[str, str],
) -> bytes:
    """The envelope of one publish, as JSON bytes.

    ``is_json`` says ``payload`` was JSON-encoded from a value (so it is valid JSON and the content
    type defaults to ``application/json``); bytes default to ``application/octet-stream``.

    :raises InvalidRequestError: a ``cloudevents+json`` payload that is not a JSON object.
    """
    over = _overrides(metadata) if metadata else {}
    if content_type and _is(content_type, CLOUDEVENT_CONTENT_TYPE):
        return _complete(payload, topic, pubsubname, over)
    ct = content_type or (JSON_CONTENT_TYPE if is_json else BINARY_CONTENT_TYPE)
    traceparent = over.get("traceparent") or over.get("traceid") or ""
    event: dict[str, Any] = {
        "id": over.get("id") or new_event_id(),
        "specversion": SPEC_VERSION,
        "datacontenttype": ct,
        "source": over.get("source") or source or DEFAULT_SOURCE,
        "type": over.get("type") or EVENT_TYPE,
        "topic": topic,
        "pubsubname": pubsubname,
        "traceid": traceparent,
        "traceparent": traceparent,
        "tracestate": over.get("tracestate", ""),
        "time": _now(),
    }
    if _is_json(ct):
        if is_json:
            event["data"] = orjson.Fragment(payload)
        else:
            try:
                event["data"] = orjson.loads(payload)
            except orjson.JSONDecodeError:
                event["data"] = payload.decode("utf-8", "replace")  # daprd sends invalid JSON as a string
    elif _is(ct, BINARY_CONTENT_TYPE):
        event["data_base64"] = base64.b64encode(payload).decode()
    else:
        try:
            event["data"] = payload.decode()
        except UnicodeDecodeError:
            event["data_base64"] = base64.b64encode(payload).decode()
    if "subject" in over:
        event["subject"] = over["subject"]
    return orjson.dumps(event)


def _complete(payload: bytes, topic: str, pubsubname: str, over: Mapping[str, str]) -> bytes:
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError:
        event = None
    if not isinstance(event, dict):
        raise InvalidRequestError(
            f"content type {CLOUDEVENT_CONTENT_TYPE} needs a CloudEvent JSON object as data", key=topic
        )
    event.setdefault("time", _now())
    if "traceid" not in event:
        event["traceid"] = event["traceparent"] = over.get("traceparent", "")
    event.setdefault("tracestate", over.get("tracestate", ""))
    event["topic"] = topic
    event["pubsubname"] = pubsubname
    for name, default in (("source", DEFAULT_SOURCE), ("type", EVENT_TYPE), ("specversion", SPEC_VERSION)):
        if event.get(name) is None:
            event[name] = default
    return orjson.dumps(event)


def with_trace_context(event: bytes, carrier: Mapping[str, str]) -> bytes:
    """The encoded CloudEvent ``event`` carrying ``carrier``'s ``traceparent`` (also as ``traceid``)
    and ``tracestate``; ``event`` unchanged when it does not decode or ``carrier`` has no trace."""
    traceparent = carrier.get("traceparent")
    if not traceparent:
        return event
    try:
        decoded = orjson.loads(event)
    except orjson.JSONDecodeError:
        return event
    if not isinstance(decoded, dict):
        return event
    decoded["traceid"] = decoded["traceparent"] = traceparent
    decoded["tracestate"] = carrier.get("tracestate", "")
    return orjson.dumps(decoded)


def raw_event(topic: str, pubsubname: str, metadata: Mapping[str, str]) -> CloudEvent:
    """The event daprd makes up for a payload that is not a CloudEvent (trace context from metadata)."""
    return CloudEvent(
        id=new_event_id(),
        source=DEFAULT_SOURCE,
        type=EVENT_TYPE,
        datacontenttype=BINARY_CONTENT_TYPE,
        topic=topic,
        pubsubname=pubsubname,
        traceparent=metadata.get("traceparent") or None,
        tracestate=metadata.get("tracestate") or None,
    )


def _text(value: Any) -> str | None:
    """An attribute as text: strings as they are, other JSON values as ``str()``, empty as ``None``."""
    if value.__class__ is str:
        return value or None
    if value is None or value == "":
        return None
    return str(value)


def _payload(event: dict[str, Any], ct: str | None) -> bytes | None:
    """Take the payload out of the decoded ``event``: ``data_base64`` decoded, else ``data`` as bytes
    (a string as UTF-8 unless the content type is JSON, any other value as JSON); ``None`` when
    ``data_base64`` is not valid base64."""
    if "data_base64" in event:
        encoded = event.pop("data_base64")
        event.pop("data", None)
        try:
            return binascii.a2b_base64(encoded or "", strict_mode=True)
        except (binascii.Error, TypeError, ValueError):
            return None
    value = event.pop("data", None)
    if value is None:
        return b""
    if value.__class__ is str and not (ct and _is_json(ct)):
        return value.encode()
    return orjson.dumps(value)


def unwrap(raw: bytes, topic: str, pubsubname: str, metadata: Mapping[str, str]) -> tuple[bytes, CloudEvent] | None:
    """The payload and attributes of ``raw`` when it is a CloudEvent, else ``None``."""
    if not raw or raw[:1] != b"{":
        return None
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(event, dict) or "specversion" not in event:
        return None
    pop = event.pop
    ct = _text(pop("datacontenttype", None))
    data = _payload(event, ct)
    if data is None:
        return None
    # the known attributes are taken out of ``event``; what is left are the extensions
    attrs = CloudEvent(
        id=_text(pop("id", None)) or "",
        source=_text(pop("source", None)) or DEFAULT_SOURCE,
        type=_text(pop("type", None)) or EVENT_TYPE,
        specversion=_text(pop("specversion", None)) or SPEC_VERSION,
        datacontenttype=ct,
        topic=_text(pop("topic", None)) or topic,
        pubsubname=_text(pop("pubsubname", None)) or pubsubname,
        time=_text(pop("time", None)),
        subject=_text(pop("subject", None)),
        traceparent=_text(pop("traceparent", None)),
        tracestate=_text(pop("tracestate", None)) or metadata.get("tracestate"),
        extensions=event,  # after the pops above: what is left
    )
    if attrs.traceparent is None:
        attrs.traceparent = _text(event.get("traceid")) or metadata.get("traceparent")
    return data, attrs

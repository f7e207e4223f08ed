"""Through blockyard.sync, the calling thread's span is the parent of the operation's span."""

from __future__ import annotations

import threading
from pathlib import Path

from otel_testkit import Otel

import blockyard.sync
from blockyard.pubsub import Message

COMPONENTS = """\
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: statestore}
spec: {type: state.in-memory, version: v1}
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: pubsub}
spec: {type: pubsub.in-memory, version: v1}
"""


def test_sync_calls_and_handlers_continue_the_callers_trace(otel: Otel, tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(COMPONENTS)
    done = threading.Event()
    inner: list[int] = []
    tracer = otel.tracer()

    def handle(message: Message) -> None:
        with tracer.start_as_current_span("handler-work") as span:  # on a handler thread
            inner.append(span.get_span_context().span_id)
        done.set()

    with blockyard.sync.open(tmp_path) as yard:
        store, bus = yard.state("statestore"), yard.pubsub("pubsub")
        with bus.subscribe("orders", handle), tracer.start_as_current_span("request") as request:
            store.set("k", 1)
            bus.publish("orders", {"id": 1})
            assert done.wait(30)
    request_id = request.get_span_context().span_id
    (set_span,) = otel.spans("state.set")
    assert set_span.parent is not None
    assert set_span.parent.span_id == request_id
    (publish,) = otel.spans("pubsub.publish")
    (deliver,) = otel.spans("pubsub.deliver")
    assert deliver.parent is not None
    assert deliver.parent.span_id == publish.context.span_id
    (work,) = otel.spans("handler-work")
    assert work.parent is not None
    assert work.parent.span_id == deliver.context.span_id
    assert work.context.trace_id == request.get_span_context().trace_id

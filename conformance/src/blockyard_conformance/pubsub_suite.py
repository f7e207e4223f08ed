"""The pub/sub suite: Dapr's conformance cases plus the delivery guarantees features declare.

Every test publishes to topics under a fresh id and tags each message with its run id, so
messages left over from earlier runs are acknowledged and ignored. Waits are event-driven:
a test wakes on every delivery and fails after ``delivery_timeout`` seconds.

Knobs: ``message_count``, ``redelivery_message_count`` (1,000), ``ordered_message_count``,
``delivery_timeout``, ``subscribe_settle`` (seconds to let a new subscription attach before
publishing, for brokers that attach asynchronously), ``quiet_period`` (how long to watch for
messages that must *not* arrive), ``message_ttl_wait``, ``reliability_messages`` (the exact-accounting
scenarios' size: ``BLOCKYARD_RELIABILITY_MESSAGES``, 10,000 in ``make reliability``), ``max_in_flight``
(the duplicates a crash may cause: prefetch x consumers), ``large_payload_size``,
``max_concurrent_handlers`` (the in-flight bound the case's configuration declares) with
``slow_handler_seconds`` (backpressure), ``poison_hold_limit`` (how long a poison message may hold
back the others), ``dead_letter_within`` (how long a poison message may take to reach the
dead-letter topic), ``task_settle`` (how long a task started around a cancel may take to end),
``held_redelivery_within``, ``held_messages`` and ``redelivery_marker`` (a SIGKILLed subscriber's messages),
``max_redeliveries`` and ``redelivery_backoff`` (the redelivery limit and backoff the case configures).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, ClassVar

import orjson
import pytest

from blockyard.component import Component
from blockyard.envelope import CLOUDEVENT_CONTENT_TYPE, EVENT_TYPE
from blockyard.errors import BackendUnavailableError, BulkError, InvalidRequestError, NotSupportedError
from blockyard.pubsub import BulkPublishEntry, BulkPublisher, BulkSubscriber, Message, PubSub
from blockyard.subscription import HandlerResult, Subscription
from blockyard_conformance.accounting import Ledger, reliability_size
from blockyard_conformance.base_suite import ComponentSuite, SuiteEnv
from blockyard_conformance.held_subscriber import HeldSubscriber
from blockyard_conformance.leaks import assert_no_new_tasks
from blockyard_conformance.marks import capability
from blockyard_conformance.steady import SteadyPublisher
from blockyard_conformance.support import Inbox, fresh_id

__all__ = ["PubSubSuite", "Received"]

Handler = Callable[[Message], Awaitable[HandlerResult | None]]


class Received(Inbox):
    """Messages of one run: ``seqs`` in arrival order, ``data`` by sequence number."""

    def __init__(self, run: str) -> None:
        super().__init__()
        self.run = run
        self.seqs: list[int] = []
        self.data: dict[int, Any] = {}
        self.messages: dict[int, Message] = {}

    def seq_of(self, message: Message) -> int | None:
        """The sequence number of a message of this run; ``None`` for anything else (leftovers)."""
        try:
            body = orjson.loads(message.data)
        except ValueError:
            return None
        if not isinstance(body, dict) or body.get("run") != self.run:
            return None
        seq = body.get("seq")
        return seq if isinstance(seq, int) else None

    def record(self, seq: int, message: Message) -> None:
        """Count ``message`` as processed."""
        self.seqs.append(seq)
        self.messages[seq] = message
        self.data[seq] = orjson.loads(message.data)
        self.add(seq)

    async def handler(self, message: Message) -> HandlerResult | None:
        """A handler that records this run's messages and acknowledges everything."""
        seq = self.seq_of(message)
        if seq is not None:
            self.record(seq, message)
        return None

    def has(self, wanted: set[int]) -> bool:
        """True once every sequence number in ``wanted`` arrived."""
        return wanted <= set(self.seqs)


class PubSubSuite(ComponentSuite):
    """Conformance tests of a :class:`~blockyard.pubsub.PubSub`."""

    kind: ClassVar[str] = "pubsub"
    message_count: int = 10
    redelivery_message_count: int = 1000
    ordered_message_count: int = 100
    delivery_timeout: float = 30.0
    subscribe_settle: float = 0.0
    quiet_period: float = 0.3
    message_ttl_wait: float = 1.6
    topic_prefix: str = "blockyard"
    fault_message_count: int = 300
    reliability_messages: int = reliability_size(500)
    max_in_flight: int = 100
    """Knob: the most deliveries a crash may duplicate (the in-flight window: prefetch x consumers)."""
    large_payload_size: int = 1024 * 1024
    max_concurrent_handlers: int = 0
    """Knob: the most handler calls of one subscription the case's configuration lets run at once
    (prefetch, workers, batch size); 0: the case declares no bound and the backpressure test skips."""
    task_settle: float = 2.0
    """Knob: seconds a task started while a subscription was cancelled may take to end before it
    counts as left running (another subscription's short-lived fetch requests end by themselves)."""
    held_redelivery_within: float = 30.0
    """Knob: seconds within which messages held by a SIGKILLed subscriber reach a new one
    (``processingTimeout``, visibility or session timeout, plus delivery); 0 skips the scenario."""
    held_messages: int = 0
    """Knob: how many messages the SIGKILLed subscriber holds when it is killed; 0: as many as the
    in-flight bound (``max_concurrent_handlers``), at least 1. A subscriber that receives what one
    poll returns and handles it before polling again may hold fewer."""
    max_redeliveries: int | None = None
    """Knob: how many times the case's configuration redelivers a message answered RETRY before it
    discards it (no dead-letter topic); 0: no limit; ``None``: not declared, the limit test skips."""
    redelivery_backoff: float = 0.0
    """Knob: the least seconds the case's configuration waits before redelivering a retried message."""
    redelivery_marker: str = ""
    """Knob: the message metadata that marks a redelivery (a flag ``true`` or a count above 1)."""
    slow_handler_seconds: float = 0.2
    """Knob: how long the backpressure test's handler takes per message."""
    poison_hold_limit: float = 10.0
    """Knob: seconds a poison message may hold back the messages published after it (where the
    broker orders a partition: its retries x backoff; elsewhere: none, plus delivery time)."""
    dead_letter_within: float = 30.0
    """Knob: seconds within which a poison message reaches the dead-letter topic: two deliveries
    plus what the component's own retries cost before it gives up (Kafka: ``backOffMaxRetries`` x
    ``consumeRetryInterval``; elsewhere the first failure is final)."""

    async def exercise(self, component: Component) -> None:
        assert isinstance(component, PubSub)
        await component.publish(self.topic("lifecycle"), {"run": "lifecycle"})

    @pytest.fixture
    def pubsub(self, component: Component) -> PubSub:
        """The component, checked to be a pub/sub."""
        assert isinstance(component, PubSub), f"{type(component).__name__} is not a PubSub"
        return component

    @pytest.fixture
    def run(self) -> str:
        """This test's run id (carried in every message it publishes)."""
        return fresh_id()

    def topic(self, name: str) -> str:
        """A topic name unique to this test instance."""
        if not hasattr(self, "_topic_id"):
            self._topic_id = fresh_id()
        return f"{self.topic_prefix}-{self._topic_id}-{name}"

    async def subscribe(
        self,
        pubsub: PubSub,
        topic: str,
        handler: Handler,
        group: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Subscription:
        """Subscribe, then wait ``subscribe_settle`` for brokers that attach asynchronously."""
        sub = await pubsub.subscribe(topic, handler, consumer_group=group, metadata=metadata)
        if self.subscribe_settle:
            await asyncio.sleep(self.subscribe_settle)
        return sub

    async def publish_seqs(self, pubsub: PubSub, topic: str, run: str, seqs: range | list[int], **kw: Any) -> None:
        """Publish ``{"run": run, "seq": n}`` for each ``n``, in order."""
        for n in seqs:
            await pubsub.publish(topic, {"run": run, "seq": n}, **kw)

    async def cancel_while_held(self, subscription: Subscription, release: asyncio.Event, what: str) -> None:
        """Cancel ``subscription`` while its handler holds a message until ``release`` is set.

        A stopper that waits for its in-flight handlers gets 5 s, then the handler is released to end
        unprocessed; the cancel must return within the delivery timeout.
        """
        canceller = asyncio.ensure_future(subscription.cancel())
        done, _ = await asyncio.wait({canceller}, timeout=5.0)
        if not done:
            release.set()
        try:
            await asyncio.wait_for(canceller, self.delivery_timeout)
        except TimeoutError:
            raise AssertionError(f"cancelling {what} did not return") from None

    # -- core ----------------------------------------------------------------------------------

    @capability("core")
    async def test_publish_and_subscribe(self, pubsub: PubSub, run: str) -> None:
        """Every published message reaches the subscriber with its payload; leftovers are ignored."""
        topic = self.topic("basic")
        await pubsub.publish(topic, {"run": "a-previous-run", "seq": -1})
        got = Received(run)
        async with await self.subscribe(pubsub, topic, got.handler):
            await self.publish_seqs(pubsub, topic, run, range(self.message_count))
            await pubsub.publish(
                topic, {"run": run, "seq": 1000, "nested": {"a": [1, 2]}}, content_type="application/json"
            )
            want = {*range(self.message_count), 1000}
            await got.wait_for(lambda: got.has(want), within=self.delivery_timeout, what="every message")
        assert got.data[1000] == {"run": run, "seq": 1000, "nested": {"a": [1, 2]}}
        assert got.messages[0].topic == topic

    @capability("core")
    async def test_binary_payload(self, pubsub: PubSub, run: str) -> None:
        """Bytes payloads (not UTF-8) arrive byte-exact, in an envelope and bare (``rawPayload``)."""
        topic = self.topic("binary")
        payload = run.encode() + b"\x00\xff\xfe\x80"
        inbox = Inbox()

        async def handler(message: Message) -> None:
            if message.data.startswith(run.encode()):
                inbox.add(message.data)

        async with await self.subscribe(pubsub, topic, handler):
            await pubsub.publish(topic, payload)
            await pubsub.publish(topic, payload, metadata={"rawPayload": "true"})
            await inbox.wait_for(lambda: len(inbox.items) >= 2, within=self.delivery_timeout, what="the bytes messages")
        assert inbox.items[:2] == [payload, payload]

    @capability("core")
    async def test_cloudevent_envelope(self, pubsub: PubSub, run: str) -> None:
        """On the wire a message is the CloudEvent daprd writes; the handler gets payload and attributes.

        A ``rawPayload`` subscription sees the wire bytes: ``specversion`` 1.0, a fresh ``id``, type
        ``com.dapr.event.sent``, ``topic``, ``pubsubname``, ``datacontenttype``, ``time``, the
        trace context from publish metadata (``traceparent`` = ``traceid``, ``tracestate``) and the
        JSON payload in ``data``. A normal subscription gets the payload and the same attributes; a
        payload published bare (``rawPayload``) arrives unchanged, with a made-up event.
        """
        topic = self.topic("envelope")
        traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        body = {"run": run, "seq": 1}
        wire, opened = Inbox(), Inbox()

        async def raw_handler(message: Message) -> None:
            if run.encode() in message.data:
                wire.add(message)

        async def handler(message: Message) -> None:
            if run.encode() in message.data:
                opened.add(message)

        md = {"traceparent": traceparent, "tracestate": "k=v"}
        async with await self.subscribe(pubsub, topic, raw_handler, metadata={"rawPayload": "true"}):
            await pubsub.publish(topic, body, metadata=md)
            await wire.wait_for(lambda: bool(wire.items), within=self.delivery_timeout, what="the raw event")
        event = orjson.loads(wire.items[0].data)
        assert isinstance(event, dict), "the wire payload is not a JSON object (no CloudEvent envelope)"
        assert event.get("data") == body
        expected = {"specversion": "1.0", "type": EVENT_TYPE, "topic": topic, "pubsubname": pubsub.name}
        assert {k: event.get(k) for k in expected} == expected
        assert event.get("datacontenttype") == "application/json"
        assert (event.get("traceparent"), event.get("traceid"), event.get("tracestate")) == (
            traceparent,
            traceparent,
            "k=v",
        )
        assert all(event.get(k) for k in ("id", "source", "time")), f"id, source or time missing: {event}"

        async with await self.subscribe(pubsub, topic, handler):
            await pubsub.publish(topic, body, metadata={**md, "cloudevent.id": f"id-{run}"})
            await pubsub.publish(topic, run.encode() + b"\xff", metadata={"rawPayload": "true"})
            await opened.wait_for(lambda: len(opened.items) >= 2, within=self.delivery_timeout, what="both messages")
        by_kind = {m.data.startswith(b"{"): m for m in opened.items}
        message, bare = by_kind[True], by_kind[False]
        assert (message.json(), message.content_type) == (body, "application/json")
        assert message.event is not None
        assert message.event.id == f"id-{run}"
        assert (message.event.type, message.event.topic, message.event.pubsubname) == (EVENT_TYPE, topic, pubsub.name)
        assert (message.traceparent, message.tracestate) == (traceparent, "k=v")
        assert bare.data == run.encode() + b"\xff"
        assert bare.event is not None
        assert (bare.event.datacontenttype, bare.event.type) == ("application/octet-stream", EVENT_TYPE)
        assert bare.event.id
        assert CLOUDEVENT_CONTENT_TYPE not in (bare.content_type, message.content_type)

    @capability("core")
    async def test_handler_failures_do_not_stop_delivery(self, pubsub: PubSub, run: str) -> None:
        """A failing handler (first 2 and every 5th message) does not stop the others; with
        REDELIVERY the failed ones come back."""
        topic = self.topic("failures")
        got = Received(run)
        failed: set[int] = set()
        calls = 0

        async def handler(message: Message) -> None:
            nonlocal calls
            seq = got.seq_of(message)
            if seq is None:
                return
            calls += 1
            if (calls <= 2 or seq % 5 == 0) and seq not in failed:
                failed.add(seq)
                got.notify()
                raise RuntimeError("simulated handler failure")
            got.record(seq, message)

        count = self.message_count * 2
        async with await self.subscribe(pubsub, topic, handler):
            await self.publish_seqs(pubsub, topic, run, range(count))
            redelivery = "REDELIVERY" in self.declared(pubsub)

            def done() -> bool:
                wanted = set(range(count)) if redelivery else set(range(count)) - failed
                return got.has(wanted)

            await got.wait_for(done, within=self.delivery_timeout, what="the messages not failed by the handler")
        assert failed, "the handler never failed; the test did not exercise failures"

    @capability("core")
    async def test_multiple_topics(self, pubsub: PubSub, run: str) -> None:
        """Two subscriptions on two topics each get exactly their own messages."""
        t1, t2 = self.topic("multi1"), self.topic("multi2")
        got1, got2 = Received(run), Received(run)
        async with await self.subscribe(pubsub, t1, got1.handler), await self.subscribe(pubsub, t2, got2.handler):
            seqs = range(11, 21)
            for n in seqs:
                await pubsub.publish(t1 if n % 2 else t2, {"run": run, "seq": n})
            odd, even = {n for n in seqs if n % 2}, {n for n in seqs if not n % 2}
            await got1.wait_for(lambda: got1.has(odd), within=self.delivery_timeout, what=f"messages on {t1}")
            await got2.wait_for(lambda: got2.has(even), within=self.delivery_timeout, what=f"messages on {t2}")
            await asyncio.sleep(self.quiet_period)
        assert set(got1.seqs) == odd, "a subscriber got another topic's messages"
        assert set(got2.seqs) == even, "a subscriber got another topic's messages"

    @capability("core")
    async def test_similar_topic_names_are_distinct(self, pubsub: PubSub, run: str) -> None:
        """A topic is its exact name: a subscriber gets nothing published to a longer name, a shorter
        name or the same name in another case."""
        exact = self.topic("orders")
        others = [exact + "-eu", exact[:-1], exact.upper(), exact + "."]
        got = Received(run)
        async with await self.subscribe(pubsub, exact, got.handler):
            for n, other in enumerate(others, start=1):
                await pubsub.publish(other, {"run": run, "seq": n})
            await pubsub.publish(exact, {"run": run, "seq": 0})
            await got.wait_for(lambda: got.has({0}), within=self.delivery_timeout, what=f"the message on {exact}")
            await asyncio.sleep(self.quiet_period)
        strays = sorted(set(got.seqs) - {0})
        assert not strays, f"a subscriber of {exact!r} got messages of {[others[n - 1] for n in strays]}"

    @capability("core")
    async def test_two_subscriptions_on_one_topic_are_independent(self, pubsub: PubSub, run: str) -> None:
        """Two subscriptions (two consumer groups) on one topic each get every message; cancelling one
        leaves the other delivering."""
        topic = self.topic("shared")
        got1, got2 = Received(run), Received(run)
        sub1 = await self.subscribe(pubsub, topic, got1.handler, fresh_id("g1-"))
        sub2 = await self.subscribe(pubsub, topic, got2.handler, fresh_id("g2-"))
        try:
            await self.publish_seqs(pubsub, topic, run, [1, 2])
            await got1.wait_for(lambda: got1.has({1, 2}), within=self.delivery_timeout, what="the first subscription")
            await got2.wait_for(lambda: got2.has({1, 2}), within=self.delivery_timeout, what="the second subscription")
            await sub1.cancel()
            assert sub2.active, "cancelling one subscription ended another on the same topic"
            before = len(got1.seqs)
            await self.publish_seqs(pubsub, topic, run, [3])
            await got2.wait_for(lambda: got2.has({3}), within=self.delivery_timeout, what="delivery after the cancel")
            await asyncio.sleep(self.quiet_period)
            assert len(got1.seqs) == before, "a cancelled subscription's handler was called"
        finally:
            await sub1.cancel()
            await sub2.cancel()

    @capability("core")
    async def test_dropped_message_is_not_redelivered(self, pubsub: PubSub, run: str) -> None:
        """A message whose handler returns DROP is acknowledged and never delivered again (while, with
        REDELIVERY, one answered RETRY in the same stream does come back)."""
        topic = self.topic("drop")
        got = Received(run)
        calls: dict[int, int] = {}
        redelivery = "REDELIVERY" in self.declared(pubsub)

        async def handler(message: Message) -> HandlerResult | None:
            seq = got.seq_of(message)
            if seq is None:
                return None
            calls[seq] = calls.get(seq, 0) + 1
            got.notify()
            if seq == 0:
                return HandlerResult.DROP
            if seq == 1 and calls[seq] == 1 and redelivery:
                return HandlerResult.RETRY
            got.record(seq, message)
            return None

        async with await self.subscribe(pubsub, topic, handler, fresh_id("g-")):
            await self.publish_seqs(pubsub, topic, run, [0, 1, 2])
            await got.wait_for(lambda: got.has({1, 2}), within=self.delivery_timeout, what="the other messages")
            await asyncio.sleep(self.quiet_period)
        assert calls.get(0) == 1, f"a dropped message was delivered {calls.get(0, 0)} times, expected once"
        if redelivery:
            assert calls[1] == 2, "the message answered RETRY was not delivered again"

    @capability("core")
    async def test_no_delivery_after_cancel_returns(self, pubsub: PubSub, run: str) -> None:
        """While messages keep being published, ``cancel()`` of one subscription returns only once its
        delivery stopped: its handler is never called afterwards (watched for ``quiet_period`` after
        more publishes), the other subscription keeps receiving, and no asyncio task the cancelled
        subscription started is left running."""
        t1, t2 = self.topic("stop1"), self.topic("stop2")
        got1, got2 = Received(run), Received(run)
        # Groups of their own: the second subscription must not rejoin (new tasks) when the first comes and goes.
        sub2 = await self.subscribe(pubsub, t2, got2.handler, fresh_id("g-"))
        sub1: Subscription | None = None
        try:
            await pubsub.publish(t1, {"run": "warm-up", "seq": -1})  # the publish path is set up before the count
            await pubsub.publish(t2, {"run": run, "seq": 0})
            await got2.wait_for(lambda: got2.has({0}), within=self.delivery_timeout, what=f"a message on {t2}")
            before = asyncio.all_tasks()
            sub1 = await self.subscribe(pubsub, t1, got1.handler, fresh_id("g-"))
            async with SteadyPublisher(pubsub, t1, run, within=self.delivery_timeout) as publishing:
                await got1.wait_for(lambda: len(got1.seqs) >= 3, within=self.delivery_timeout, what=f"messages on {t1}")
                await sub1.cancel()
                handled = len(got1.seqs)
                assert not sub1.active
                assert sub2.active, "cancelling one subscription stopped another"
                await publishing.more(3)
                await pubsub.publish(t2, {"run": run, "seq": 1})
                await got2.wait_for(lambda: got2.has({1}), within=self.delivery_timeout, what=f"{t2} after the cancel")
            await asyncio.sleep(self.quiet_period)
            late = len(got1.seqs) - handled
            assert late == 0, f"the handler was called {late} time(s) after cancel() returned"
            await assert_no_new_tasks(before, "the cancelled subscription", settle=self.task_settle)
        finally:
            if sub1 is not None:
                await sub1.cancel()
            await sub2.cancel()

    @capability("core")
    async def test_no_delivery_after_close_returns(self, pubsub: PubSub, run: str, suite_env: SuiteEnv) -> None:
        """``close()`` of a component whose subscription is receiving a steady stream returns once
        delivery stopped: the handler is never called afterwards (while the stream goes on through
        another instance, for ``quiet_period``), and none of the component's asyncio tasks is left."""
        topic = self.topic("close")
        got = Received(run)
        await pubsub.publish(topic, {"run": "warm-up", "seq": -1})  # the other instance's publish path is set up
        before = asyncio.all_tasks()
        subject = await self.create_component(suite_env)
        await subject.init()
        try:
            assert isinstance(subject, PubSub)
            await self.subscribe(subject, topic, got.handler)
            async with SteadyPublisher(
                subject, topic, run, within=self.delivery_timeout, after_close=pubsub
            ) as publishing:
                await got.wait_for(
                    lambda: len(got.seqs) >= 3, within=self.delivery_timeout, what=f"messages on {topic}"
                )
                await subject.close()
                handled = len(got.seqs)
                await publishing.more(3)
            await asyncio.sleep(self.quiet_period)
        finally:
            await subject.close()
        late = len(got.seqs) - handled
        assert late == 0, f"the handler was called {late} time(s) after close() returned"
        await assert_no_new_tasks(before, "the closed component", settle=self.task_settle)

    @capability("core")
    async def test_features_both_ways(self, pubsub: PubSub, run: str) -> None:
        """Declared features have their mixin; undeclared ones lack it and raise NotSupportedError."""
        declared = self.declared(pubsub)
        class_declared = {str(f) for f in type(pubsub).features}
        topic = self.topic("features")

        async def noop(messages: list[Message]) -> None:
            return None

        checks: dict[str, tuple[type[Any] | None, Callable[[], Awaitable[Any]]]] = {
            "BULK_PUBSUB": (BulkPublisher, lambda: pubsub.bulk_publish(topic, [BulkPublishEntry("1", {"run": run})])),
            "BULK_SUBSCRIBE": (BulkSubscriber, lambda: pubsub.bulk_subscribe(topic, noop)),
            "MESSAGE_TTL": (None, lambda: pubsub.publish(topic, {"run": run}, ttl=60)),
        }
        for name, (mixin, call) in checks.items():
            if name in declared:
                if mixin is not None:
                    assert isinstance(pubsub, mixin), f"declares {name} but is not a {mixin.__name__}"
                continue
            if mixin is not None and name not in class_declared:
                assert not isinstance(pubsub, mixin), f"is a {mixin.__name__} but does not declare {name}"
            with pytest.raises(NotSupportedError):
                await call()

    @capability("core")
    async def test_unserialisable_payload_is_rejected(self, pubsub: PubSub) -> None:
        """Data that is neither bytes nor JSON-serialisable is an InvalidRequestError."""
        with pytest.raises(InvalidRequestError):
            await pubsub.publish(self.topic("bad"), object())

    # -- consumer groups -----------------------------------------------------------------------

    @capability("consumer-groups", "CONSUMER_GROUPS")
    async def test_consumer_groups_fan_out_and_compete(self, pubsub: PubSub, run: str) -> None:
        """Each group gets every message; within a group each message goes to one subscriber."""
        topic = self.topic("groups")
        a1, a2, b = Received(run), Received(run), Received(run)
        ga, gb = fresh_id("ga-"), fresh_id("gb-")

        async def a2_handler(message: Message) -> HandlerResult | None:
            result = await a2.handler(message)
            a1.notify()  # the wait for the first group below watches a1: wake it for a2's messages too
            return result

        subs = [
            await self.subscribe(pubsub, topic, a1.handler, ga),
            await self.subscribe(pubsub, topic, a2_handler, ga),
            await self.subscribe(pubsub, topic, b.handler, gb),
        ]
        try:
            count = self.message_count * 2
            await self.publish_seqs(pubsub, topic, run, range(count))
            want = set(range(count))
            await b.wait_for(lambda: b.has(want), within=self.delivery_timeout, what="fan-out to the second group")
            await a1.wait_for(
                lambda: want <= set(a1.seqs) | set(a2.seqs), within=self.delivery_timeout, what="the first group"
            )
            await asyncio.sleep(self.quiet_period)
        finally:
            for s in subs:
                await s.cancel()
        both = set(a1.seqs) & set(a2.seqs)
        assert not both, f"competing consumers both got messages {sorted(both)[:5]}"
        assert len(a1.seqs) + len(a2.seqs) == count, "a message was delivered twice within one group"
        assert sorted(b.seqs) == sorted(want), "the second group must get every message once"

    # -- redelivery ----------------------------------------------------------------------------

    @capability("redelivery", "REDELIVERY")
    async def test_redelivery_loses_no_message(self, pubsub: PubSub, run: str) -> None:
        """With 10% of first deliveries failing (raise or RETRY), every message is processed."""
        topic = self.topic("redelivery")
        got = Received(run)
        failed: set[int] = set()

        async def handler(message: Message) -> HandlerResult | None:
            seq = got.seq_of(message)
            if seq is None:
                return None
            if seq % 10 == 0 and seq not in failed:
                failed.add(seq)
                if seq % 20 == 0:
                    raise RuntimeError("simulated handler failure")
                return HandlerResult.RETRY
            got.record(seq, message)
            return None

        count = self.redelivery_message_count
        async with await self.subscribe(pubsub, topic, handler, fresh_id("g-")):
            for start in range(0, count, 100):
                await asyncio.gather(
                    *(pubsub.publish(topic, {"run": run, "seq": n}) for n in range(start, min(start + 100, count)))
                )
            want = set(range(count))
            await got.wait_for(
                lambda: got.has(want),
                within=self.delivery_timeout,
                what=f"all {count} messages (missing {len(want - set(got.seqs))}) after handler failures",
            )
        assert len(failed) == len(range(0, count, 10))

    @capability("redelivery", "REDELIVERY")
    async def test_redelivery_limit_and_backoff(self, pubsub: PubSub, run: str) -> None:
        """Where the case declares its redelivery limit (knob ``max_redeliveries``): a message always
        answered RETRY is delivered 1 + ``max_redeliveries`` times, then never again (watched for
        ``quiet_period``, longer than the backoff); with no limit (0), one answered RETRY 5 times is
        delivered a 6th time. A message published after it is delivered, and each redelivery starts
        ``redelivery_backoff`` seconds or more after the previous answer."""
        limit = self.max_redeliveries
        if limit is None:
            pytest.skip("the case declares no redelivery limit (knob 'max_redeliveries')")
        retries = limit or 5
        topic = self.topic("redelivery-limit")
        got = Received(run)
        answered: list[float] = []
        gaps: list[float] = []

        async def handler(message: Message) -> HandlerResult | None:
            seq = got.seq_of(message)
            if seq is None:
                return None
            if seq == 0:
                if answered:
                    gaps.append(time.monotonic() - answered[-1])
                got.notify()
                answered.append(time.monotonic())
                return HandlerResult.RETRY if limit or len(answered) <= retries else None
            got.record(seq, message)
            return None

        async with await self.subscribe(pubsub, topic, handler, fresh_id("g-")):
            await self.publish_seqs(pubsub, topic, run, [0, 1])
            await got.wait_for(
                lambda: len(answered) >= 1 + retries and got.has({1}),
                within=self.delivery_timeout,
                what=f"{1 + retries} deliveries of the retried message and the message after it",
            )
            await asyncio.sleep(self.quiet_period)
        assert len(answered) == 1 + retries, (
            f"a message answered RETRY {'every time' if limit else f'{retries} times'} was delivered "
            f"{len(answered)} times, not {1 + retries} (max_redeliveries {limit})"
        )
        early = [round(g, 3) for g in gaps if g < self.redelivery_backoff]
        assert not early, f"redelivered after {early} s, sooner than the backoff of {self.redelivery_backoff} s"

    @capability("core")
    async def test_slow_handler_never_exceeds_the_in_flight_bound(self, pubsub: PubSub, run: str) -> None:
        """Backpressure: with a handler taking ``slow_handler_seconds`` per message, the handler calls
        of one subscription running at once never exceed ``max_concurrent_handlers`` (the bound the
        case's configuration declares: prefetch, workers, batch size), and every message is delivered.
        Messages: twice the bound and two more, or ``reliability_messages`` / 50 if larger."""
        bound = self.max_concurrent_handlers
        if bound <= 0:
            pytest.skip("the case declares no in-flight bound (knob 'max_concurrent_handlers')")
        topic = self.topic("backpressure")
        count = max(2 * bound + 2, self.reliability_messages // 50)
        ledger, own = Ledger(), Received(run)
        running = peak = 0

        async def handler(message: Message) -> None:
            nonlocal running, peak
            seq = own.seq_of(message)
            if seq is None:
                return
            running += 1
            peak = max(peak, running)
            try:
                await asyncio.sleep(self.slow_handler_seconds)
            finally:
                running -= 1
            ledger.delivered(seq)

        async with await self.subscribe(pubsub, topic, handler, fresh_id("g-")):
            unknown = await self.publish_counted(pubsub, topic, run, ledger, count)
            await ledger.wait_all_delivered(
                within=self.delivery_timeout + count * self.slow_handler_seconds,
                what=f"all {count} messages through the slow handler",
            )
        self.record_reliability("slow consumer", {**ledger.figures(), "bound": bound, "peak_in_flight": peak})
        assert peak <= bound, f"{peak} handler calls ran at once, more than the declared bound of {bound}"
        ledger.assert_exact(max_duplicates=unknown)

    @capability("redelivery")
    async def test_poison_message_does_not_block_the_others(self, pubsub: PubSub, run: str) -> None:
        """Poison isolation: a message whose handler always fails (RETRY, or raising every other time)
        holds back none of the messages published after it beyond ``poison_hold_limit`` seconds (on a
        broker that orders a partition: its retries x backoff); with REDELIVERY it is delivered again
        meanwhile. Messages: ``reliability_messages`` / 10, at least 10."""
        topic = self.topic("poison")
        count = max(10, self.reliability_messages // 10)
        ledger, own = Ledger(), Received(run)
        poison, poison_calls = count, 0

        async def handler(message: Message) -> HandlerResult | None:
            nonlocal poison_calls
            seq = own.seq_of(message)
            if seq is None:
                return None
            if seq == poison:
                poison_calls += 1
                ledger.notify()
                if poison_calls % 2:
                    return HandlerResult.RETRY
                raise RuntimeError("simulated poison message")
            ledger.delivered(seq)
            return None

        async with await self.subscribe(pubsub, topic, handler, fresh_id("g-")):
            await pubsub.publish(topic, {"run": run, "seq": poison})
            await self.publish_counted(pubsub, topic, run, ledger, count - 1)
            published = time.monotonic()
            await ledger.wait_all_delivered(
                within=self.poison_hold_limit,
                what=f"the {count - 1} messages after a poison message",
            )
            held = time.monotonic() - published
            if "REDELIVERY" in self.declared(pubsub):
                await ledger.wait_for(
                    lambda: poison_calls >= 2, within=self.delivery_timeout, what="the poison message's redelivery"
                )
        self.record_reliability(
            "poison message",
            {**ledger.figures(), "poison_attempts": poison_calls, "others_done_after_s": round(held, 2)},
        )
        assert poison_calls >= 1, "the poison message was never delivered"
        ledger.assert_exact()

    async def test_poison_message_is_dead_lettered(self, pubsub: PubSub, run: str) -> None:
        """Dead-letter topic: a message whose handler always fails (RETRY, or raising every other
        time), published among others, reaches the subscription's ``dead_letter_topic`` exactly
        once within ``dead_letter_within`` seconds -- the same event id, its data byte-exact --
        and is not delivered again; the others are delivered exactly once and none of them is
        dead-lettered. Messages: ``reliability_messages`` / 10, at least 10."""
        topic, dead_letters = self.topic("dead-letter-source"), self.topic("dead-letters")
        count = max(10, self.reliability_messages // 10)
        ledger, own = Ledger(), Received(run)
        poison, poison_id = b"\xff\x00poison " + run.encode(), fresh_id("poison-")
        poison_calls, calls_when_dead_lettered = 0, -1
        forwarded: list[Message] = []

        async def handler(message: Message) -> HandlerResult | None:
            nonlocal poison_calls
            if message.data == poison:
                poison_calls += 1
                ledger.notify()
                if poison_calls % 2:
                    return HandlerResult.RETRY
                raise RuntimeError("simulated poison message")
            seq = own.seq_of(message)
            if seq is not None:
                ledger.delivered(seq)
            return None

        async def dead_letter_handler(message: Message) -> None:
            nonlocal calls_when_dead_lettered
            is_poison = message.data == poison or (message.event is not None and message.event.id == poison_id)
            if is_poison or own.seq_of(message) is not None:
                forwarded.append(message)
                if calls_when_dead_lettered < 0:
                    calls_when_dead_lettered = poison_calls
                ledger.notify()

        async with (
            await self.subscribe(pubsub, dead_letters, dead_letter_handler, fresh_id("g-")),
            await self.subscribe_dead_lettered(pubsub, topic, handler, fresh_id("g-"), dead_letters),
        ):
            started = time.monotonic()
            await pubsub.publish(topic, poison, metadata={"cloudevent.id": poison_id})
            await self.publish_counted(pubsub, topic, run, ledger, count - 1)
            await ledger.wait_for(
                lambda: bool(forwarded),
                within=self.dead_letter_within,
                what="the poison message on the dead-letter topic",
            )
            took = time.monotonic() - started
            await ledger.wait_all_delivered(within=self.delivery_timeout, what=f"the {count - 1} other messages")
            await asyncio.sleep(self.quiet_period)  # nothing more may arrive, on either topic
        self.record_reliability(
            "dead letter",
            {
                **ledger.figures(),
                "dead_lettered": len(forwarded),
                "poison_attempts": poison_calls,
                "dead_lettered_after_s": round(took, 2),
            },
        )
        others = [m for m in forwarded if own.seq_of(m) is not None]
        assert not others, f"{len(others)} message(s) that succeeded were sent to the dead-letter topic"
        assert len(forwarded) == 1, f"the poison message reached the dead-letter topic {len(forwarded)} times, not once"
        (dead,) = forwarded
        dead_id = dead.event.id if dead.event is not None else None
        assert dead_id == poison_id, f"the dead-lettered event has id {dead_id!r}, not the published {poison_id!r}"
        assert dead.data == poison, f"the dead-lettered data is {dead.data[:60]!r}, not the published {poison[:60]!r}"
        assert poison_calls >= 1, "the poison message was never delivered"
        assert poison_calls == calls_when_dead_lettered, (
            f"the poison message was delivered {poison_calls - calls_when_dead_lettered} more time(s) "
            "after it was dead-lettered"
        )
        ledger.assert_exact()

    async def subscribe_dead_lettered(
        self, pubsub: PubSub, topic: str, handler: Handler, group: str, dead_letter_topic: str
    ) -> Subscription:
        """:meth:`subscribe` with a dead-letter topic."""
        sub = await pubsub.subscribe(topic, handler, consumer_group=group, dead_letter_topic=dead_letter_topic)
        if self.subscribe_settle:
            await asyncio.sleep(self.subscribe_settle)
        return sub

    @capability("fault", "REDELIVERY")
    async def test_no_confirmed_message_lost_across_a_backend_restart(
        self, pubsub: PubSub, run: str, suite_env: SuiteEnv
    ) -> None:
        """The launcher restarts the backend mid-stream (knob ``restart_backend``): a publish that
        fails is retried by the publisher, the subscription resumes by itself, and every confirmed
        message arrives."""
        async with self.restartable(suite_env, pubsub) as target:
            assert isinstance(target.component, PubSub)
            pubsub = target.component
            topic, group = self.topic("fault"), fresh_id("g-")
            got = Received(run)
            confirmed: list[int] = []
            a_third_confirmed, restarted = asyncio.Event(), asyncio.Event()

            async def publisher() -> None:
                n = 0
                while n < self.fault_message_count:
                    try:
                        await pubsub.publish(topic, {"run": run, "seq": n})
                    except BackendUnavailableError:
                        await asyncio.sleep(0.05)  # not confirmed: publish the same message again
                        continue
                    confirmed.append(n)
                    n += 1
                    if n == self.fault_message_count // 3:
                        a_third_confirmed.set()

            async def restarter() -> None:
                await a_third_confirmed.wait()
                await target.restart()
                restarted.set()

            async with await self.subscribe(pubsub, topic, got.handler, group):
                await asyncio.wait_for(asyncio.gather(publisher(), restarter()), self.restart_timeout)
                want = set(confirmed)
                await got.wait_for(
                    lambda: got.has(want), within=self.restart_timeout, what="every confirmed message after the restart"
                )
            assert restarted.is_set()
            assert len(want) == self.fault_message_count

    async def publish_counted(self, pubsub: PubSub, topic: str, run: str, ledger: Ledger, count: int) -> int:
        """Publish ``count`` messages 100 at a time, each retried until confirmed, recording each
        confirmation in ``ledger``. Returns the failed publish attempts (outcome unknown: each may
        still be delivered, a possible duplicate)."""
        unknown = 0

        async def one(n: int) -> None:
            nonlocal unknown
            while True:
                try:
                    await pubsub.publish(topic, {"run": run, "seq": n})
                except BackendUnavailableError:
                    unknown += 1
                    await asyncio.sleep(0.05)
                    continue
                ledger.sent(n)
                return

        for start in range(0, count, 100):
            await asyncio.gather(*(one(n) for n in range(start, min(start + 100, count))))
        return unknown

    def counting_handler(self, ledger: Ledger, run: str) -> Handler:
        """A handler recording each delivery of this run's messages in ``ledger``."""
        own = Received(run)

        async def handler(message: Message) -> None:
            seq = own.seq_of(message)
            if seq is not None:
                ledger.delivered(seq)

        return handler

    @capability("fault")
    async def test_exact_delivery_accounting_without_faults(self, pubsub: PubSub, run: str) -> None:
        """``reliability_messages`` messages through one consumer group: each delivered exactly once
        (no loss, no duplicate), and p50/p99 publish -> handle latency reported."""
        topic = self.topic("accounting")
        ledger = Ledger()
        async with await self.subscribe(pubsub, topic, self.counting_handler(ledger, run), fresh_id("g-")):
            unknown = await self.publish_counted(pubsub, topic, run, ledger, self.reliability_messages)
            await ledger.wait_all_delivered(
                within=self.delivery_timeout + self.reliability_messages / 100,
                what=f"all {self.reliability_messages} messages",
            )
            await asyncio.sleep(self.quiet_period)
        self.record_reliability("no fault", {**ledger.figures(), "unknown_publishes": unknown})
        ledger.assert_exact(max_duplicates=unknown)

    @capability("fault", "REDELIVERY")
    async def test_confirmed_messages_survive_a_backend_kill(
        self, pubsub: PubSub, run: str, suite_env: SuiteEnv
    ) -> None:
        """The launcher SIGKILLs the broker a third into ``reliability_messages`` confirmed publishes
        (knob ``kill_backend``): every confirmed message is delivered, duplicates are counted and stay
        within ``max_in_flight`` plus the publishes whose outcome was unknown."""
        backend = self.killable_backend(suite_env)
        topic, group = self.topic("kill"), fresh_id("g-")
        ledger = Ledger()
        count = self.reliability_messages
        killed_at: list[float] = []

        async def killer() -> None:
            await ledger.wait_for(lambda: len(ledger.sent_at) >= count // 3, within=self.restart_timeout)
            killed_at.append(time.monotonic())
            await self.restart(backend, kill=True)

        async with await self.subscribe(pubsub, topic, self.counting_handler(ledger, run), group):
            results = await asyncio.wait_for(
                asyncio.gather(self.publish_counted(pubsub, topic, run, ledger, count), killer()),
                self.restart_timeout + count / 50,
            )
            await ledger.wait_all_delivered(
                within=self.restart_timeout + count / 100,
                what="every confirmed message after the kill",
            )
            await asyncio.sleep(self.quiet_period)
        unknown = results[0]
        after = [d.at for d in ledger.deliveries if killed_at and d.at > killed_at[0]]
        figures = {**ledger.figures(), "unknown_publishes": unknown}
        if after:
            figures["first_delivery_after_kill_s"] = round(after[0] - killed_at[0], 2)
        self.record_reliability("SIGKILL of the broker", figures)
        ledger.assert_exact(max_duplicates=self.max_in_flight + unknown)

    @capability("core")
    async def test_payloads_are_byte_exact(self, pubsub: PubSub, run: str) -> None:
        """Binary (every byte value), non-UTF-8 and ``large_payload_size`` (1 MiB) payloads arrive
        byte-exact, in a CloudEvent and bare (``rawPayload``)."""
        tag = run.encode()
        payloads = {
            "every-byte": tag + bytes(range(256)),
            "non-utf8": tag + b"\xc3\x28\xa0\xa1\xff\xfe\x00",
            "large": tag + bytes((i * 7) % 256 for i in range(self.large_payload_size - len(tag))),
        }
        for shape, metadata in (("enveloped", None), ("bare", {"rawPayload": "true"})):
            received = await self._round_trip(pubsub, self.topic(f"payloads-{shape}"), tag, payloads, metadata)
            for name, data in payloads.items():
                assert data in received, f"the {shape} {name} payload ({len(data)} bytes) did not arrive byte-exact"

    async def _round_trip(
        self, pubsub: PubSub, topic: str, tag: bytes, payloads: dict[str, bytes], metadata: dict[str, str] | None
    ) -> list[bytes]:
        """Publish ``payloads`` and return what a subscription (same ``metadata``) received of them."""
        inbox = Inbox()

        async def handler(message: Message) -> None:
            if message.data.startswith(tag):
                inbox.add(bytes(message.data))

        async with await self.subscribe(pubsub, topic, handler, metadata=metadata):
            for data in payloads.values():
                await pubsub.publish(topic, data, metadata=metadata)
            await inbox.wait_for(
                lambda: len(inbox.items) >= len(payloads),
                within=self.delivery_timeout,
                what=f"every payload on {topic}",
            )
        return list(inbox.items)

    @capability("redelivery", "REDELIVERY")
    async def test_at_least_once_across_subscriber_restart(self, pubsub: PubSub, run: str) -> None:
        """A subscriber cancelled mid-message loses nothing: a new one in the group resumes."""
        topic, group = self.topic("restart"), fresh_id("g-")
        got = Received(run)
        stop_at = self.message_count // 2
        reached, release = asyncio.Event(), asyncio.Event()
        cancelled = False
        late_calls = 0

        async def first(message: Message) -> HandlerResult | None:
            nonlocal late_calls
            seq = got.seq_of(message)
            if seq is None:
                return None
            if cancelled:
                late_calls += 1
            if seq == stop_at:
                reached.set()
                await release.wait()
                return HandlerResult.RETRY
            got.record(seq, message)
            return None

        sub1 = await self.subscribe(pubsub, topic, first, group)
        try:
            await self.publish_seqs(pubsub, topic, run, range(self.message_count))
            await asyncio.wait_for(reached.wait(), self.delivery_timeout)
            await self.cancel_while_held(sub1, release, "a subscription with a message in flight")
            cancelled = True
        finally:
            release.set()
            await sub1.cancel()
        async with await self.subscribe(pubsub, topic, got.handler, group):
            want = set(range(self.message_count))
            await got.wait_for(
                lambda: got.has(want), within=self.delivery_timeout, what="the rest of the stream after a restart"
            )
        assert late_calls == 0, "the handler was called after its subscription was cancelled"

    def subscriber_process_spec(self, env: SuiteEnv) -> dict[str, Any]:
        """How another process builds this suite's component (see :mod:`.held_subscriber`): from the
        case's Component YAML, or by importing the suite's class as this process can."""
        if env.component_yaml is not None:
            return {"yaml": env.component_yaml}
        cls = self.component_class
        assert cls is not None, f"{type(self).__name__}: no component_class and no Component YAML"
        return {
            "class": f"{cls.__module__}:{cls.__qualname__}",
            "metadata": dict(self.component_metadata(env)),
            "name": self.component_name,
            "sys_path": list(sys.path),
        }

    @capability("redelivery", "REDELIVERY")
    async def test_messages_held_by_a_killed_subscriber_are_redelivered(
        self, pubsub: PubSub, run: str, suite_env: SuiteEnv
    ) -> None:
        """A subscriber process (the case's component) is SIGKILLed while its handler holds messages
        unacknowledged (``max_concurrent_handlers`` of them, at least 1): a new subscriber of its group
        gets every message published, the held ones again, within ``held_redelivery_within``; where the
        case names the message metadata that marks a redelivery (knob ``redelivery_marker``), it is set."""
        if suite_env.endpoint is None:
            pytest.skip("an embedded broker dies with the subscriber's process")
        if self.held_redelivery_within <= 0:
            pytest.skip(
                "the case does not let the kit wait for a dead subscriber's messages (knob 'held_redelivery_within')"
            )
        topic, group = self.topic("held"), fresh_id("g-")
        hold = self.held_messages or max(1, self.max_concurrent_handlers)
        count = hold + 5
        spec = suite_env.tmpdir / f"held-{fresh_id()}.json"
        spec.write_bytes(orjson.dumps(self.subscriber_process_spec(suite_env), default=str))
        ledger, own = Ledger(), Received(run)
        markers: dict[int, str] = {}
        async with HeldSubscriber(spec, topic, group, run, log=spec.with_suffix(".log")) as child:
            await child.start(self.delivery_timeout)
            await self.publish_counted(pubsub, topic, run, ledger, count)
            await child.holding(hold, self.delivery_timeout)
            await child.kill()
        killed = time.monotonic()

        async def handler(message: Message) -> None:
            seq = own.seq_of(message)
            if seq is not None:
                markers.setdefault(
                    seq, message.metadata.get(self.redelivery_marker, "") if self.redelivery_marker else ""
                )
                ledger.delivered(seq)

        async with await self.subscribe(pubsub, topic, handler, group):
            await ledger.wait_all_delivered(
                within=self.held_redelivery_within,
                what=f"every message after the subscriber holding {sorted(child.held)} was killed",
            )
        held = set(child.held)
        self.record_reliability(
            "subscriber SIGKILLed",
            {**ledger.figures(), "held": len(held), "redelivered_within_s": round(time.monotonic() - killed, 2)},
        )
        ledger.assert_exact(max_duplicates=0)
        if self.redelivery_marker:
            unmarked = sorted(s for s in held if markers.get(s, "").lower() in ("", "false", "0", "1"))
            assert not unmarked, f"redelivered messages {unmarked} lack the {self.redelivery_marker!r} mark"

    # -- order ---------------------------------------------------------------------------------

    @capability("ordered", "ORDERED")
    async def test_delivery_in_publish_order(self, pubsub: PubSub, run: str) -> None:
        """One subscriber gets a topic's messages in publish order."""
        topic = self.topic("ordered")
        got = Received(run)
        count = self.ordered_message_count
        async with await self.subscribe(pubsub, topic, got.handler, fresh_id("g-")):
            await self.publish_seqs(pubsub, topic, run, range(count))
            await got.wait_for(lambda: got.has(set(range(count))), within=self.delivery_timeout, what="all messages")
        first_seen = list(dict.fromkeys(got.seqs))
        assert first_seen == list(range(count)), "messages arrived out of publish order"

    # -- bulk ----------------------------------------------------------------------------------

    @capability("bulk", "BULK_PUBSUB")
    async def test_bulk_publish_partial_failure(self, pubsub: PubSub, run: str) -> None:
        """A bad entry fails alone (BulkError names it); the other entries are delivered."""
        assert isinstance(pubsub, BulkPublisher)
        topic = self.topic("bulkpub")
        got = Received(run)
        async with await self.subscribe(pubsub, topic, got.handler):
            entries = [
                BulkPublishEntry(str(n), {"run": run, "seq": n}, content_type="application/json") for n in range(5)
            ]
            entries.insert(2, BulkPublishEntry("unserialisable", object()))
            with pytest.raises(BulkError) as raised:
                await pubsub.bulk_publish(topic, entries)
            assert list(raised.value.errors) == ["unserialisable"]
            await got.wait_for(lambda: got.has(set(range(5))), within=self.delivery_timeout, what="the good entries")
            await pubsub.bulk_publish(topic, [BulkPublishEntry(str(n), {"run": run, "seq": n}) for n in range(5, 10)])
            await got.wait_for(lambda: got.has(set(range(10))), within=self.delivery_timeout, what="a full batch")

    @capability("bulk", "BULK_SUBSCRIBE")
    async def test_bulk_subscribe(self, pubsub: PubSub, run: str) -> None:
        """A bulk handler gets every message in batches of at most ``max_messages``; messages that
        wait while the handler is busy come in batches (not one at a time)."""
        assert isinstance(pubsub, BulkSubscriber)
        topic = self.topic("bulksub")
        got = Received(run)
        sizes: list[int] = []

        published = asyncio.Event()

        async def handler(messages: list[Message]) -> None:
            own = [(seq, m) for m in messages if (seq := got.seq_of(m)) is not None]
            if own:
                sizes.append(len(messages))
                await published.wait()  # the others wait for the handler, all of them published
            for seq, m in own:
                got.record(seq, m)

        async with await pubsub.bulk_subscribe(topic, handler, max_messages=5, max_await=timedelta(milliseconds=50)):
            if self.subscribe_settle:
                await asyncio.sleep(self.subscribe_settle)
            await self.publish_seqs(pubsub, topic, run, range(12))
            published.set()
            await got.wait_for(lambda: got.has(set(range(12))), within=self.delivery_timeout, what="all messages")
        assert max(sizes) <= 5, f"a batch exceeded max_messages: {sizes}"
        assert max(sizes) > 1, f"messages waiting for the bulk handler were handed over one at a time: {sizes}"

    @capability("bulk", "BULK_SUBSCRIBE", "REDELIVERY")
    async def test_bulk_subscribe_redelivers_retried_ids(self, pubsub: PubSub, run: str) -> None:
        """The messages a bulk handler answers RETRY, by id, are delivered again."""
        assert isinstance(pubsub, BulkSubscriber)
        topic = self.topic("bulkretry")
        got = Received(run)
        tries: dict[int, int] = {}

        async def handler(messages: list[Message]) -> dict[str, HandlerResult]:
            results: dict[str, HandlerResult] = {}
            for i, m in enumerate(messages):
                seq = got.seq_of(m)
                if seq is None:
                    continue
                tries[seq] = tries.get(seq, 0) + 1
                if seq % 2 == 0 and tries[seq] == 1:
                    results[m.id or str(i)] = HandlerResult.RETRY
                else:
                    got.record(seq, m)
            return results

        async with await pubsub.bulk_subscribe(topic, handler, max_messages=5, max_await=timedelta(milliseconds=50)):
            if self.subscribe_settle:
                await asyncio.sleep(self.subscribe_settle)
            await self.publish_seqs(pubsub, topic, run, range(10))
            await got.wait_for(
                lambda: got.has(set(range(10))), within=self.delivery_timeout, what="every message, retried ones again"
            )

    @capability("bulk", "BULK_SUBSCRIBE", "REDELIVERY")
    async def test_bulk_subscriber_cancelled_mid_batch_loses_nothing(self, pubsub: PubSub, run: str) -> None:
        """A bulk subscription cancelled while its handler holds a batch does not acknowledge it: a
        new bulk subscriber of the group gets every message, and the first handler is not called
        after its cancel returned."""
        assert isinstance(pubsub, BulkSubscriber)
        topic, group = self.topic("bulkrestart"), fresh_id("g-")
        got = Received(run)
        reached, release = asyncio.Event(), asyncio.Event()
        cancelled = False
        late_calls = 0

        async def first(messages: list[Message]) -> dict[str, HandlerResult]:
            nonlocal late_calls
            if all(got.seq_of(m) is None for m in messages):
                return {}
            if cancelled:
                late_calls += 1
            reached.set()
            await release.wait()
            return {m.id or str(i): HandlerResult.RETRY for i, m in enumerate(messages)}

        async def second(messages: list[Message]) -> None:
            for m in messages:
                await got.handler(m)

        wait = timedelta(milliseconds=50)
        sub1 = await pubsub.bulk_subscribe(topic, first, consumer_group=group, max_messages=5, max_await=wait)
        try:
            if self.subscribe_settle:
                await asyncio.sleep(self.subscribe_settle)
            await self.publish_seqs(pubsub, topic, run, range(self.message_count))
            await asyncio.wait_for(reached.wait(), self.delivery_timeout)
            await self.cancel_while_held(sub1, release, "a bulk subscription with a batch in flight")
            cancelled = True
        finally:
            release.set()
            await sub1.cancel()
        async with await pubsub.bulk_subscribe(topic, second, consumer_group=group, max_messages=5, max_await=wait):
            if self.subscribe_settle:
                await asyncio.sleep(self.subscribe_settle)
            want = set(range(self.message_count))
            await got.wait_for(
                lambda: got.has(want), within=self.delivery_timeout, what="every message after the cancel"
            )
        assert late_calls == 0, "the bulk handler was called after its subscription was cancelled"

    # -- TTL -----------------------------------------------------------------------------------

    @capability("ttl", "MESSAGE_TTL")
    async def test_message_ttl(self, pubsub: PubSub, run: str) -> None:
        """A message not delivered within its TTL is discarded; one without TTL, or with a TTL (an
        hour, as argument or ``ttlInSeconds``) that has not passed, is kept."""
        topic, group = self.topic("ttl"), fresh_id("g-")
        got = Received(run)
        sub = await self.subscribe(pubsub, topic, got.handler, group)
        await sub.cancel()
        await pubsub.publish(topic, {"run": run, "seq": 1}, ttl=1)
        await pubsub.publish(topic, {"run": run, "seq": 2}, metadata={"ttlInSeconds": "1"})
        await pubsub.publish(topic, {"run": run, "seq": 3})
        await pubsub.publish(topic, {"run": run, "seq": 4}, ttl=3600)
        await pubsub.publish(topic, {"run": run, "seq": 5}, metadata={"ttlInSeconds": "3600"})
        await asyncio.sleep(self.message_ttl_wait)  # the TTL must pass with no subscriber attached
        async with await self.subscribe(pubsub, topic, got.handler, group):
            await got.wait_for(
                lambda: got.has({3, 4, 5}), within=self.delivery_timeout, what="the messages whose TTL has not passed"
            )
            await asyncio.sleep(self.quiet_period)
        assert not {1, 2} & set(got.seqs), "an expired message was delivered"

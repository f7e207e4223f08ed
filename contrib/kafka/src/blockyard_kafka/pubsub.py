"""``pubsub.kafka``: Kafka publish/subscribe on aiokafka, at-least-once, consumer groups.

A topic is a Kafka topic; a consumer group is a Kafka consumer group (``subscribe(...,
consumer_group=)``, default ``consumerGroup``, else ``consumerID``, else the component name).
Every subscription is its own group member, so subscriptions of one group share the topic's
partitions and every group gets every message.

Guarantees:

- ``publish`` returns once the brokers acknowledged the record (``producerRequiredAcks``: ``all``
  in-sync replicas by default; ``local`` = the leader only). One batch per partition is in flight
  at a time, so a key's records keep their publish order.
  ``bulk_publish`` queues every entry into the producer's batches, then awaits them together;
  a failed entry is named in the :class:`~blockyard.errors.BulkError`, the others are published.
  While the brokers are unreachable a publish fails with
  :class:`~blockyard.errors.BackendUnavailableError` after ``writeTimeout`` (retry it).
- Publish metadata ``partitionKey`` (or ``__key``) is the record key (same key, same partition,
  same order); every other entry is a header. A delivered :class:`~blockyard.pubsub.Message`
  carries the headers as metadata, plus ``__key`` (when there is a key), ``__partition`` and
  ``__offset``; ``id`` is ``"<partition>/<offset>"``; ``content_type`` travels in the
  ``content-type`` header.
- At-least-once (``REDELIVERY``): an offset is committed only after its handler succeeded or
  returned ``DROP``, per partition in order. A failed message (``RETRY`` or an exception) is
  delivered again after ``consumeRetryInterval`` (doubling up to 10x) before its partition moves
  on, at most ``backOffMaxRetries`` times (Dapr's name; -1, the default, is no limit);
  ``consumeRetryEnabled: false`` retries none (no ``REDELIVERY`` then). A
  rebalance commits what is done and hands the rest over; a cancelled subscription's message in
  hand is not committed and comes back.
- Giving up: once its retries are spent, a failed message goes to the subscription's dead-letter
  topic (``subscribe(..., dead_letter_topic=)``; a ``DROP`` too), retried with the same backoff
  until that topic has it; without one it is logged at WARNING (topic, partition, offset; never
  the payload) and skipped. With a dead-letter topic and no limit, the first failure is final
  (as in Dapr): it is not retried before the hand-off. A poison message so holds its partition
  back ``backOffMaxRetries`` x the backoff at most.
- Order (``ORDERED``): one partition's messages are handled one at a time, in offset order, retries
  included. A topic the component creates has ``partitions`` partitions (default 1, so the
  whole topic is in order); with more, order holds per key (``partitionKey``). The instance
  declares ``ORDERED`` only when ``partitions`` is 1.
- ``bulk_subscribe`` fetches up to ``max_messages`` records, waiting at most ``max_await`` for
  them (``getmany``), and hands them to the handler as one batch.
- Topics: a missing topic is created on first use with ``partitions`` and ``replicationFactor``;
  with ``createTopics: false`` it is an :class:`~blockyard.errors.InvalidRequestError`. The
  broker's own auto-creation is never relied on.
- After a broker restart, publishing and every subscription resume by themselves.

Wire format: Dapr's Kafka component's — the record value is the CloudEvent JSON daprd writes
(:mod:`blockyard.envelope`), ``partitionKey``/``__key`` the record key, other metadata headers.
Not identical: the content type travels in a ``content-type`` header, which a Dapr subscriber sees
as metadata; Dapr's schema-registry (Avro) value serialisation is not offered.

Example::

    import asyncio
    from blockyard_kafka.pubsub import KafkaPubSub

    async def main() -> None:
        meta = {"brokers": "localhost:9092", "authType": "none", "consumerGroup": "billing"}
        async with KafkaPubSub(meta, name="orders") as pubsub:
            got = asyncio.Event()

            async def handler(message):
                print(message.topic, message.json(), message.metadata)
                got.set()

            async with await pubsub.subscribe("orders", handler):
                await pubsub.publish("orders", {"id": 1}, metadata={"partitionKey": "customer-7"})
                await got.wait()

    asyncio.run(main())

Component YAML::

    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata: {name: orders}
    spec:
      type: pubsub.kafka
      version: v1
      metadata:
        - {name: brokers, value: "localhost:9092"}
        - {name: consumerGroup, value: billing}
        - {name: backOffMaxRetries, value: "3"}  # then a failed message is given up
        - {name: authType, value: password}
        - {name: saslUsername, value: billing}
        - {name: saslPassword, secretKeyRef: {name: kafka, key: password}}
        - {name: saslMechanism, value: SHA-512}
        - {name: initialOffset, value: oldest}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from aiokafka.structs import ConsumerRecord

from blockyard.errors import BlockyardError
from blockyard.pubsub import (
    BulkPublisher,
    BulkSubscriber,
    BulkSubscribeRequest,
    HandlerResult,
    Message,
    PublishOp,
    PubSubFeature,
    SubscribeRequest,
)
from blockyard.subscription import Stopper

from .client import CONTENT_TYPE_HEADER, KafkaClient, KafkaClientMixin, record_from, split_metadata
from .consumer import BatchDispatch, Dispatch, GroupMember, RetryPolicy, SingleDispatch
from .metadata import KafkaPubSubMetadata, _Consumer

__all__ = ["KafkaPubSub", "consumer_options", "message_metadata"]

_POLL_TIMEOUT = 0.2


def message_metadata(record: ConsumerRecord[bytes, bytes]) -> tuple[dict[str, str], str | None]:
    """Headers (UTF-8) as metadata plus ``__key``, ``__partition``, ``__offset``; and the content type."""
    metadata: dict[str, str] = {}
    content_type = None
    for name, value in record.headers:
        text = value.decode(errors="replace") if value is not None else ""
        if name == CONTENT_TYPE_HEADER:
            content_type = text
        else:
            metadata[name] = text
    if record.key is not None:
        metadata["__key"] = record.key.decode(errors="replace")
    metadata["__partition"] = str(record.partition)
    metadata["__offset"] = str(record.offset)
    return metadata, content_type


def consumer_options(m: _Consumer, client: KafkaClient) -> dict[str, Any]:
    """aiokafka consumer arguments from the consumer metadata (group membership, start, timeouts)."""
    from aiokafka.coordinator.assignors.range import RangePartitionAssignor
    from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    from aiokafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor

    assignor = {
        "range": RangePartitionAssignor,
        "roundrobin": RoundRobinPartitionAssignor,
        "sticky": StickyPartitionAssignor,
    }[m.consumer_group_rebalance_strategy]
    return {
        **client.options,
        "auto_offset_reset": "earliest" if m.initial_offset == "oldest" else "latest",
        "session_timeout_ms": int(m.session_timeout.total_seconds() * 1000),
        "heartbeat_interval_ms": int(m.heartbeat_interval.total_seconds() * 1000),
        "partition_assignment_strategy": (assignor,),
    }


def join_timeout(m: _Consumer) -> float:
    """How long a new member may take to join its group and get its partitions."""
    return m.read_timeout.total_seconds() + 2 * m.session_timeout.total_seconds()


class KafkaPubSub(KafkaClientMixin, BulkPublisher, BulkSubscriber):
    """Kafka pub/sub on aiokafka. See the module docstring for the semantics."""

    type: ClassVar[str] = "pubsub.kafka"
    Metadata = KafkaPubSubMetadata
    features: ClassVar[frozenset[PubSubFeature]] = frozenset(
        {
            PubSubFeature.BULK_PUBSUB,
            PubSubFeature.BULK_SUBSCRIBE,
            PubSubFeature.CONSUMER_GROUPS,
            PubSubFeature.ORDERED,
            PubSubFeature.REDELIVERY,
        }
    )
    meta: KafkaPubSubMetadata

    def __init__(self, metadata: Mapping[str, Any] | KafkaPubSubMetadata | None = None, *, name: str | None = None):
        super().__init__(metadata, name=name)
        m = self.meta
        dropped: set[PubSubFeature] = set()
        if not m.consume_retry_enabled:
            dropped.add(PubSubFeature.REDELIVERY)  # a failed message is skipped, not delivered again
        if m.partitions != 1:
            dropped.add(PubSubFeature.ORDERED)  # order holds per partition (key), not per topic
        if dropped:
            self._narrow_features(type(self).features - dropped)
        self._retry = RetryPolicy(
            m.consume_retry_enabled, m.consume_retry_interval.total_seconds(), m.back_off_max_retries
        )

    @property
    def default_consumer_group(self) -> str:
        """``consumerGroup``, else ``consumerID``, else the component name."""
        return self.meta.consumer_group or self.meta.consumer_id or self.name

    # -- lifecycle -----------------------------------------------------------------------

    # -- publishing ----------------------------------------------------------------------

    async def _publish(self, op: PublishOp) -> None:
        client = self._client
        assert client is not None, "used before init"
        if op.metadata or op.content_type is not None:
            await client.send(op.topic, op.data, *split_metadata(op.metadata, op.content_type))
        else:
            await client.send(op.topic, op.data)

    async def _bulk_publish(self, ops: list[tuple[str, PublishOp]]) -> dict[str, BlockyardError]:
        topic = ops[0][1].topic
        records = [(entry_id, record_from(op.data, op.metadata, op.content_type)) for entry_id, op in ops]
        failed = await self._kafka().send_many(topic, records)
        return {entry_id: self._wrap(exc, "bulk_publish", topic) for entry_id, exc in failed.items()}

    # -- subscribing ---------------------------------------------------------------------

    async def _member(
        self, topic: str, group: str, dispatch: Dispatch, max_records: int | None, poll: float
    ) -> Stopper:
        client = self._kafka()
        await client.ensure_topic(topic)
        member = GroupMember(
            topics=[topic],
            group=group,
            options=consumer_options(self.meta, client),
            dispatch=dispatch,
            max_records=max_records,
            poll_timeout=poll,
            join_timeout=join_timeout(self.meta),
            log=self.log,
            name=self.name,
        )
        await member.start()
        return member.stop

    def _retry_for(self, dead_letter_topic: str | None) -> RetryPolicy:
        """The retry policy of a subscription: with a dead-letter topic, no limit means no retry."""
        return self._retry if dead_letter_topic is None else self._retry.limited()

    async def _subscribe(self, req: SubscribeRequest) -> Stopper:
        attempt, give_up, topic = req.attempt, req.give_up, req.topic

        def message(record: ConsumerRecord[bytes, bytes]) -> Message:
            metadata, content_type = message_metadata(record)
            return Message(topic, record.value or b"", metadata, content_type, f"{record.partition}/{record.offset}")

        async def deliver_record(record: ConsumerRecord[bytes, bytes]) -> HandlerResult:
            return await attempt(message(record))

        async def give_up_record(record: ConsumerRecord[bytes, bytes], result: HandlerResult) -> HandlerResult:
            return await give_up(message(record), result)

        hand_off = give_up_record if req.dead_letter_topic else None
        dispatch = SingleDispatch(deliver_record, self._retry_for(req.dead_letter_topic), self.log, self.name, hand_off)
        return await self._member(topic, req.consumer_group, dispatch, None, _POLL_TIMEOUT)

    async def _bulk_subscribe(self, req: BulkSubscribeRequest) -> Stopper:
        attempt_batch, give_up, topic = req.attempt_batch, req.give_up, req.topic

        def message(record: ConsumerRecord[bytes, bytes]) -> Message:
            metadata, content_type = message_metadata(record)
            return Message(topic, record.value or b"", metadata, content_type, f"{record.partition}/{record.offset}")

        async def deliver_records(records: list[ConsumerRecord[bytes, bytes]]) -> dict[int, HandlerResult]:
            messages = [message(record) for record in records]
            results = await attempt_batch(messages)
            return {i: results.get(m.id or "", HandlerResult.SUCCESS) for i, m in enumerate(messages)}

        async def give_up_record(record: ConsumerRecord[bytes, bytes], result: HandlerResult) -> HandlerResult:
            return await give_up(message(record), result)

        hand_off = give_up_record if req.dead_letter_topic else None
        retry = self._retry_for(req.dead_letter_topic)
        dispatch = BatchDispatch(deliver_records, retry, self.log, self.name, hand_off)
        poll = max(req.max_await.total_seconds(), 0.001)
        return await self._member(topic, req.consumer_group, dispatch, req.max_messages, poll)

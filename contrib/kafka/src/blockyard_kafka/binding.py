"""``bindings.kafka``: write records to one topic, read records from several.

- Output ``create`` publishes ``data`` to ``publishTopic`` and returns once the brokers
  acknowledged it (``producerRequiredAcks``). Request metadata ``partitionKey`` (or ``__key``) is
  the record key; every other entry becomes a header.
- Input ``read(handler)`` joins the consumer group ``consumerGroup`` (default: the component
  name) on ``topics`` and delivers each record as a :class:`~blockyard.bindings.BindingEvent`:
  the headers as metadata plus ``topic``, ``__key``, ``__partition`` and ``__offset``. Delivery
  is at-least-once with the same rules as ``pubsub.kafka``: an offset is committed after its
  handler succeeded (or returned ``DROP``), per partition in order; a failed event is retried
  after ``consumeRetryInterval`` (doubling up to 10x) unless ``consumeRetryEnabled`` is false,
  at most ``backOffMaxRetries`` times (-1, the default: no limit), then logged and skipped.
- Missing topics are created (``partitions``, ``replicationFactor``) unless ``createTopics`` is
  false, when they are an error at ``init()`` (``publishTopic``) or ``read()`` (``topics``).

Example::

    import asyncio
    from blockyard_kafka.binding import KafkaBinding

    async def main() -> None:
        meta = {"brokers": "localhost:9092", "authType": "none", "topics": "jobs", "publishTopic": "jobs",
                "consumerGroup": "workers"}
        async with KafkaBinding(meta, name="jobs") as jobs:
            done = asyncio.Event()

            async def handler(event):
                print(event.data, event.metadata)
                done.set()

            async with await jobs.read(handler):
                await jobs.invoke("create", b"job-1", metadata={"partitionKey": "tenant-1"})
                await done.wait()

    asyncio.run(main())

Component YAML::

    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata: {name: jobs}
    spec:
      type: bindings.kafka
      version: v1
      metadata:
        - {name: brokers, value: "localhost:9092"}
        - {name: topics, value: "jobs"}
        - {name: publishTopic, value: "jobs"}
        - {name: consumerGroup, value: workers}
        - {name: authType, value: none}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from aiokafka.structs import ConsumerRecord

from blockyard.bindings import BindingEvent, BindingResponse, DeliverEvent, InputBinding, InvokeRequest, OutputBinding
from blockyard.errors import InvalidRequestError
from blockyard.subscription import HandlerResult, Stopper

from .client import KafkaClient, KafkaClientMixin, split_metadata
from .consumer import GroupMember, RetryPolicy, SingleDispatch
from .metadata import KafkaBindingMetadata
from .pubsub import consumer_options, join_timeout, message_metadata

__all__ = ["KafkaBinding"]

_POLL_TIMEOUT = 0.2


class KafkaBinding(KafkaClientMixin, InputBinding, OutputBinding):
    """Input and output binding on Kafka topics. See the module docstring for the semantics."""

    type: ClassVar[str] = "bindings.kafka"
    Metadata = KafkaBindingMetadata
    operations: ClassVar[frozenset[str]] = frozenset({"create"})
    meta: KafkaBindingMetadata

    def __init__(self, metadata: Mapping[str, Any] | KafkaBindingMetadata | None = None, *, name: str | None = None):
        super().__init__(metadata, name=name)

    async def _prepare(self, client: KafkaClient) -> None:
        if self.meta.publish_topic:
            await client.ensure_topic(self.meta.publish_topic)

    async def _invoke(self, req: InvokeRequest) -> BindingResponse:
        topic = self.meta.publish_topic
        if not topic:
            raise InvalidRequestError("'create' needs the metadata field 'publishTopic'", component=self.name)
        await self._kafka().send(topic, req.data or b"", *split_metadata(req.metadata, None))
        return BindingResponse()

    async def _read(self, deliver: DeliverEvent) -> Stopper:
        m = self.meta
        if not m.topics:
            raise InvalidRequestError("read needs the metadata field 'topics'", component=self.name)
        client = self._kafka()
        await client.ensure_topics(m.topics)

        async def deliver_record(record: ConsumerRecord[bytes, bytes]) -> HandlerResult:
            metadata, content_type = message_metadata(record)
            metadata["topic"] = record.topic
            event_id = f"{record.topic}/{record.partition}/{record.offset}"
            return await deliver(BindingEvent(record.value, metadata, content_type, event_id))

        retry = RetryPolicy(m.consume_retry_enabled, m.consume_retry_interval.total_seconds(), m.back_off_max_retries)
        member = GroupMember(
            topics=m.topics,
            group=m.consumer_group or self.name,
            options=consumer_options(m, client),
            dispatch=SingleDispatch(deliver_record, retry, self.log, self.name),
            max_records=None,
            poll_timeout=_POLL_TIMEOUT,
            join_timeout=join_timeout(m),
            log=self.log,
            name=self.name,
        )
        await member.start()
        return member.stop

"""pubsub.aws.snssqs beyond the suite: dead-letter queue, retry limit, topology, metadata."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from aws_servers import Aws, MotoProcess

from blockyard.errors import ComponentConfigError, InvalidRequestError
from blockyard.pubsub import HandlerResult, Message
from blockyard_aws.snssqs import SnsSqsPubSub, sanitize_name


async def _wait_for(check: Any, within: float = 60.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = await asyncio.to_thread(check)
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.2)


async def test_message_over_receive_limit_moves_to_the_dead_letter_queue(aws: Aws, ns: str) -> None:
    dlq = f"{ns}-dead"
    md = aws.metadata(
        consumerID=ns, sqsDeadLettersQueueName=dlq, messageReceiveLimit="2", messageVisibilityTimeout="30"
    )
    attempts = 0
    retried = asyncio.Event()

    async def always_retry(message: Message) -> HandlerResult:
        nonlocal attempts
        attempts += 1
        if attempts >= 2:
            retried.set()
        return HandlerResult.RETRY

    sqs = aws.client("sqs")
    async with SnsSqsPubSub(md, name="pubsub") as broker, await broker.subscribe(ns, always_retry):
        await broker.publish(ns, {"poison": True})
        await asyncio.wait_for(retried.wait(), 60)
        url = sqs.get_queue_url(QueueName=dlq)["QueueUrl"]

        def dead_lettered() -> list[Any]:
            messages: list[Any] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
            return messages

        moved = await _wait_for(dead_lettered)
    event = json.loads(moved[0]["Body"])  # the CloudEvent as published, moved unchanged
    assert (event["data"], event["type"]) == ({"poison": True}, "com.dapr.event.sent")
    assert attempts == 2, "the handler must see the message exactly messageReceiveLimit times"


async def test_message_over_retry_limit_is_deleted_without_dead_letter_queue(aws: Aws, ns: str) -> None:
    md = aws.metadata(consumerID=ns, messageRetryLimit="2")
    attempts = 0

    async def always_retry(message: Message) -> HandlerResult:
        nonlocal attempts
        attempts += 1
        return HandlerResult.RETRY

    sqs = aws.client("sqs")
    async with SnsSqsPubSub(md, name="pubsub") as broker, await broker.subscribe(ns, always_retry):
        await broker.publish(ns, {"poison": True})
        queue = sqs.get_queue_url(QueueName=sanitize_name(f"{ns}-{ns}", 80, False))["QueueUrl"]

        def empty() -> bool:
            attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
            return (
                attempts >= 2
                and attrs["ApproximateNumberOfMessages"] == "0"
                and (attrs["ApproximateNumberOfMessagesNotVisible"] == "0")
            )

        await _wait_for(empty)
    assert attempts == 2, "the handler sees a message messageRetryLimit times, then it is deleted"


async def test_topology_is_one_raw_delivery_queue_per_group_and_topic(aws: Aws, ns: str) -> None:
    got = asyncio.Event()

    async def handle(message: Message) -> None:
        if message.metadata.get("source") == "test" and message.content_type == "text/plain":
            got.set()

    async with (
        SnsSqsPubSub(aws.metadata(consumerID="billing"), name="pubsub") as broker,
        await broker.subscribe(ns, handle),
    ):
        await broker.publish(ns, b"plain", metadata={"source": "test"}, content_type="text/plain")
        await asyncio.wait_for(got.wait(), 60)
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topics = [t for page in sns.get_paginator("list_topics").paginate() for t in page["Topics"]]
    arn = next(t["TopicArn"] for t in topics if t["TopicArn"].endswith(f":{ns}"))
    (sub,) = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert sub["Protocol"] == "sqs"
    assert sub["Endpoint"].endswith(f":billing-{ns}")
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
    assert attrs["RawMessageDelivery"] == "true"
    sqs.get_queue_url(QueueName=f"billing-{ns}")


async def test_a_retried_fifo_receive_repeats_its_attempt_id(own_moto: MotoProcess, ns: str) -> None:
    """Each FIFO poll has a ReceiveRequestAttemptId of its own; botocore's retry of a throttled poll
    sends the same one (so SQS would answer it with the messages the first attempt received)."""
    attempts: list[str] = []

    def record(request: Any, **_: Any) -> None:
        attempts.append(json.loads(request.body).get("ReceiveRequestAttemptId", ""))

    handled = asyncio.Event()

    async def handle(message: Message) -> None:
        handled.set()

    md = own_moto.aws().metadata(consumerID=ns, fifo="true")
    async with SnsSqsPubSub(md, name="pubsub") as broker:
        broker._clients["sqs"].meta.events.register("before-send.sqs.ReceiveMessage", record)
        own_moto.inject("AmazonSQS.ReceiveMessage", 1)
        async with await broker.subscribe(ns, handle):
            await broker.publish(ns, {"x": 1})
            await asyncio.wait_for(handled.wait(), 60)
    assert own_moto.faults()["served"] == 1, "the first poll was throttled"
    assert attempts[0], "a FIFO poll carries a ReceiveRequestAttemptId"
    assert attempts[1] == attempts[0], "the retried poll repeats it"
    assert len(set(attempts)) == len(attempts) - 1, "every later poll has its own"


def test_sanitize_name_keeps_names_valid_and_distinct() -> None:
    assert sanitize_name("orders", 256, False) == "orders"
    assert sanitize_name("orders", 80, True) == "orders.fifo"
    assert sanitize_name("orders/eu.west", 256, False).startswith("orderseuwest-")
    assert sanitize_name("orders.", 256, False) != sanitize_name("orders", 256, False)
    long_a, long_b = "g-" + "a" * 100, "g-" + "a" * 99 + "b"
    assert len(sanitize_name(long_a, 80, True)) == 80
    assert sanitize_name(long_a, 80, False) != sanitize_name(long_b, 80, False)


def test_metadata_dapr_defines_but_not_implemented_is_refused() -> None:
    with pytest.raises(ComponentConfigError) as raised:
        SnsSqsPubSub({"region": "us-east-1", "accountId": "123"})
    assert "accountId" in str(raised.value)
    with pytest.raises(ComponentConfigError) as raised:
        SnsSqsPubSub({"region": "us-east-1", "messageWaitTimeSeconds": "30"})
    assert "messageWaitTimeSeconds" in str(raised.value)
    with pytest.raises(ComponentConfigError) as raised:
        SnsSqsPubSub({"sqsDeadLettersQueueName": "dlq", "messageReceiveLimit": "0"})
    assert "messageReceiveLimit" in str(raised.value)


async def test_too_many_metadata_entries_are_refused(aws: Aws, ns: str) -> None:
    async with SnsSqsPubSub(aws.metadata(), name="pubsub") as broker:
        with pytest.raises(InvalidRequestError) as raised:
            await broker.publish(ns, {"x": 1}, metadata={f"m{i}": "v" for i in range(11)})
    assert "10 message attributes" in str(raised.value)

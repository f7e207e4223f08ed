"""Benchmark: Blockyard's AWS components against raw boto3, side by side in one run, on moto.

"Same calls" means the raw side sends exactly the requests the component sends, through a boto3
client with the same configuration (standard retries, same connection pool), each call on a
thread pool of the same size (boto3 blocks; an asyncio program has to do that too):

- DynamoDB get: ``GetItem``; set: an unconditional ``PutItem`` of the same item (value + a fresh
  etag), the request bodies checked equal before the rounds; at concurrency 1 and 16;
- SNS/SQS publish -> handle: ``Publish`` by 16 concurrent publishers to a topic whose SQS queue
  (raw delivery) a consumer long-polls on a thread of its own (``ReceiveMessage`` 10 at a time,
  1 s wait, message attributes and receive count), handles and empties with
  ``DeleteMessageBatch``; the rate is messages handled per second from the first
  publish to the last handler call.

Each scenario alternates raw and Blockyard rounds (after one warm-up each) and reports medians.
moto answers every request in Python, so it, not the client, bounds both sides; the client CPU
per call (this process's CPU time over the round, moto excluded) shows what the client side
itself costs, raw boto3 and Blockyard (boto3 plus the component and the thread hop). Run::

    .venv/bin/python bench/aws_bench.py              # the launcher's aws backend (moto)
    .venv/bin/python bench/aws_bench.py --endpoint http://127.0.0.1:5000 --quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from bench_results import Results, add_json_option
from botocore.config import Config
from envelope_cost import report as envelope_report
from side_by_side import Round, Stopwatch, compare, run_ops

from blockyard.pubsub import Message
from blockyard_aws.dynamodb import DynamoDBStateStore
from blockyard_aws.snssqs import SnsSqsPubSub

WORKERS = 16


def raw_client(service: str, md: dict[str, Any]) -> Any:
    """A boto3 client configured like the components' (standard retries, same pool size)."""
    return boto3.client(
        service,
        endpoint_url=md["endpoint"],
        region_name=md["region"],
        aws_access_key_id=md["accessKey"],
        aws_secret_access_key=md["secretKey"],
        config=Config(
            connect_timeout=5,
            read_timeout=60,
            retries={"mode": "standard", "total_max_attempts": 4},
            max_pool_connections=WORKERS,
        ),
    )


RESULTS = Results("aws", "state.aws.dynamodb and pubsub.aws.snssqs vs boto3, on moto")


async def bench_dynamodb(md: dict[str, Any], rounds: int, scale: int) -> None:
    table = f"bench-{uuid.uuid4().hex[:8]}"
    raw = raw_client("dynamodb", md)
    raw.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    pool = ThreadPoolExecutor(WORKERS)
    loop = asyncio.get_running_loop()
    value = '{"field":"a value of some sixty bytes, like a small JSON document"}'
    keys = [f"k{i}" for i in range(100)]
    store = DynamoDBStateStore({**md, "table": table}, name="bench")
    await store.init()
    try:
        for k in keys:
            await store.set(k, value.encode())

        async def raw_get(i: int) -> Any:
            key = {"key": {"S": keys[i % 100]}}
            return await loop.run_in_executor(
                pool, lambda: raw.get_item(TableName=table, Key=key, ConsistentRead=False)
            )

        async def our_get(i: int) -> Any:
            return await store.get(keys[i % 100])

        async def raw_set(i: int) -> Any:
            item = {"key": {"S": keys[i % 100]}, "value": {"S": value}, "etag": {"S": uuid.uuid4().hex}}
            return await loop.run_in_executor(pool, lambda: raw.put_item(TableName=table, Item=item))

        async def our_set(i: int) -> Any:
            return await store.set(keys[i % 100], value.encode())

        await same_put_item(raw, store, raw_set, our_set)
        print("state.aws.dynamodb")
        for conc, total in ((1, 40 * scale), (16, 160 * scale)):
            for what, raw_op, our_op in (("get", raw_get, our_get), ("set", raw_set, our_set)):
                result = await compare(
                    rounds,
                    lambda op=raw_op, t=total, c=conc: run_ops(op, t, c),  # type: ignore[misc]
                    lambda op=our_op, t=total, c=conc: run_ops(op, t, c),  # type: ignore[misc]
                )
                RESULTS.compared(f"DynamoDB {what}, concurrency {conc}", result, "ops/s", 0.90, "boto3")
    finally:
        await store.close()
        raw.delete_table(TableName=table)
        pool.shutdown()


async def same_put_item(raw: Any, store: DynamoDBStateStore, raw_set: Any, our_set: Any) -> None:
    """Check that both sides send the same PutItem request (JSON body; the fresh etag aside)."""
    bodies: list[dict[str, Any]] = []

    def record(request: Any, **_: Any) -> None:
        body = json.loads(request.body)
        body["Item"].pop("etag")
        bodies.append(body)

    clients = (raw, store._clients["dynamodb"])
    for client in clients:
        client.meta.events.register("before-send.dynamodb.PutItem", record)
    try:
        await raw_set(0)
        await our_set(0)
    finally:
        for client in clients:
            client.meta.events.unregister("before-send.dynamodb.PutItem", record)
    if bodies[0] != bodies[1]:
        raise SystemExit(f"the two sides send different PutItem requests: {bodies}")


async def bench_snssqs(md: dict[str, Any], rounds: int, scale: int) -> None:
    sns, sqs = raw_client("sns", md), raw_client("sqs", md)
    pool, poller = ThreadPoolExecutor(WORKERS), ThreadPoolExecutor(1)
    loop = asyncio.get_running_loop()
    count = 80 * scale
    broker = SnsSqsPubSub({**md, "consumerID": f"bench-{uuid.uuid4().hex[:6]}"}, name="bench")
    await broker.init()

    async def raw_round() -> Round:
        name = f"raw-{uuid.uuid4().hex[:10]}"
        arn = sns.create_topic(Name=name)["TopicArn"]
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
        handled: set[int] = set()

        def consume() -> None:
            while len(handled) < count:
                resp = sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=1,
                    MessageAttributeNames=["All"],
                    AttributeNames=["ApproximateReceiveCount"],
                )
                messages = resp.get("Messages", [])
                for m in messages:
                    handled.add(int(m["Body"]))
                if messages:
                    entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
                    sqs.delete_message_batch(QueueUrl=url, Entries=entries)

        watch = Stopwatch()
        consumer = loop.run_in_executor(poller, consume)

        async def publish(i: int) -> Any:
            return await loop.run_in_executor(pool, lambda: sns.publish(TopicArn=arn, Message=str(i)))

        await run_ops(publish, count, 16)
        await consumer
        return watch.round(count)

    async def our_round() -> Round:
        topic = f"ours-{uuid.uuid4().hex[:10]}"
        handled: set[int] = set()
        done = asyncio.Event()

        async def handle(message: Message) -> None:
            handled.add(int(message.data))
            if len(handled) >= count:
                done.set()

        async with await broker.subscribe(topic, handle):
            watch = Stopwatch()

            async def publish(i: int) -> Any:
                return await broker.publish(topic, str(i).encode())

            await run_ops(publish, count, 16)
            await done.wait()
            return watch.round(count)

    print(f"pubsub.aws.snssqs ({count} messages per round)")
    envelope_report()  # included in the Blockyard figures below
    try:
        result = await compare(rounds, raw_round, our_round)
        RESULTS.compared("SNS/SQS publish -> handle, 16 publishers", result, "msg/s", 0.90, "boto3")
    finally:
        await broker.close()
        pool.shutdown()
        poller.shutdown()


def endpoint_metadata(endpoint: str | None) -> tuple[dict[str, Any], str]:
    if endpoint is None:
        from blockyard_conformance.backends.launcher import get_launcher

        ep = get_launcher().up("aws")
        endpoint, flavour = ep.url, ep.flavour
    else:
        flavour = endpoint
    md = {"endpoint": endpoint, "region": "us-east-1", "accessKey": "bench", "secretKey": "bench-secret"}
    return md, flavour


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", help="an AWS endpoint URL (default: the launcher's moto)")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--quick", action="store_true", help="fewer operations per round")
    add_json_option(parser)
    args = parser.parse_args()
    RESULTS.note = args.machine_note
    md, flavour = endpoint_metadata(args.endpoint)
    scale = 1 if args.quick else 2
    print(f"backend: {flavour}")
    RESULTS.title += f" ({flavour})"
    await bench_dynamodb(md, args.rounds, scale)
    await bench_snssqs(md, args.rounds, scale)
    RESULTS.print_table()
    RESULTS.write(args.json)


if __name__ == "__main__":
    asyncio.run(main())

"""pubsub.kafka vs raw aiokafka, side by side in one run.

Measures, with the same settings on both sides (one ``AIOKafkaProducer`` with ``acks=all``,
``linger_ms`` 0, 16 KiB batches, no compression, ``max_request_size`` 1 MiB + 64 KiB, a
1-partition topic created beforehand; one ``AIOKafkaConsumer`` per subscription with auto-commit
off, ``getmany``, an async handler per record, one partition's records one after the other, a
commit after each fetched batch):

- publish: acknowledged publishes/s with ``--concurrency`` publishes in flight, p50/p99 latency;
- publish -> handle (committed): messages/s from the first publish to the last handled message of
  a group that joined before, p50/p99 of publish-start -> handler latency;
- the client process's CPU time per message in both phases (what the library itself costs, apart
  from waiting for the broker).

Blockyard publishes CloudEvents 1.0 (as daprd does), about 300 bytes around this benchmark's
12-byte payloads, so its producer batches fill sooner. The raw side therefore runs twice: with the
bare payloads, and publishing the same CloudEvents (built with orjson per message, as an
application exchanging messages with Dapr apps must; its consumer decodes them) — the library's own
cost is the difference to the second; the first also shows what the envelope costs on the wire.
"The same" means the same attributes, formatted alike (daprd's ``traceid``/``traceparent``/
``tracestate``, RFC 3339 ``time`` in seconds, the app id as ``source``), so both sides' records are
the same size: with one partition, how many records fit a producer batch sets the throughput. The
sizes are checked before the rounds.

Rounds are interleaved (raw, raw with CloudEvents, Blockyard; the reverse order every other
round) so drift hits all alike; the table shows medians. Broker: ``--brokers`` or the launcher's
``kafka`` backend.

    .venv/bin/python bench/kafka_bench.py [--messages 5000] [--concurrency 64] [--rounds 9] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import os
import struct
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiokafka
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from bench_results import Results, add_json_option
from envelope_cost import report as envelope_report

from blockyard.envelope import wrap
from blockyard.pubsub import Message
from blockyard_kafka.pubsub import KafkaPubSub

Publish = Callable[[bytes], Awaitable[None]]
Handler = Callable[[bytes], Awaitable[None]]
Result = tuple[float, list[float], float]
"""(messages/s, latencies in s, client CPU seconds per message)"""

GROUP_TIMINGS = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 500}


def find_brokers() -> str:
    from blockyard_conformance.backends.launcher import get_launcher

    return str(get_launcher().up("kafka").params["brokers"])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def drive(publish: Publish, n: int, concurrency: int) -> Result:
    """Publish ``n`` messages from ``concurrency`` workers; returns (msgs/s, latencies)."""
    latencies: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            body = struct.pack("!dI", time.perf_counter(), i)
            t0 = time.perf_counter()
            await publish(body)
            latencies.append(time.perf_counter() - t0)

    cpu, start = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - start), latencies, (time.process_time() - cpu) / n


async def e2e(publish: Publish, n: int, conc: int, latencies: list[float], done: asyncio.Event) -> Result:
    cpu, start = time.process_time(), time.perf_counter()
    await drive(publish, n, conc)
    await asyncio.wait_for(done.wait(), 300)
    return n / (time.perf_counter() - start), latencies, (time.process_time() - cpu) / n


def timing_handler(n: int) -> tuple[Handler, list[float], asyncio.Event]:
    latencies: list[float] = []
    done = asyncio.Event()

    async def handler(body: bytes) -> None:
        sent, _ = struct.unpack("!dI", body)
        latencies.append(time.perf_counter() - sent)
        if len(latencies) >= n:
            done.set()

    return handler, latencies, done


async def create_topics(brokers: str, *topics: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in topics])
    finally:
        await admin.close()


# -- raw aiokafka --------------------------------------------------------------------------


class _Assigned(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.event.set()


async def raw_consume(brokers: str, topic: str, group: str, handler: Handler) -> Callable[[], Awaitable[None]]:
    """The component's delivery loop written directly: getmany, handle in order, commit per batch."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=brokers, group_id=group, enable_auto_commit=False, auto_offset_reset="latest", **GROUP_TIMINGS
    )
    await consumer.start()
    listener = _Assigned()
    consumer.subscribe([topic], listener=listener)

    async def loop() -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=200)
            offsets = {}
            for tp, records in batches.items():
                for record in records:
                    await handler(record.value)
                offsets[tp] = records[-1].offset + 1
            if offsets:
                await consumer.commit(offsets)

    task = asyncio.create_task(loop())
    await listener.event.wait()
    tp = TopicPartition(topic, 0)
    await consumer.commit({tp: await consumer.position(tp)})

    async def stop() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await consumer.stop()

    return stop


CLOUDEVENT_HEADERS = [("content-type", b"application/cloudevents+json")]


APP_ID = "bench"


def cloudevent(topic: str, body: bytes) -> bytes:
    """The CloudEvent daprd (and Blockyard) publishes for ``body``, built the way an application would."""
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": APP_ID,
            "type": "com.dapr.event.sent",
            "datacontenttype": "application/octet-stream",
            "topic": topic,
            "pubsubname": "bench",
            "traceid": "",
            "traceparent": "",
            "tracestate": "",
            "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data_base64": base64.b64encode(body).decode(),
        }
    )


def raw_topic(run: str) -> str:
    return f"bench-raw-{run}"


def blockyard_topic(run: str) -> str:
    return f"bench-lib-{run}"  # as long as the raw side's, so the events are too


def envelope_sizes() -> tuple[int, int]:
    """Bytes of one record value on each side: the raw CloudEvent, and Blockyard's (``publish``
    writes it with :func:`blockyard.envelope.wrap`)."""
    body, run = struct.pack("!dI", time.perf_counter(), 0), "x" * 8
    ours = wrap(
        body,
        topic=blockyard_topic(run),
        pubsubname="bench",
        source=APP_ID,
        content_type=None,
        is_json=False,
        metadata={},
    )
    return len(cloudevent(raw_topic(run), body)), len(ours)


async def bench_raw(brokers: str, n: int, conc: int, *, cloudevents: bool = False) -> dict[str, Result]:
    run = uuid.uuid4().hex[:8]
    topic = raw_topic(run)
    await create_topics(brokers, topic)
    producer = AIOKafkaProducer(bootstrap_servers=brokers, acks="all", max_request_size=1024 * 1024 + 64 * 1024)
    await producer.start()
    try:

        async def publish(body: bytes) -> None:
            if cloudevents:
                await (await producer.send(topic, cloudevent(topic, body), headers=CLOUDEVENT_HEADERS))
            else:
                await (await producer.send(topic, body))

        out = {"publish": await drive(publish, n, conc)}
        handler, latencies, done = timing_handler(n)
        if cloudevents:
            bare = handler

            async def handler(value: bytes) -> None:
                await bare(base64.b64decode(orjson.loads(value)["data_base64"]))

        stop = await raw_consume(brokers, topic, f"g-{run}", handler)
        out["e2e"] = await e2e(publish, n, conc, latencies, done)
        await stop()
    finally:
        await producer.stop()
    return out


# -- Blockyard -----------------------------------------------------------------------------


async def bench_blockyard(brokers: str, n: int, conc: int) -> dict[str, Result]:
    run = uuid.uuid4().hex[:8]
    topic = blockyard_topic(run)
    await create_topics(brokers, topic)
    meta = {"brokers": brokers, "authType": "none", "heartbeatInterval": "500ms", "sessionTimeout": "6s"}
    component = KafkaPubSub(meta, name="bench")
    component.app_id = APP_ID  # the events' source, as on the raw side
    async with component as ps:

        async def publish(body: bytes) -> None:
            await ps.publish(topic, body)

        out = {"publish": await drive(publish, n, conc)}
        handler, latencies, done = timing_handler(n)

        async def on_message(m: Message) -> None:
            await handler(m.data)

        async with await ps.subscribe(topic, on_message, consumer_group=f"g-{run}"):
            out["e2e"] = await e2e(publish, n, conc, latencies, done)
    return out


def median(rounds: list[Result]) -> tuple[float, float, float, float]:
    """Median throughput over rounds; p50/p99 over the round with the median throughput; median
    client CPU microseconds per message."""
    ordered = sorted(rounds, key=lambda r: r[0])
    rate, lat, _ = ordered[len(ordered) // 2]
    cpus = sorted(r[2] for r in rounds)
    return rate, pct(lat, 0.50), pct(lat, 0.99), cpus[len(cpus) // 2] * 1e6


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--brokers")
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=9)
    add_json_option(ap)
    args = ap.parse_args()
    results = Results("kafka", "pubsub.kafka vs aiokafka (acks=all)", note=args.machine_note)
    brokers = args.brokers or find_brokers()
    n, conc = args.messages, args.concurrency
    by: dict[str, list[Result]] = {"publish": [], "e2e": []}
    raw: dict[str, list[Result]] = {"publish": [], "e2e": []}
    raw_ce: dict[str, list[Result]] = {"publish": [], "e2e": []}
    raw_size, by_size = envelope_sizes()
    if raw_size != by_size:
        sys.exit(f"the two sides' CloudEvents differ in size ({raw_size} vs {by_size} bytes): not the same work")
    await bench_raw(brokers, 500, conc)  # warm-up (connections, JIT on the broker side)
    await bench_raw(brokers, 500, conc, cloudevents=True)
    await bench_blockyard(brokers, 500, conc)
    sides: list[tuple[dict[str, list[Result]], Callable[[], Awaitable[dict[str, Result]]]]] = [
        (raw, lambda: bench_raw(brokers, n, conc)),
        (raw_ce, lambda: bench_raw(brokers, n, conc, cloudevents=True)),
        (by, lambda: bench_blockyard(brokers, n, conc)),
    ]
    for number in range(args.rounds):
        for results_of, run in sides if number % 2 == 0 else sides[::-1]:  # each side first as often
            for key, value in (await run()).items():
                results_of[key].append(value)
    print(f"pubsub.kafka vs raw aiokafka: {n} msgs x {args.rounds} rounds, {conc} in flight, acks=all")
    print(f"  record value: {by_size} bytes of CloudEvent JSON on both sides, plus a content-type header")
    envelope_report()  # included in the Blockyard figures below
    print(
        f"{'':62} {'raw msg/s':>9} {'by msg/s':>9} {'ratio':>5}  {'raw p50/p99 ms':>15} {'by p50/p99 ms':>15}"
        f"  {'raw/by CPU us/msg':>17}"
    )
    for raw_side, against, targeted in ((raw_ce, "raw sends the same CloudEvents", True), (raw, "raw bare", False)):
        for key, label, target in (
            ("publish", "publish (acks=all)", 0.95),
            ("e2e", "publish -> handle (committed)", 0.90),
        ):
            r, b = median(raw_side[key]), median(by[key])
            scenario = f"{label}, {against}"
            results.measured(
                scenario, "msg/s", r[0], b[0], target if targeted else None, "aiokafka", cpu_us=(r[3], b[3])
            )
            results.percentiles(scenario, "raw", r[1], r[2])
            if targeted:
                results.percentiles(label, "blockyard", b[1], b[2])
            print(
                f"{scenario:62} {r[0]:9.0f} {b[0]:9.0f} {b[0] / r[0]:5.2f}  "
                f"{r[1]:6.1f} /{r[2]:7.1f} {b[1]:6.1f} /{b[2]:7.1f}  {r[3]:8.0f} /{b[3]:7.0f}"
            )
    versions = f"python {sys.version.split()[0]}, aiokafka {aiokafka.__version__}, {os.cpu_count()} cpus"
    print(f"\nmedian of rounds; {versions}")
    print(
        "throughput and latency wait on the broker; the client's CPU time per message (publish, and "
        "publish + consume for the second row) is the library's own cost"
    )
    results.write(args.json)


if __name__ == "__main__":
    asyncio.run(main())

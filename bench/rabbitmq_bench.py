"""pubsub.rabbitmq vs raw pika, side by side in one run.

Measures, with the same settings on both sides (pika's AsyncioConnection, publisher confirms,
persistent=off, prefetch, manual acks, an async handler per message):

- publish: confirmed publishes/s with ``--concurrency`` publishes in flight, and p50/p99 latency;
- publish->handle: messages/s from the first publish to the last handled message, p50/p99 of
  publish-start -> handler latency;
- the adapter choice: raw pika BlockingConnection on a dedicated thread (the alternative design:
  one confirmed publish at a time per thread, bridged with ``run_in_executor``) vs the asyncio
  adapter at concurrency 1 and at ``--concurrency``.

Broker: ``--url`` or ``BLOCKYARD_RABBITMQ_URL``, else the launcher's, else one started here.

    .venv/bin/python bench/rabbitmq_bench.py [--messages 5000] [--concurrency 64] [--rounds 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
import struct
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pika
from bench_results import Results, add_json_option
from envelope_cost import report as envelope_report
from pika.adapters.asyncio_connection import AsyncioConnection
from pika.spec import Basic

from blockyard.pubsub import Message
from blockyard_rabbitmq.pubsub import RabbitMQPubSub

Publish = Callable[[bytes], Awaitable[None]]


def find_broker() -> str:
    """``BLOCKYARD_RABBITMQ_URL``, else the launcher's ``rabbitmq`` backend."""
    from blockyard_conformance.backends.launcher import get_launcher

    return os.environ.get("BLOCKYARD_RABBITMQ_URL") or str(get_launcher().up("rabbitmq").url)


# -- raw pika, asyncio adapter -------------------------------------------------------------


class RawAsyncio:
    """The same work as the component, written directly against pika's AsyncioConnection."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[Any] = loop.create_future()
        self.conn = AsyncioConnection(
            pika.URLParameters(self.url),
            on_open_callback=lambda c: opened.set_result(c),
            on_open_error_callback=lambda c, e: opened.set_exception(e),
            custom_ioloop=loop,
        )
        await opened
        self.pub = await self.channel()
        self.confirms: dict[int, asyncio.Future[None]] = {}
        self.tag = 0
        done: asyncio.Future[None] = loop.create_future()
        self.pub.confirm_delivery(self._on_confirm, callback=lambda _f: done.set_result(None))
        await done

    async def channel(self) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.conn.channel(on_open_callback=fut.set_result)
        return await fut

    async def rpc(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        method(*args, callback=fut.set_result, **kwargs)
        return await fut

    def _on_confirm(self, frame: Any) -> None:
        m = frame.method
        tags = [t for t in self.confirms if t <= m.delivery_tag] if m.multiple else [m.delivery_tag]
        for t in tags:
            fut = self.confirms.pop(t)
            if isinstance(m, Basic.Ack):
                fut.set_result(None)
            else:
                fut.set_exception(RuntimeError("nack"))

    async def declare(self, exchange: str, queue: str | None) -> None:
        await self.rpc(self.pub.exchange_declare, exchange=exchange, exchange_type="fanout", durable=True)
        if queue:
            await self.rpc(self.pub.queue_declare, queue=queue, auto_delete=False)
            await self.rpc(self.pub.queue_bind, queue=queue, exchange=exchange, routing_key="")

    def publisher(self, exchange: str) -> Publish:
        props = pika.BasicProperties()

        def publish(body: bytes) -> asyncio.Future[None]:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.pub.basic_publish(exchange, "", body, props)
            self.tag += 1
            self.confirms[self.tag] = fut
            return fut

        return publish

    async def consume(self, queue: str, prefetch: int, handler: Callable[[bytes], Awaitable[None]]) -> None:
        ch = await self.channel()
        await self.rpc(ch.basic_qos, prefetch_count=prefetch)
        tasks: set[asyncio.Task[None]] = set()

        async def run(tag: int, body: bytes) -> None:
            await handler(body)
            ch.basic_ack(tag)

        def on_message(_ch: Any, method: Any, _props: Any, body: bytes) -> None:
            task = asyncio.get_running_loop().create_task(run(method.delivery_tag, body))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        await self.rpc(ch.basic_consume, queue, on_message)

    async def cleanup(self, exchange: str, queue: str | None) -> None:
        if queue:
            await self.rpc(self.pub.queue_delete, queue=queue)
        await self.rpc(self.pub.exchange_delete, exchange=exchange)

    async def close(self) -> None:
        closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.conn.add_on_close_callback(lambda _c, _r: closed.set_result(None))
        self.conn.close()
        await closed


# -- raw pika, blocking connection on a dedicated thread -----------------------------------


class RawBlockingThread:
    """The alternative design: a BlockingConnection owned by one worker thread."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    async def _run(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn)

    async def open(self) -> None:
        def connect() -> None:
            self.conn = pika.BlockingConnection(pika.URLParameters(self.url))
            self.ch = self.conn.channel()
            self.ch.confirm_delivery()

        await self._run(connect)

    async def declare(self, exchange: str) -> None:
        await self._run(lambda: self.ch.exchange_declare(exchange, "fanout", durable=True))

    def publisher(self, exchange: str) -> Publish:
        async def publish(body: bytes) -> None:
            await self._run(lambda: self.ch.basic_publish(exchange, "", body))  # waits for the confirm

        return publish

    async def close(self, exchange: str) -> None:
        def shut() -> None:
            self.ch.exchange_delete(exchange)
            self.conn.close()

        await self._run(shut)
        self.pool.shutdown()


# -- measurements --------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def drive(publish: Publish, n: int, concurrency: int) -> tuple[float, list[float]]:
    """Publish ``n`` messages from ``concurrency`` workers; returns (msgs/s, latencies)."""
    latencies: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            body = struct.pack("!dI", time.perf_counter(), i)
            t0 = time.perf_counter()
            await publish(body)
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - start), latencies


async def e2e(
    publish: Publish, subscribe: Callable[[Callable[[bytes], Awaitable[None]]], Awaitable[Any]], n: int, conc: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    done = asyncio.Event()

    async def handler(body: bytes) -> None:
        sent, _ = struct.unpack("!dI", body)
        latencies.append(time.perf_counter() - sent)
        if len(latencies) >= n:
            done.set()

    await subscribe(handler)
    start = time.perf_counter()
    await drive(publish, n, conc)
    await asyncio.wait_for(done.wait(), 120)
    return n / (time.perf_counter() - start), latencies


async def bench_blockyard(url: str, n: int, conc: int, prefetch: int) -> dict[str, tuple[float, list[float]]]:
    run = uuid.uuid4().hex[:8]
    topic, group = f"bench-by-{run}", f"bench{run}"
    meta = {"connectionString": url, "consumerID": group, "prefetchCount": str(prefetch), "deletedWhenUnused": "false"}
    out = {}
    async with RabbitMQPubSub(meta, name="bench") as ps:

        async def publish(body: bytes) -> None:
            await ps.publish(topic, body)

        out["publish"] = await drive(publish, n, conc)

        async def subscribe(handler: Callable[[bytes], Awaitable[None]]) -> Any:
            async def h(m: Message) -> None:
                await handler(m.data)

            return await ps.subscribe(topic, h)

        out["e2e"] = await e2e(publish, subscribe, n, conc)
        conn = ps._conn
        assert conn is not None
        pub = await conn.publisher()
        await pub.rpc(pub.raw.queue_delete, queue=f"{group}-{topic}")
        await pub.rpc(pub.raw.exchange_delete, exchange=topic)
    return out


async def bench_raw(url: str, n: int, conc: int, prefetch: int) -> dict[str, tuple[float, list[float]]]:
    run = uuid.uuid4().hex[:8]
    exchange, queue = f"bench-raw-{run}", f"bench-raw-{run}-q"
    raw = RawAsyncio(url)
    await raw.open()
    out = {}
    await raw.declare(exchange, None)
    publish = raw.publisher(exchange)
    out["publish"] = await drive(publish, n, conc)
    await raw.declare(exchange, queue)

    async def subscribe(handler: Callable[[bytes], Awaitable[None]]) -> None:
        await raw.consume(queue, prefetch, handler)

    out["e2e"] = await e2e(publish, subscribe, n, conc)
    await raw.cleanup(exchange, queue)
    await raw.close()
    return out


async def bench_adapters(url: str, n: int, conc: int) -> dict[str, tuple[float, list[float]]]:
    run = uuid.uuid4().hex[:8]
    out = {}
    blocking = RawBlockingThread(url)
    await blocking.open()
    await blocking.declare(f"bench-blk-{run}")
    out["blocking thread, 1 in flight"] = await drive(blocking.publisher(f"bench-blk-{run}"), n, 1)
    out[f"blocking thread, {conc} callers"] = await drive(blocking.publisher(f"bench-blk-{run}"), n, conc)
    await blocking.close(f"bench-blk-{run}")
    raw = RawAsyncio(url)
    await raw.open()
    await raw.declare(f"bench-aio-{run}", None)
    out["asyncio adapter, 1 in flight"] = await drive(raw.publisher(f"bench-aio-{run}"), n, 1)
    out[f"asyncio adapter, {conc} in flight"] = await drive(raw.publisher(f"bench-aio-{run}"), n, conc)
    await raw.cleanup(f"bench-aio-{run}", None)
    await raw.close()
    return out


def best(rounds: list[tuple[float, list[float]]]) -> tuple[float, float, float]:
    """Median throughput over rounds; p50/p99 over the round with the median throughput."""
    ordered = sorted(rounds, key=lambda r: r[0])
    rate, lat = ordered[len(ordered) // 2]
    return rate, pct(lat, 0.50), pct(lat, 0.99)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url")
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--prefetch", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    add_json_option(ap)
    args = ap.parse_args()
    results = Results("rabbitmq", "pubsub.rabbitmq vs pika", note=args.machine_note)
    url = args.url or find_broker()
    n, conc, prefetch = args.messages, args.concurrency, args.prefetch
    by: dict[str, list[tuple[float, list[float]]]] = {"publish": [], "e2e": []}
    raw: dict[str, list[tuple[float, list[float]]]] = {"publish": [], "e2e": []}
    await bench_raw(url, 500, conc, prefetch)  # warm-up
    for _ in range(args.rounds):  # interleaved, so drift hits both sides alike
        for key, value in (await bench_raw(url, n, conc, prefetch)).items():
            raw[key].append(value)
        for key, value in (await bench_blockyard(url, n, conc, prefetch)).items():
            by[key].append(value)
    print(f"pubsub.rabbitmq vs raw pika: {n} msgs x {args.rounds} rounds, {conc} in flight, prefetch {prefetch}")
    envelope_report()  # included in the Blockyard figures below
    print(f"{'':16} {'raw msg/s':>10} {'by msg/s':>10} {'ratio':>6}  {'raw p50/p99 ms':>15} {'by p50/p99 ms':>15}")
    for key, label in (("publish", "publish (conf.)"), ("e2e", "publish->handle")):
        r, b = best(raw[key]), best(by[key])
        print(
            f"{label:16} {r[0]:10.0f} {b[0]:10.0f} {b[0] / r[0]:6.2f}  {r[1]:7.2f}/{r[2]:7.2f} {b[1]:7.2f}/{b[2]:7.2f}"
        )
        results.measured(f"{label}, {conc} in flight", "msg/s", r[0], b[0], 0.8, "pika")
        results.percentiles(label, "raw", r[1], r[2])
        results.percentiles(label, "blockyard", b[1], b[2])
    adapters = await bench_adapters(url, min(n, 2000), conc)
    print(f"\nadapter choice, raw pika confirmed publish ({min(n, 2000)} msgs):")
    for label, (rate, lat) in adapters.items():
        print(f"  {label:32} {rate:8.0f} msg/s  p50 {pct(lat, 0.5):6.2f} ms  p99 {pct(lat, 0.99):6.2f} ms")
    print(f"\nmedian of rounds; python {sys.version.split()[0]}, pika {pika.__version__}, {os.cpu_count()} cpus")
    results.write(args.json)


if __name__ == "__main__":
    asyncio.run(main())

"""Benchmark: Blockyard's Redis components against raw redis-py asyncio, side by side in one run.

"Same commands" means the raw side sends exactly what the component sends, through an identical
client (the same connection pool, size and retry policy):

- state get: ``HMGET key data version ct exp`` (one command, no script);
- state set: ``EVALSHA`` of the component's own SET script (``register_script``), same arguments;
- bulk set / get of 1,000 keys: the component sends ONE ``EVALSHA`` of its bulk script; it is
  compared with a raw pipeline of 1,000 single commands (the usual raw way), with the same bulk
  script sent raw, and with 1,000 single component calls (64 at a time);
- pub/sub: ``XADD`` by 16 concurrent publishers, against a raw consumer that ``XREADGROUP``s
  (COUNT 100, BLOCK 1000) and ``XACK``s each message after its handler; latency is measured in a
  paced run (one publisher, one message in flight) from before ``publish`` to the handler.

Each scenario alternates raw and Blockyard rounds and reports the median. Run::

    .venv/bin/python bench/redis_bench.py            # own redis-server on a free port
    .venv/bin/python bench/redis_bench.py --host 127.0.0.1 --port 6379 --quick
    .venv/bin/python bench/redis_bench.py --json bench/results/redis.json   # machine-readable too
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench_results import Results, add_json_option
from envelope_cost import report as envelope_report
from redis.asyncio import Redis
from side_by_side import Comparison, Round, Stopwatch, compare, run_ops

from blockyard.pubsub import Message
from blockyard.state import SetRequest
from blockyard_conformance.testing import ServerProcess, free_port, port_open
from blockyard_redis import scripts
from blockyard_redis.pool import FairConnectionPool
from blockyard_redis.pubsub import RedisPubSub
from blockyard_redis.state import RedisStateStore


def start_server() -> tuple[ServerProcess, int]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (apt-get install -y redis-server), or pass --host/--port")
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="redis-bench-"))
    argv = [
        binary,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
    ]
    return ServerProcess(argv, ready=lambda: port_open(port), workdir=workdir).start(), port


def raw_client(store_meta: Any) -> Redis:
    """A raw client configured exactly like the component's."""
    size, wait = store_meta.pool_limits()
    return Redis(connection_pool=FairConnectionPool(max_connections=size, timeout=wait, **store_meta.client_kwargs()))


RESULTS = Results("redis", "state.redis and pubsub.redis vs redis-py asyncio")


def row(name: str, result: Comparison, unit: str, target: float | None) -> None:
    RESULTS.compared(name, result, unit, target, "redis-py")


async def bench_state(host: str, port: int, rounds: int, scale: int) -> None:
    store = RedisStateStore({"redisHost": f"{host}:{port}"}, name="bench")
    await store.init()
    raw = raw_client(store.meta)
    set_script = raw.register_script(scripts.SET)
    bulk_set_script = raw.register_script(scripts.BULK_SET)
    bulk_get_script = raw.register_script(scripts.BULK_GET)
    ns = uuid.uuid4().hex[:8]
    keys = [f"b-{ns}-{i}" for i in range(1000)]
    value = b'{"field":"a value of some sixty bytes, like a small JSON document"}'
    await store.bulk_set([SetRequest(k, value) for k in keys])
    fields = ("data", "version", "ct", "exp")

    async def raw_get(i: int) -> Any:
        return await raw.hmget(keys[i % 1000], fields)

    async def our_get(i: int) -> Any:
        return await store.get(keys[i % 1000])

    async def raw_set(i: int) -> Any:
        return await set_script(keys=(keys[i % 1000],), args=("", "0", 0, value, ""))

    async def our_set(i: int) -> Any:
        return await store.set(keys[i % 1000], value)

    print(f"state.redis (pool {store.meta.pool_limits()[0]} connections)")
    for conc, total in ((1, 3000 * scale), (64, 19968 * scale)):
        for what, raw_op, our_op in (("get", raw_get, our_get), ("set", raw_set, our_set)):
            result = await compare(
                rounds,
                lambda op=raw_op, t=total, c=conc: run_ops(op, t, c),  # type: ignore[misc]
                lambda op=our_op, t=total, c=conc: run_ops(op, t, c),  # type: ignore[misc]
            )
            row(f"{what}, concurrency {conc}", result, "ops/s", 0.90)

    async def timed(fn: Callable[[], Awaitable[Any]], n: int = 1000) -> Round:
        watch = Stopwatch()
        await fn()
        return watch.round(n)

    requests = [SetRequest(k, value) for k in keys]

    async def raw_pipeline_set() -> Any:
        pipe = raw.pipeline(transaction=False)
        for k in keys:
            pipe.evalsha(set_script.sha, 1, k, "", "0", 0, value, "")
        return await pipe.execute()

    async def raw_pipeline_get() -> Any:
        pipe = raw.pipeline(transaction=False)
        for k in keys:
            pipe.hmget(k, fields)
        return await pipe.execute()

    async def raw_bulk_set_script() -> Any:
        args: list[Any] = []
        for _ in keys:
            args += ("", "0", 0, value, "")
        return await bulk_set_script(keys=keys, args=args)

    async def single_sets() -> Round:
        return await run_ops(our_set, 1024, 64)

    async def single_gets() -> Round:
        return await run_ops(our_get, 1024, 64)

    print("bulk operations, 1,000 keys (keys/s)")
    our_bs = lambda: timed(lambda: store.bulk_set(requests))  # noqa: E731
    our_bg = lambda: timed(lambda: store.bulk_get(keys))  # noqa: E731
    row(
        "bulk_set vs raw pipeline of 1,000 EVALSHA",
        await compare(rounds, lambda: timed(raw_pipeline_set), our_bs),
        "keys/s",
        0.85,
    )
    row(
        "bulk_get vs raw pipeline of 1,000 HMGET",
        await compare(rounds, lambda: timed(raw_pipeline_get), our_bg),
        "keys/s",
        0.85,
    )
    row(
        "bulk_set vs the same bulk script, raw",
        await compare(rounds, lambda: timed(raw_bulk_set_script), our_bs),
        "keys/s",
        0.85,
    )
    row(
        "bulk_get vs the same bulk script, raw",
        await compare(rounds, lambda: timed(lambda: bulk_get_script(keys=keys)), our_bg),
        "keys/s",
        0.85,
    )
    row("bulk_set vs 1,000 single set() (64 at once)", await compare(rounds, single_sets, our_bs), "keys/s", None)
    row("bulk_get vs 1,000 single get() (64 at once)", await compare(rounds, single_gets, our_bg), "keys/s", None)
    await raw.delete(*keys)
    await raw.aclose()
    await store.close()


async def bench_pubsub(host: str, port: int, rounds: int, scale: int) -> None:
    broker = RedisPubSub({"redisHost": f"{host}:{port}", "consumerID": "bench"}, name="bench")
    await broker.init()
    raw = raw_client(broker.meta)
    publishers = 16
    count = 320 * publishers * scale  # a multiple of the publishers
    payload = b"x" * 64

    async def publish_all(publish: Callable[[int], Awaitable[Any]]) -> None:
        await run_ops(publish, count, publishers)

    async def ours() -> Round:
        topic = f"bench-{uuid.uuid4().hex[:8]}"
        done = asyncio.Event()
        seen = 0

        async def handle(m: Message) -> None:
            nonlocal seen
            seen += 1
            if seen == count:
                done.set()

        sub = await broker.subscribe(topic, handle)
        watch = Stopwatch()
        await publish_all(lambda i: broker.publish(topic, payload))
        await done.wait()
        result = watch.round(count)
        await sub.cancel()
        await raw.delete(topic)
        return result

    async def raw_run() -> Round:
        topic = f"bench-{uuid.uuid4().hex[:8]}"
        await raw.xgroup_create(topic, "bench", id="0", mkstream=True)
        reader = Redis(single_connection_client=True, **{**broker.meta.client_kwargs(), "socket_timeout": 5})
        seen = 0

        async def handle(fields: Any) -> None:
            nonlocal seen
            seen += 1

        async def consume() -> None:
            while seen < count:
                resp: Any = await reader.xreadgroup("bench", "c1", {topic: ">"}, count=100, block=1000)
                for _s, entries in resp or ():
                    for msg_id, fields in entries:
                        await handle(fields)
                        await raw.xack(topic, "bench", msg_id)

        watch = Stopwatch()
        consumer = asyncio.create_task(consume())
        await publish_all(lambda i: raw.xadd(topic, {"data": payload}))
        await consumer
        result = watch.round(count)
        await reader.aclose()
        await raw.delete(topic)
        return result

    print(f"pubsub.redis, {count:,} messages, {publishers} publishers (published -> handled)")
    envelope_report()  # included in the Blockyard figures below
    row("publish -> handle", await compare(rounds, raw_run, ours), "msg/s", 0.80)

    # latency: one message in flight at a time
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    latencies: list[float] = []
    arrived = asyncio.Event()

    async def timed_handle(m: Message) -> None:
        latencies.append(time.perf_counter() - float(m.data))
        arrived.set()

    sub = await broker.subscribe(topic, timed_handle)
    for _ in range(1000 * scale):
        arrived.clear()
        await broker.publish(topic, str(time.perf_counter()).encode())
        await arrived.wait()
    await sub.cancel()
    await raw.delete(topic)
    p50, p99 = RESULTS.latency("publish -> handler, one in flight", "blockyard", latencies)
    print(f"  end-to-end latency (publish -> handler), one in flight: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    await raw.aclose()
    await broker.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", help="use this Redis instead of starting one")
    parser.add_argument("--port", type=int, default=6379)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test, noisy figures)")
    add_json_option(parser)
    args = parser.parse_args()
    RESULTS.note = args.machine_note
    proc = None
    host, port = args.host, args.port
    if host is None:
        proc, port = start_server()
        host = "127.0.0.1"
    scale = 1
    rounds = 2 if args.quick else args.rounds
    try:
        print(
            f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, Redis at {host}:{port}, median of {rounds} rounds"
        )
        await bench_state(host, port, rounds, scale)
        await bench_pubsub(host, port, rounds, scale)
    finally:
        if proc is not None:
            proc.stop()
    RESULTS.print_table()
    RESULTS.write(args.json)


if __name__ == "__main__":
    asyncio.run(main())

"""Benchmark: what resiliency policies cost a Redis state ``get``, side by side in one run.

Three clients read the same keys from one Redis at the same concurrency: raw redis-py (``HMGET``,
the command the component sends), a ``state.redis`` store without policies, and the same store
under an outbound timeout + retry + circuit breaker (:mod:`blockyard.resiliency`). No fault is
injected: this is the price of the success path. Rounds alternate; medians are reported. Run::

    .venv/bin/python bench/resiliency_bench.py           # own redis-server on a free port
    .venv/bin/python bench/resiliency_bench.py --host 127.0.0.1 --port 6379 --quick
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import uuid
from typing import Any

from bench_results import Results, add_json_option
from redis_bench import raw_client, start_server
from side_by_side import run_ops

from blockyard.resiliency import apply_resiliency, parse_resiliency
from blockyard.state import SetRequest
from blockyard_redis.state import RedisStateStore

POLICIES = """apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata: {name: bench}
spec:
  policies:
    timeouts: {general: 5s}
    retries: {backend: {policy: exponential, maxInterval: 5s, maxRetries: 3}}
    circuitBreakers: {guard: {trip: consecutiveFailures >= 5, timeout: 30s}}
  targets:
    components:
      guarded: {outbound: {timeout: general, retry: backend, circuitBreaker: guard}}
"""


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", help="use this Redis instead of starting one")
    parser.add_argument("--port", type=int, default=6379)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ops", type=int, default=8_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test, noisy figures)")
    add_json_option(parser)
    args = parser.parse_args()
    results = Results("resiliency", "state.redis get under resiliency policies", note=args.machine_note)
    proc = None
    host, port = args.host, args.port
    if host is None:
        proc, port = start_server()
        host = "127.0.0.1"
    rounds, ops = (2, 1_600) if args.quick else (args.rounds, args.ops)
    try:
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, Redis at {host}:{port}, median of {rounds}")
        plain = RedisStateStore({"redisHost": f"{host}:{port}"}, name="plain")
        guarded = RedisStateStore({"redisHost": f"{host}:{port}"}, name="guarded")
        for store in (plain, guarded):
            await store.init()
        applied = apply_resiliency(guarded, parse_resiliency(POLICIES))
        assert applied is not None
        raw = raw_client(plain.meta)
        ns = uuid.uuid4().hex[:8]
        keys = [f"r-{ns}-{i}" for i in range(1000)]
        await plain.bulk_set([SetRequest(k, b'{"qty": 3}') for k in keys])
        fields = ("data", "version", "ct", "exp")

        async def raw_get(i: int) -> Any:
            return await raw.hmget(keys[i % 1000], fields)

        async def plain_get(i: int) -> Any:
            return await plain.get(keys[i % 1000])

        async def guarded_get(i: int) -> Any:
            return await guarded.get(keys[i % 1000])

        rates: dict[str, list[float]] = {"raw": [], "plain": [], "guarded": []}
        ops_by_name = {"raw": raw_get, "plain": plain_get, "guarded": guarded_get}
        for op in ops_by_name.values():  # warm-up
            await run_ops(op, args.concurrency * 10, args.concurrency)
        for _ in range(rounds):
            for name, op in ops_by_name.items():
                rates[name].append((await run_ops(op, ops, args.concurrency)).rate)
        med = {k: statistics.median(v) for k, v in rates.items()}
        breaker = applied.outbound.breaker
        assert breaker is not None
        print(f"  breaker after the run: {breaker.state}, {breaker.counts.total_successes:,} successes counted")
        print(f"\n| get, concurrency {args.concurrency} | ops/s | vs raw | vs no policy |\n|---|---|---|---|")
        print(f"| raw redis-py HMGET | {med['raw']:,.0f} | 1.00 | |")
        print(f"| state.redis, no policy | {med['plain']:,.0f} | {med['plain'] / med['raw']:.2f} | 1.00 |")
        print(
            f"| state.redis, timeout + retry + breaker | {med['guarded']:,.0f} | {med['guarded'] / med['raw']:.2f} | "
            f"{med['guarded'] / med['plain']:.2f} |"
        )
        scenario = f"get, concurrency {args.concurrency}"
        results.measured(f"{scenario}, no policy", "ops/s", med["raw"], med["plain"], 0.9, "redis-py")
        results.measured(f"{scenario}, timeout + retry + breaker", "ops/s", med["raw"], med["guarded"], 0.9, "redis-py")
        results.measured(
            f"{scenario}, policies vs none", "ops/s", med["plain"], med["guarded"], None, "state.redis, no policy"
        )
        results.write(args.json)
        await raw.aclose()
        for store in (plain, guarded):
            await store.close()
    finally:
        if proc is not None:
            proc.stop()


if __name__ == "__main__":
    asyncio.run(main())

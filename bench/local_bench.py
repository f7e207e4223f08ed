"""Benchmark of blockyard-local's state stores, with plain ``sqlite3`` measured side by side.

Prints ops/s of get and set for ``state.in-memory`` and ``state.sqlite``, and compares SQLite
``set`` through Blockyard with the same write done by plain ``sqlite3``. The comparison is fair:

- same database settings (a fresh file in the same folder, WAL, busy timeout 2s, autocommit),
  the same table shape and the same upsert statement with bound parameters;
- same threading: both run every call on one dedicated worker thread owning its connection, awaited
  from the event loop (``loop.run_in_executor`` on a one-thread pool), at the same concurrency;
- same values: Blockyard JSON-encodes a dict and makes a UUID ETag; the raw side gets the
  pre-encoded bytes and a UUID too, so the ratio measures Blockyard's own overhead (validation,
  encoding, error wrapping), not JSON.

Then the cost of the OpenTelemetry instrumentation when no SDK is configured (the API's no-op
providers, as in an application that never sets one up): ``state.in-memory`` get and set with the
instrumentation on, and switched off (``blockyard.telemetry.configure(enabled=False)``), in
interleaved rounds; it prints the medians and their ratio (target: within noise, >= 0.95).

Usage: ``python bench/local_bench.py [--ops N] [--concurrency C] [--rounds R] [--json PATH]``. Target: ratio >= 0.8.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench_results import Results, add_json_option

from blockyard_local.state_memory import InMemoryStateStore
from blockyard_local.state_sqlite import SQLiteStateStore

VALUE = {"qty": 3, "sku": "ab-123", "note": "benchmark"}


async def _rate(n: int, concurrency: int, op: Callable[[int], Awaitable[object]]) -> float:
    """Run ``op(i)`` for i in 0..n-1 with ``concurrency`` workers; return ops/s."""
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await op(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - start)


class RawSQLite:
    """Plain sqlite3 with the store's settings, table and statement, on one worker thread."""

    def __init__(self, path: Path) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.path = path
        self.conn: sqlite3.Connection | None = None

    def _open(self) -> None:
        conn = sqlite3.connect(self.path, timeout=2.0, isolation_level=None, cached_statements=64)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            'CREATE TABLE IF NOT EXISTS "state" (key TEXT NOT NULL PRIMARY KEY, value BLOB NOT NULL, '
            "is_binary INTEGER NOT NULL, etag TEXT NOT NULL, expires_at REAL, content_type TEXT, "
            "updated_at REAL NOT NULL)"
        )
        self.conn = conn

    def _set(self, key: str, value: bytes) -> None:
        assert self.conn is not None
        self.conn.execute(
            'INSERT INTO "state" (key, value, is_binary, etag, expires_at, content_type, updated_at) '
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
            "is_binary = excluded.is_binary, etag = excluded.etag, expires_at = excluded.expires_at, "
            "content_type = excluded.content_type, updated_at = excluded.updated_at",
            (key, value.decode(), 0, str(uuid.uuid4()), None, None, time.time()),
        )

    async def run(self, fn: Callable[..., object], *args: object) -> object:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def set(self, key: str, value: bytes) -> None:
        await self.run(self._set, key, value)

    async def close(self) -> None:
        assert self.conn is not None
        await self.run(self.conn.close)
        self.pool.shutdown()


async def telemetry_cost(ops: int, concurrency: int, rounds: int) -> None:
    """In-memory get/set rates with the instrumentation on (no SDK configured) and off, side by side."""
    from opentelemetry import trace

    from blockyard import telemetry

    provider = type(trace.get_tracer_provider()).__name__
    print(f"telemetry cost with no SDK configured (tracer provider: {provider}), {rounds} interleaved rounds")
    rates: dict[tuple[str, bool], list[float]] = {(op, on): [] for op in ("get", "set") for on in (True, False)}
    async with InMemoryStateStore() as mem:
        await _rate(ops, concurrency, lambda i: mem.set(f"k{i % 1000}", VALUE))  # warm up
        try:
            for r in range(rounds):
                for on in (True, False) if r % 2 else (False, True):
                    telemetry.configure(enabled=on)
                    rates["set", on].append(await _rate(ops, concurrency, lambda i: mem.set(f"k{i % 1000}", VALUE)))
                    rates["get", on].append(await _rate(ops, concurrency, lambda i: mem.get(f"k{i % 1000}")))
        finally:
            telemetry.configure()
    for op in ("get", "set"):
        with_it, without = statistics.median(rates[op, True]), statistics.median(rates[op, False])
        print(
            f"  state.in-memory {op}  instrumented {with_it:>10,.0f} ops/s  switched off {without:>10,.0f} ops/s  "
            f"ratio {with_it / without:.3f} ({1e6 / with_it - 1e6 / without:+.2f} us/op)"
        )


async def main(ops: int, concurrency: int, results: Results) -> None:
    encoded = b'{"qty":3,"sku":"ab-123","note":"benchmark"}'
    print(f"blockyard-local state benchmark: {ops} ops per row, concurrency {concurrency}")
    async with InMemoryStateStore() as mem:
        set_rate = await _rate(ops * 10, concurrency, lambda i: mem.set(f"k{i % 1000}", VALUE))
        get_rate = await _rate(ops * 10, concurrency, lambda i: mem.get(f"k{i % 1000}"))
    print(f"  state.in-memory set   {set_rate:>10,.0f} ops/s")
    print(f"  state.in-memory get   {get_rate:>10,.0f} ops/s")

    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStateStore({"connectionString": str(Path(tmp) / "blockyard.db")})
        raw = RawSQLite(Path(tmp) / "raw.db")
        await store.init()
        await raw.run(raw._open)
        try:
            # Warm both up, then alternate rounds so that disk and CPU noise hit both alike.
            await _rate(200, concurrency, lambda i: store.set(f"w{i}", VALUE))
            await _rate(200, concurrency, lambda i: raw.set(f"w{i}", encoded))
            by_rates: list[float] = []
            raw_rates: list[float] = []
            for _ in range(3):
                by_rates.append(await _rate(ops, concurrency, lambda i: store.set(f"k{i % 1000}", VALUE)))
                raw_rates.append(await _rate(ops, concurrency, lambda i: raw.set(f"k{i % 1000}", encoded)))
            get_rate = await _rate(ops, concurrency, lambda i: store.get(f"k{i % 1000}"))
        finally:
            await store.close()
            await raw.close()
    by_best, raw_best = max(by_rates), max(raw_rates)
    print(f"  state.sqlite get      {get_rate:>10,.0f} ops/s")
    by_rounds = ", ".join(f"{r:,.0f}" for r in by_rates)
    raw_rounds = ", ".join(f"{r:,.0f}" for r in raw_rates)
    print(f"  state.sqlite set      {by_best:>10,.0f} ops/s  (best of 3 rounds: {by_rounds})")
    print(f"  raw sqlite3 set       {raw_best:>10,.0f} ops/s  (best of 3 rounds: {raw_rounds})")
    ratio = by_best / raw_best
    verdict = "ok" if ratio >= 0.8 else "BELOW TARGET"
    results.measured(f"state.sqlite set, concurrency {concurrency}", "ops/s", raw_best, by_best, 0.8, "sqlite3")
    print(f"  ratio blockyard/raw   {ratio:>10.2f}  (target >= 0.80: {verdict})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=9)
    add_json_option(parser)
    args = parser.parse_args()
    results = Results("local", "blockyard-local: state.sqlite vs sqlite3", note=args.machine_note)
    asyncio.run(main(args.ops, args.concurrency, results))
    results.write(args.json)
    asyncio.run(telemetry_cost(args.ops * 4, args.concurrency, args.rounds))

"""Benchmark: Blockyard's ``state.cassandra`` against raw cassandra-driver, side by side in one run.

"Same statements" means the raw side prepares exactly the CQL the store prepares, on a ``Cluster``
built from the same metadata (same execution profile, consistency and timeouts), and awaits
``Session.execute_async`` through ``ResponseFuture.add_callbacks`` as any asyncio application would:

- get: ``SELECT value, etag, content_type, TTL(value) ... WHERE key = ?``;
- set: ``UPDATE ... USING TTL ? SET value = ?, etag = ?, content_type = ? WHERE key = ?``;
- set with ETag: the same ``UPDATE`` with ``IF etag = ?`` (a lightweight transaction), each caller
  updating its own key with the ETag its previous write returned.

Then it prints what a lightweight transaction costs: plain set against set with ETag, in paired
rounds, on both sides.

Each scenario alternates raw and Blockyard rounds and reports the median ops/s of the rounds; the
last table prints what a lightweight transaction costs over a plain write, on both sides. Run::

    .venv/bin/python bench/cassandra_bench.py               # the launcher's cassandra backend
    .venv/bin/python bench/cassandra_bench.py --host 127.0.0.1 --port 9042 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from blockyard_cassandra.state import CassandraStateStore

Op = Callable[[int], Awaitable[Any]]
VALUE = b'{"field":"a value of some sixty bytes, like a small JSON document"}'
KEYS = 1000


async def raw_execute(session: Any, statement: Any) -> Any:
    """The usual asyncio bridge over ``execute_async``: the driver's callbacks complete a future."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[Any] = loop.create_future()
    response = session.execute_async(statement)
    response.add_callbacks(
        lambda rows: loop.call_soon_threadsafe(fut.set_result, rows),
        lambda exc: loop.call_soon_threadsafe(fut.set_exception, exc),
    )
    return await fut


async def run_ops(op: Op, total: int, concurrency: int) -> float:
    """Run ``total`` calls of ``op`` with ``concurrency`` callers (caller ``c`` passes ``c``); return ops/s."""
    per = total // concurrency

    async def caller(c: int) -> None:
        for i in range(per):
            await op(c * per + i if concurrency == 1 else c)

    t0 = time.perf_counter()
    await asyncio.gather(*(caller(c) for c in range(concurrency)))
    return per * concurrency / (time.perf_counter() - t0)


async def compare(
    rounds: int, raw: Callable[[], Awaitable[float]], ours: Callable[[], Awaitable[float]]
) -> tuple[float, float, float]:
    """Alternate raw and Blockyard rounds (after one warm-up each).

    Returns the median rates and the median of the per-round ratios: each ratio pairs two rounds run
    back to back, so load that drifts on a shared machine cancels out of it.
    """
    await raw()
    await ours()
    r, o = [], []
    for _ in range(rounds):
        r.append(await raw())
        o.append(await ours())
    return statistics.median(r), statistics.median(o), statistics.median(b / a for a, b in zip(r, o, strict=True))


ROWS: list[tuple[str, float, float, float]] = []


def report(name: str, raw: float, ours: float, ratio: float) -> None:
    verdict = "ok" if ratio >= 0.90 else "BELOW 0.90"
    ROWS.append((name, raw, ours, ratio))
    print(f"  {name:<34} raw {raw:>9,.0f}  blockyard {ours:>9,.0f} ops/s  ratio {ratio:5.2f} {verdict}", flush=True)


async def main(host: str, port: int, rounds: int, total: int) -> None:
    table = f"bench_{uuid.uuid4().hex[:8]}"
    md = {"hosts": host, "port": str(port), "keyspace": "blockyard_bench", "table": table, "consistency": "One"}
    store = CassandraStateStore(md, name="bench")
    await store.init()
    cluster = store.meta.cluster()
    session = await asyncio.to_thread(cluster.connect)
    session.use_client_timestamp = False  # as the store does with lightweight transactions on
    t = f"blockyard_bench.{table}"
    write = f"UPDATE {t} USING TTL ? SET value = ?, etag = ?, content_type = ? WHERE key = ?"
    get_stmt = session.prepare(f"SELECT value, etag, content_type, TTL(value) FROM {t} WHERE key = ?")
    set_stmt = session.prepare(write)
    set_if_stmt = session.prepare(write + " IF etag = ?")
    keys = [f"k{i}" for i in range(KEYS)]
    for k in keys:
        await store.set(k, VALUE)

    async def raw_get(i: int) -> Any:
        return await raw_execute(session, get_stmt.bind((keys[i % KEYS],)))

    async def our_get(i: int) -> Any:
        return await store.get(keys[i % KEYS])

    async def raw_set(i: int) -> Any:
        return await raw_execute(session, set_stmt.bind((0, VALUE, uuid.uuid4(), None, keys[i % KEYS])))

    async def our_set(i: int) -> Any:
        return await store.set(keys[i % KEYS], VALUE)

    etags: dict[str, str | None] = {}

    async def raw_set_etag(i: int) -> Any:
        key = f"raw-etag-{i % KEYS}"
        new = uuid.uuid4()
        current = etags.get(key)
        rows = await raw_execute(
            session, set_if_stmt.bind((0, VALUE, new, None, key, uuid.UUID(current) if current else None))
        )
        assert rows[0][0], "raw LWT not applied"
        etags[key] = str(new)

    async def our_set_etag(i: int) -> Any:
        key = f"our-etag-{i % KEYS}"
        current = etags.get(key)
        etags[key] = await store.set(key, VALUE, etag=current) if current else await store.set(key, VALUE)

    # the first write of each ETag key is a plain one; start every key with an ETag
    for i in range(KEYS):
        etags[f"raw-etag-{i}"] = None
        await store.set(f"our-etag-{i}", VALUE)
        etags[f"our-etag-{i}"] = (await store.get(f"our-etag-{i}")).etag
        await raw_execute(session, set_stmt.bind((0, VALUE, uuid.uuid4(), None, f"raw-etag-{i}")))
        etags[f"raw-etag-{i}"] = str((await raw_execute(session, get_stmt.bind((f"raw-etag-{i}",))))[0][1])

    driver = __import__("cassandra").__version__
    print(f"state.cassandra vs cassandra-driver {driver}, {host}:{port}, median of {rounds} rounds (ratio: paired)")
    for conc in (1, 16):
        n = total if conc == 1 else total * 2
        for what, raw_op, our_op in (
            ("get", raw_get, our_get),
            ("set", raw_set, our_set),
            ("set with ETag (LWT)", raw_set_etag, our_set_etag),
        ):
            r, o, ratio = await compare(
                rounds,
                lambda op=raw_op, n=n, c=conc: run_ops(op, n, c),  # type: ignore[misc]
                lambda op=our_op, n=n, c=conc: run_ops(op, n, c),  # type: ignore[misc]
            )
            report(f"{what}, concurrency {conc}", r, o, ratio)

    print("\nwhat a lightweight transaction costs: plain set ops/s / set-with-ETag ops/s, paired rounds")
    for conc in (1, 16):
        n = total if conc == 1 else total * 2
        costs = []
        for plain_op, lwt_op in ((raw_set, raw_set_etag), (our_set, our_set_etag)):
            _, _, ratio = await compare(
                rounds,
                lambda op=plain_op, n=n, c=conc: run_ops(op, n, c),  # type: ignore[misc]
                lambda op=lwt_op, n=n, c=conc: run_ops(op, n, c),  # type: ignore[misc]
            )
            costs.append(1 / ratio)
        print(f"  concurrency {conc:<3} raw cassandra-driver {costs[0]:4.1f}x   blockyard {costs[1]:4.1f}x")

    print("\n| scenario | raw ops/s (median) | blockyard ops/s (median) | ratio (median of paired rounds) |")
    print("|---|---:|---:|---:|")
    for name, r, o, ratio in ROWS:
        print(f"| {name} | {r:,.0f} | {o:,.0f} | {ratio:.2f} |")
    await raw_execute(session, f"DROP TABLE {t}")
    await asyncio.to_thread(cluster.shutdown)
    await store.close()


def endpoint(args: argparse.Namespace) -> tuple[str, int]:
    if args.port:
        return args.host, args.port
    from blockyard_conformance.backends.launcher import get_launcher

    ep = get_launcher().up("cassandra")
    return ep.host, ep.port


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="a running node (default: the launcher's)")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--ops", type=int, default=300, help="operations per round at concurrency 1")
    args = parser.parse_args()
    asyncio.run(main(*endpoint(args), args.rounds, args.ops))

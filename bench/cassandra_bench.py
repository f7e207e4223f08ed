"""Benchmark: Blockyard's ``state.cassandra`` against raw cassandra-driver, side by side in one run.

"Same statements" means the raw side prepares exactly the CQL the store prepares, on a ``Cluster``
built from the same metadata (same execution profile: consistency, timeouts, rows as plain
tuples), and awaits
``Session.execute_async`` through ``ResponseFuture.add_callbacks`` as any asyncio application would:

- get: ``SELECT value, etag, content_type, TTL(value) ... WHERE key = ?``;
- set: ``UPDATE ... USING TTL ? SET value = ?, etag = ?, content_type = ? WHERE key = ?``;
- set with ETag: the same ``UPDATE`` with ``IF etag = ?`` (a lightweight transaction), each caller
  updating its own key with the ETag its previous write returned.

At concurrency 1 and 16. The ratio is the median of per-round ratios (``side_by_side.compare``).
A round is 1,000 operations at concurrency 1 and 2,000 at 16 (about a second): rounds of a quarter
second measured mostly the machine's noise.

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
import uuid
from pathlib import Path
from typing import Any

from bench_results import Results, add_json_option
from side_by_side import compare, run_ops

from blockyard_cassandra.state import CassandraStateStore

VALUE = b'{"field":"a value of some sixty bytes, like a small JSON document"}'
KEYS = 1000
CALLERS = 16


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


RESULTS = Results("cassandra", "state.cassandra vs cassandra-driver")


async def main(host: str, port: int, rounds: int, total: int, json_path: Path | None) -> None:
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
        key = f"raw-etag-{i}"
        new = uuid.uuid4()
        current = etags.get(key)
        rows = await raw_execute(
            session, set_if_stmt.bind((0, VALUE, new, None, key, uuid.UUID(current) if current else None))
        )
        assert rows[0][0], "raw LWT not applied"
        etags[key] = str(new)

    async def our_set_etag(i: int) -> Any:
        key = f"our-etag-{i}"
        current = etags.get(key)
        etags[key] = await store.set(key, VALUE, etag=current) if current else await store.set(key, VALUE)

    # the first write of each ETag key is a plain one; start every caller's key with an ETag
    for i in range(CALLERS):
        etags[f"raw-etag-{i}"] = None
        await store.set(f"our-etag-{i}", VALUE)
        etags[f"our-etag-{i}"] = (await store.get(f"our-etag-{i}")).etag
        await raw_execute(session, set_stmt.bind((0, VALUE, uuid.uuid4(), None, f"raw-etag-{i}")))
        etags[f"raw-etag-{i}"] = str((await raw_execute(session, get_stmt.bind((f"raw-etag-{i}",))))[0][1])

    driver = __import__("cassandra").__version__
    print(f"state.cassandra vs cassandra-driver {driver}, {host}:{port}, median of {rounds} rounds (ratio: paired)")
    for conc in (1, CALLERS):
        n = total if conc == 1 else total * 2
        for what, raw_op, our_op, chain in (
            ("get", raw_get, our_get, False),
            ("set", raw_set, our_set, False),
            ("set with ETag (LWT)", raw_set_etag, our_set_etag, True),
        ):
            result = await compare(
                rounds,
                lambda op=raw_op, n=n, c=conc, k=chain: run_ops(op, n, c, own_key=k),  # type: ignore[misc]
                lambda op=our_op, n=n, c=conc, k=chain: run_ops(op, n, c, own_key=k),  # type: ignore[misc]
            )
            RESULTS.compared(f"{what}, concurrency {conc}", result, "ops/s", 0.90, "cassandra-driver")

    print("\nwhat a lightweight transaction costs: plain set ops/s / set-with-ETag ops/s, paired rounds")
    for conc in (1, CALLERS):
        n = total if conc == 1 else total * 2
        costs = []
        for plain_op, lwt_op in ((raw_set, raw_set_etag), (our_set, our_set_etag)):
            result = await compare(
                rounds,
                lambda op=plain_op, n=n, c=conc: run_ops(op, n, c),  # type: ignore[misc]
                lambda op=lwt_op, n=n, c=conc: run_ops(op, n, c, own_key=True),  # type: ignore[misc]
            )
            costs.append(1 / result.ratio)
        print(f"  concurrency {conc:<3} raw cassandra-driver {costs[0]:4.1f}x   blockyard {costs[1]:4.1f}x")

    RESULTS.print_table()
    RESULTS.write(json_path)
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
    parser.add_argument(
        "--ops", type=int, default=1000, help="operations per round at concurrency 1 (twice as many at 16)"
    )
    add_json_option(parser)
    args = parser.parse_args()
    RESULTS.note = args.machine_note
    asyncio.run(main(*endpoint(args), args.rounds, args.ops, args.json))

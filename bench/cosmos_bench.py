"""Benchmark: ``state.azure.cosmosdb`` against raw ``azure.cosmos.aio``, side by side in one run.

The raw side does the same work through its own client on the same container:

- get: ``read_item(id, partition_key)`` of an existing document, returning its value bytes;
- set: ``upsert_item`` of the same document layout (``id``, ``partitionKey``, ``value``, ``isBinary``);
- query: the same parameterised SQL (``SELECT * FROM c WHERE c.isBinary = false AND ...``) over
  a set of 50 documents, 10 of them matching, all read.

Each scenario alternates raw and Blockyard rounds (after a warm-up of each) and reports the median
rate. The backend is the launcher's ``cosmosdb`` (``@vercel/cosmosdb-server`` natively), or
``--url`` / ``--key`` for another account. Run::

    .venv/bin/python bench/cosmos_bench.py [--rounds 5] [--ops 400] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
import warnings
from typing import Any

import orjson
from bench_results import Results, add_json_option
from side_by_side import compare, run_ops

from blockyard_azure.state import CosmosDBStateStore

warnings.filterwarnings("ignore", message="Unverified HTTPS request")


RESULTS = Results("cosmos", "state.azure.cosmosdb vs azure.cosmos.aio, on the emulator")


def endpoint(args: argparse.Namespace) -> dict[str, str]:
    if args.url:
        return {"url": args.url, "masterKey": args.key, "database": args.database, "collection": args.collection}
    from blockyard_conformance.backends.launcher import get_launcher

    ep = get_launcher().up("cosmosdb")
    print(f"backend: {ep.flavour}")
    return {
        "url": ep.url,
        "masterKey": ep.params["masterKey"],
        "database": ep.params["database"],
        "collection": ep.params["collection"],
    }


async def main(args: argparse.Namespace) -> None:
    from azure.cosmos.aio import CosmosClient

    props = endpoint(args)
    store = CosmosDBStateStore(props, name="bench")
    await store.init()
    client = CosmosClient(props["url"], credential=props["masterKey"])
    raw = client.get_database_client(props["database"]).get_container_client(props["collection"])
    ns = f"bench-{uuid.uuid4().hex[:8]}"
    n, conc = args.ops, args.concurrency
    value = {"status": "open", "total": 12, "lines": [{"sku": "a-1", "qty": 2}]}
    keys = [f"{ns}-{i}" for i in range(64)]
    for k in keys:
        await store.set(k, value)

    async def raw_get(i: int) -> bytes:
        k = keys[i % len(keys)]
        doc = await raw.read_item(k, partition_key=k)
        return orjson.dumps(doc["value"])

    async def our_get(i: int) -> Any:
        return await store.get(keys[i % len(keys)])

    async def raw_set(i: int) -> Any:
        k = f"{ns}-s{i % 64}"
        return await raw.upsert_item({"id": k, "partitionKey": k, "value": value, "isBinary": False})

    async def our_set(i: int) -> Any:
        return await store.set(f"{ns}-s{i % 64}", value)

    run = f"{ns}-q"
    for i in range(50):
        await store.set(f"{run}-{i}", {"run": run, "n": i, "tag": "hot" if i % 5 == 0 else "cold"})
    query = {"filter": {"AND": [{"EQ": {"run": run}}, {"EQ": {"tag": "hot"}}]}}
    sql = (
        'SELECT * FROM c WHERE c.isBinary = false AND IS_OBJECT(c["value"]) AND IS_STRING(c["value"][@p0]) '
        'AND c["value"][@p0] = @p1 AND IS_OBJECT(c["value"]) AND IS_STRING(c["value"][@p2]) AND c["value"][@p2] = @p3'
    )
    params: list[dict[str, object]] = [
        {"name": "@p0", "value": "run"},
        {"name": "@p1", "value": run},
        {"name": "@p2", "value": "tag"},
        {"name": "@p3", "value": "hot"},
    ]

    async def raw_query(i: int) -> list[Any]:
        found = [d async for d in raw.query_items(sql, parameters=params)]
        assert len(found) == 10
        return found

    async def our_query(i: int) -> Any:
        result = await store.query(query)
        assert len(result.results) == 10
        return result

    print(f"state.azure.cosmosdb, {n} calls per round, concurrency {conc}, median of {args.rounds} rounds")
    for name, r_op, o_op, total in (
        ("get (existing key)", raw_get, our_get, n),
        ("set (upsert)", raw_set, our_set, n),
        ("query (50 docs, 10 match)", raw_query, our_query, max(conc, n // 8)),
    ):
        result = await compare(
            args.rounds,
            lambda r_op=r_op, total=total: run_ops(r_op, total, conc),  # type: ignore[misc]
            lambda o_op=o_op, total=total: run_ops(o_op, total, conc),  # type: ignore[misc]
        )
        RESULTS.compared(name, result, "ops/s", 0.90, "azure-cosmos (aio)")
    for i in range(50):
        await store.delete(f"{run}-{i}")
    for k in keys + [f"{ns}-s{i}" for i in range(64)]:
        await store.delete(k)
    await client.close()
    await store.close()
    RESULTS.print_table()
    RESULTS.write(args.json)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ops", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--url")
    parser.add_argument("--key", default="")
    parser.add_argument("--database", default="conformance")
    parser.add_argument("--collection", default="conformance")
    add_json_option(parser)
    args = parser.parse_args()
    RESULTS.note = args.machine_note
    asyncio.run(main(args))

"""Benchmark: Blockyard in-process vs daprd's built-in Go Redis store vs daprd -> Blockyard over a socket.

One run, one Redis (a fresh ``redis-server`` on a free port), one daprd holding both stores and
both pub/subs, one app using the official Dapr Python SDK (gRPC) for (b) and (c):

- (a) Blockyard ``state.redis`` in-process (``RedisStateStore``), awaited one at a time inside a
  running event loop, as an asyncio application calls it;
- (b) daprd's built-in ``state.redis`` (Go) through the Dapr Python SDK;
- (c) daprd -> Blockyard ``state.redis`` served by ``blockyard serve`` over its Unix socket,
  through the same SDK and the same daprd;
- publish -> handle: the SDK publishes to daprd's built-in ``pubsub.redis`` (b) and to Blockyard's
  ``pubsub.redis`` over the socket (c); the app's HTTP route receives it from daprd. One message in
  flight; latency from before ``publish_event`` to the handler.

State operations run one at a time (one caller), so ops/s is the inverse of the mean latency.
Scenarios alternate (a, b, c) within each round; every figure is the median over rounds of that
round's p50 / p99 / ops/s. Targets: (c) p50 within 1.25x of (b); (a) p50 at least 3x lower than (b)::

    .venv/bin/python bench/dapr_bench.py             # rounds 5, 400 operations per round
    .venv/bin/python bench/dapr_bench.py --quick     # smoke test, noisy figures
    .venv/bin/python bench/dapr_bench.py --json bench/results/dapr.json   # also write the figures as JSON
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench_results import Results, add_json_option
from redis_bench import start_server

from blockyard_dapr.daprd import Daprd, build
from blockyard_dapr.testing import ServeProcess
from blockyard_redis.state import RedisStateStore

STORES = {"b": "gostore", "c": "blockyardstore"}
PUBSUBS = {"b": "gopubsub", "c": "blockyardpubsub"}
LABELS = {
    "a": "(a) Blockyard in-process",
    "b": "(b) daprd built-in Go store, Python SDK",
    "c": "(c) daprd -> Blockyard over socket, Python SDK",
}


def component(name: str, type_: str, metadata: dict[str, str]) -> str:
    items = [{"name": k, "value": v} for k, v in metadata.items()]
    return json.dumps(
        {
            "apiVersion": "dapr.io/v1alpha1",
            "kind": "Component",
            "metadata": {"name": name},
            "spec": {"type": type_, "version": "v1", "metadata": items},
        }
    )


class Receiver:
    """The app's HTTP side: subscribes both pub/subs to one topic, signals each message's arrival time."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.arrived: dict[str, float] = {}
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _reply(self, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._reply([{"pubsubname": p, "topic": topic, "route": f"/{p}"} for p in PUBSUBS.values()])

            def do_POST(self) -> None:
                event = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                now = time.perf_counter()
                data = event.get("data")
                if isinstance(data, dict) and "id" in data:
                    with receiver.cond:
                        receiver.arrived[data["id"]] = now
                        receiver.cond.notify_all()
                self._reply({"status": "SUCCESS"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = int(self.server.server_address[1])

    def wait(self, message_id: str, timeout: float = 30.0) -> float:
        with self.cond:
            if not self.cond.wait_for(lambda: message_id in self.arrived, timeout):
                raise TimeoutError(f"message {message_id} was not delivered within {timeout:.0f} s")
            return self.arrived.pop(message_id)


def stats(latencies: list[float], elapsed: float) -> tuple[float, float, float]:
    """p50 and p99 in ms, and ops/s."""
    ordered = sorted(latencies)
    p50 = ordered[len(ordered) // 2] * 1e3
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3
    return p50, p99, len(ordered) / elapsed


def timed(op: Callable[[int], Any], n: int) -> tuple[float, float, float]:
    """``n`` calls of a blocking ``op``, one at a time."""
    latencies = []
    t0 = time.perf_counter()
    for i in range(n):
        s = time.perf_counter()
        op(i)
        latencies.append(time.perf_counter() - s)
    return stats(latencies, time.perf_counter() - t0)


async def timed_async(op: Callable[[int], Awaitable[Any]], n: int) -> tuple[float, float, float]:
    """``n`` awaits of ``op``, one at a time, inside the running loop (as an asyncio app calls it)."""
    latencies = []
    t0 = time.perf_counter()
    for i in range(n):
        s = time.perf_counter()
        await op(i)
        latencies.append(time.perf_counter() - s)
    return stats(latencies, time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ops", type=int, default=400, help="operations per scenario and round")
    parser.add_argument("--quick", action="store_true", help="2 rounds of 100 (a smoke test, noisy figures)")
    add_json_option(parser)
    args = parser.parse_args()
    rounds, n = (2, 100) if args.quick else (args.rounds, args.ops)

    from dapr.clients import DaprClient
    from dapr.conf import settings

    redis, port = start_server()
    work = Path(tempfile.mkdtemp(prefix="dapr-bench-"))
    sockets = Path(tempfile.mkdtemp(prefix="by-bench-"))
    host = f"127.0.0.1:{port}"
    resources = work / "resources"
    resources.mkdir()
    for name, type_ in (
        (STORES["b"], "state.redis"),
        (STORES["c"], "state.blockyard-redis"),
        (PUBSUBS["b"], "pubsub.redis"),
        (PUBSUBS["c"], "pubsub.blockyard-redis"),
    ):
        (resources / f"{name}.yaml").write_text(component(name, type_, {"redisHost": host}))
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    receiver = Receiver(topic)
    serve = ServeProcess(
        ["--type", "state.redis", "--type", "pubsub.redis"], sockets, ["blockyard-redis"], work / "serve.log"
    )
    daprd = Daprd("bench", resources, sockets, work / "daprd.log", app_port=receiver.port, binary=build())
    loop = asyncio.new_event_loop()
    store = RedisStateStore({"redisHost": host}, name="bench")
    try:
        serve.start()
        daprd.start(timeout=120)
        loop.run_until_complete(store.init())
        value = json.dumps({"qty": 1, "note": "x" * 64})
        keys = [f"k{i % 100}" for i in range(n)]
        in_process: dict[str, Callable[[int], Awaitable[Any]]] = {
            "set": lambda i: store.set(keys[i], value),
            "get": lambda i: store.get(keys[i]),
        }
        Timer = Callable[[int], tuple[float, float, float]]  # n operations -> p50, p99, ops/s
        ops: dict[str, dict[str, Timer]] = {
            "a": {
                name: lambda n, f=f: loop.run_until_complete(timed_async(f, n))  # type: ignore[misc]
                for name, f in in_process.items()
            }
        }
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, Redis at {host}, daprd {daprd.http_url}")
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"median over {rounds} rounds of {n} operations each, one in flight; load average {load}")
        sdk_settings = {
            "DAPR_RUNTIME_HOST": "127.0.0.1",
            "DAPR_HTTP_PORT": daprd.http_port,
            "DAPR_GRPC_PORT": daprd.grpc_port,
        }
        for setting, given in sdk_settings.items():  # the SDK's settings resolve their names at run time
            setattr(settings, setting, given)
        with DaprClient(address=f"127.0.0.1:{daprd.grpc_port}") as dapr:
            for side, name in STORES.items():
                ops[side] = {
                    "set": lambda n, s=name: timed(lambda i: dapr.save_state(s, keys[i], value), n),  # type: ignore[misc]
                    "get": lambda n, s=name: timed(lambda i: dapr.get_state(s, keys[i]), n),  # type: ignore[misc]
                }

            results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
            for side in ("a", "b", "c"):  # warm-up
                for op in ops[side].values():
                    op(min(n, 50))
            for side in ("b", "c"):
                pubsub_round(dapr, receiver, side, topic, 5)
            for _ in range(rounds):
                for side in ("a", "b", "c"):
                    for name, op in ops[side].items():
                        results.setdefault((side, name), []).append(op(n))
                for side in ("b", "c"):
                    results.setdefault((side, "publish -> handle"), []).append(
                        pubsub_round(dapr, receiver, side, topic, max(20, n // 4))
                    )
    finally:
        loop.run_until_complete(store.close())
        loop.close()
        daprd.stop()
        serve.stop()
        receiver.server.shutdown()
        redis.stop()
        shutil.rmtree(sockets, ignore_errors=True)
    report(
        results, Results("dapr", "blockyard-dapr: in-process vs daprd built-in vs daprd -> socket", args.machine_note)
    ).write(args.json)


def pubsub_round(dapr: Any, receiver: Receiver, side: str, topic: str, n: int) -> tuple[float, float, float]:
    latencies = []
    t0 = time.perf_counter()
    for _ in range(n):
        message_id = uuid.uuid4().hex
        start = time.perf_counter()
        dapr.publish_event(PUBSUBS[side], topic, json.dumps({"id": message_id}), data_content_type="application/json")
        latencies.append(receiver.wait(message_id) - start)
    return stats(latencies, time.perf_counter() - t0)


def report(results: dict[tuple[str, str], list[tuple[float, float, float]]], out: Results) -> Results:
    """Print the tables; return ``out`` with the same figures (``--json``)."""
    med = {k: tuple(statistics.median(r[i] for r in v) for i in range(3)) for k, v in results.items()}
    for (side, name), (p50, p99, _) in med.items():
        out.percentiles(name, LABELS[side], p50, p99)
    for name in ("get", "set", "publish -> handle"):
        out.measured(
            f"{name}, one in flight (c) vs (b)",
            "ops/s",
            med[("b", name)][2],
            med[("c", name)][2],
            None,
            "daprd built-in",
        )
    print("\n| operation | path | p50 ms | p99 ms | ops/s |\n|---|---|---|---|---|")
    for (side, name), (p50, p99, rate) in sorted(med.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"| {name} | {LABELS[side]} | {p50:.3f} | {p99:.3f} | {rate:,.0f} |")
    print("\n| target | measured | verdict |\n|---|---|---|")
    for name in ("get", "set", "publish -> handle"):
        b, c = med[("b", name)][0], med[("c", name)][0]
        ratio = c / b
        print(f"| {name}: (c) p50 within 1.25x of (b) | {ratio:.2f}x | {'ok' if ratio <= 1.25 else 'MISSED'} |")
        if ("a", name) in med:
            gain = b / med[("a", name)][0]
            verdict = "ok" if gain >= 3 else "MISSED"
            print(f"| {name}: (a) p50 at least 3x lower than (b) | {gain:.1f}x lower | {verdict} |")
    return out


if __name__ == "__main__":
    main()

"""Demo: a Python app sends orders through an output binding; a Node.js app receives them.

The binding "orders" is a Blockyard component served to daprd: first ``bindings.kafka``
(``components/kafka/orders.yaml``), then the Component file is switched to ``bindings.rabbitmq``
(``components/rabbitmq/orders.yaml``) and the same two apps run again, unchanged::

    make demo-bindings            # or: python examples/dapr/bindings/demo.py [kafka|rabbitmq ...] [--json]

Each run: the launcher brings up the broker; the receiver (``receiver.js``) and its daprd start; the
sender (``sender.py``) and its daprd send ``DEMO_ORDERS`` orders; the demo waits until the receiver
printed every one. It prints what each app sent and received and exits 1 if they differ.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from demo_support import free_port, node_app, python_app, render, sidecar, wait_for_lines

from blockyard_conformance.backends.launcher import get_launcher

HERE = Path(__file__).resolve().parent
SERVED = {"kafka": ("bindings.kafka", "blockyard-kafka"), "rabbitmq": ("bindings.rabbitmq", "blockyard-rabbitmq")}


def _values(broker: str) -> dict[str, str]:
    endpoint = get_launcher().up(broker)
    if broker == "kafka":
        return {"KAFKA_BROKERS": str(endpoint.params.get("brokers") or endpoint.address)}
    return {"RABBITMQ_URL": endpoint.url}


def run(broker: str, work: Path, orders: int = 5) -> dict[str, Any]:
    """One run on ``broker``: what the Python app sent and the Node.js app received (this run's orders)."""
    run_id = f"{broker}-{uuid.uuid4().hex[:8]}"
    resources = work / broker / "resources"
    render(HERE / "components" / broker / "orders.yaml", _values(broker), resources)
    served, socket = SERVED[broker]
    receiver = node_app(HERE / "receiver.js", free_port(), work / broker / "receiver.log")
    sender = python_app(HERE / "sender.py", 0, work / broker / "sender.log")
    receiver.start()
    try:
        with sidecar("receiver", resources, [served], [socket], work / broker, app_port=receiver.port):
            with sidecar("sender", resources, [served], [socket], work / broker) as side:
                env = {**side.env(), "DEMO_RUN": run_id, "DEMO_ORDERS": str(orders)}
                sender.start(env)
                assert sender.process is not None
                if sender.process.wait(120) != 0:
                    raise RuntimeError(f"the sender failed:\n{sender.log.read_text()}")

            def mine() -> list[dict[str, Any]]:
                got = [e["received"] for e in receiver.events() if "received" in e]
                return [o for o in got if isinstance(o, dict) and o.get("run") == run_id]

            wait_for_lines(lambda: len(mine()) >= orders, 120, f"the receiver to get {orders} orders on {broker}")
            received = mine()
    finally:
        receiver.stop()
    return {"broker": broker, "component": served, "sent": sender.events(), "received": received}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("brokers", nargs="*", default=["kafka", "rabbitmq"], choices=sorted(SERVED))
    parser.add_argument("--orders", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="blockyard-demo-bindings-"))
    results = [run(broker, work, args.orders) for broker in args.brokers]
    ok = all(sorted(r["sent"], key=str) == sorted(r["received"], key=str) for r in results)
    if args.json:
        print(json.dumps(results))
    else:
        for r in results:
            print(f"{r['component']}: python sent {len(r['sent'])} order(s), node received {len(r['received'])}")
        print("same apps, two brokers: OK" if ok else "MISMATCH (logs in " + str(work) + ")")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

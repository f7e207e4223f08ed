"""Demo: a Node.js subscriber on topics A and B, a Python subscriber on A and C, a publisher on A, B, C.

Every app has its own daprd; the "pubsub" component (``components/pubsub.yaml``) is Blockyard's
``pubsub.redis`` served to each daprd by ``blockyard serve``. Each subscriber gets exactly its topics::

    make demo-pubsub              # or: python examples/dapr/pubsub/demo.py [--json]

Readiness: daprd subscribes an app only after it has started, and the pluggable-component protocol
has no "subscribed" answer; the demo waits until each subscriber's daprd lists its subscriptions in
``/v1.0/metadata`` before publishing. (Redis consumer groups start at the stream's beginning, so a
message published while a group is still being created is not lost either.)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import urllib.request
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from demo_support import Sidecar, free_port, node_app, python_app, render, sidecar, wait_for_lines

from blockyard_conformance.backends.launcher import get_launcher

HERE = Path(__file__).resolve().parent
SUBSCRIBERS = {"node-subscriber": ["A", "B"], "python-subscriber": ["A", "C"]}


def _subscribed(side: Sidecar) -> set[str]:
    try:
        with urllib.request.urlopen(f"{side.daprd.http_url}/v1.0/metadata", timeout=2) as r:
            data = json.load(r)
    except OSError:
        return set()
    return {s.get("topic") for s in data.get("subscriptions") or []}


def run(work: Path) -> dict[str, Any]:
    """Publish to A, B and C; what each subscriber received of this run's messages."""
    run_id = uuid.uuid4().hex[:8]
    redis = get_launcher().up("redis")
    resources = work / "resources"
    render(HERE / "components" / "pubsub.yaml", {"REDIS_HOST": f"{redis.host}:{redis.port}"}, resources)
    apps = {
        "node-subscriber": node_app(HERE / "node_subscriber.js", free_port(), work / "node-subscriber.log"),
        "python-subscriber": python_app(HERE / "python_subscriber.py", free_port(), work / "python-subscriber.log"),
    }
    publisher = python_app(HERE / "publisher.py", 0, work / "publisher.log")
    serve = (["pubsub.redis"], ["blockyard-redis"])
    with contextlib.ExitStack() as stack:
        for app_id, app in apps.items():
            app.start()
            stack.callback(app.stop)
            side = stack.enter_context(sidecar(app_id, resources, *serve, work, app_port=app.port))
            wait_for_lines(
                lambda s=side, t=SUBSCRIBERS[app_id]: set(t) <= _subscribed(s),  # type: ignore[misc]
                60,
                f"{app_id} to be subscribed to {', '.join(SUBSCRIBERS[app_id])}",
            )
        with sidecar("publisher", resources, *serve, work) as side:
            publisher.start({**side.env(), "DEMO_RUN": run_id})
            assert publisher.process is not None
            if publisher.process.wait(120) != 0:
                raise RuntimeError(f"the publisher failed:\n{publisher.log.read_text()}")

        def received(app_id: str) -> list[str]:
            return sorted(
                str(e["topic"])
                for e in apps[app_id].events()
                if isinstance(e.get("data"), dict) and e["data"].get("run") == run_id
            )

        for app_id, topics in SUBSCRIBERS.items():
            wait_for_lines(lambda a=app_id, t=topics: len(received(a)) >= len(t), 60, f"{app_id}'s messages")  # type: ignore[misc]
        # a topic a subscriber did not ask for shows up here: the comparison is on the exact list
        got = {app_id: received(app_id) for app_id in SUBSCRIBERS}
    return {"published": [e["topic"] for e in publisher.events()], "received": got}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="blockyard-demo-pubsub-"))
    result = run(work)
    ok = result["published"] == ["A", "B", "C"] and result["received"] == SUBSCRIBERS
    if args.json:
        print(json.dumps(result))
    else:
        print(f"published to {', '.join(result['published'])}")
        for app_id, topics in result["received"].items():
            print(f"{app_id} received {', '.join(topics) or 'nothing'}")
        print("each subscriber got exactly its topics: OK" if ok else f"MISMATCH (logs in {work})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

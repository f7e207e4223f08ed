"""The publisher: one message to each of topics A, B and C of "pubsub", with the Dapr Python SDK."""

from __future__ import annotations

import json
import os

from dapr.clients import DaprClient

run = os.environ.get("DEMO_RUN", "demo")
with DaprClient(address=f"127.0.0.1:{os.environ['DAPR_GRPC_PORT']}") as dapr:
    for topic in ("A", "B", "C"):
        message = {"run": run, "topic": topic}
        dapr.publish_event("pubsub", topic, json.dumps(message), data_content_type="application/json")
        print(json.dumps(message), flush=True)

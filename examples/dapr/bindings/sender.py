"""The Python app: sends orders through the output binding "orders" with the Dapr Python SDK.

It knows nothing of Kafka or RabbitMQ: its sidecar's Component file decides. Prints each order sent.
"""

from __future__ import annotations

import json
import os

from dapr.clients import DaprClient

run = os.environ.get("DEMO_RUN", "demo")
count = int(os.environ.get("DEMO_ORDERS", "5"))
with DaprClient(address=f"127.0.0.1:{os.environ['DAPR_GRPC_PORT']}") as dapr:
    for number in range(1, count + 1):
        order = {"run": run, "order": number}
        dapr.invoke_binding("orders", "create", json.dumps(order), binding_metadata={})
        print(json.dumps(order), flush=True)

"""A workflow app on the Dapr Python SDK's workflow extension, run as its own process:
``WORKFLOW_EVENTS=FILE TIMER_SECONDS=N python workflow_app.py --port PORT`` (``/healthz`` on PORT;
the worker talks to daprd over gRPC at ``$DAPR_GRPC_PORT``).

Workflow ``order``: activity ``reserve``, a durable timer of ``TIMER_SECONDS``, activity ``ship``.
Each activity run appends a JSON line to FILE.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dapr.ext.workflow as wf
import uvicorn
from fastapi import FastAPI

EVENTS = Path(os.environ.get("WORKFLOW_EVENTS", "events.jsonl"))
TIMER = timedelta(seconds=float(os.environ.get("TIMER_SECONDS", "1")))

runtime = wf.WorkflowRuntime(host="127.0.0.1", port=os.environ.get("DAPR_GRPC_PORT", "50001"))


def record(event: str, **details: Any) -> None:
    with EVENTS.open("a") as f:
        f.write(json.dumps({"event": event, "pid": os.getpid(), **details}) + "\n")


@runtime.workflow(name="order")  # type: ignore[untyped-decorator]  # unannotated in the Dapr SDK
def order(ctx: wf.DaprWorkflowContext, item: str) -> Any:
    reserved = yield ctx.call_activity(reserve, input=item)
    yield ctx.create_timer(fire_at=ctx.current_utc_datetime + TIMER)
    shipped = yield ctx.call_activity(ship, input=reserved)
    return shipped


@runtime.activity(name="reserve")  # type: ignore[untyped-decorator]  # unannotated in the Dapr SDK
def reserve(ctx: wf.WorkflowActivityContext, item: str) -> str:
    record("reserve", instance=ctx.workflow_id, item=item)
    return f"reserved:{item}"


@runtime.activity(name="ship")  # type: ignore[untyped-decorator]  # unannotated in the Dapr SDK
def ship(ctx: wf.WorkflowActivityContext, reserved: str) -> str:
    record("ship", instance=ctx.workflow_id, item=reserved)
    return f"shipped:{reserved}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    runtime.start()  # type: ignore[no-untyped-call]  # unannotated in the Dapr SDK
    try:
        uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port, log_level="warning")
    finally:
        runtime.shutdown()  # type: ignore[no-untyped-call]  # unannotated in the Dapr SDK


if __name__ == "__main__":
    main()

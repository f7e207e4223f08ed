"""An app for service invocation, run as its own process: ``APP_NAME=a python invoke_app.py --port PORT``.

``POST /echo`` answers the app's name, the body and the W3C ``traceparent`` it was called with.
``POST /call/{app_id}/{protocol}`` calls ``/echo`` of ``app_id`` through this app's own daprd (plain
HTTP, or the Dapr SDK's gRPC client), passing on the ``traceparent`` it got, and answers the reply.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from typing import Any

import httpx
import uvicorn
from dapr.clients.grpc.client import DaprGrpcClient
from fastapi import FastAPI, Request

NAME = os.environ.get("APP_NAME", "app")
DAPR_HTTP = f"http://127.0.0.1:{os.environ.get('DAPR_HTTP_PORT', '3500')}"
DAPR_GRPC = f"127.0.0.1:{os.environ.get('DAPR_GRPC_PORT', '50001')}"

app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/echo")
async def echo(request: Request) -> dict[str, Any]:
    return {"app": NAME, "traceparent": request.headers.get("traceparent"), "body": await request.json()}


@app.post("/call/{app_id}/{protocol}")
async def call(app_id: str, protocol: str, request: Request) -> Any:
    body = await request.body()
    trace = {"traceparent": request.headers["traceparent"]} if "traceparent" in request.headers else {}
    if protocol == "http":
        async with httpx.AsyncClient(timeout=60) as http:
            reply = await http.post(
                f"{DAPR_HTTP}/v1.0/invoke/{app_id}/method/echo",
                content=body,
                headers={"content-type": "application/json", **trace},
            )
        return {"caller": NAME, "status": reply.status_code, "reply": reply.json()}

    def through_grpc() -> Any:
        with DaprGrpcClient(address=DAPR_GRPC) as dapr:
            return dapr.invoke_method(
                app_id,
                "echo",
                data=body,
                content_type="application/json",
                http_verb="POST",
                metadata=tuple(trace.items()),
            )

    answer = await asyncio.to_thread(through_grpc)
    return {"caller": NAME, "status": 200, "reply": json.loads(answer.data)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port, log_level="warning")


if __name__ == "__main__":
    main()

"""The actor app: hosts ``DemoActor`` (``SaveData`` / ``GetData``) with the Dapr Python SDK's actor
runtime on FastAPI. daprd keeps the actor's state in the actor state store (components/actorstore.yaml).

Run by run.py as ``python app.py --port PORT`` with ``DAPR_HTTP_PORT`` set to its daprd's port.
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn
from dapr.actor import Actor
from dapr.ext.fastapi import DaprActor
from demo_actor import DemoActorInterface
from fastapi import FastAPI


class DemoActor(Actor, DemoActorInterface):
    """Keeps one value, ``mydata``, in the actor state store."""

    async def save_data(self, data: Any) -> None:
        await self._state_manager.set_state("mydata", data)
        await self._state_manager.save_state()

    async def get_data(self) -> Any:
        _, data = await self._state_manager.try_get_state("mydata")
        return data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    app = FastAPI(title="demo-actor")
    actors = DaprActor(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.on_event("startup")
    async def register() -> None:
        await actors.register_actor(DemoActor)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()

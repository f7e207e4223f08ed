"""The interface client and app share: ``DemoActor`` with ``SaveData`` and ``GetData``."""

from __future__ import annotations

from typing import Any

from dapr.actor import ActorInterface, actormethod


class DemoActorInterface(ActorInterface):
    @actormethod(name="SaveData")
    async def save_data(self, data: Any) -> None: ...

    @actormethod(name="GetData")
    async def get_data(self) -> Any: ...

"""Run the socket servers for a folder of Component files, or for one component type, until stopped."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from blockyard.yard import Yard
from blockyard_dapr.instances import TypeSource, YardSource
from blockyard_dapr.server import SocketPlan, SocketServer, default_socket_name, plans_by_socket

__all__ = ["Running", "plans_for_types", "plans_for_yard", "serve_until_stopped"]


@dataclass(frozen=True, slots=True)
class Running:
    """One running socket: its path, the daprd types it offers and the gRPC services behind them."""

    path: Path
    daprd_types: list[str]
    services: list[str]


def plans_for_types(
    component_types: Sequence[str], version: str | None = None, socket_name: str | None = None
) -> list[SocketPlan]:
    """Sockets serving ``component_types``, each instance configured by the metadata daprd sends.

    Types of one family share a socket (``state.redis`` and ``pubsub.redis``: ``blockyard-redis``);
    ``socket_name`` puts them all on one socket of that name.

    :raises ComponentNotFoundError: no installed plugin provides a type.
    :raises ValueError: two types of one building block would share a socket.
    """
    entries = []
    for component_type in component_types:
        source = TypeSource(component_type, version)
        entries.append((socket_name or default_socket_name(component_type), source.component_class, source))
    return plans_by_socket(entries)


def plans_for_yard(yard: Yard, origin: str) -> list[SocketPlan]:
    """A socket per Blockyard type family of the yard's components (``state.redis`` -> ``blockyard-redis``)."""
    by_socket: dict[str, list[str]] = {}
    for name, component in yard.components.items():
        by_socket.setdefault(default_socket_name(component.type), []).append(name)
    entries = []
    for socket_name, names in by_socket.items():
        source = YardSource(yard, names, origin)
        entries += [(socket_name, type(yard.get(n)), source) for n in names]
    return plans_by_socket(entries)


async def serve_until_stopped(
    plans: list[SocketPlan],
    folder: Path,
    *,
    mode: int = 0o600,
    on_ready: Callable[[list[Running]], Awaitable[None] | None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve every plan until SIGTERM / SIGINT (or ``stop`` is set); then stop gracefully.

    Sockets are removed only if they are still the files this call created.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    servers = [SocketServer(plan, folder, mode=mode) for plan in plans]
    started: list[SocketServer] = []
    try:
        served = []
        for server in servers:
            services = await server.start()
            started.append(server)
            served.append(Running(server.path, server.plan.daprd_types(), services))
        if on_ready is not None:
            result = on_ready(served)
            if result is not None:
                await result
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        for server in reversed(started):
            await server.stop()

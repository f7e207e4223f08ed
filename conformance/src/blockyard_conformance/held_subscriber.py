"""A subscriber in a process of its own that takes messages and never finishes handling them, for
the scenario that SIGKILLs a consumer holding unacknowledged messages.

Run as ``python -m blockyard_conformance.held_subscriber SPEC TOPIC GROUP RUN``: it builds and
initialises the component ``SPEC`` (a JSON file: ``{"yaml": <Component YAML>}``, or ``{"class":
"module:Class", "metadata": {...}, "name": ..., "sys_path": [...]}`` for a suite that names its
class, imported with the suite's own import path) describes,
subscribes to ``TOPIC`` in ``GROUP``, prints ``READY``, then for every message of run ``RUN`` prints
``HOLD <seq>`` and keeps its handler waiting for ever. :class:`HeldSubscriber` starts it and reads
those lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import orjson

from blockyard.component import Component
from blockyard.pubsub import Message, PubSub
from blockyard_conformance.components import build_component
from blockyard_conformance.support import Inbox, import_named

__all__ = ["HeldSubscriber"]


class HeldSubscriber:
    """The subscriber process: ``held`` lists the sequence numbers its handler holds."""

    def __init__(self, spec: Path, topic: str, group: str, run: str, *, log: Path) -> None:
        self.held: list[int] = []
        self._args = [str(spec), topic, group, run]
        self._log = log
        self._lines = Inbox()
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        stdout = self._proc.stdout if self._proc is not None else None
        if stdout is None:
            return
        async for raw in stdout:
            line = raw.decode(errors="replace").strip()
            if line.startswith("HOLD "):
                self.held.append(int(line.split()[1]))
            self._lines.add(line)
        self._lines.notify()

    async def start(self, within: float) -> None:
        """Start the process; return once it subscribed.

        :raises AssertionError: it did not subscribe within ``within`` seconds (its log's tail quoted).
        """
        with self._log.open("wb") as log:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", __name__, *self._args, stdout=asyncio.subprocess.PIPE, stderr=log
            )
        self._reader = asyncio.get_running_loop().create_task(self._read())
        try:
            await self._lines.wait_for(
                lambda: "READY" in self._lines.items or self._proc is None or self._proc.returncode is not None,
                within=within,
                what="the subscriber process to subscribe",
            )
        except AssertionError:
            raise AssertionError(f"the subscriber process did not subscribe: {self.log_tail()}") from None
        assert "READY" in self._lines.items, f"the subscriber process ended before subscribing: {self.log_tail()}"

    async def holding(self, count: int, within: float) -> None:
        """Return once the handler holds ``count`` messages.

        :raises AssertionError: it did not within ``within`` seconds.
        """
        await self._lines.wait_for(
            lambda: len(self.held) >= count, within=within, what=f"the subscriber process to hold {count} message(s)"
        )

    async def kill(self) -> None:
        """SIGKILL the process (no clean-up of any kind runs in it) and reap it."""
        if self._proc is not None and self._proc.returncode is None:
            self._proc.send_signal(signal.SIGKILL)
            await self._proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    def log_tail(self) -> str:
        """The last lines the process wrote to stderr."""
        try:
            return " | ".join(self._log.read_text(errors="replace").strip().splitlines()[-5:]) or "(no output)"
        except OSError:
            return "(no log)"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.kill()


async def _build(spec: dict[str, Any], source: str) -> Component:
    if "yaml" in spec:
        return await build_component(spec["yaml"], source=source)
    sys.path[:0] = [entry for entry in spec.get("sys_path", ()) if entry not in sys.path]
    cls = import_named(spec["class"])
    component: Component = cls(spec["metadata"], name=spec.get("name"))
    return component


async def _main(spec: dict[str, Any], source: str, topic: str, group: str, run: str) -> None:
    component = await _build(spec, source)
    await component.init()
    if not isinstance(component, PubSub):
        raise SystemExit(f"{source} is not a pub/sub component")
    forever = asyncio.Event()

    async def handler(message: Message) -> None:
        try:
            body = orjson.loads(message.data)
        except ValueError:
            return
        if isinstance(body, dict) and body.get("run") == run:
            print(f"HOLD {body.get('seq')}", flush=True)
            await forever.wait()

    await component.subscribe(topic, handler, consumer_group=group)
    print("READY", flush=True)
    await forever.wait()


if __name__ == "__main__":
    path, topic_, group_, run_ = sys.argv[1:5]
    asyncio.run(_main(orjson.loads(Path(path).read_bytes()), path, topic_, group_, run_))

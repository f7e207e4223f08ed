"""A steady stream of publishes, for the scenarios that stop a subscription under load.

:class:`SteadyPublisher` publishes ``{"run": run, "seq": n}`` (n = 0, 1, ...) every ``interval``
seconds on a task of its own until its ``async with`` block ends; a publish the backend refuses
for the moment is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Self

from blockyard.errors import BackendUnavailableError, ComponentClosedError
from blockyard.pubsub import PubSub
from blockyard_conformance.support import Inbox

__all__ = ["SteadyPublisher"]


class SteadyPublisher:
    """Publishes to ``topic`` through ``pubsub`` until the block ends; once ``pubsub`` is closed,
    through ``after_close`` (another instance on the same backend) when given, else it stops."""

    def __init__(
        self,
        pubsub: PubSub,
        topic: str,
        run: str,
        *,
        within: float,
        after_close: PubSub | None = None,
        interval: float = 0.01,
    ) -> None:
        self.published = 0
        self._targets = [pubsub] if after_close is None else [pubsub, after_close]
        self._topic, self._run, self._within, self._interval = topic, run, within, interval
        self._progress = Inbox()
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while self._targets:
            try:
                await self._targets[0].publish(self._topic, {"run": self._run, "seq": self.published})
            except ComponentClosedError:
                self._targets.pop(0)
                continue
            except BackendUnavailableError:
                pass  # not confirmed: publish the same message again
            else:
                self.published += 1
                self._progress.notify()
            await asyncio.sleep(self._interval)

    async def more(self, count: int) -> None:
        """Return once ``count`` more messages were confirmed.

        :raises AssertionError: they were not within the ``within`` seconds given.
        """
        target = self.published + count
        await self._progress.wait_for(
            lambda: self.published >= target, within=self._within, what=f"{count} more publishes to {self._topic}"
        )

    async def __aenter__(self) -> Self:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="blockyard-conformance-publisher")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

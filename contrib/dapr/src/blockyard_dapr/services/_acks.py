"""Deliveries that wait for daprd's acknowledgement on a bidirectional stream.

``PullMessages`` (pub/sub) and ``Read`` (input bindings) work alike: the component hands a message
to a handler, the servicer sends it down the stream under a fresh id, and the handler's result is
daprd's answer for that id — no error: ``SUCCESS`` (daprd also answers so for a message its app
dropped), an error: ``RETRY``. When the stream ends, unanswered messages are left unacknowledged,
so a component with redelivery delivers them again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, Generic, TypeVar

from blockyard.subscription import HandlerResult

__all__ = ["AckedStream"]

Out = TypeVar("Out")


class AckedStream(Generic[Out]):
    """Pairs outgoing messages with the acknowledgements that come back for them."""

    def __init__(self) -> None:
        self._outgoing: asyncio.Queue[Out] = asyncio.Queue()
        self._pending: dict[str, asyncio.Future[HandlerResult]] = {}

    async def deliver(self, build: Callable[[str], Out]) -> HandlerResult:
        """Send ``build(id)`` and wait for daprd's answer to ``id``."""
        message_id = uuid.uuid4().hex
        answer: asyncio.Future[HandlerResult] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = answer
        try:
            await self._outgoing.put(build(message_id))
            return await answer
        finally:
            self._pending.pop(message_id, None)

    def answer(self, message_id: str, failed: bool) -> None:
        """Record daprd's answer for ``message_id`` (unknown or repeated ids are ignored)."""
        answer = self._pending.get(message_id)
        if answer is not None and not answer.done():
            answer.set_result(HandlerResult.RETRY if failed else HandlerResult.SUCCESS)

    async def run(self, acks: AsyncIterator[Any], read_ack: Callable[[Any], tuple[str, bool]]) -> AsyncIterator[Out]:
        """Yield outgoing messages until daprd closes its side; feed its acks to :meth:`answer`."""

        async def read() -> None:
            async for ack in acks:
                self.answer(*read_ack(ack))

        reader = asyncio.create_task(read())
        try:
            while True:
                outgoing = asyncio.create_task(self._outgoing.get())
                done, _ = await asyncio.wait({outgoing, reader}, return_when=asyncio.FIRST_COMPLETED)
                if outgoing not in done:
                    outgoing.cancel()
                    return
                yield outgoing.result()
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

"""Consume a server stream of deliveries and answer each one (``PullMessages`` / ``Read``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from blockyard.subscription import HandlerResult, Stopper

__all__ = ["answer_stream"]

_log = logging.getLogger("blockyard.dapr.client")


async def answer_stream(
    stream: Any,
    first: Any,
    handle: Callable[[Any], Awaitable[HandlerResult]],
    answer: Callable[[Any, HandlerResult], Any],
) -> Stopper:
    """Send ``first``, then hand each received message to ``handle`` and send ``answer(message, result)``.

    Messages are handled one at a time, in arrival order. The returned stopper closes the stream;
    a message whose handler was interrupted gets no answer (the server redelivers it).
    """
    await stream.write(first)

    async def pump() -> None:
        try:
            while True:
                message = await stream.read()
                if message is grpc.aio.EOF:
                    return
                result = await handle(message)
                await stream.write(answer(message, result))
        except grpc.aio.AioRpcError as exc:
            if exc.code() is not grpc.StatusCode.CANCELLED:
                _log.warning("delivery stream ended: %s", exc.details())

    task = asyncio.create_task(pump())

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        stream.cancel()

    return stop

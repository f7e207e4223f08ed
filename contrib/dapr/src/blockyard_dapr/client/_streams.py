"""Consume a server stream of deliveries and answer each one (``PullMessages`` / ``Read``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc

from blockyard.subscription import HandlerResult, Stopper
from blockyard_dapr.client._channel import error_from_rpc
from blockyard_dapr.protocol import SUBSCRIBED_HEADER

__all__ = ["Attach", "answer_stream"]

_log = logging.getLogger("blockyard.dapr.client")


@dataclass(frozen=True, slots=True)
class Attach:
    """How to wait for the server to attach a stream: who waits, for what, and for how long (s)."""

    component: str
    what: str
    timeout: float


async def _attached(stream: Any, attach: Attach) -> None:
    """Wait for the ``x-blockyard-subscribed`` header, the stream's failure, or ``attach.timeout``.

    :raises BlockyardError: the server ended the stream with an error instead.
    """
    headers = asyncio.ensure_future(stream.initial_metadata())
    done, _ = await asyncio.wait({headers}, timeout=attach.timeout)
    if not done:
        _log.debug("%s: the server did not say it attached %s; assuming it did", attach.component, attach.what)
        return
    if any(key == SUBSCRIBED_HEADER for key, _ in headers.result() or ()):
        return
    if stream.done():
        code = await stream.code()
        if code is not grpc.StatusCode.OK:
            details = await stream.details()
            empty = grpc.aio.Metadata()
            raise error_from_rpc(grpc.aio.AioRpcError(code, empty, empty, details))


async def answer_stream(
    stream: Any,
    first: Any,
    handle: Callable[[Any], Awaitable[HandlerResult]],
    answer: Callable[[Any, HandlerResult], Any],
    *,
    attach: Attach | None = None,
) -> Stopper:
    """Send ``first``, then hand each received message to ``handle`` and send ``answer(message, result)``.

    Messages are handled one at a time, in arrival order. The returned stopper closes the stream;
    a message whose handler was interrupted gets no answer (the server redelivers it). With
    ``attach``, returns only once the server said it attached (see :func:`_attached`).

    :raises BlockyardError: the server refused the stream (its error, mapped) while attaching.
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

    if attach is not None:
        try:
            await _attached(stream, attach)
        except BaseException:
            await stop()
            raise
    return stop

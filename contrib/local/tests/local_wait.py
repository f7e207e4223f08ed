"""Event-loop-friendly waiting for the tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Poll ``condition`` every 10ms until it holds; fail with TimeoutError after ``within`` seconds."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - the condition is plain state, there is no event to wait on
            await asyncio.sleep(0.01)

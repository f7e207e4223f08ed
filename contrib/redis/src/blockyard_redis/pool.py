"""A connection pool that serves waiting callers in arrival order: :class:`FairConnectionPool`.

redis-py's ``BlockingConnectionPool`` wakes one waiter per released connection, but a caller that
arrives meanwhile may take the connection first, and the woken waiter queues again at the back.
Under sustained load above the pool size one caller can so starve past the pool timeout and fail
with "No connection available" while the others progress. A FIFO semaphore of the pool's size in
front of it admits callers in order; the pool behind it then never has to wait.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import BlockingConnectionPool
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError

__all__ = ["FairConnectionPool"]


class FairConnectionPool(BlockingConnectionPool):
    """``BlockingConnectionPool`` whose callers get connections first come, first served.

    Waiting for a turn is bounded by the pool's ``timeout``, after which the call fails as redis-py's
    pool does (``ConnectionError("No connection available.")``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turns = asyncio.Semaphore(self.max_connections)
        self._admitted: set[AbstractConnection] = set()

    async def get_connection(self, *args: Any, **kwargs: Any) -> AbstractConnection:
        try:
            async with asyncio.timeout(self.timeout):
                await self._turns.acquire()
        except TimeoutError as err:
            raise RedisConnectionError("No connection available.") from err
        try:
            connection: AbstractConnection = await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]
        except BaseException:
            self._turns.release()
            raise
        self._admitted.add(connection)
        return connection

    async def release(self, connection: AbstractConnection) -> None:
        try:
            await super().release(connection)
        finally:
            if connection in self._admitted:
                self._admitted.discard(connection)
                self._turns.release()

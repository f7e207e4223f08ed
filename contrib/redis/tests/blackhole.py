"""A loopback TCP proxy in front of a real server that can black-hole the path: :class:`CuttableProxy`.

While cut, the proxy still accepts connections and reads what clients send, but forwards nothing and
answers nothing (a black hole, not a reset): a client waits until its own timeout. Connections that
saw the cut stay black-holed until they close; new connections after :meth:`CuttableProxy.heal` go
through. The counters tell whether a client reached the backend at all.
"""

from __future__ import annotations

import asyncio
import contextlib


class CuttableProxy:
    """Listens on 127.0.0.1 (a free port) and forwards to ``host:port`` unless cut."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.cut_on = False
        self.connections = 0  #: connections accepted
        self.bytes_forwarded = 0  #: client bytes that reached the backend
        self.swallowed = 0  #: client reads dropped while cut
        self._changed = asyncio.Condition()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> CuttableProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def cut(self) -> None:
        """Black-hole every connection, open or new."""
        self.cut_on = True

    def heal(self) -> None:
        """Let new connections through again."""
        self.cut_on = False

    async def wait_swallowed(self, count: int) -> None:
        """Return once ``count`` client reads were dropped by the cut in all."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.swallowed >= count)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        upstream: asyncio.StreamWriter | None = None
        try:
            if self.cut_on:
                await self._swallow(reader)
                return
            up_reader, upstream = await asyncio.open_connection(*self.target)
            cut_seen = asyncio.Event()
            await asyncio.gather(
                self._pump(reader, upstream, cut_seen, to_backend=True),
                self._pump(up_reader, writer, cut_seen, to_backend=False),
            )
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            for w in (writer, upstream):
                if w is not None:
                    w.close()

    async def _pump(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, cut_seen: asyncio.Event, *, to_backend: bool
    ) -> None:
        while data := await src.read(65536):
            if self.cut_on:
                cut_seen.set()
            if cut_seen.is_set():
                if to_backend:
                    await self._note_swallowed()
                continue
            dst.write(data)
            await dst.drain()
            if to_backend:
                self.bytes_forwarded += len(data)
        dst.close()

    async def _swallow(self, reader: asyncio.StreamReader) -> None:
        while await reader.read(65536):
            await self._note_swallowed()

    async def _note_swallowed(self) -> None:
        async with self._changed:
            self.swallowed += 1
            self._changed.notify_all()

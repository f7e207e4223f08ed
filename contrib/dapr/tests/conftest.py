"""Fixtures: a short socket folder per test, ``blockyard serve`` child processes, gRPC channels."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import grpc
import pytest

from blockyard_dapr.testing import ServeProcess


@pytest.fixture
def socket_folder() -> Iterator[Path]:
    """A fresh socket folder with a short path (Unix socket paths are limited to 107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="by-sock-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def serve(socket_folder: Path, tmp_path: Path) -> Iterator[Callable[..., ServeProcess]]:
    """Start ``blockyard serve ARGS`` (stopped after the test); waits for the named sockets."""
    started: list[ServeProcess] = []

    def start(*args: str, sockets: list[str], env: dict[str, str] | None = None) -> ServeProcess:
        proc = ServeProcess(
            list(args), socket_folder, sockets, tmp_path / f"serve-{len(started)}.log", env=dict(env or {})
        )
        started.append(proc)
        return proc.start()

    yield start
    for proc in reversed(started):
        proc.stop()


@pytest.fixture
async def channel_to() -> AsyncIterator[Callable[[Path], grpc.aio.Channel]]:
    """Open gRPC channels to Unix sockets (closed after the test)."""
    channels: list[grpc.aio.Channel] = []

    def open_channel(path: Path) -> grpc.aio.Channel:
        channel = grpc.aio.insecure_channel(f"unix://{path}")
        channels.append(channel)
        return channel

    yield open_channel
    for channel in channels:
        await channel.close()


@pytest.fixture
def instance() -> str:
    """A fresh component instance name, as daprd would send it."""
    return f"c-{uuid.uuid4().hex[:8]}"

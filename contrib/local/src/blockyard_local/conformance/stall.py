"""How the conformance kit stalls ``state.sqlite`` (the cases' knob ``stall_backend``).

A database file sits behind no network path the kit's fault proxy could cut, so the stall is
SQLite's own: another connection holds the database's write lock (``BEGIN EXCLUSIVE``) while the
stall lasts. The store's writes then wait ``busyTimeout`` for the lock and fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

from blockyard.component import Component
from blockyard_local.state_sqlite import SQLiteStateStore

__all__ = ["sqlite_write_lock"]


def _lock(target: str) -> sqlite3.Connection:
    holder = sqlite3.connect(target, isolation_level=None, uri=target.startswith("file:"), check_same_thread=False)
    try:
        holder.execute("BEGIN EXCLUSIVE")
    except BaseException:
        holder.close()
        raise
    return holder


def _release(holder: sqlite3.Connection) -> None:
    try:
        holder.execute("ROLLBACK")
    finally:
        holder.close()


@contextlib.asynccontextmanager
async def sqlite_write_lock(component: Component, endpoint: Any = None) -> AsyncIterator[None]:
    """Hold the write lock of ``component``'s database file from a connection of its own while the
    context lasts; released (nothing written) on exit.

    :raises TypeError: ``component`` is no ``state.sqlite`` store, or its database is in memory
        (no other connection can reach it).
    """
    if not isinstance(component, SQLiteStateStore):
        raise TypeError(f"sqlite_write_lock stalls a state.sqlite store, not {type(component).__name__}")
    target = component.meta.connection_string.get_secret_value()
    if target == ":memory:" or "mode=memory" in target:
        raise TypeError(f"component {component.name!r}: an in-memory database has no file another connection can lock")
    holder = await asyncio.to_thread(_lock, target)
    try:
        yield
    finally:
        await asyncio.to_thread(_release, holder)

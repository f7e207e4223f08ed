"""Helpers the suites share: fresh ids, event-driven waiting (no fixed sleeps), named imports."""

from __future__ import annotations

import asyncio
import importlib
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Inbox", "eventually", "fresh_id", "import_named", "wait_until"]


def import_named(spec: str) -> Any:
    """The object ``"module:qualified.name"`` names (a case's ``setup``, a knob's function, a class).

    :raises ImportError: the module cannot be imported.
    :raises AttributeError: the module has no such name.
    :raises ValueError: ``spec`` names no module.
    """
    module, _, qualname = spec.partition(":")
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def fresh_id(prefix: str = "") -> str:
    """A short unique id (hex, no ``%`` or ``_``), for keys and topics of one test."""
    return f"{prefix}{uuid.uuid4().hex[:16]}"


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float, interval: float = 0.05, what: str = "condition"
) -> None:
    """Poll ``check`` until it returns True; fail after ``within`` seconds.

    For conditions with no event to wait on (TTL expiry); the interval grows to 0.5 s.

    :raises AssertionError: naming ``what`` when the time runs out.
    """
    deadline = time.monotonic() + within
    while True:
        if await check():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not happen within {within:g}s")
        await asyncio.sleep(interval)
        interval = min(interval * 1.5, 0.5)


class Inbox:
    """Collects what a handler receives and wakes waiters on every change."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = asyncio.Event()

    def add(self, item: Any) -> None:
        """Record ``item`` and wake the waiters."""
        self.items.append(item)
        self.notify()

    def notify(self) -> None:
        """Wake the waiters (call after changing state a predicate reads)."""
        self._changed.set()

    async def wait_for(self, predicate: Callable[[], bool], *, within: float, what: str = "messages") -> None:
        """Return once ``predicate()`` holds; re-checked after every change.

        :raises AssertionError: naming ``what`` when ``within`` seconds pass first.
        """
        await wait_until(self._changed, predicate, within=within, what=what)


async def wait_until(event: asyncio.Event, predicate: Callable[[], bool], *, within: float, what: str) -> None:
    """Wait on ``event`` until ``predicate()`` holds (the event is set by whoever changes state)."""
    deadline = time.monotonic() + within
    while True:
        event.clear()
        if predicate():
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out after {within:g}s waiting for {what}")
        try:
            await asyncio.wait_for(event.wait(), remaining)
        except TimeoutError:
            if predicate():
                return
            raise AssertionError(f"timed out after {within:g}s waiting for {what}") from None

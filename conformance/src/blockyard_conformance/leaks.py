"""What a closed component must have given back: this process's open file descriptors and asyncio tasks.

The leak scenarios take a :func:`snapshot` before a component's life and compare one taken after
``close()``. Closed components are kept referenced until the second snapshot, so the garbage
collector cannot hide a socket or a task that ``close()`` forgot::

    before = snapshot()
    ...                                   # init, use and close components, keeping them referenced
    after = await settled(before, within=5.0)
    assert not after.exceeds(before)

:func:`assert_no_new_tasks` names the tasks left: those started since a set of
:func:`asyncio.all_tasks` taken before a subscription (or component) started.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "FD_DIR",
    "Resources",
    "assert_no_new_tasks",
    "connections_closed",
    "connections_to",
    "settled",
    "snapshot",
    "threads_left",
]

FD_DIR = Path("/proc/self/fd")
"""Where Linux lists this process's open file descriptors (the scenarios skip without it)."""


@dataclass(frozen=True, slots=True)
class Resources:
    """Counts of what a component may hold: open file descriptors and pending asyncio tasks."""

    fds: int
    tasks: int

    def exceeds(self, baseline: Resources, *, fd_tolerance: int = 0) -> bool:
        """More file descriptors (beyond ``fd_tolerance``) or more tasks than ``baseline``."""
        return self.fds > baseline.fds + fd_tolerance or self.tasks > baseline.tasks

    def describe(self, baseline: Resources) -> str:
        """``"fds 12 -> 14 (+2), tasks 1 -> 3 (+2)"``."""
        return ", ".join(
            f"{name} {old} -> {new} ({new - old:+d})"
            for name, old, new in (("fds", baseline.fds, self.fds), ("tasks", baseline.tasks, self.tasks))
        )


def snapshot() -> Resources:
    """The counts now (after a garbage collection; the current task is not counted).

    :raises RuntimeError: outside a running event loop.
    """
    gc.collect()
    current = asyncio.current_task()
    tasks = sum(1 for t in asyncio.all_tasks() if t is not current)
    return Resources(len(os.listdir(FD_DIR)), tasks)


async def settled(baseline: Resources, *, within: float, fd_tolerance: int = 0) -> Resources:
    """The counts once they are back to ``baseline`` (give or take ``fd_tolerance`` descriptors), or
    the last counts after ``within`` seconds (an SDK may close its sockets in its own thread just after
    ``close()`` returned). Never raises for a leak: the caller asserts, naming what leaked."""
    deadline = time.monotonic() + within
    interval = 0.02
    while True:
        now = snapshot()
        if not now.exceeds(baseline, fd_tolerance=fd_tolerance) or time.monotonic() >= deadline:
            return now
        await asyncio.sleep(interval)
        interval = min(interval * 2, 0.25)


def _socket_inodes() -> set[str]:
    inodes = set()
    for entry in FD_DIR.iterdir():
        try:
            target = os.readlink(entry)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def connections_to(port: int) -> int:
    """This process's open TCP sockets whose remote end is ``port`` on loopback (IPv4 or IPv6)."""
    ours = _socket_inodes()
    count = 0
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[9] in ours:
                count += 1
    return count


async def connections_closed(port: int, *, within: float) -> int:
    """The sockets of :func:`connections_to` ``port`` left once they are all closed, or after ``within`` s."""
    deadline = time.monotonic() + within
    interval = 0.02
    while True:
        left = connections_to(port)
        if not left or time.monotonic() >= deadline:
            return left
        await asyncio.sleep(interval)
        interval = min(interval * 2, 0.25)


def _describe(task: asyncio.Task[object]) -> str:
    coro = task.get_coro()
    return f"{task.get_name()} ({getattr(coro, '__qualname__', type(coro).__name__)})"


async def assert_no_new_tasks(before: set[asyncio.Task[object]], what: str, *, settle: float) -> None:
    """No task that was not in ``before`` is still running ``settle`` seconds from now (the caller's
    own task aside): short-lived tasks of what else runs (another subscription's fetch) may end
    meanwhile; a task left behind never does.

    :raises AssertionError: naming ``what`` and each task left running.
    """
    current = asyncio.current_task()
    started = {t for t in asyncio.all_tasks() - before if t is not current and not t.done()}
    if started:
        await asyncio.wait(started, timeout=settle)
    left = [t for t in started if not t.done()]
    assert not left, f"{what} left {len(left)} asyncio task(s) running: {', '.join(map(_describe, left[:5]))}"


async def threads_left(before: set[threading.Thread], *, within: float) -> list[str]:
    """Names of the threads started since ``before`` that are still alive once they have all ended, or
    after ``within`` seconds (a worker told to stop may take a moment). The event loop's default
    executor threads (``asyncio_N``) are the loop's, shared by every caller, and are not counted."""
    deadline = time.monotonic() + within
    interval = 0.02
    while True:
        left = [t.name for t in threading.enumerate() if t not in before and not t.name.startswith("asyncio_")]
        if not left or time.monotonic() >= deadline:
            return left
        await asyncio.sleep(interval)
        interval = min(interval * 2, 0.25)

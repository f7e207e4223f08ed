"""Small helpers shared by the native recipes: versions, blocking async probes."""

from __future__ import annotations

import asyncio
import re
import subprocess
import threading
from collections.abc import Coroutine
from importlib import metadata
from typing import Any, TypeVar

__all__ = ["package_version", "run_coroutine", "tool_version"]

T = TypeVar("T")


def package_version(distribution: str) -> str:
    """The installed version of a Python distribution, or ``"?"`` when it is not installed."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "?"


def tool_version(argv: list[str], pattern: str = r"(\d+\.\d+(?:\.\d+)?)") -> str:
    """First match of ``pattern`` in the output of ``argv`` ("?" when it cannot be read)."""
    try:
        result = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "?"
    match = re.search(pattern, result.stdout + result.stderr)
    return match.group(1) if match else "?"


def run_coroutine(coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
    """Run ``coro`` to completion on a private event loop in a helper thread.

    Works whether or not the caller already runs an event loop. Raises what ``coro``
    raises, or ``TimeoutError``.
    """
    box: dict[str, Any] = {}

    def runner() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=runner, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError("probe did not finish")
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value

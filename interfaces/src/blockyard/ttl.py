"""Time to live of a request (a state write, a published message), shared by every building block."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from blockyard.errors import InvalidRequestError

__all__ = ["MAX_TTL", "TTL_METADATA", "parse_ttl", "request_ttl"]

TTL_METADATA = "ttlInSeconds"
"""Request metadata key carrying a TTL in seconds."""

MAX_TTL = 2**31 - 1
"""The largest TTL in seconds."""


def parse_ttl(value: Any, *, component: str | None = None, key: str | None = None) -> int | None:
    """Normalise a TTL: ``None``, ``<= 0`` -> ``None`` (no expiry); else positive int seconds.

    :raises InvalidRequestError: unless an integer (or integer string) in -1..2**31-1.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        seconds = None
    elif isinstance(value, int):
        seconds = value
    else:
        try:
            seconds = int(str(value).strip())
        except ValueError:
            seconds = None
    if seconds is None or seconds < -1 or seconds > MAX_TTL:
        raise InvalidRequestError(
            f"incorrect value for metadata {TTL_METADATA!r}: expected an integer from -1 to {MAX_TTL}",
            component=component,
            key=key,
        )
    return seconds if seconds > 0 else None


def request_ttl(
    ttl: Any, metadata: Mapping[str, str], *, component: str | None = None, key: str | None = None
) -> tuple[bool, int | None]:
    """The TTL a request gives as ``ttl=`` or as metadata ``ttlInSeconds``: ``(given, seconds)``.

    ``seconds`` is as :func:`parse_ttl` returns it (``None`` for no expiry).

    :raises InvalidRequestError: both forms given, or an invalid TTL.
    """
    md_ttl = metadata.get(TTL_METADATA) if metadata else None
    if ttl is not None and md_ttl is not None:
        raise InvalidRequestError(
            f"give the TTL either as ttl= or as metadata {TTL_METADATA!r}, not both", component=component, key=key
        )
    raw = ttl if ttl is not None else md_ttl
    if raw is None:
        return False, None
    return True, parse_ttl(raw, component=component, key=key)

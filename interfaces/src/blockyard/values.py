"""Dapr's value rule: bytes are stored as they are, anything else is JSON-encoded.

``encode_value(b"\\x01")`` is ``b"\\x01"``; ``encode_value("x")`` is ``b'"x"'``;
``encode_value({"a": 1})`` is ``b'{"a":1}'``. :func:`decode_json` reverses the JSON case.
"""

from __future__ import annotations

from typing import Any

import orjson

from blockyard.errors import InvalidRequestError

__all__ = ["decode_json", "encode_value"]

_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def encode_value(value: Any, *, key: str | None = None, component: str | None = None) -> bytes:
    """Return the bytes to store for ``value``.

    :raises InvalidRequestError: if ``value`` is neither bytes-like nor JSON-serialisable.
    """
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    try:
        return orjson.dumps(value, option=_OPTS)
    except TypeError as exc:
        raise InvalidRequestError(
            f"value of type {type(value).__name__} is neither bytes nor JSON-serialisable ({exc})",
            component=component,
            key=key,
        ) from None


def decode_json(data: bytes | None) -> Any:
    """Decode JSON bytes; ``None`` (no item) decodes to ``None``.

    :raises orjson.JSONDecodeError: (a ``ValueError``) if ``data`` is not JSON.
    """
    if data is None:
        return None
    return orjson.loads(data)

"""Key helpers shared by the state stores: LIKE patterns, paging tokens, prefixes, expiry times.

LIKE patterns follow SQL: ``%`` matches any run of characters (also none), ``_`` exactly one;
every other character is literal (there is no escape syntax) and matching is case-sensitive.
Pages are ordered by key; a continuation token is the opaque encoding of the last key returned,
so a page never repeats or skips a key that exists for the whole listing, whatever is written
in between.
"""

from __future__ import annotations

import base64
import binascii

from blockyard.errors import InvalidRequestError

__all__ = [
    "decode_token",
    "encode_token",
    "glob_literal",
    "is_direct_child",
    "like_to_glob",
]

_TOKEN_PREFIX = "k1."


_GLOB_SPECIAL = {"*": "[*]", "?": "[?]", "[": "[[]"}


def glob_literal(text: str) -> str:
    """``text`` as an SQLite ``GLOB`` pattern that matches only itself."""
    return "".join(_GLOB_SPECIAL.get(ch, ch) for ch in text)


def like_to_glob(pattern: str) -> str:
    """Translate an SQL LIKE pattern into an SQLite ``GLOB`` pattern (case-sensitive, literal rest)."""
    return "".join("*" if ch == "%" else "?" if ch == "_" else glob_literal(ch) for ch in pattern)


def encode_token(last_key: str) -> str:
    """The continuation token that resumes a listing after ``last_key``."""
    return _TOKEN_PREFIX + base64.urlsafe_b64encode(last_key.encode()).decode().rstrip("=")


def decode_token(token: str | None) -> str | None:
    """The last key of the previous page, or ``None`` to start from the beginning.

    :raises InvalidRequestError: if the token was not made by :func:`encode_token`.
    """
    if token is None or token == "":
        return None
    if not isinstance(token, str) or not token.startswith(_TOKEN_PREFIX):
        raise InvalidRequestError("invalid continuation token: pass the token of the previous page unchanged")
    body = token[len(_TOKEN_PREFIX) :]
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidRequestError("invalid continuation token: pass the token of the previous page unchanged") from None


def is_direct_child(key: str, prefix: str) -> bool:
    """True if ``key`` is ``prefix + rest`` with no ``||`` in ``rest`` (``prefix`` ends with ``||``)."""
    return key.startswith(prefix) and "||" not in key[len(prefix) :]

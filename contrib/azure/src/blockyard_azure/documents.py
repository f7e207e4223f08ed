"""How a state item is laid out as a Cosmos DB document (Dapr's layout, plus exact bytes).

``{"id": <key>, "partitionKey": <pk>, "value": <JSON or base64>, "isBinary": <bool>}`` as Dapr writes
it, plus, when needed, ``rawValue`` (base64 of the exact bytes), ``contentType``, ``ttl`` (seconds,
for the service's own expiry) and ``expiresAt`` (Unix seconds, so reads hide an expired item at once).

- A value that is JSON is stored as JSON under ``value`` (queryable). When Cosmos DB could not give
  the very same bytes back (whitespace, ``1.0``, integers beyond 2**53, digit-only member names that
  JavaScript reorders, ...), its exact bytes are kept in ``rawValue`` too.
- Any other value is stored base64-encoded with ``isBinary: true``; it is never queried.
- Cosmos DB forbids ``/``, ``\\``, ``?``, ``#``, tab, CR and LF in ids, and a trailing space: those
  characters and ``%`` are percent-encoded in the id (``a/b`` -> ``a%2Fb``); every other key is
  its own id.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from blockyard.query import MISSING, decode_document

__all__ = ["document_fields", "document_value", "key_to_id", "id_to_key"]

_ESCAPE = {"%": "%25", "/": "%2F", "\\": "%5C", "?": "%3F", "#": "%23", "\t": "%09", "\r": "%0D", "\n": "%0A"}
_SAFE_INT = 2**53


def key_to_id(key: str) -> str:
    """The document id of a state key."""
    doc_id = "".join(_ESCAPE.get(ch, ch) for ch in key) if any(ch in _ESCAPE for ch in key) else key
    return doc_id[:-1] + "%20" if doc_id.endswith(" ") else doc_id


def id_to_key(doc_id: str) -> str:
    """The state key of a document id (the inverse of :func:`key_to_id`)."""
    if "%" not in doc_id:
        return doc_id
    out, i = [], 0
    while i < len(doc_id):
        if doc_id[i] == "%":
            out.append(chr(int(doc_id[i + 1 : i + 3], 16)))
            i += 3
        else:
            out.append(doc_id[i])
            i += 1
    return "".join(out)


def _portable(value: Any) -> bool:
    """True when JSON ``value`` comes back from Cosmos DB (a JavaScript service) unchanged."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, int):
        return -_SAFE_INT <= value <= _SAFE_INT
    if isinstance(value, float):
        return not value.is_integer()
    if isinstance(value, list):
        return all(_portable(v) for v in value)
    return all(not k.isdigit() and _portable(v) for k, v in value.items())


def document_fields(value: bytes) -> dict[str, Any]:
    """The ``value``/``isBinary``/``rawValue`` fields that store ``value`` (see the module docstring)."""
    parsed = decode_document(value)
    if parsed is MISSING:
        return {"value": base64.b64encode(value).decode(), "isBinary": True}
    fields: dict[str, Any] = {"value": parsed, "isBinary": False}
    if not _portable(parsed) or orjson.dumps(parsed) != value:
        fields["rawValue"] = base64.b64encode(value).decode()
    return fields


def document_value(doc: dict[str, Any]) -> bytes:
    """The exact bytes stored in ``doc`` (written by :func:`document_fields`, or by Dapr)."""
    raw = doc.get("rawValue")
    if isinstance(raw, str):
        return base64.b64decode(raw)
    value = doc.get("value")
    if doc.get("isBinary") and isinstance(value, str):
        return base64.b64decode(value)
    return orjson.dumps(value)

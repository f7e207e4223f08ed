"""Dapr's ``keyPrefix``: how a state store lays out an application's keys.

Metadata ``keyPrefix`` (on every state store, default ``appid``) picks the prefix put before each
key, joined by ``||``, exactly as daprd does:

========================  ==============================================================
``appid`` (default)       ``<app id>||<key>``; no prefix when no app id is set
``name``                  ``<component name>||<key>``
``namespace``             ``<NAMESPACE>.<app id>||<key>`` (``$NAMESPACE``); ``<app id>||<key>``
                          when it is unset; no prefix without an app id
``none`` (or empty)       ``<key>``
anything else             that literal text: ``<literal>||<key>``
========================  ==============================================================

The app id is the one given to ``blockyard.open(..., app_id=...)`` (or set on the component as
``app_id`` before ``init()``). While a prefix applies, a key containing ``||`` is refused with
:class:`~blockyard.errors.InvalidRequestError` (Dapr refuses it too); a literal prefix containing
``||`` is refused at load. Keys handed back (``StateItem.key``, ``keys_like``, query results,
bulk errors) are the application's keys, without the prefix.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import field_validator

from blockyard.errors import InvalidRequestError
from blockyard.metadata import ComponentMetadata, meta

__all__ = ["SEPARATOR", "KeyPrefix", "KeyPrefixMetadata", "resolve_prefix"]

SEPARATOR = "||"


class KeyPrefixMetadata(ComponentMetadata):
    """The ``keyPrefix`` field every state store's metadata model carries."""

    key_prefix: str = meta(
        "appid", description="key prefix: appid, name, namespace, none, or a literal prefix (Dapr's rule)"
    )

    @field_validator("key_prefix")
    @classmethod
    def _no_separator(cls, value: str) -> str:
        if SEPARATOR in value:
            raise ValueError(f"expected appid, name, namespace, none or a literal without {SEPARATOR!r}")
        return value


def resolve_prefix(strategy: str, *, name: str, app_id: str | None, namespace: str | None = None) -> str:
    """The text put before every key (``""`` for none), separator included."""
    low = strategy.lower()
    if low in ("none", ""):
        return ""
    if low == "name":
        return name + SEPARATOR
    if low in ("appid", "namespace"):
        if not app_id:
            return ""
        ns = os.environ.get("NAMESPACE", "") if namespace is None else namespace
        if low == "namespace" and ns:
            return f"{ns}.{app_id}{SEPARATOR}"
        return app_id + SEPARATOR
    return strategy + SEPARATOR


class KeyPrefix:
    """Maps an application's keys to the stored keys and back; ``prefix == ""`` is the identity."""

    __slots__ = ("_component", "prefix")

    def __init__(self, prefix: str, component: str) -> None:
        self.prefix = prefix
        self._component = component

    def store(self, key: str) -> str:
        """The stored key of ``key``.

        :raises InvalidRequestError: ``key`` contains ``||`` while a prefix applies.
        """
        if not self.prefix:
            return key
        if SEPARATOR in key:
            raise InvalidRequestError(
                f"key can't contain {SEPARATOR!r} while keyPrefix applies", component=self._component, key=key
            )
        return self.prefix + key

    def app(self, stored: str) -> str:
        """The application's key of a stored key."""
        if self.prefix and stored.startswith(self.prefix):
            return stored[len(self.prefix) :]
        return stored

    def __repr__(self) -> str:
        return f"KeyPrefix({self.prefix!r})"


def with_key_prefix(model: Any) -> Any:
    """``model`` itself when it has ``key_prefix``, else a subclass of it and :class:`KeyPrefixMetadata`."""
    if "key_prefix" in model.model_fields:
        return model
    return type(model.__name__, (model, KeyPrefixMetadata), {"__module__": model.__module__, "__doc__": model.__doc__})

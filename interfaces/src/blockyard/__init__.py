"""Blockyard: Dapr-style building blocks (state, pub/sub, bindings, secret stores) for Python.

::

    import blockyard

    async with blockyard.open("components/") as yard:
        store = yard.state("statestore")
        await store.set("order-1", {"qty": 3})

Names are imported lazily so that ``import blockyard`` stays cheap.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing at run time

__version__ = "0.1.0"

_EXPORTS = {
    "open": "blockyard.yard",
    "Yard": "blockyard.yard",
    "load_component": "blockyard.resources",
    "load_resources": "blockyard.resources",
    "ComponentSpec": "blockyard.registry",
    "register": "blockyard.registry",
    "hookimpl": "blockyard.hookspecs",
    "get_registry": "blockyard.registry",
    "StateStore": "blockyard.state",
    "StateFeature": "blockyard.state",
    "StateItem": "blockyard.state",
    "SetRequest": "blockyard.state",
    "DeleteRequest": "blockyard.state",
    "PubSub": "blockyard.pubsub",
    "PubSubFeature": "blockyard.pubsub",
    "Message": "blockyard.pubsub",
    "HandlerResult": "blockyard.subscription",
    "Subscription": "blockyard.subscription",
    "InputBinding": "blockyard.bindings",
    "OutputBinding": "blockyard.bindings",
    "SecretStore": "blockyard.secretstores",
    "SecretStoreFeature": "blockyard.secretstores",
}

__all__ = [
    "ComponentSpec",
    "DeleteRequest",
    "HandlerResult",
    "InputBinding",
    "Message",
    "OutputBinding",
    "PubSub",
    "PubSubFeature",
    "SecretStore",
    "SecretStoreFeature",
    "SetRequest",
    "StateFeature",
    "StateItem",
    "StateStore",
    "Subscription",
    "Yard",
    "__version__",
    "get_registry",
    "hookimpl",
    "load_component",
    "load_resources",
    "open",
    "register",
]

if TYPE_CHECKING:
    from typing import Any

    from blockyard.bindings import InputBinding, OutputBinding
    from blockyard.hookspecs import hookimpl
    from blockyard.pubsub import Message, PubSub, PubSubFeature
    from blockyard.registry import ComponentSpec, get_registry, register
    from blockyard.resources import load_component, load_resources
    from blockyard.secretstores import SecretStore, SecretStoreFeature
    from blockyard.state import DeleteRequest, SetRequest, StateFeature, StateItem, StateStore
    from blockyard.subscription import HandlerResult, Subscription
    from blockyard.yard import Yard, open


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'blockyard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

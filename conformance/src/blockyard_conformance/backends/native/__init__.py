"""The table of native recipes: backend name -> module that defines its recipe.

Modules are imported lazily, so listing backends never imports a client library. A module
may be absent (``kafka``, ``cassandra`` come with their own recipes); such a backend is still
known, and reported as unavailable natively.
"""

from __future__ import annotations

import importlib
import inspect

from ..recipe import NativeRecipe

__all__ = ["KNOWN_BACKENDS", "load_recipe"]

# backend name -> module (relative to this package) holding a NativeRecipe subclass for it
_RECIPE_MODULES: dict[str, str] = {
    "redis": "redis",
    "redis-auth": "redis",
    "rabbitmq": "rabbitmq",
    "postgresql": "postgresql",
    "mariadb": "mariadb",
    "mosquitto": "mosquitto",
    "nats": "nats",
    "aws": "aws",
    "vault": "vault",
    "cosmosdb": "cosmosdb",
    "kafka": "kafka",
    "kafka-sasl": "kafka_sasl",
    "cassandra": "cassandra",
    "http-echo": "http_echo",
    "twilio": "twilio",
}

KNOWN_BACKENDS: tuple[str, ...] = tuple(_RECIPE_MODULES)


def load_recipe(backend: str) -> NativeRecipe | None:
    """An instance of the recipe for ``backend``, or ``None`` when its module is absent.

    A module may name its choice in ``RECIPES = {"kafka": KafkaRecipe}``; otherwise the
    first concrete :class:`NativeRecipe` subclass whose ``backend`` matches is used.

    Raises ``KeyError`` for a backend name that is not in the table.
    """
    module_name = _RECIPE_MODULES[backend]
    try:
        module = importlib.import_module(f"{__name__}.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{module_name}":
            return None
        raise
    preferred = getattr(module, "RECIPES", {}).get(backend)
    if isinstance(preferred, type) and issubclass(preferred, NativeRecipe):
        chosen: NativeRecipe = preferred()
        return chosen
    for _, obj in inspect.getmembers(module, inspect.isclass):
        if issubclass(obj, NativeRecipe) and not inspect.isabstract(obj) and getattr(obj, "backend", None) == backend:
            recipe: NativeRecipe = obj()
            return recipe
    return None

"""The table of recipes: backend name -> recipe, built in or brought by a plugin.

Built-in recipe modules are imported lazily, so listing backends never imports a client
library. A plugin adds backends with the ``blockyard_backend_recipes`` hook, returning
:class:`~blockyard_conformance.backends.recipe.NativeRecipe` subclasses (or instances); a
built-in name cannot be replaced. A built-in module may be absent (``kafka``, ``cassandra``
come with their own recipes); such a backend is still known, and reported as unavailable
natively.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from ..recipe import NativeRecipe

__all__ = ["BUILTIN_BACKENDS", "KNOWN_BACKENDS", "NATIVE_ONLY", "known_backends", "load_recipe", "plugin_recipes"]

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
    "kafka-mtls": "kafka_mtls",
    "cassandra": "cassandra",
    "http-echo": "http_echo",
    "twilio": "twilio",
}

BUILTIN_BACKENDS: tuple[str, ...] = tuple(_RECIPE_MODULES)
NATIVE_ONLY: dict[str, str] = {
    "kafka-mtls": "its certificate authority is made per working folder by the launcher",
}
"""Built-in backends without a Compose file, and why: only the launcher starts them."""
KNOWN_BACKENDS = BUILTIN_BACKENDS
"""The built-in names (plugins may add more: :func:`known_backends`)."""


def plugin_recipes() -> dict[str, type[NativeRecipe]]:
    """Recipes the installed plugins bring through ``blockyard_backend_recipes``, by backend name.

    Entries that are not ``NativeRecipe`` subclasses (or instances), have no ``backend`` name, or
    reuse a built-in name are ignored: a plugin adds backends, it never replaces one.
    """
    from blockyard.registry import get_registry

    found: dict[str, type[NativeRecipe]] = {}
    for entry in get_registry().iter_hook("blockyard_backend_recipes"):
        cls: Any = entry if isinstance(entry, type) else type(entry)
        if not (isinstance(cls, type) and issubclass(cls, NativeRecipe)) or inspect.isabstract(cls):
            continue
        name = getattr(cls, "backend", None)
        if isinstance(name, str) and name and name not in _RECIPE_MODULES:
            found.setdefault(name, cls)
    return found


def known_backends() -> tuple[str, ...]:
    """Every backend name: the built-in ones, then the plugins' in name order."""
    return BUILTIN_BACKENDS + tuple(sorted(plugin_recipes()))


def load_recipe(backend: str) -> NativeRecipe | None:
    """An instance of the recipe for ``backend``, or ``None`` when its module is absent.

    A module may name its choice in ``RECIPES = {"kafka": KafkaRecipe}``; otherwise the
    first concrete :class:`NativeRecipe` subclass whose ``backend`` matches is used.

    Raises ``KeyError`` for a backend name that neither the table nor a plugin knows.
    """
    if backend not in _RECIPE_MODULES:
        return plugin_recipes()[backend]()
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

"""Real backends for the conformance kit: find one, or start one, on loopback only.

Resolution order for a backend ``NAME`` (see :class:`~.launcher.Launcher`):

1. ``BLOCKYARD_<NAME>_URL`` in the environment (``redis-auth`` -> ``BLOCKYARD_REDIS_AUTH_URL``);
2. a server already listening on its standard port on 127.0.0.1, probed with the real client;
3. ``docker compose -f compose/<name>.yml up -d --wait`` (shipped in this package) when a Docker engine answers;
4. a native process started from the recipe in :mod:`.native`.

A backend that cannot be had raises :class:`BackendUnavailable` carrying the command that
would enable it. Command line: ``python -m blockyard_conformance.backends up|down|status|logs``.
"""

from __future__ import annotations

from .recipe import BackendUnavailable, Endpoint, NativeRecipe

__all__ = ["BackendUnavailable", "Endpoint", "NativeRecipe"]

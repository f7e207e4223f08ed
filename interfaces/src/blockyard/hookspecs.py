"""The pluggy hook specifications a Blockyard plugin implements.

A distribution registers one entry point in group ``blockyard`` that points at a *light* module
(importing no backend SDK) implementing some of these hooks::

    # pyproject.toml
    [project.entry-points.blockyard]
    redis = "blockyard_redis.plugin"

    # blockyard_redis/plugin.py
    from blockyard.hookspecs import hookimpl
    from blockyard.registry import ComponentSpec

    @hookimpl
    def blockyard_components():
        return [ComponentSpec("state", "redis", "blockyard_redis.state:RedisStateStore", features=(...))]

Other packages define further hooks (the conformance kit: ``blockyard_conformance_cases``,
``blockyard_backend_recipes``, in :mod:`blockyard_conformance.hookspecs`); implement those with
``@hookimpl(optionalhook=True)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from blockyard.registry import ComponentSpec

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("blockyard")
hookimpl = pluggy.HookimplMarker("blockyard")


@hookspec
def blockyard_components() -> list[ComponentSpec]:  # type: ignore[empty-body]
    """Return the specs of the components this plugin provides.

    A spec names its class by import path; the class is imported only when the component is used.
    """


@hookspec
def blockyard_cli_commands() -> list[Any]:  # type: ignore[empty-body]
    """Return click commands or groups to add to the ``blockyard`` command."""

"""The hooks the conformance kit defines; a plugin implements them as optional hooks.

The kit names this module in entry-point group ``blockyard.hookspecs``, so the registry knows these
hooks whenever the kit is installed. A plugin marks its implementations ``optionalhook=True`` so it
also loads where the kit is not installed::

    from blockyard.hookspecs import hookimpl

    @hookimpl(optionalhook=True)
    def blockyard_conformance_cases():
        return [Path(__file__).with_name("cases.yaml")]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from blockyard.hookspecs import hookspec

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["blockyard_backend_recipes", "blockyard_conformance_cases"]


@hookspec
def blockyard_conformance_cases() -> list[Path]:  # type: ignore[empty-body]
    """Return paths of conformance case files (YAML) for this plugin's components."""


@hookspec
def blockyard_backend_recipes() -> list[Any]:  # type: ignore[empty-body]
    """Return native backend recipes (``blockyard_conformance.backends.recipe.NativeRecipe``)."""

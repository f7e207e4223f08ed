"""Dapr ``scopes``: which apps may load a component.

A component whose ``scopes`` list is empty (or absent) is loaded by every app; one with ``scopes``
is loaded only by the apps whose id is in the list (exact, case-sensitive match, as in Dapr). Without
an app id nothing is filtered: every component is loaded, as before scopes were honoured.
"""

from __future__ import annotations

from collections.abc import Iterable

from blockyard.resources.model import ComponentResource

__all__ = ["in_scope", "scoped_out_reason", "split_by_scope"]


def in_scope(resource: ComponentResource, app_id: str | None) -> bool:
    """True when the app ``app_id`` may load ``resource`` (always, when ``app_id`` is ``None``)."""
    return app_id is None or not resource.scopes or app_id in resource.scopes


def split_by_scope(
    resources: Iterable[ComponentResource], app_id: str | None
) -> tuple[list[ComponentResource], dict[str, ComponentResource]]:
    """The resources ``app_id`` loads (in order), and the scoped-out ones by name."""
    kept: list[ComponentResource] = []
    out: dict[str, ComponentResource] = {}
    for res in resources:
        if in_scope(res, app_id):
            kept.append(res)
        else:
            out[res.name] = res
    return kept, out


def scoped_out_reason(resource: ComponentResource, app_id: str | None) -> str:
    """Why ``resource`` is not loaded by ``app_id``, naming its scopes."""
    return f"component {resource.name!r} is scoped to other apps ({', '.join(resource.scopes)}), not to {app_id!r}"

"""Build a component from Component YAML text, and read back what it was given."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from blockyard.component import Component
from blockyard.errors import ComponentConfigError
from blockyard.resources import create_component, parse_resources

__all__ = ["build_component", "given_properties", "secret_values"]


async def build_component(text: str, *, source: str) -> Component:
    """Create (not initialise) the one component ``text`` defines, as :mod:`blockyard.resources` does.

    :raises ComponentConfigError: malformed YAML, unknown type, invalid metadata, unresolvable
        ``secretKeyRef`` or ``envRef``.
    """
    found = parse_resources(text, source=source)
    if len(found) != 1:
        raise ComponentConfigError(f"expected exactly one Component, found {len(found)}", source=source)
    return await create_component(found[0])


def given_properties(component: Component) -> dict[str, Any]:
    """The metadata the component was given, by Dapr name, as parsed values (re-parseable)."""
    meta = component.meta
    fields = type(meta).model_fields
    return {(fields[n].alias or n): getattr(meta, n) for n in sorted(meta.model_fields_set) if n in fields}


def secret_values(component: Component) -> list[str]:
    """The sensitive (``SecretStr``) values the component holds, longest first."""
    values = []
    for name in type(component.meta).model_fields:
        value = getattr(component.meta, name, None)
        if isinstance(value, SecretStr) and value.get_secret_value():
            values.append(value.get_secret_value())
        elif isinstance(value, Mapping):
            values.extend(v.get_secret_value() for v in value.values() if isinstance(v, SecretStr))
    return sorted(set(values), key=len, reverse=True)

"""Build a component from Component YAML text, and read back what it was given."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import SecretStr

from blockyard.component import Component
from blockyard.errors import ComponentConfigError

__all__ = ["build_component", "given_properties", "secret_values"]


async def build_component(text: str, *, source: str) -> Component:
    """Create (not initialise) the one component ``text`` defines.

    Uses :mod:`blockyard.resources` (``secretKeyRef`` and ``envRef`` resolution) when installed;
    otherwise reads plain ``value`` and ``envRef`` entries itself.

    :raises ComponentConfigError: malformed YAML, unknown type, invalid metadata.
    """
    try:
        from blockyard import resources
    except ImportError:
        return _build_plain(text, source)
    found = resources.parse_resources(text, source=source)
    if len(found) != 1:
        raise ComponentConfigError(f"expected exactly one Component, found {len(found)}", source=source)
    return await resources.create_component(found[0])


def _build_plain(text: str, source: str) -> Component:
    from blockyard.registry import get_registry

    docs = [d for d in yaml.safe_load_all(text) if isinstance(d, dict) and d.get("kind", "Component") == "Component"]
    if len(docs) != 1:
        raise ComponentConfigError(f"expected exactly one Component, found {len(docs)}", source=source)
    doc = docs[0]
    spec = doc.get("spec") or {}
    name = (doc.get("metadata") or {}).get("name")
    props: dict[str, Any] = {}
    for i, item in enumerate(spec.get("metadata") or []):
        if not isinstance(item, dict) or "name" not in item:
            raise ComponentConfigError(f"spec.metadata[{i}] needs a name", source=source, component=name)
        if "secretKeyRef" in item:
            raise ComponentConfigError(
                f"spec.metadata[{i}] ({item['name']!r}): secretKeyRef needs blockyard.resources",
                source=source, component=name, field=str(item["name"]),
            )  # fmt: skip
        if "envRef" in item:
            props[item["name"]] = os.environ.get(str(item["envRef"]), "")
        else:
            value = item.get("value")
            props[item["name"]] = "" if value is None else value if isinstance(value, str) else str(value)
    return get_registry().create(str(spec.get("type")), props, name=name, version=spec.get("version"))


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

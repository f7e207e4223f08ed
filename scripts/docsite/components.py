"""One page per registered component, generated from its spec, its class and its metadata model.

Components come from :mod:`blockyard.registry` (entry points, so a third-party plugin installed next
to Blockyard gets its pages the same way); the metadata table, features and capabilities from
:func:`blockyard.cli.dapr_component_schema` — the same document ``blockyard schema --format dapr``
prints — so a page says exactly what the model says.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import yaml

from blockyard.cli import dapr_component_schema
from blockyard.kinds import ComponentKind
from blockyard.registry import KNOWN_DISTRIBUTIONS, ComponentSpec, Registry
from docsite.rst import rst_to_markdown
from docsite.tables import table

__all__ = ["ComponentPage", "component_pages", "example_component", "page_path"]

INDEX = "components/index.md"


@dataclass(frozen=True, slots=True)
class ComponentPage:
    """A generated page: where it goes, its Markdown, and the component it documents."""

    path: str
    title: str
    markdown: str
    spec: ComponentSpec


def page_path(spec: ComponentSpec) -> str:
    """``components/state.redis.md`` (``components/state.redis-v2.md`` for another version)."""
    suffix = "" if spec.version == "v1" else f"-{spec.version}"
    return f"components/{spec.type}{suffix}.md"


def distribution_of(spec: ComponentSpec) -> str | None:
    """The distribution that installs ``spec`` (``None``: registered in-process, not installable)."""
    return spec.distribution or KNOWN_DISTRIBUTIONS.get(spec.type)


def component_pages(registry: Registry) -> list[ComponentPage]:
    """A page per component ``registry`` knows, in list order.

    :raises RuntimeError: when a plugin failed to load or a component class cannot be imported
        (the site would silently lack its pages).
    """
    specs = registry.specs()
    if registry.failures:
        failed = "; ".join(f"{f.entry_point} ({f.distribution}): {f.error}" for f in registry.failures)
        raise RuntimeError(f"plugins failed to load, their components would have no page: {failed}")
    return [_page(spec, registry.resolve(spec.type, spec.version)) for spec in specs]


def components_index(pages: list[ComponentPage]) -> str:
    """The components overview: one table per building block, linking every page."""
    lines = [
        "# Components",
        "",
        "Every component registered by an installed distribution, generated from its model.",
        "",
    ]
    for kind in ComponentKind.names():
        of_kind = [p for p in pages if p.spec.kind == kind]
        if not of_kind:
            continue
        lines += [f"## {kind}", ""]
        rows = [
            (
                f"[{p.spec.type}]({p.path.removeprefix('components/')})",
                p.spec.version,
                p.spec.status,
                ", ".join(p.spec.features) or "—",
                distribution_of(p.spec) or "—",
            )
            for p in of_kind
        ]
        lines += [*table(("type", "version", "status", "features", "distribution"), rows), ""]
    return "\n".join(lines)


def _page(spec: ComponentSpec, cls: type[Any]) -> ComponentPage:
    schema = dapr_component_schema(spec, cls)
    model = cls.Metadata
    doc = (cls.__doc__ or "").strip()
    summary = spec.description or (doc.splitlines()[0] if doc else "")
    distribution = distribution_of(spec)
    lines = [f"# {spec.type}", ""]
    if summary:
        lines += [rst_to_markdown(summary).strip(), ""]
    facts = [
        ("type", f"`{spec.type}`"),
        ("version", spec.version),
        ("status", spec.status),
        ("distribution", f"`{distribution}`" if distribution else "registered in-process (no distribution)"),
        ("class", f"`{spec.target.replace(':', '.')}`"),
    ]
    if spec.aliases:
        facts.append(("aliases", ", ".join(f"`{spec.kind}.{a}`" for a in spec.aliases)))
    lines += [*table(("", ""), facts), ""]
    if distribution:
        lines += ["## Install", "", "```sh", f"pip install {distribution}", "```", ""]
    lines += _features(spec, cls, schema)
    lines += _metadata(schema["metadata"], model)
    lines += ["## Component YAML", "", "```yaml", example_component(spec, schema["metadata"]).rstrip(), "```", ""]
    guide = importlib.import_module(cls.__module__).__doc__
    if guide:
        lines += ["## Guide", "", f"From the module `{cls.__module__}`:", "", rst_to_markdown(guide)]
    return ComponentPage(page_path(spec), spec.type, "\n".join(lines).rstrip() + "\n", spec)


def _features(spec: ComponentSpec, cls: type[Any], schema: dict[str, Any]) -> list[str]:
    features = [str(getattr(f, "value", f)) for f in sorted(getattr(cls, "features", ()))] or list(spec.features)
    lines = ["## Features", ""]
    if features:
        lines += [f"- `{f}`" for f in features]
    else:
        lines.append("No optional features declared: the kit checks that each one raises `NotSupportedError`.")
    binding = schema.get("binding")
    if binding:
        direction = " and ".join(d for d in ("input", "output") if binding[d]) or "none"
        lines += ["", f"Binding direction: {direction}."]
        operations = [op["name"] for op in binding["operations"]]
        if operations:
            lines.append("Output operations: " + ", ".join(f"`{op}`" for op in operations) + ".")
    return [*lines, ""]


def _metadata(entries: list[dict[str, Any]], model: Any) -> list[str]:
    lines = ["## Metadata", ""]
    if not entries:
        return [*lines, "This component takes no metadata.", ""]
    rows = [
        (
            f"`{e['name']}`",
            e["type"],
            f"`{e['default']}`" if "default" in e else "",
            "yes" if e.get("required") else "",
            "yes" if e.get("sensitive") else "",
            e.get("description", "")
            + (f" Also accepted: {', '.join(e['aliases'])}." if e.get("aliases") else "")
            + (f" One of: {', '.join(map(str, e['allowedValues']))}." if e.get("allowedValues") else ""),
        )
        for e in entries
    ]
    lines += [*table(("name", "type", "default", "required", "sensitive", "description"), rows), ""]
    unsupported = getattr(model, "unsupported", {}) or {}
    if unsupported:
        lines += ["Defined by Dapr, not implemented here (rejected when given):", ""]
        lines += [f"- `{name}`: {why}" for name, why in unsupported.items()]
        lines.append("")
    return lines


def example_component(spec: ComponentSpec, entries: list[dict[str, Any]]) -> str:
    """A Component document for ``spec``: its required fields and the fields with an example;
    sensitive ones as ``secretKeyRef`` into a secret store named ``secrets``."""
    metadata: list[dict[str, Any]] = []
    secret = False
    for e in entries:
        if not (e.get("required") or "example" in e or e.get("sensitive")):
            continue
        if e.get("sensitive"):
            secret = True
            metadata.append({"name": e["name"], "secretKeyRef": {"name": e["name"], "key": e["name"]}})
        else:
            value = e.get("example", e.get("default", f"<{e['name']}>"))
            metadata.append({"name": e["name"], "value": str(value)})
    document: dict[str, Any] = {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": f"my-{spec.kind}"},
        "spec": {"type": spec.type, "version": spec.version, "metadata": metadata},
    }
    if secret:
        document["auth"] = {"secretStore": "secrets"}
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)

"""Creating and initialising the components that resources describe."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from blockyard.errors import (
    BackendUnavailableError,
    BlockyardError,
    ComponentConfigError,
    ComponentNotFoundError,
    SecretNotFoundError,
)
from blockyard.problems import Problem
from blockyard.resources.loading import load_resources, names, parse_resources
from blockyard.resources.model import ComponentResource, MetadataItem
from blockyard.resources.ordering import dependency_chain

if TYPE_CHECKING:
    from blockyard.component import Component
    from blockyard.registry import Registry
    from blockyard.secretstores import SecretStore

__all__ = ["create_component", "init_component", "load_component", "metadata_problems", "start_component"]

_log = logging.getLogger("blockyard.resources")


async def create_component(
    resource: ComponentResource,
    *,
    secret_stores: Mapping[str, SecretStore] | None = None,
    registry: Registry | None = None,
    app_id: str | None = None,
) -> Component:
    """Construct (not initialise) the component ``resource`` describes, for the app ``app_id``.

    ``secretKeyRef`` values are read from ``secret_stores[resource.secret_store]`` (an initialised
    store), ``envRef`` values from the environment; ``{uuid}`` becomes a fresh uuid4.

    :raises ComponentNotFoundError: no installed plugin provides ``spec.type`` (names what to install).
    :raises ComponentConfigError: listing every unresolvable reference and invalid metadata field.
    """
    cls = resolve_type(resource, registry)
    properties, problems = await _resolve_properties(resource, secret_stores or {})
    if problems:
        raise ComponentConfigError.from_problems(problems)
    try:
        component = cls(properties, name=resource.name)
        component.app_id = app_id
        return component
    except ComponentConfigError as exc:
        raise ComponentConfigError.from_problems(metadata_problems(resource, exc.details)) from None
    except (ValueError, TypeError) as exc:
        problem = Problem(f"invalid metadata: {type(exc).__name__}: {exc}", resource.path, resource.line, resource.name)
        raise ComponentConfigError.from_problems([problem]) from None


def resolve_type(resource: ComponentResource, registry: Registry | None = None) -> type[Component]:
    """The class of ``resource.type``.

    :raises ComponentNotFoundError: naming the file, line and component, and what to install.
    """
    if registry is None:
        from blockyard.registry import get_registry

        registry = get_registry()
    try:
        return registry.resolve(resource.type, resource.version)
    except ComponentNotFoundError as exc:
        problem = type_problem(resource, exc)
        raise ComponentNotFoundError.from_problems([problem]) from None


def type_problem(resource: ComponentResource, exc: ComponentNotFoundError) -> Problem:
    """The problem of a ``spec.type`` no installed plugin provides, at its line."""
    line = resource.line_of("spec.type")
    return Problem(f"spec.type: {exc.message}", resource.path, line, resource.name, "spec.type", code="unknown-type")


def metadata_problems(resource: ComponentResource, found: Iterable[Problem]) -> list[Problem]:
    """A metadata model's problems placed in ``resource``: its file, the line of each field, its name."""
    out = []
    for p in found:
        line = resource.line_of(p.field) if p.field else resource.line_of("spec.metadata")
        if line == resource.line and p.field:
            line = resource.line_of("spec.metadata")
        out.append(p.replace(message=f"metadata {p.message}", file=resource.path, line=line, component=resource.name))
    return out


async def _resolve_properties(
    resource: ComponentResource, secret_stores: Mapping[str, SecretStore]
) -> tuple[dict[str, Any], list[Problem]]:
    properties: dict[str, Any] = {}
    problems: list[Problem] = []
    fresh_uuid: str | None = None
    secrets: dict[str, dict[str, str] | None] = {}
    for item in resource.metadata:

        def problem(text: str, item: MetadataItem = item) -> None:
            message = f"metadata {item.name!r}: {text}"
            problems.append(Problem(message, resource.path, item.line, resource.name, item.name))

        if item.secret_key_ref is not None:
            ref = item.secret_key_ref
            store_name = resource.secret_store or ""
            store = secret_stores.get(store_name)
            if store is None:
                available = ", ".join(sorted(secret_stores)) or "none"
                problem(
                    f"secretKeyRef needs secret store {store_name!r} (auth.secretStore), which is not loaded; "
                    f"loaded secret stores: {available}"
                )
                continue
            if ref.name not in secrets:
                try:
                    secrets[ref.name] = await store.get_secret(ref.name)
                except SecretNotFoundError:
                    secrets[ref.name] = None
                except BlockyardError as exc:
                    problem(
                        f"cannot read secret {ref.name!r} from secret store {store_name!r}: "
                        f"{type(exc).__name__}: {exc.message}"
                    )
                    continue
            secret = secrets[ref.name]
            if secret is None:
                problem(f"secret {ref.name!r} (secretKeyRef) does not exist in secret store {store_name!r}")
            elif ref.key not in secret:
                keys = ", ".join(sorted(secret)) or "none"
                problem(f"secret {ref.name!r} in secret store {store_name!r} has no key {ref.key!r}; its keys: {keys}")
            else:
                properties[item.name] = secret[ref.key]
        elif item.env_ref is not None:
            env = os.environ.get(item.env_ref)
            if env is None:
                problem(f"environment variable {item.env_ref!r} (envRef) is not set")
            else:
                properties[item.name] = env
        else:
            value = item.value
            if isinstance(value, tuple):
                properties[item.name] = list(value)
            elif value is not None and "{uuid}" in value:
                fresh_uuid = fresh_uuid or str(uuid.uuid4())
                properties[item.name] = value.replace("{uuid}", fresh_uuid)
            else:
                properties[item.name] = value if value is not None else ""
    return properties, problems


async def init_component(component: Component, resource: ComponentResource) -> None:
    """``await component.init()``, bounded by the resource's ``spec.initTimeout`` when it has one.

    :raises BackendUnavailableError: when ``init()`` outlasts ``spec.initTimeout`` (the component is closed).
    """
    if resource.init_timeout is None:
        await component.init()
        return
    try:
        await asyncio.wait_for(component.init(), resource.init_timeout)
    except TimeoutError:
        await component.close()
        raise BackendUnavailableError(
            f"init did not finish within spec.initTimeout ({resource.init_timeout:g}s)",
            component=resource.name,
            operation="init",
        ) from None


async def start_component(
    resource: ComponentResource,
    *,
    secret_stores: Mapping[str, SecretStore] | None = None,
    registry: Registry | None = None,
    app_id: str | None = None,
) -> Component:
    """Create and initialise the component ``resource`` describes; closed again if ``init()`` fails.

    :raises ComponentConfigError: see :func:`create_component`.
    :raises BlockyardError: if ``init()`` fails.
    """
    component = await create_component(resource, secret_stores=secret_stores, registry=registry, app_id=app_id)
    try:
        await init_component(component, resource)
    except BaseException:
        await close_quietly(component)
        raise
    return component


async def close_quietly(component: Component) -> None:
    """Close ``component``; a failure is logged (by type, never its text), not raised."""
    try:
        await component.close()
    except Exception as exc:
        _log.warning("closing component %r failed: %s", component.name, type(exc).__name__)


async def load_component(
    source: ComponentResource | str | os.PathLike[str],
    *,
    name: str | None = None,
    secret_stores: Mapping[str, SecretStore] | None = None,
    registry: Registry | None = None,
) -> Component:
    """Create and initialise one component from a resource, a file, a folder or YAML text.

    ``name`` picks the component when the source defines several. Secret stores it references
    that are defined in the same source (and not given in ``secret_stores``) are opened just long
    enough to resolve its ``secretKeyRef`` values, then closed.

    :raises ComponentConfigError: for any problem of the definition (see :func:`create_component`).
    :raises BlockyardError: if ``init()`` fails (the component is closed again).
    """
    if isinstance(source, ComponentResource):
        resources = [source]
    elif isinstance(source, str) and ("\n" in source or source.lstrip().startswith(("apiVersion", "kind", "{"))):
        resources = parse_resources(source)
    else:
        resources = load_resources(source)
    if name is not None:
        chosen = next((r for r in resources if r.name == name), None)
        if chosen is None:
            raise ComponentConfigError(f"no component named {name!r}; defined: {names(resources)}", component=name)
    elif len(resources) == 1:
        chosen = resources[0]
    else:
        raise ComponentConfigError(
            f"the source defines {len(resources)} components ({names(resources)}); pass name= to pick one"
        )
    stores: dict[str, SecretStore] = dict(secret_stores or {})
    temporary: list[Component] = []
    try:
        for res in dependency_chain(chosen, resources, set(stores)):
            store = await start_component(res, secret_stores=stores, registry=registry)
            temporary.append(store)
            stores[res.name] = store  # type: ignore[assignment]
        component = await create_component(chosen, secret_stores=stores, registry=registry)
    finally:
        for store in reversed(temporary):
            await close_quietly(store)
    try:
        await init_component(component, chosen)
    except BaseException:
        await component.close()
        raise
    return component

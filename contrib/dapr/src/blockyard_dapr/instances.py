"""The components one socket serves, by the instance name daprd gives them.

daprd multiplexes every Component of one pluggable type over one socket and names the instance a
call is for in the ``x-component-instance`` gRPC metadata (the Component's ``metadata.name``).
``Init`` creates (or attaches) the instance; every later call looks it up.

Two sources of components:

- :class:`TypeSource` (``blockyard serve --type state.redis``): ``Init`` builds a new component of
  that type from the metadata daprd sends, through the component's own metadata model — the same
  parser a Component YAML file goes through.
- :class:`YardSource` (``blockyard serve components/``): the Component files are the configuration;
  their components are created and initialised when serving starts, and daprd's ``Init`` attaches
  to the one with the same name. daprd may then send no metadata (one source of truth).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Generic, Protocol, TypeVar, cast

import grpc

from blockyard.component import Component
from blockyard.errors import ComponentConfigError, InvalidRequestError
from blockyard.registry import Registry, get_registry
from blockyard.yard import Yard

__all__ = ["INSTANCE_HEADER", "ComponentSource", "Instances", "TypeSource", "YardSource"]

INSTANCE_HEADER = "x-component-instance"

C = TypeVar("C", bound=Component)
_log = logging.getLogger("blockyard.dapr")


class ComponentSource(Protocol):
    """Where the served components come from."""

    async def acquire(self, instance: str, properties: Mapping[str, str]) -> tuple[Component, bool]:
        """The component for ``instance``, and whether the caller owns (must close) it.

        :raises ComponentConfigError: the instance cannot be served with these properties.
        """
        ...


class TypeSource:
    """Builds and initialises a new component of one Blockyard type for each ``Init``."""

    def __init__(self, type_: str, version: str | None = None, *, registry: Registry | None = None) -> None:
        self.type = type_
        self.component_class = (registry or get_registry()).resolve(type_, version)

    async def acquire(self, instance: str, properties: Mapping[str, str]) -> tuple[Component, bool]:
        component = self.component_class(dict(properties), name=instance)
        try:
            await component.init()
        except BaseException:
            await component.close()
            raise
        return component, True


class YardSource:
    """Hands out the components ``names`` of a started :class:`~blockyard.yard.Yard`."""

    def __init__(self, yard: Yard, names: Iterable[str], origin: str) -> None:
        self._yard = yard
        self._names = frozenset(names)
        self._origin = origin

    async def acquire(self, instance: str, properties: Mapping[str, str]) -> tuple[Component, bool]:
        if instance not in self._names:
            served = ", ".join(sorted(self._names)) or "none"
            raise ComponentConfigError(
                f"no component named {instance!r} in {self._origin} (served: {served})", component=instance
            )
        if properties:
            names = ", ".join(sorted(properties))
            raise ComponentConfigError(
                f"component {instance!r} is configured by {self._origin}; daprd's Component file must not "
                f"set metadata for it too (got: {names}) — or serve it with --type",
                component=instance,
            )
        return self._yard.get(instance), False


class Instances(Generic[C]):
    """The live components of one kind on one socket."""

    def __init__(self, kind: type, source: ComponentSource) -> None:
        """``kind``: the building block's base class (``StateStore``...), checked on every ``Init``."""
        self._kind = kind
        self._source = source
        self._live: dict[str, tuple[C, bool]] = {}
        self._lock = asyncio.Lock()

    async def init(self, context: grpc.aio.ServicerContext[object, object], properties: Mapping[str, str]) -> C:
        """Create (or attach) the instance ``context`` names; a repeated ``Init`` replaces it."""
        name = self.instance_name(context)
        async with self._lock:
            component, owned = await self._source.acquire(name, properties)
            if not isinstance(component, self._kind):
                if owned:
                    await component.close()
                raise ComponentConfigError(
                    f"component {name!r} is a {component.type}, not a {self._kind.__name__}", component=name
                )
            previous = self._live.get(name)
            self._live[name] = (cast(C, component), owned)
        if previous is not None and previous[1] and previous[0] is not component:
            await previous[0].close()
        _log.info("serving %s as %r", component.type, name)
        return self._live[name][0]

    def get(self, context: grpc.aio.ServicerContext[object, object]) -> C:
        """The instance a call is for.

        :raises InvalidRequestError: the instance was never initialised.
        """
        name = self.instance_name(context)
        entry = self._live.get(name)
        if entry is None:
            raise InvalidRequestError(f"component {name!r} was not initialised (daprd calls Init first)")
        return entry[0]

    def instance_name(self, context: grpc.aio.ServicerContext[object, object]) -> str:
        """daprd's name for the instance: the ``x-component-instance`` header, else the only one."""
        for key, value in context.invocation_metadata() or ():
            if key == INSTANCE_HEADER:
                return value if isinstance(value, str) else value.decode()
        if len(self._live) == 1:
            return next(iter(self._live))
        return ""

    async def close(self) -> None:
        """Close every instance this socket created (attached ones belong to their yard)."""
        live, self._live = self._live, {}
        for component, owned in live.values():
            if owned:
                await component.close()

"""A yard: every component of a resource folder, initialised together and closed together.

::

    import blockyard

    async with blockyard.open("components/") as yard:
        store = yard.state("statestore")
        await store.set("order-1", {"qty": 3})
        await yard.pubsub("pubsub").publish("orders", {"id": 1})

Guarantees:

- Every definition is loaded and checked before anything connects; all problems are reported at
  once (:class:`~blockyard.errors.ComponentConfigError`).
- ``kind: Resiliency`` documents in the same files put the components they target under their
  timeouts, retries and circuit breakers (:mod:`blockyard.resiliency`) as each is initialised
  (``init()`` itself is bounded by ``spec.initTimeout``, not by these policies).
- Components are initialised one at a time in dependency order: a secret store named by another
  component's ``auth.secretStore`` (and, recursively, the store that store reads from) comes
  before it. A cycle is a configuration error.
- A component with ``spec.ignoreErrors: true`` whose creation or ``init()`` fails is logged and
  left out; any other failure closes everything opened so far, then raises.
- Closing closes every component in reverse order, attempting each even if another fails.
- ``yard.state(name)`` / ``pubsub`` / ``secrets`` / ``output_binding`` / ``input_binding`` /
  ``binding`` return a component by name and kind; an unknown name or wrong kind raises
  :class:`~blockyard.errors.ComponentNotFoundError` listing what exists.
- Dapr ``scopes``: with ``app_id="checkout"``, a component whose ``scopes`` list other apps only is
  neither created nor started; asking for it raises :class:`~blockyard.errors.ComponentNotFoundError`
  saying it is scoped to other apps, and a component reading its secrets from it is a configuration
  error. Components without ``scopes`` are loaded by every app. Without ``app_id`` every component is
  loaded (a component that has ``scopes`` is logged as loaded unscoped).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Self, cast

from blockyard.component import Component
from blockyard.errors import BackendError, ComponentConfigError, ComponentNotFoundError
from blockyard.resiliency import AppliedPolicies, Resiliency, apply_resiliency, load_resiliency
from blockyard.resources.creating import start_component
from blockyard.resources.loading import PathArg, check_unique_names, load_resources
from blockyard.resources.model import ComponentResource
from blockyard.resources.ordering import order_resources
from blockyard.resources.scoping import scoped_out_reason, split_by_scope

if TYPE_CHECKING:
    from blockyard.bindings import InputBinding, OutputBinding
    from blockyard.pubsub import PubSub
    from blockyard.registry import Registry
    from blockyard.secretstores import SecretStore
    from blockyard.state import StateStore

__all__ = ["Yard", "open"]

_log = logging.getLogger("blockyard.yard")


class Yard:
    """The named, initialised components of one or more resource files or folders.

    Use it as ``async with Yard(paths) as yard`` (or :func:`open`), or call :meth:`start` and
    :meth:`close` yourself. ``resiliency`` gives the policies directly (with ``resources=``, say);
    otherwise the ``kind: Resiliency`` documents of ``paths`` are used.
    """

    def __init__(
        self,
        paths: PathArg | None = None,
        *,
        resources: Iterable[ComponentResource] | None = None,
        registry: Registry | None = None,
        app_id: str | None = None,
        resiliency: Resiliency | None = None,
    ) -> None:
        """``app_id``: this app's Dapr app id; components scoped to other apps are not loaded."""
        if app_id is not None and (not isinstance(app_id, str) or not app_id):
            raise ComponentConfigError(f"app_id must be a non-empty string, got {app_id!r}")
        self.app_id = app_id
        self._paths = paths
        self._resources = list(resources) if resources is not None else None
        self._resiliency = resiliency
        self._policies: dict[str, AppliedPolicies] = {}
        self._registry = registry
        self._components: dict[str, Component] = {}
        self._types: dict[str, str] = {}
        self._scoped_out: dict[str, ComponentResource] = {}
        self._started = False
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> Self:
        """Load, order, create and initialise every component.

        :raises ComponentConfigError: for any problem in the definitions (nothing was opened).
        :raises BlockyardError: if a component fails to initialise (everything opened is closed).
        """
        if self._started:
            raise RuntimeError("this yard was already started")
        self._started = True
        resources = self._resources
        if resources is None:
            resources = load_resources(self._paths) if self._paths is not None else []
        else:
            check_unique_names(resources)
        resources = self._apply_scopes(resources)
        if self._resiliency is None and self._paths is not None:
            self._resiliency = load_resiliency(self._paths)
        ordered = order_resources(resources)
        stores: dict[str, SecretStore] = {}
        from blockyard.secretstores import SecretStore

        try:
            for res in ordered:
                try:
                    component = await start_component(
                        res, secret_stores=stores, registry=self._registry, app_id=self.app_id
                    )
                except Exception as exc:
                    if not res.ignore_errors:
                        raise
                    _log.warning("component %r left out (spec.ignoreErrors): %s", res.name, exc)
                    continue
                self._components[res.name] = component
                self._types[res.name] = res.type
                applied = apply_resiliency(component, self._resiliency) if self._resiliency is not None else None
                if applied is not None:
                    self._policies[res.name] = applied
                if isinstance(component, SecretStore):
                    stores[res.name] = component
        except BaseException:
            await self._close_all(raise_errors=False)
            raise
        _log.debug("yard open: %s", ", ".join(self._components) or "no components")
        return self

    def _apply_scopes(self, resources: list[ComponentResource]) -> list[ComponentResource]:
        """The resources this app loads; remembers the scoped-out ones for a clear error on access."""
        kept, self._scoped_out = split_by_scope(resources, self.app_id)
        for res in self._scoped_out.values():
            _log.debug("%s: not loaded", scoped_out_reason(res, self.app_id))
        for res in kept:
            if res.secret_store in self._scoped_out:
                store = self._scoped_out[res.secret_store]
                raise ComponentConfigError(
                    f"auth.secretStore: {scoped_out_reason(store, self.app_id)}; "
                    f"component {res.name!r} cannot read its secrets from it",
                    component=res.name,
                )
            if self.app_id is None and res.scopes:
                _log.warning(
                    "component %r has scopes (%s) but no app_id was given: loaded for any app",
                    res.name,
                    ", ".join(res.scopes),
                )
        return kept

    async def close(self) -> None:
        """Close every component in reverse order of initialisation. Idempotent.

        :raises BackendError: after every close was attempted, if any failed (naming each).
        """
        await self._close_all(raise_errors=True)

    async def _close_all(self, *, raise_errors: bool) -> None:
        if self._closed:
            return
        self._closed = True
        failures: list[tuple[str, BaseException]] = []
        for name, component in reversed(list(self._components.items())):
            try:
                await component.close()
            except Exception as exc:
                _log.warning("closing component %r failed: %s", name, type(exc).__name__)
                failures.append((name, exc))
        if failures and raise_errors:
            detail = "; ".join(f"{n} ({type(e).__name__}: {e})" for n, e in failures)
            err = BackendError(f"closing {len(failures)} component(s) failed: {detail}", operation="close")
            raise err from failures[0][1]

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # When the block already failed, a close failure is only logged, so it does not hide that.
        await self._close_all(raise_errors=exc is None)

    # -- access ------------------------------------------------------------------------------

    @property
    def components(self) -> Mapping[str, Component]:
        """Every initialised component by name, in initialisation order (read-only)."""
        return MappingProxyType(self._components)

    def __iter__(self) -> Iterator[str]:
        return iter(self._components)

    def __len__(self) -> int:
        return len(self._components)

    def __contains__(self, name: object) -> bool:
        return name in self._components

    def policies(self, name: str) -> AppliedPolicies | None:
        """The resiliency policies component ``name`` runs under (``None``: none), e.g. to read a breaker's state."""
        self.get(name)
        return self._policies.get(name)

    def get(self, name: str) -> Component:
        """The component called ``name``, whatever its kind."""
        self._check_open()
        component = self._components.get(name)
        if component is None:
            scoped = self._scoped_out.get(name)
            if scoped is not None:
                raise ComponentNotFoundError(
                    f"{scoped_out_reason(scoped, self.app_id)}: it was not loaded; the yard has: {self._inventory()}",
                    component=name,
                )
            raise ComponentNotFoundError(f"no component named {name!r}; the yard has: {self._inventory()}")
        return component

    def state(self, name: str) -> StateStore:
        """The state store called ``name``."""
        from blockyard.state import StateStore

        return cast("StateStore", self._typed(name, StateStore, "a state store"))

    def pubsub(self, name: str) -> PubSub:
        """The pub/sub component called ``name``."""
        from blockyard.pubsub import PubSub

        return cast("PubSub", self._typed(name, PubSub, "a pub/sub component"))

    def secrets(self, name: str) -> SecretStore:
        """The secret store called ``name``."""
        from blockyard.secretstores import SecretStore

        return cast("SecretStore", self._typed(name, SecretStore, "a secret store"))

    def output_binding(self, name: str) -> OutputBinding:
        """The output binding called ``name``."""
        from blockyard.bindings import OutputBinding

        return cast("OutputBinding", self._typed(name, OutputBinding, "an output binding"))

    def input_binding(self, name: str) -> InputBinding:
        """The input binding called ``name``."""
        from blockyard.bindings import InputBinding

        return cast("InputBinding", self._typed(name, InputBinding, "an input binding"))

    def binding(self, name: str) -> Any:
        """The binding called ``name`` (input, output or both); see also the typed accessors."""
        from blockyard.bindings import InputBinding, OutputBinding

        return self._typed(name, (InputBinding, OutputBinding), "a binding")

    def _typed(self, name: str, cls: Any, what: str) -> Any:
        component = self.get(name)
        if not isinstance(component, cls):
            same = sorted(n for n, c in self._components.items() if isinstance(c, cls))
            raise ComponentNotFoundError(
                f"component {name!r} is a {self._types.get(name, component.type)} component, not {what}; "
                f"{what.split(' ', 1)[1]}s in the yard: {', '.join(same) or 'none'}",
                component=name,
            )
        return component

    def _check_open(self) -> None:
        if not self._started:
            raise ComponentConfigError("the yard is not open; use 'async with blockyard.open(...) as yard'")
        if self._closed:
            raise ComponentConfigError("the yard is closed")

    def _inventory(self) -> str:
        if not self._components:
            return "no components"
        return ", ".join(f"{n} ({self._types[n]})" for n in sorted(self._components))

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._started else "new"
        return f"<Yard {state} components={list(self._components)}>"


def open(path_or_paths: PathArg, *, registry: Registry | None = None, app_id: str | None = None) -> Yard:
    """The yard of every component (and Resiliency policy) in a file, a folder, or several of these.

    Use as ``async with blockyard.open("components/") as yard:``; components are loaded and
    initialised on entry, closed on exit. ``app_id`` is the application's id, as daprd's
    ``--app-id``: only the components scoped to that app (or not scoped at all) are loaded, state
    keys get its ``<app_id>||`` prefix (``keyPrefix``) and published events carry it as ``source``.
    """
    return Yard(path_or_paths, registry=registry, app_id=app_id)

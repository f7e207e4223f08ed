"""Plugin discovery: entry points -> component specs -> classes, imported lazily.

Every distribution in entry-point group ``blockyard`` is loaded as a pluggy plugin; its
``blockyard_components`` hook returns :class:`ComponentSpec` objects. Other packages add hooks of
their own by naming a module of hook specifications in entry-point group ``blockyard.hookspecs``
(the conformance kit does); a plugin marks its implementations of such hooks
``@hookimpl(optionalhook=True)`` so that it loads whether or not that package is installed. Listing components never
imports a component class (so never a backend SDK); :meth:`Registry.resolve` imports one when it is
used. A plugin that fails to import is recorded in :attr:`Registry.failures` and the others keep
working. Set ``BLOCKYARD_DISABLE_PLUGIN_AUTOLOAD=1`` to skip entry points (tests, embedding).

In-process components (tests, applications) are added with :func:`register`::

    register(ComponentSpec("state", "mine", "myapp.store:MyStore"))
"""

from __future__ import annotations

import difflib
import importlib
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

import pluggy

from blockyard import hookspecs
from blockyard.contract import check_plugin_contract, install_hint
from blockyard.errors import ComponentNotFoundError
from blockyard.kinds import ComponentKind

if TYPE_CHECKING:
    from blockyard.component import Component

__all__ = [
    "KNOWN_DISTRIBUTIONS",
    "ComponentSpec",
    "PluginFailure",
    "Registry",
    "get_registry",
    "register",
]

ENTRY_POINT_GROUP = "blockyard"
HOOKSPEC_GROUP = "blockyard.hookspecs"
"""Entry-point group of modules with further hook specifications (the conformance kit's)."""

#: First-party component types and the distribution that provides each, for "pip install" hints.
#: Only distributions that exist are named; ``tests/core/test_core_registry.py`` checks this table
#: against the plugins of every ``contrib/*`` distribution.
KNOWN_DISTRIBUTIONS: Mapping[str, str] = {
    **dict.fromkeys(
        (
            "state.in-memory",
            "state.sqlite",
            "pubsub.in-memory",
            "secretstores.local.file",
            "secretstores.local.env",
            "bindings.localstorage",
            "bindings.cron",
            "bindings.http",
        ),
        "blockyard-local",
    ),
    **dict.fromkeys(("state.redis", "pubsub.redis", "bindings.redis"), "blockyard-redis"),
    **dict.fromkeys(("pubsub.rabbitmq", "bindings.rabbitmq"), "blockyard-rabbitmq"),
    "secretstores.hashicorp.vault": "blockyard-vault",
    **dict.fromkeys(("pubsub.kafka", "bindings.kafka"), "blockyard-kafka"),
    "state.cassandra": "blockyard-cassandra",
    "bindings.twilio.sms": "blockyard-twilio",
    **dict.fromkeys(
        (
            "state.aws.dynamodb",
            "pubsub.aws.snssqs",
            "bindings.aws.s3",
            "bindings.aws.sqs",
            "secretstores.aws.secretmanager",
            "secretstores.aws.parameterstore",
        ),
        "blockyard-aws",
    ),
    **dict.fromkeys(("state.azure.cosmosdb", "bindings.azure.cosmosdb"), "blockyard-azure"),
    **dict.fromkeys(
        ("state.dapr-socket", "pubsub.dapr-socket", "bindings.dapr-socket", "secretstores.dapr-socket"),
        "blockyard-dapr",
    ),
}


@dataclass(frozen=True, slots=True)
class ComponentSpec:
    """What a plugin declares about one component, without importing it.

    :param kind: ``state``, ``pubsub``, ``bindings`` or ``secretstores``.
    :param name: the name after the kind, as in Dapr (``redis``, ``local.file``, ``aws.dynamodb``).
    :param target: ``"module:Class"`` of the implementation.
    :param features: the declared feature names (checked against the class by the test-suite).
    :param operations: for output bindings, the supported operations.
    :param direction: for bindings, ``"input"``, ``"output"`` or ``"input,output"``.
    :param aliases: other names Dapr registers for it (``sqlite3``).
    """

    kind: str
    name: str
    target: str
    version: str = "v1"
    status: str = "alpha"
    features: tuple[str, ...] = ()
    operations: tuple[str, ...] = ()
    direction: str | None = None
    aliases: tuple[str, ...] = ()
    description: str = ""
    distribution: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ComponentKind.names():
            kinds = ", ".join(ComponentKind.names())
            raise ValueError(f"ComponentSpec kind must be one of {kinds}, not {self.kind!r}")
        if ":" not in self.target:
            raise ValueError(f"ComponentSpec target must be 'module:Class', not {self.target!r}")

    @property
    def type(self) -> str:
        """The full Dapr type, e.g. ``state.redis``."""
        return f"{self.kind}.{self.name}"


@dataclass(frozen=True, slots=True)
class PluginFailure:
    """A plugin entry point that could not be loaded."""

    entry_point: str
    distribution: str | None
    error: str


@dataclass(frozen=True, slots=True)
class _EntryPoint:
    name: str
    value: str
    dist: str | None

    def load(self) -> Any:
        module_name, _, attr = self.value.partition(":")
        obj: Any = importlib.import_module(module_name.strip())
        for part in attr.split("[", 1)[0].strip().split(".") if attr else ():
            obj = getattr(obj, part)
        return obj


def _entry_points(*groups: str) -> dict[str, list[_EntryPoint]]:
    """The entry points of each of ``groups`` with their distribution names (installed metadata read once)."""
    from importlib.metadata import entry_points

    found = entry_points()
    return {
        group: [_EntryPoint(ep.name, ep.value, ep.dist.name if ep.dist else None) for ep in found.select(group=group)]
        for group in groups
    }


def _norm_version(version: str | None) -> str:
    v = (version or "").strip().lower()
    return "v1" if v in ("", "v0", "v1") else v


@dataclass
class Registry:
    """Component specs by type and version, with lazily imported classes."""

    autoload: bool = True
    failures: list[PluginFailure] = field(default_factory=list)
    _pm: pluggy.PluginManager | None = None
    _specs: dict[tuple[str, str], ComponentSpec] | None = None
    _local: list[ComponentSpec] = field(default_factory=list)
    _classes: dict[tuple[str, str], type[Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def plugin_manager(self) -> pluggy.PluginManager:
        """The pluggy manager with every loadable entry-point plugin registered."""
        if self._pm is None:
            with self._lock:
                if self._pm is None:
                    self._pm = self._load_plugins()
        return self._pm

    def _load_plugins(self) -> pluggy.PluginManager:
        pm = pluggy.PluginManager("blockyard")
        pm.add_hookspecs(hookspecs)
        if not self.autoload or os.environ.get("BLOCKYARD_DISABLE_PLUGIN_AUTOLOAD"):
            return pm
        groups = _entry_points(HOOKSPEC_GROUP, ENTRY_POINT_GROUP)
        for ep in groups[HOOKSPEC_GROUP]:
            try:
                pm.add_hookspecs(ep.load())
            except Exception as exc:
                self.failures.append(PluginFailure(ep.name, ep.dist, f"{type(exc).__name__}: {exc}"))
        for ep in groups[ENTRY_POINT_GROUP]:
            dist = ep.dist
            try:
                plugin = ep.load()
                check_plugin_contract(plugin, dist)
                if pm.is_registered(plugin):
                    continue
                pm.register(plugin, name=f"{dist or ''}:{ep.name}")
                pm.check_pending()
            except Exception as exc:  # a broken plugin must not break the others
                self.failures.append(PluginFailure(ep.name, dist, f"{type(exc).__name__}: {exc}"))
        return pm

    def specs(self) -> list[ComponentSpec]:
        """Every known component spec, sorted by type then version."""
        return sorted(set(self._index().values()), key=lambda s: (s.type, s.version))

    def _index(self) -> dict[tuple[str, str], ComponentSpec]:
        if self._specs is None:
            pm = self.plugin_manager
            index: dict[tuple[str, str], ComponentSpec] = {}
            for impl in pm.hook.blockyard_components.get_hookimpls():
                dist = (pm.get_name(impl.plugin) or "").split(":", 1)[0] or None
                try:
                    specs = cast("Iterable[ComponentSpec]", impl.function() or [])
                except Exception as exc:
                    self.failures.append(PluginFailure(impl.plugin_name, dist, f"{type(exc).__name__}: {exc}"))
                    continue
                for spec in specs:
                    spec = replace(spec, distribution=spec.distribution or dist)
                    self._add(index, spec)
            for spec in self._local:
                self._add(index, spec)
            self._specs = index
        return self._specs

    @staticmethod
    def _add(index: dict[tuple[str, str], ComponentSpec], spec: ComponentSpec) -> None:
        version = _norm_version(spec.version)
        for name in (spec.name, *spec.aliases):
            index[(f"{spec.kind}.{name}".lower(), version)] = spec

    def spec(self, type_: str, version: str | None = None) -> ComponentSpec:
        """The spec of ``type_`` (e.g. ``state.redis``) at ``version`` (``""``/``v0``/``v1`` alike).

        :raises ComponentNotFoundError: naming the distribution to install and close matches.
        """
        index = self._index()
        key = (type_.strip().lower(), _norm_version(version))
        found = index.get(key)
        if found is not None:
            return found
        versions = sorted(v for t, v in index if t == key[0])
        if versions:
            raise ComponentNotFoundError(
                f"component type {type_!r} has no version {version!r}; available: {', '.join(versions)}"
            )
        hint = ""
        dist = KNOWN_DISTRIBUTIONS.get(key[0])
        failed = [f for f in self.failures if dist and f.distribution == dist]
        if failed:
            hint = f"; {dist} is installed but failed to load: {failed[0].error}"
        elif dist:
            hint = f"; {type_} needs: {install_hint(dist)}"
        close = difflib.get_close_matches(key[0], sorted({t for t, _ in index} | set(KNOWN_DISTRIBUTIONS)), n=3)
        if close:
            hint += f"; did you mean {', '.join(close)}?"
        raise ComponentNotFoundError(f"unknown component type {type_!r}{hint}")

    def resolve(self, type_: str, version: str | None = None) -> type[Component]:
        """Import and return the class implementing ``type_``.

        :raises ComponentNotFoundError: unknown type, or its module fails to import.
        """
        spec = self.spec(type_, version)
        cache_key = (spec.type, spec.version)
        cls = self._classes.get(cache_key)
        if cls is None:
            cls = self._import(spec)
            self._classes[cache_key] = cls
        return cls

    def _import(self, spec: ComponentSpec) -> type[Component]:
        from blockyard.component import Component

        module_name, _, attr = spec.target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except Exception as exc:
            dist = spec.distribution or KNOWN_DISTRIBUTIONS.get(spec.type, "its distribution")
            raise ComponentNotFoundError(
                f"component type {spec.type!r} ({spec.target}) failed to import: {type(exc).__name__}: {exc}; "
                f"reinstall {dist}"
            ) from exc
        if not (isinstance(obj, type) and issubclass(obj, Component)) or obj.kind.value != spec.kind:
            raise ComponentNotFoundError(
                f"{spec.target} is not a {spec.kind} component (declared by {spec.distribution or 'a plugin'})"
            )
        return obj

    def create(
        self,
        type_: str,
        metadata: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        version: str | None = None,
    ) -> Component:
        """Construct (not yet initialise) a component of ``type_`` from raw metadata."""
        return self.resolve(type_, version)(metadata or {}, name=name)

    def register(self, spec: ComponentSpec, *, replace_existing: bool = False) -> None:
        """Add an in-process component spec.

        :raises ValueError: if the type and version exist and ``replace_existing`` is false.
        """
        key = (spec.type.lower(), _norm_version(spec.version))
        if not replace_existing and key in self._index():
            raise ValueError(f"component type {spec.type!r} {spec.version} is already registered")
        self._local.append(spec)
        self._specs = None
        self._classes.pop((spec.type, spec.version), None)

    def hook(self) -> Any:
        """The pluggy hook relay, for the other hooks (CLI commands, and those other packages add)."""
        return self.plugin_manager.hook

    def iter_hook(self, name: str) -> Iterable[Any]:
        """Flatten the list results of hook ``name`` over every plugin."""
        caller = getattr(self.plugin_manager.hook, name, None)
        if caller is None:  # no package defines the hook, and no plugin implements it
            return
        for result in caller():
            yield from result or ()


_default: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry (created on first use)."""
    global _default
    if _default is None:
        _default = Registry()
    return _default


def register(spec: ComponentSpec, *, replace_existing: bool = False) -> None:
    """Add an in-process component spec to the process-wide registry."""
    get_registry().register(spec, replace_existing=replace_existing)

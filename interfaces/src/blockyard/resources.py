"""Dapr Component YAML: load, check, and turn into components.

A resource file holds one or more YAML documents; a folder is every ``*.yaml`` / ``*.yml`` file
in it (sorted by name, not recursive). Documents of other Dapr kinds (``Subscription``,
``Configuration``, ``Resiliency``, ...) are skipped. Each ``Component`` is checked against
Dapr's schema::

    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata:
      name: statestore                 # required, unique across the set
    spec:
      type: state.redis                # <building block>.<name>
      version: v1                      # v<N>; v1 when omitted
      initTimeout: 10s                 # optional: bound on init() (Go duration)
      ignoreErrors: false              # optional: blockyard.open() skips it if init fails
      metadata:
        - {name: redisHost, value: "localhost:6379"}
        - {name: redisPassword, secretKeyRef: {name: redis, key: password}}   # key defaults to name
        - {name: keyPrefix, envRef: KEY_PREFIX}
        - {name: queueName, value: "jobs-{uuid}"}     # {uuid}: a fresh uuid4 per created component
    auth:
      secretStore: localsecrets        # the store secretKeyRef reads from

::

    from blockyard.resources import load_component

    async with await load_component("components/statestore.yaml") as store:
        await store.set("k", b"v")

Every problem raises :class:`~blockyard.errors.ComponentConfigError` whose ``problems`` list
names, for each, the file and line, the component and the field, and what was expected — all the
problems of all the files at once. Values never appear in errors, reprs or logs.

Decisions where Dapr is loose: ``spec.version`` may be omitted (``v1``); a ``metadata[]`` entry
must have exactly one of ``value`` / ``secretKeyRef`` / ``envRef``; an ``envRef`` to an unset
variable is an error (Dapr passes an empty string); ``spec.initTimeout`` is applied only when
given.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blockyard._yaml import Document, load_documents
from blockyard.errors import (
    BlockyardError,
    ComponentConfigError,
    ComponentNotFoundError,
    SecretNotFoundError,
)

if TYPE_CHECKING:
    from blockyard.component import Component
    from blockyard.registry import Registry
    from blockyard.secretstores import SecretStore

__all__ = [
    "API_VERSION",
    "ComponentResource",
    "MetadataItem",
    "SecretKeyRef",
    "ValidationReport",
    "check_unique_names",
    "create_component",
    "init_component",
    "load_component",
    "load_resources",
    "order_resources",
    "parse_resources",
    "validate_resources",
]

_log = logging.getLogger("blockyard.resources")

API_VERSION = "dapr.io/v1alpha1"
KINDS = ("state", "pubsub", "bindings", "secretstores")
#: Other Dapr resource kinds: skipped, not errors.
OTHER_KINDS = frozenset({"Subscription", "Configuration", "Resiliency", "HTTPEndpoint", "MCPServer", "Workflow"})
_VERSION_RE = re.compile(r"^v\d+(?:alpha\d+|beta\d+)?$")
_TYPE_RE = re.compile(r"^[a-z0-9]+\.[A-Za-z0-9][A-Za-z0-9._-]*$")
_FIELD_RE = re.compile(r"field '([^']+)'")
_LOCATION_RE = re.compile(r"^(.*?)(?::(\d+))?: ")
_TRUE = frozenset({"true", "1", "yes", "on", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "off", "n", "f", ""})


@dataclass(frozen=True, slots=True)
class SecretKeyRef:
    """``secretKeyRef``: read key ``key`` of secret ``name`` from the component's ``auth.secretStore``."""

    name: str
    key: str


@dataclass(frozen=True, slots=True)
class MetadataItem:
    """One ``spec.metadata[]`` entry: exactly one of ``value``, ``secret_key_ref``, ``env_ref``.

    ``value`` is text (a list of texts for a YAML list) and never shown in ``repr``.
    """

    name: str
    value: str | tuple[str, ...] | None = field(default=None, repr=False)
    secret_key_ref: SecretKeyRef | None = None
    env_ref: str | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class ComponentResource:
    """A parsed ``kind: Component`` document.

    ``kind`` is the building block (``state``, ``pubsub``, ``bindings``, ``secretstores``);
    ``source`` is ``<file>:<document number>`` (1-based); ``line`` the document's first line.
    """

    name: str
    type: str
    version: str = "v1"
    metadata: tuple[MetadataItem, ...] = ()
    secret_store: str | None = None
    source: str = "<string>"
    path: str = "<string>"
    line: int = 1
    init_timeout: float | None = None
    ignore_errors: bool = False
    scopes: tuple[str, ...] = ()
    namespace: str | None = None
    _lines: Mapping[str, int] = field(default_factory=dict, repr=False, compare=False, hash=False)

    @property
    def kind(self) -> str:
        """The building block: the part of ``type`` before the first dot."""
        return self.type.partition(".")[0]

    def line_of(self, what: str) -> int:
        """The line of ``spec.type``, ``spec.metadata``, ``auth.secretStore``... or of a metadata name."""
        for item in self.metadata:
            if item.name.lower() == what.lower():
                return item.line
        return self._lines.get(what, self.line)

    def uses_secrets(self) -> bool:
        """True when some metadata comes from a ``secretKeyRef``."""
        return any(item.secret_key_ref is not None for item in self.metadata)


@dataclass(frozen=True, slots=True)
class _Problem:
    path: str
    line: int
    component: str | None
    text: str
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        who = f" component {self.component!r}:" if self.component else ""
        return f"{where}:{who} {self.text}"


def _config_error(
    problems: Sequence[_Problem], cls: type[ComponentConfigError] = ComponentConfigError
) -> ComponentConfigError:
    texts = [str(p) for p in problems]
    if len(texts) == 1:
        message = texts[0]
    else:
        message = f"{len(texts)} problems in component definitions:\n" + "\n".join(f"  - {t}" for t in texts)
    err = cls(message, problems=texts)
    for attr, values in (
        ("component", {p.component for p in problems}),
        ("field", {p.field for p in problems}),
        ("source", {p.path for p in problems}),
    ):
        if len(values) == 1:
            setattr(err, attr, values.pop())
    if len(texts) == 1 and err.field is not None:
        err.key = err.field
    return err


# -- parsing --------------------------------------------------------------------------------


def parse_resources(text: str, *, source: str = "<string>") -> list[ComponentResource]:
    """Parse every ``Component`` document in ``text``; other Dapr kinds are skipped.

    :raises ComponentConfigError: listing every problem (``source`` names the text in them).
    """
    resources, problems = _parse_text(text, source)
    problems.extend(_duplicates(resources))
    if problems:
        raise _config_error(problems)
    return resources


def load_resources(path: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[ComponentResource]:
    """Load the components of a file, of every ``*.yaml``/``*.yml`` in a folder, or of several of these.

    :raises ComponentConfigError: listing every problem of every file.
    """
    resources, problems = _load_paths(path)
    if problems:
        raise _config_error(problems)
    return resources


def _load_paths(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
) -> tuple[list[ComponentResource], list[_Problem]]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    resources: list[ComponentResource] = []
    problems: list[_Problem] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.suffix in (".yaml", ".yml") and f.is_file())
            if not files:
                _log.warning("no *.yaml or *.yml files in folder %s", p)
        elif p.exists():
            files = [p]
        else:
            problems.append(_Problem(str(p), 0, None, "no such file or folder"))
            continue
        for f in files:
            try:
                text = f.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(_Problem(str(f), 0, None, f"cannot read the file: {type(exc).__name__}: {exc}"))
                continue
            found, file_problems = _parse_text(text, str(f))
            resources.extend(found)
            problems.extend(file_problems)
    problems.extend(_duplicates(resources))
    return resources, problems


def check_unique_names(resources: Sequence[ComponentResource]) -> None:
    """:raises ComponentConfigError: naming every component whose ``metadata.name`` is taken."""
    problems = _duplicates(resources)
    if problems:
        raise _config_error(problems)


def _duplicates(resources: Sequence[ComponentResource]) -> list[_Problem]:
    seen: dict[str, ComponentResource] = {}
    problems = []
    for r in resources:
        first = seen.setdefault(r.name, r)
        if first is not r:
            problems.append(
                _Problem(
                    r.path, r.line_of("metadata.name"), r.name,
                    f"metadata.name: the name is already used by the component at {first.path}:{first.line}; "
                    "component names must be unique",
                    "metadata.name",
                )
            )  # fmt: skip
    return problems


def _parse_text(text: str, origin: str) -> tuple[list[ComponentResource], list[_Problem]]:
    docs, syntax = load_documents(text)
    problems: list[_Problem] = []
    resources: list[ComponentResource] = []
    for doc in docs:
        res = _parse_document(doc, origin, problems)
        if res is not None:
            resources.append(res)
    if syntax is not None:
        col = f", column {syntax.column}" if syntax.column else ""
        problems.append(_Problem(origin, syntax.line, None, f"{syntax.message} (document {syntax.document}{col})"))
    return resources, problems


def _parse_document(doc: Document, origin: str, problems: list[_Problem]) -> ComponentResource | None:
    data = doc.data
    name: str | None = None
    count = len(problems)

    def problem(text: str, *path: str | int, field: str | None = None) -> None:
        problems.append(_Problem(origin, doc.line_of(*path), name, text, field))

    if not isinstance(data, dict):
        problem(f"a resource must be a mapping with apiVersion, kind, metadata and spec, not {_what(data)}")
        return None
    kind = data.get("kind")
    if kind != "Component":
        if isinstance(kind, str) and kind in OTHER_KINDS:
            _log.debug("%s:%d: skipping a %s resource", origin, doc.line, kind)
            return None
        problem(
            f"kind: expected 'Component', got {_what(kind)} (documents of kind "
            f"{', '.join(sorted(OTHER_KINDS))} are skipped)",
            "kind",
            field="kind",
        )
        return None
    meta = data.get("metadata")
    raw_name = meta.get("name") if isinstance(meta, dict) else None
    if isinstance(raw_name, str) and raw_name.strip():
        name = raw_name.strip()
    else:
        problem(f"metadata.name: expected a non-empty name, got {_what(raw_name)}", "metadata", "name",
                field="metadata.name")  # fmt: skip
    api = data.get("apiVersion")
    if api != API_VERSION:
        problem(f"apiVersion: expected {API_VERSION!r}, got {_what(api)}", "apiVersion", field="apiVersion")
    namespace = meta.get("namespace") if isinstance(meta, dict) else None
    spec = data.get("spec")
    if not isinstance(spec, dict):
        problem(f"spec: expected a mapping with type, version and metadata, got {_what(spec)}", "spec",
                field="spec")  # fmt: skip
        spec = {}
    type_ = spec.get("type")
    if not isinstance(type_, str) or not _TYPE_RE.match(type_.strip()):
        if "spec" in data:
            problem(f"spec.type: expected a type such as 'state.redis', got {_what(type_)}", "spec", "type",
                    field="spec.type")  # fmt: skip
        type_ = ""
    else:
        type_ = type_.strip()
        if type_.partition(".")[0].lower() not in KINDS:
            problem(
                f"spec.type: building block {type_.partition('.')[0]!r} is not supported; "
                f"expected one of {', '.join(KINDS)}",
                "spec", "type", field="spec.type",
            )  # fmt: skip
        else:
            type_ = type_.partition(".")[0].lower() + "." + type_.partition(".")[2]
    version = spec.get("version")
    if version is None:
        version = "v1"
    elif not isinstance(version, str) or not _VERSION_RE.match(version.strip()):
        problem(f"spec.version: expected a version such as 'v1', got {_what(version)}", "spec", "version",
                field="spec.version")  # fmt: skip
        version = "v1"
    items = _parse_items(spec.get("metadata"), doc, problem)
    auth = data.get("auth")
    secret_store: str | None = None
    if auth is not None:
        if not isinstance(auth, dict):
            problem(f"auth: expected a mapping with secretStore, got {_what(auth)}", "auth", field="auth")
        else:
            store = auth.get("secretStore", auth.get("secretstore"))
            if store is not None and (not isinstance(store, str) or not store.strip()):
                problem(f"auth.secretStore: expected the name of a secret store, got {_what(store)}",
                        "auth", "secretStore", field="auth.secretStore")  # fmt: skip
            elif store is not None:
                secret_store = store.strip()
    if secret_store is None:
        problems.extend(
            _Problem(origin, item.line, name,
                     f"metadata {item.name!r}: secretKeyRef needs auth.secretStore, the secret store to "
                     "read it from, and the component sets none", item.name)
            for item in items
            if item.secret_key_ref is not None
        )  # fmt: skip
    init_timeout: float | None = None
    if spec.get("initTimeout") is not None:
        init_timeout = _parse_seconds(spec["initTimeout"])
        if init_timeout is None or init_timeout <= 0:
            problem("spec.initTimeout: expected a positive duration such as '5s' or '1m'", "spec", "initTimeout",
                    field="spec.initTimeout")  # fmt: skip
            init_timeout = None
    ignore = spec.get("ignoreErrors")
    ignore_errors = False
    if ignore is not None:
        low = str(ignore).strip().lower()
        if low in _TRUE or low in _FALSE:
            ignore_errors = low in _TRUE
        else:
            problem("spec.ignoreErrors: expected true or false", "spec", "ignoreErrors", field="spec.ignoreErrors")
    scopes = data.get("scopes") or []
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        problem("scopes: expected a list of app ids", "scopes", field="scopes")
        scopes = []
    problems.extend(_Problem(origin, yp.line, name, yp.message) for yp in doc.problems)
    if len(problems) > count or name is None:
        return None
    lines = {
        "metadata.name": doc.line_of("metadata", "name"),
        "spec.type": doc.line_of("spec", "type"),
        "spec.version": doc.line_of("spec", "version"),
        "spec.metadata": doc.line_of("spec", "metadata"),
        "auth.secretStore": doc.line_of("auth", "secretStore"),
    }
    return ComponentResource(
        name=name,
        type=type_,
        version=version.strip(),
        metadata=tuple(items),
        secret_store=secret_store,
        source=f"{origin}:{doc.index}",
        path=origin,
        line=doc.line,
        init_timeout=init_timeout,
        ignore_errors=ignore_errors,
        scopes=tuple(scopes),
        namespace=namespace if isinstance(namespace, str) else None,
        _lines=lines,
    )


def _parse_items(raw: Any, doc: Document, problem: Any) -> list[MetadataItem]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problem(f"spec.metadata: expected a list of {{name, value}} entries, got {_what(raw)}", "spec", "metadata",
                field="spec.metadata")  # fmt: skip
        return []
    items: list[MetadataItem] = []
    seen: dict[str, MetadataItem] = {}
    for i, entry in enumerate(raw):
        at = ("spec", "metadata", i)
        line = doc.line_of(*at)
        if not isinstance(entry, dict):
            problem(f"spec.metadata[{i}]: expected a mapping with name and value, got {_what(entry)}", *at,
                    field="spec.metadata")  # fmt: skip
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            problem(f"spec.metadata[{i}].name: expected a non-empty name, got {_what(name)}", *at,
                    field="spec.metadata")  # fmt: skip
            continue
        name = name.strip()
        given = [k for k in ("value", "secretKeyRef", "envRef") if k in entry]
        if len(given) != 1:
            problem(
                f"metadata {name!r}: expected exactly one of value, secretKeyRef or envRef, got "
                f"{' and '.join(given) if given else 'none'}",
                *at, field=name,
            )  # fmt: skip
            continue
        item: MetadataItem | None = None
        if given[0] == "value":
            item = MetadataItem(name, _text(entry["value"]), line=line)
        elif given[0] == "secretKeyRef":
            ref = entry["secretKeyRef"]
            ref_name = ref.get("name") if isinstance(ref, dict) else None
            ref_key = ref.get("key") if isinstance(ref, dict) else None
            if not isinstance(ref_name, str) or not ref_name.strip():
                problem(f"metadata {name!r}: secretKeyRef needs a name (the secret) and optionally a key", *at,
                        field=name)  # fmt: skip
                continue
            if ref_key is not None and (not isinstance(ref_key, str) or not ref_key.strip()):
                problem(f"metadata {name!r}: secretKeyRef.key must be a non-empty key name", *at, field=name)
                continue
            ref_name = ref_name.strip()
            item = MetadataItem(name, None, SecretKeyRef(ref_name, (ref_key or ref_name).strip()), line=line)
        else:
            env = entry["envRef"]
            if not isinstance(env, str) or not env.strip():
                problem(f"metadata {name!r}: envRef must name an environment variable", *at, field=name)
                continue
            env = env.strip()
            if env.upper().startswith("DAPR_") or env.upper() == "APP_API_TOKEN":
                problem(f"metadata {name!r}: envRef may not read {env!r} (DAPR_* and APP_API_TOKEN are reserved)",
                        *at, field=name)  # fmt: skip
                continue
            item = MetadataItem(name, None, env_ref=env, line=line)
        earlier = seen.get(name.lower())
        if earlier is not None:
            problem(
                f"metadata {name!r} is given twice (also as {earlier.name!r} on line {earlier.line}); "
                "metadata names match case-insensitively",
                *at, field=name,
            )  # fmt: skip
            continue
        seen[name.lower()] = item
        items.append(item)
    return items


def _text(value: Any) -> str | tuple[str, ...] | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return tuple(v if isinstance(v, str) else json.dumps(v) for v in value)
    return json.dumps(value)


def _what(value: Any) -> str:
    """Describe a structural value for an error; never echoes metadata values."""
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57] + "...")
    return f"a {'mapping' if isinstance(value, dict) else 'list' if isinstance(value, list) else type(value).__name__}"


def _parse_seconds(value: Any) -> float | None:
    from blockyard.metadata import parse_duration

    try:
        return parse_duration(value).total_seconds()
    except ValueError:
        return None


# -- ordering -------------------------------------------------------------------------------


def order_resources(resources: Sequence[ComponentResource], *, external: Iterable[str] = ()) -> list[ComponentResource]:
    """Order ``resources`` so every secret store comes before the components that reference it.

    ``external`` names secret stores provided from outside the set.

    :raises ComponentConfigError: a referenced store missing from the set (and not external), a
        reference to a component that is not a secret store, or a cycle of references.
    """
    by_name = {r.name: r for r in resources}
    outside = set(external)
    problems: list[_Problem] = []
    order: list[ComponentResource] = []
    done: set[str] = set()
    reported: set[str] = set()

    def visit(r: ComponentResource, stack: list[str]) -> None:
        if r.name in done:
            return
        if r.name in stack:
            cycle = [*stack[stack.index(r.name) :], r.name]
            key = "->".join(sorted(cycle))
            if key not in reported:
                reported.add(key)
                problems.append(
                    _Problem(r.path, r.line_of("auth.secretStore"), r.name,
                             f"auth.secretStore: secret stores reference each other in a cycle: "
                             f"{' -> '.join(cycle)}", "auth.secretStore")
                )  # fmt: skip
            return
        dep_name = r.secret_store
        if dep_name is not None and dep_name not in outside:
            dep = by_name.get(dep_name)
            if dep is None:
                problems.append(
                    _Problem(r.path, r.line_of("auth.secretStore"), r.name,
                             f"auth.secretStore: no secret store named {dep_name!r} is defined; secret stores "
                             f"defined: {_names(x for x in resources if x.kind == 'secretstores')}",
                             "auth.secretStore")
                )  # fmt: skip
            elif dep.kind != "secretstores":
                problems.append(
                    _Problem(r.path, r.line_of("auth.secretStore"), r.name,
                             f"auth.secretStore: {dep_name!r} is a {dep.type} component, not a secret store",
                             "auth.secretStore")
                )  # fmt: skip
            else:
                visit(dep, [*stack, r.name])
        if r.name not in done:
            done.add(r.name)
            order.append(r)

    for r in resources:
        visit(r, [])
    if problems:
        raise _config_error(problems)
    return order


def _names(resources: Iterable[ComponentResource]) -> str:
    names = sorted(r.name for r in resources)
    return ", ".join(names) if names else "none"


# -- creating components --------------------------------------------------------------------


async def create_component(
    resource: ComponentResource,
    *,
    secret_stores: Mapping[str, SecretStore] | None = None,
    registry: Registry | None = None,
) -> Component:
    """Construct (not initialise) the component ``resource`` describes.

    ``secretKeyRef`` values are read from ``secret_stores[resource.secret_store]`` (an initialised
    store), ``envRef`` values from the environment; ``{uuid}`` becomes a fresh uuid4.

    :raises ComponentNotFoundError: no installed plugin provides ``spec.type`` (names what to install).
    :raises ComponentConfigError: listing every unresolvable reference and invalid metadata field.
    """
    if registry is None:
        from blockyard.registry import get_registry

        registry = get_registry()
    try:
        cls = registry.resolve(resource.type, resource.version)
    except ComponentNotFoundError as exc:
        raise _config_error(
            [_Problem(resource.path, resource.line_of("spec.type"), resource.name, f"spec.type: {exc.message}",
                      "spec.type")],
            ComponentNotFoundError,
        ) from None  # fmt: skip
    properties, problems = await _resolve_properties(resource, secret_stores or {})
    if problems:
        raise _config_error(problems)
    try:
        return cls(properties, name=resource.name)
    except ComponentConfigError as exc:
        raise _config_error(_rewrite_problems(resource, exc.problems)) from None
    except (ValueError, TypeError) as exc:
        raise _config_error(
            [_Problem(resource.path, resource.line, resource.name, f"invalid metadata: {type(exc).__name__}: {exc}")]
        ) from None


def _rewrite_problems(resource: ComponentResource, texts: Iterable[str]) -> list[_Problem]:
    out = []
    for text in texts:
        m = _FIELD_RE.search(text)
        name = m.group(1) if m else None
        line = resource.line_of(name) if name else resource.line_of("spec.metadata")
        if line == resource.line and name:
            line = resource.line_of("spec.metadata")
        out.append(_Problem(resource.path, line, resource.name, f"metadata {text}", name))
    return out


async def _resolve_properties(
    resource: ComponentResource, secret_stores: Mapping[str, SecretStore]
) -> tuple[dict[str, Any], list[_Problem]]:
    properties: dict[str, Any] = {}
    problems: list[_Problem] = []
    fresh_uuid: str | None = None
    secrets: dict[str, dict[str, str] | None] = {}
    for item in resource.metadata:

        def problem(text: str, item: MetadataItem = item) -> None:
            problems.append(_Problem(resource.path, item.line, resource.name, f"metadata {item.name!r}: {text}",
                                     item.name))  # fmt: skip

        if item.secret_key_ref is not None:
            ref = item.secret_key_ref
            store_name = resource.secret_store or ""
            store = secret_stores.get(store_name)
            if store is None:
                available = ", ".join(sorted(secret_stores)) or "none"
                problem(f"secretKeyRef needs secret store {store_name!r} (auth.secretStore), which is not loaded; "
                        f"loaded secret stores: {available}")  # fmt: skip
                continue
            if ref.name not in secrets:
                try:
                    secrets[ref.name] = await store.get_secret(ref.name)
                except SecretNotFoundError:
                    secrets[ref.name] = None
                except BlockyardError as exc:
                    problem(f"cannot read secret {ref.name!r} from secret store {store_name!r}: "
                            f"{type(exc).__name__}: {exc.message}")  # fmt: skip
                    continue
            secret = secrets[ref.name]
            if secret is None:
                problem(f"secret {ref.name!r} (secretKeyRef) does not exist in secret store {store_name!r}")
            elif ref.key not in secret:
                problem(f"secret {ref.name!r} in secret store {store_name!r} has no key {ref.key!r}; "
                        f"its keys: {', '.join(sorted(secret)) or 'none'}")  # fmt: skip
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
            raise ComponentConfigError(f"no component named {name!r}; defined: {_names(resources)}", component=name)
    elif len(resources) == 1:
        chosen = resources[0]
    else:
        raise ComponentConfigError(
            f"the source defines {len(resources)} components ({_names(resources)}); pass name= to pick one"
        )
    stores: dict[str, SecretStore] = dict(secret_stores or {})
    needed = _dependency_chain(chosen, resources, set(stores))
    temporary: list[Component] = []
    try:
        for res in needed:
            comp = await create_component(res, secret_stores=stores, registry=registry)
            temporary.append(comp)
            await init_component(comp, res)
            stores[res.name] = comp  # type: ignore[assignment]
        component = await create_component(chosen, secret_stores=stores, registry=registry)
    finally:
        for comp in reversed(temporary):
            try:
                await comp.close()
            except Exception as exc:
                _log.warning("closing secret store %r failed: %s", comp.name, type(exc).__name__)
    try:
        await init_component(component, chosen)
    except BaseException:
        await component.close()
        raise
    return component


def _dependency_chain(
    chosen: ComponentResource, resources: Sequence[ComponentResource], external: set[str]
) -> list[ComponentResource]:
    if chosen.secret_store is None or chosen.secret_store in external:
        return []
    by_name = {r.name: r for r in resources}
    chain = [chosen]
    store: str | None = chosen.secret_store
    while store is not None and store not in external and store in by_name and by_name[store] not in chain:
        chain.append(by_name[store])
        store = by_name[store].secret_store
    # Ordering just the chain reports a missing store, a non-store or a cycle.
    return [r for r in order_resources(chain, external=external) if r is not chosen]


async def init_component(component: Component, resource: ComponentResource) -> None:
    """``await component.init()``, bounded by the resource's ``spec.initTimeout`` when it has one.

    :raises BackendUnavailableError: when ``init()`` outlasts ``spec.initTimeout`` (the component is closed).
    """
    if resource.init_timeout is None:
        await component.init()
        return
    import asyncio

    from blockyard.errors import BackendUnavailableError

    try:
        await asyncio.wait_for(component.init(), resource.init_timeout)
    except TimeoutError:
        await component.close()
        raise BackendUnavailableError(
            f"init did not finish within spec.initTimeout ({resource.init_timeout:g}s)",
            component=resource.name,
            operation="init",
        ) from None


# -- offline validation ---------------------------------------------------------------------


@dataclass
class ValidationReport:
    """What :func:`validate_resources` found: ``problems`` (errors) and ``warnings``, as text."""

    resources: list[ComponentResource] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there is no problem (warnings allowed)."""
        return not self.problems


_PLACEHOLDER = "__blockyard_placeholder__"


def validate_resources(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *, registry: Registry | None = None
) -> ValidationReport:
    """Check files offline: schema, types against the registry, metadata against each model.

    Nothing connects and no secret is read: a ``secretKeyRef`` is checked only for its store
    existing in the set, an ``envRef`` for the variable being set. Unknown metadata names are
    warnings, as in Dapr.
    """
    if registry is None:
        from blockyard.registry import get_registry

        registry = get_registry()
    resources, problems = _load_paths(paths)
    report = ValidationReport(resources=resources)
    try:
        order_resources(resources)
    except ComponentConfigError as exc:
        report.problems.extend(exc.problems)
    for res in resources:
        problems.extend(_check_one(res, registry, report.warnings))
    report.problems[:0] = [str(p) for p in problems]
    report.problems.sort(key=_location)
    report.warnings.sort(key=_location)
    return report


def _location(text: str) -> tuple[str, int]:
    m = _LOCATION_RE.match(text)
    return (m.group(1), int(m.group(2) or 0)) if m else (text, 0)


def _check_one(res: ComponentResource, registry: Registry, warnings: list[str]) -> list[_Problem]:
    from blockyard.metadata import ComponentMetadata

    try:
        cls = registry.resolve(res.type, res.version)
    except ComponentNotFoundError as exc:
        return [_Problem(res.path, res.line_of("spec.type"), res.name, f"spec.type: {exc.message}", "spec.type")]
    model: type[ComponentMetadata] = cls.Metadata or ComponentMetadata
    properties: dict[str, Any] = {}
    referenced: set[str] = set()
    problems: list[_Problem] = []
    for item in res.metadata:
        if item.value is not None:
            properties[item.name] = list(item.value) if isinstance(item.value, tuple) else item.value
        elif item.env_ref is not None and item.env_ref in os.environ:
            properties[item.name] = os.environ[item.env_ref]
        else:
            if item.env_ref is not None:
                warnings.append(str(_Problem(res.path, item.line, res.name,
                                             f"metadata {item.name!r}: environment variable {item.env_ref!r} "
                                             "(envRef) is not set here")))  # fmt: skip
            properties[item.name] = _PLACEHOLDER
            referenced.add(item.name.lower())
    lookup = _model_lookup(model)
    unsupported = {k.lower() for k in model.unsupported}
    for item in res.metadata:
        low = item.name.lower()
        if low not in lookup and low not in unsupported:
            text = f"metadata {item.name!r} is not a field of {res.type}; it is ignored"
            warnings.append(str(_Problem(res.path, item.line, res.name, text)))
    referenced_fields = {lookup[n] for n in referenced if n in lookup}
    metadata_log = logging.getLogger("blockyard.metadata")
    was_disabled = metadata_log.disabled
    metadata_log.disabled = True  # unknown fields are reported above as warnings
    try:
        model.parse(properties, component=res.name)
    except ComponentConfigError as exc:
        kept = []
        for text in exc.problems:
            m = _FIELD_RE.search(text)
            fld = lookup.get(m.group(1).lower()) if m else None
            if fld in referenced_fields and "not supported" not in text and "given twice" not in text:
                continue  # the real value is only known at load time
            kept.append(text)
        problems.extend(_rewrite_problems(res, kept))
    finally:
        metadata_log.disabled = was_disabled
    return problems


def _model_lookup(model: Any) -> dict[str, str]:
    from blockyard.metadata import _lookup

    return _lookup(model)

"""The Component document as a typed (pydantic) model, checked against Dapr's schema.

:func:`read_document` turns one YAML document into a :class:`ComponentResource`, or into the
:class:`~blockyard.problems.Problem` list of everything wrong with it, each at its line. Shape
rules live on the model's fields; the rules that span fields (a ``secretKeyRef`` needs
``auth.secretStore``, metadata names are unique) run once the shape is right.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Annotated, Any, TypeGuard

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from blockyard._yaml import Document
from blockyard.kinds import ComponentKind
from blockyard.metadata import parse_bool, parse_duration
from blockyard.problems import Problem
from blockyard.resources.model import API_VERSION, OTHER_KINDS, ComponentResource, MetadataItem, SecretKeyRef

__all__ = ["ComponentDocument", "app_scopes", "describe", "invalid", "read_document", "validation_problems"]

_log = logging.getLogger("blockyard.resources")

_VERSION_RE = re.compile(r"^v\d+(?:alpha\d+|beta\d+)?$")
_TYPE_RE = re.compile(r"^[a-z0-9]+\.[A-Za-z0-9][A-Za-z0-9._-]*$")
_RESERVED_ENV = "DAPR_* and APP_API_TOKEN are reserved"


def describe(value: Any) -> str:
    """Describe a structural value for an error; never echoes metadata values."""
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57] + "...")
    kind = "mapping" if isinstance(value, dict) else "list" if isinstance(value, list) else type(value).__name__
    return f"a {kind}"


def invalid(text: str, *, label: str | None = None, field: str | None = None) -> PydanticCustomError:
    """A validator's error whose problem reads ``<label>: <text>`` (label: the field's path unless given)."""
    return PydanticCustomError("blockyard", "{text}", {"text": text, "label": label, "field": field})


def _check(predicate: Any, text: str) -> Any:
    """A before-validator: the value when ``predicate(value)`` holds, else ``text, got <value>``."""

    def validate(value: Any) -> Any:
        if not predicate(value):
            raise invalid(f"{text}, got {describe(value)}")
        return value.strip() if isinstance(value, str) else value

    return BeforeValidator(validate)


def _component_type(value: Any) -> str:
    if not isinstance(value, str) or not _TYPE_RE.match(value.strip()):
        raise invalid(f"expected a type such as 'state.redis', got {describe(value)}")
    kind, _, rest = value.strip().partition(".")
    if kind.lower() not in ComponentKind.names():
        raise invalid(f"building block {kind!r} is not supported; expected one of {', '.join(ComponentKind.names())}")
    return f"{kind.lower()}.{rest}"


def _version(value: Any) -> str:
    if value is None:
        return "v1"
    if not isinstance(value, str) or not _VERSION_RE.match(value.strip()):
        raise invalid(f"expected a version such as 'v1', got {describe(value)}")
    return value.strip()


def _init_timeout(value: Any) -> float | None:
    if value is None:
        return None
    try:
        seconds = parse_duration(value).total_seconds()
    except ValueError as exc:
        raise invalid(str(exc)) from None
    if seconds <= 0:
        raise invalid("expected a duration greater than 0s, such as '5s' or '1m'")
    return seconds


def _ignore_errors(value: Any) -> bool:
    if value is None:
        return False
    try:
        return parse_bool(value)
    except ValueError:
        raise invalid("expected true or false") from None


def _text(value: Any) -> str | tuple[str, ...] | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return tuple(v if isinstance(v, str) else json.dumps(v) for v in value)
    return json.dumps(value)


def _is_name(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value.strip())


def _is_store(value: Any) -> bool:
    return value is None or _is_name(value)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True, populate_by_name=True)


class DocumentMetadata(_Model):
    """``metadata``: the component's name (unique in a set) and optional namespace."""

    name: Annotated[str, _check(_is_name, "expected a non-empty name")] = Field(None, validate_default=True)
    namespace: Annotated[str | None, BeforeValidator(lambda v: v if isinstance(v, str) else None)] = None


class MetadataEntry(_Model):
    """One ``spec.metadata[]`` entry: a name and exactly one of ``value``, ``secretKeyRef``, ``envRef``."""

    name: Annotated[str, _check(_is_name, "expected a non-empty name")] = Field(None, validate_default=True)
    value: str | tuple[str, ...] | None = None
    secret_key_ref: SecretKeyRef | None = Field(None, alias="secretKeyRef")
    env_ref: str | None = Field(None, alias="envRef")

    @model_validator(mode="before")
    @classmethod
    def _entry(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise invalid(f"expected a mapping with name and value, got {describe(data)}", field="spec.metadata")
        name = data.get("name")
        if not _is_name(name):
            return {"name": name}  # the name's own check reports it
        name = name.strip()
        label = f"metadata {name!r}"
        given = [k for k in ("value", "secretKeyRef", "envRef") if k in data]
        if len(given) != 1:
            raise invalid(
                f"expected exactly one of value, secretKeyRef or envRef, got {' and '.join(given) or 'none'}",
                label=label,
                field=name,
            )
        out: dict[str, Any] = {"name": name}
        if given[0] == "value":
            out["value"] = _text(data["value"])
        elif given[0] == "secretKeyRef":
            ref = data["secretKeyRef"]
            ref_name = ref.get("name") if isinstance(ref, dict) else None
            ref_key = ref.get("key") if isinstance(ref, dict) else None
            if not _is_name(ref_name):
                raise invalid("secretKeyRef needs a name (the secret) and optionally a key", label=label, field=name)
            if ref_key is not None and not _is_name(ref_key):
                raise invalid("secretKeyRef.key must be a non-empty key name", label=label, field=name)
            out["secretKeyRef"] = SecretKeyRef(ref_name.strip(), (ref_key or ref_name).strip())
        else:
            env = data["envRef"]
            if not _is_name(env):
                raise invalid("envRef must name an environment variable", label=label, field=name)
            env = env.strip()
            if env.upper().startswith("DAPR_") or env.upper() == "APP_API_TOKEN":
                raise invalid(f"envRef may not read {env!r} ({_RESERVED_ENV})", label=label, field=name)
            out["envRef"] = env
        return out


def _entries(value: Any) -> Any:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(f"expected a list of {{name, value}} entries, got {describe(value)}")
    return value


class Spec(_Model):
    """``spec``: the component's type and version, its metadata, and how it is started."""

    type: Annotated[str, BeforeValidator(_component_type)] = Field(None, validate_default=True)
    version: Annotated[str, BeforeValidator(_version)] = Field(None, validate_default=True)
    metadata: Annotated[list[MetadataEntry], BeforeValidator(_entries)] = []
    init_timeout: Annotated[float | None, BeforeValidator(_init_timeout)] = Field(None, alias="initTimeout")
    ignore_errors: Annotated[bool, BeforeValidator(_ignore_errors)] = Field(False, alias="ignoreErrors")


class Auth(_Model):
    """``auth``: the secret store that ``secretKeyRef`` entries read from."""

    secret_store: Annotated[str | None, _check(_is_store, "expected the name of a secret store")] = Field(
        None, validation_alias=AliasChoices("secretStore", "secretstore")
    )

    @model_validator(mode="before")
    @classmethod
    def _mapping(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise invalid(f"expected a mapping with secretStore, got {describe(data)}")
        return data


def _spec(value: Any) -> Any:
    if not isinstance(value, dict):
        raise invalid(f"expected a mapping with type, version and metadata, got {describe(value)}")
    return value


def app_scopes(value: Any) -> Any:
    """A document's ``scopes``: a list of app ids (missing: none), for a ``BeforeValidator``."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise invalid("expected a list of app ids")
    return value


class ComponentDocument(_Model):
    """A ``kind: Component`` document, as Dapr's schema defines it."""

    api_version: Annotated[str, _check(lambda v: v == API_VERSION, f"expected {API_VERSION!r}")] = Field(
        None, alias="apiVersion", validate_default=True
    )
    metadata: Annotated[DocumentMetadata, BeforeValidator(lambda v: v if isinstance(v, dict) else {})] = Field(
        None, validate_default=True
    )
    spec: Annotated[Spec, BeforeValidator(_spec)] = Field(None, validate_default=True)
    auth: Auth | None = None
    scopes: Annotated[list[str], BeforeValidator(app_scopes)] = []


def read_document(doc: Document, origin: str) -> tuple[ComponentResource | None, list[Problem]]:
    """The component one YAML document defines, or ``None`` with every problem of it.

    A document of another Dapr kind (``Subscription``...) gives ``(None, [])``.
    """
    data = doc.data
    if not isinstance(data, dict):
        message = f"a resource must be a mapping with apiVersion, kind, metadata and spec, not {describe(data)}"
        return None, [Problem(message, origin, doc.line_of())]
    meta = data.get("metadata")
    raw_name = meta.get("name") if isinstance(meta, dict) else None
    name = raw_name.strip() if _is_name(raw_name) else None
    kind = data.get("kind")
    if kind != "Component":
        if isinstance(kind, str) and kind in OTHER_KINDS:
            _log.debug("%s:%d: skipping a %s resource", origin, doc.line, kind)
            return None, []
        message = (
            f"kind: expected 'Component', got {describe(kind)} (documents of kind "
            f"{', '.join(sorted(OTHER_KINDS))} are skipped)"
        )
        return None, [Problem(message, origin, doc.line_of("kind"), None, "kind")]
    problems: list[Problem] = []
    parsed: ComponentDocument | None = None
    try:
        parsed = ComponentDocument.model_validate(data)
    except ValidationError as exc:
        problems.extend(validation_problems(exc, doc, origin, name))
    if parsed is not None:
        problems.extend(_references(parsed, doc, origin))
    problems.extend(Problem(yp.message, origin, yp.line, name) for yp in doc.problems)
    if problems or parsed is None:
        return None, problems
    return _resource(parsed, doc, origin), []


def validation_problems(exc: ValidationError, doc: Document, origin: str, name: str | None) -> list[Problem]:
    """A document model's validation errors as problems, each at the line of its path."""
    out = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = tuple(err["loc"])
        ctx = err.get("ctx") or {}
        path = _path_text(loc)
        label = ctx.get("label") or path
        text = ctx.get("text", err["msg"].removeprefix("Value error, "))
        message = f"{label}: {text}" if label else text
        out.append(Problem(message, origin, doc.line_of(*loc), name, ctx.get("field") or _field_of(loc)))
    return out


def _path_text(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _field_of(loc: tuple[str | int, ...]) -> str | None:
    """The field a location names: its path up to the first list index."""
    parts = []
    for part in loc:
        if isinstance(part, int):
            break
        parts.append(part)
    return ".".join(str(p) for p in parts) or None


def _references(parsed: ComponentDocument, doc: Document, origin: str) -> list[Problem]:
    """The rules across fields: unique metadata names; ``secretKeyRef`` needs ``auth.secretStore``."""
    name = parsed.metadata.name
    problems = []
    seen: dict[str, tuple[str, int]] = {}
    has_store = parsed.auth is not None and parsed.auth.secret_store is not None
    for i, entry in enumerate(parsed.spec.metadata):
        line = doc.line_of("spec", "metadata", i)
        earlier = seen.setdefault(entry.name.lower(), (entry.name, line))
        if earlier[1] != line:
            problems.append(
                Problem(
                    f"metadata {entry.name!r} is given twice (also as {earlier[0]!r} on line {earlier[1]}); "
                    "metadata names match case-insensitively",
                    origin,
                    line,
                    name,
                    entry.name,
                    code="duplicate",
                )
            )
        elif entry.secret_key_ref is not None and not has_store:
            problems.append(
                Problem(
                    f"metadata {entry.name!r}: secretKeyRef needs auth.secretStore, the secret store to read it "
                    "from, and the component sets none",
                    origin,
                    line,
                    name,
                    entry.name,
                )
            )
    return problems


def _resource(parsed: ComponentDocument, doc: Document, origin: str) -> ComponentResource:
    items = tuple(
        MetadataItem(e.name, e.value, e.secret_key_ref, e.env_ref, line=doc.line_of("spec", "metadata", i))
        for i, e in enumerate(parsed.spec.metadata)
    )
    lines = {
        "metadata.name": doc.line_of("metadata", "name"),
        "spec.type": doc.line_of("spec", "type"),
        "spec.version": doc.line_of("spec", "version"),
        "spec.metadata": doc.line_of("spec", "metadata"),
        "auth.secretStore": doc.line_of("auth", "secretStore"),
    }
    spec = parsed.spec
    return ComponentResource(
        name=parsed.metadata.name,
        type=spec.type,
        version=spec.version,
        metadata=items,
        secret_store=parsed.auth.secret_store if parsed.auth is not None else None,
        source=f"{origin}:{doc.index}",
        path=origin,
        line=doc.line,
        init_timeout=spec.init_timeout,
        ignore_errors=spec.ignore_errors,
        scopes=tuple(parsed.scopes),
        namespace=parsed.metadata.namespace,
        _lines=lines,
    )

"""Typed component metadata with Dapr's parsing rules.

Each component declares one pydantic model, the single source of its metadata schema::

    class RedisMetadata(ComponentMetadata):
        redis_host: str = meta(description="host:port of the server", example="localhost:6379")
        redis_password: SecretStr | None = meta(None, description="password")   # sensitive
        dial_timeout: Duration = meta(timedelta(seconds=5), description="connect timeout")

Dapr's rules, applied by :meth:`ComponentMetadata.parse`:

- names match case-insensitively; the same name given twice (in any case) is an error;
- names no field defines are ignored with a warning, as Dapr does;
- durations accept Go strings (``"1m30s"``, ``"500ms"``) or integer seconds, nothing else (no
  ``1e3``, ``inf`` or ``2.5``), within Go's range; :data:`Duration` refuses negatives,
  :data:`PositiveDuration` also zero, :data:`SignedDuration` takes both;
- booleans accept ``true/false``, ``1/0``, ``yes/no``, ``on/off`` (:func:`parse_bool` outside a model);
- :data:`CommaList` splits ``"a, b"`` into ``["a", "b"]``; :data:`ByteSize` accepts ``"100Mi"``;
- ``SecretStr`` fields are *sensitive*: never printed in ``repr``, errors or logs.

Field names are snake_case in Python and camelCase (Dapr's spelling) in YAML; :func:`meta`
takes an explicit ``alias`` where Dapr's spelling is not plain camelCase (``enableTLS``) and extra
legacy ``aliases``. :meth:`ComponentMetadata.dapr_metadata` and :meth:`json_schema` generate the
Dapr ``metadata.yaml`` entries and a JSON Schema from the model.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Annotated, Any, ClassVar, Generic, Self, TypeVar, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo

from blockyard.errors import ComponentConfigError
from blockyard.problems import Problem

__all__ = [
    "ByteSize",
    "CommaList",
    "ComponentMetadata",
    "Duration",
    "format_duration",
    "MAX_DURATION",
    "MetadataCheck",
    "PositiveDuration",
    "SecretStr",
    "SignedDuration",
    "meta",
    "parse_bool",
    "parse_duration",
]

_log = logging.getLogger("blockyard.metadata")

_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_INT_SECONDS = re.compile(r"[+-]?\d+")
_DURATION_FORMS = "expected a duration such as '5s', '1m30s', '500ms' or integer seconds"
#: Go's ``time.Duration`` is an int64 of nanoseconds: about 292 years either way.
MAX_DURATION = timedelta(microseconds=(2**63 - 1) // 1000)


def parse_duration(value: Any) -> timedelta:
    """Parse a duration exactly as Dapr does: a Go duration string (``"1h2m3.5s"``, ``"-5s"``, ``"0"``)
    or integer seconds (``"10"``); from Python code also a ``timedelta`` or a finite number of seconds.

    Exponents (``"1e3"``), ``inf``/``nan``, bare fractions (``"2.5"``) and anything beyond Go's range
    (:data:`MAX_DURATION`, about 292 years) are refused. Signs are parsed; the field types
    (:data:`Duration`, :data:`PositiveDuration`) decide whether a negative value means anything.

    :raises ValueError: with the expected forms; the value itself is not echoed.
    """
    if isinstance(value, timedelta):
        return _in_range(value.total_seconds(), value)
    if isinstance(value, bool):
        raise ValueError(_DURATION_FORMS)
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(_DURATION_FORMS)
        return _in_range(float(value))
    if isinstance(value, str):
        text = value.strip()
        if _INT_SECONDS.fullmatch(text):
            return _in_range(float(text))
        sign = -1.0 if text.startswith("-") else 1.0
        body = text[1:] if text[:1] in "+-" else text
        if body == "0":
            return timedelta(0)
        parts = _GO_PART.findall(body)
        if body and len(body) <= 256 and "".join(num + unit for num, unit in parts) == body:
            return _in_range(sign * sum(float(num) * _GO_UNITS[unit] for num, unit in parts))
    raise ValueError(_DURATION_FORMS)


def _in_range(seconds: float, ready: timedelta | None = None) -> timedelta:
    if not abs(seconds) <= MAX_DURATION.total_seconds():
        raise ValueError(f"expected a duration within Go's range (at most {format_duration(MAX_DURATION)} either way)")
    return ready if ready is not None else timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """``value`` in Go's notation (``"1h30m"``, ``"500ms"``, ``"0s"``), as Dapr prints durations."""
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    sign, micros = ("-", -micros) if micros < 0 else ("", micros)
    if micros == 0:
        return "0s"
    if micros < 1_000_000:
        return f"{sign}{micros / 1000:g}ms" if micros % 1000 == 0 or micros >= 1000 else f"{sign}{micros}µs"
    hours, rest = divmod(micros, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds = f"{rest / 1_000_000:.6f}".rstrip("0").rstrip(".")
    out = (f"{hours}h" if hours else "") + (f"{minutes}m" if hours or minutes else "")
    return f"{sign}{out}{seconds}s" if seconds != "0" or not out else f"{sign}{out}"


def _bounded_duration(*, minimum: timedelta | None, exclusive: bool = False) -> BeforeValidator:
    """A validator: :func:`parse_duration`, then ``minimum`` (``exclusive``: strictly above it)."""

    def validate(value: Any) -> timedelta:
        parsed = parse_duration(value)
        if minimum is not None and (parsed < minimum or (exclusive and parsed == minimum)):
            word = "greater than" if exclusive else "at least"
            raise ValueError(f"expected a duration {word} {format_duration(minimum)}")
        return parsed

    return BeforeValidator(validate)


_TRUE = frozenset({"true", "1", "yes", "on", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "off", "n", "f"})


def parse_bool(value: Any) -> bool:
    """Parse a Dapr boolean: ``true/1/yes/on/y/t`` or ``false/0/no/off/n/f`` (any case), as the models do.

    :raises ValueError: for anything else; the value itself is not echoed.
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError("expected true or false")


# One line per family of units (bytes, powers of 1000, powers of 1024): the layout is the table.
_BYTE_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3,
    "ki": 1024, "kib": 1024, "mi": 1024**2, "mib": 1024**2, "gi": 1024**3, "gib": 1024**3,
}  # fmt: skip
_BYTE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def _parse_byte_size(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and (m := _BYTE_RE.match(value)) and m.group(2).lower() in _BYTE_UNITS:
        return int(float(m.group(1)) * _BYTE_UNITS[m.group(2).lower()])
    raise ValueError("expected a byte size such as '100Mi', '10MB' or a number of bytes")


def _parse_comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


_DURATION_SCHEMA = Field(json_schema_extra={"format": "duration"})

Duration = Annotated[timedelta, _bounded_duration(minimum=timedelta(0)), _DURATION_SCHEMA]
"""A duration of zero or more: Go string (``5s``, ``1m30s``, ``500ms``, ``0``) or integer seconds."""

PositiveDuration = Annotated[timedelta, _bounded_duration(minimum=timedelta(0), exclusive=True), _DURATION_SCHEMA]
"""A duration greater than zero (a timeout or an interval that 0 would make meaningless)."""

SignedDuration = Annotated[timedelta, _bounded_duration(minimum=None), _DURATION_SCHEMA]
"""Any duration in Go's range, negative ones included: for fields where Dapr gives ``-1`` a meaning."""

ByteSize = Annotated[int, BeforeValidator(_parse_byte_size), Field(json_schema_extra={"format": "bytesize"})]
"""A size in bytes: ``100Mi``, ``10MB``, ``1024``."""

CommaList = Annotated[list[str], BeforeValidator(_parse_comma_list)]
"""A list given as a comma-separated string (``"a, b"``) or a YAML list."""


def meta(
    default: Any = ...,
    *,
    description: str,
    alias: str | None = None,
    aliases: tuple[str, ...] = (),
    example: str | None = None,
    allowed: tuple[str, ...] | None = None,
    deprecated: bool = False,
    default_factory: Any = None,
) -> Any:
    """Declare a metadata field.

    :param default: the default; omit for a required field.
    :param description: one sentence for ``blockyard describe`` and the generated ``metadata.yaml``.
    :param alias: Dapr's exact spelling when it is not the camelCase of the field name.
    :param aliases: legacy names also accepted (case-insensitively).
    :param example: an example value (a string, as Dapr's schema wants).
    :param allowed: the allowed values, shown in the schema (enforce them with a ``Literal`` type).
    """
    extra: dict[str, Any] = {"aliases": list(aliases), "deprecated": deprecated}
    if example is not None:
        extra["example"] = example
    if allowed is not None:
        extra["allowedValues"] = list(allowed)
    if default_factory is not None:
        return Field(default_factory=default_factory, description=description, alias=alias, json_schema_extra=extra)
    return Field(default, description=description, alias=alias, json_schema_extra=extra)


def _is_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return any(_is_secret(arg) for arg in get_args(annotation))


def _schema_type(annotation: Any) -> str:
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is Annotated:
        meta_args = get_args(annotation)[1:]
        for m in meta_args:
            fmt = getattr(m, "json_schema_extra", None)
            if isinstance(fmt, dict) and fmt.get("format") in ("duration", "bytesize"):
                return str(fmt["format"])
        return _schema_type(get_args(annotation)[0])
    if annotation is bool:
        return "bool"
    if annotation in (int, float):
        return "number"
    if annotation is timedelta:
        return "duration"
    if args and len(args) < len(get_args(annotation)):  # Optional[X]
        return _schema_type(args[0])
    return "string"


_M = TypeVar("_M")


@dataclass(frozen=True, slots=True)
class MetadataCheck(Generic[_M]):
    """What :meth:`ComponentMetadata.check` found: the ``model`` (``None`` when there are ``problems``)
    and the ``unknown`` names, which no field defines (Dapr ignores them)."""

    model: _M | None
    problems: list[Problem]
    unknown: list[str]


class ComponentMetadata(BaseModel):
    """Base of every component's metadata model. Frozen; secrets are ``SecretStr``."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="ignore",
        hide_input_in_errors=True,
        arbitrary_types_allowed=True,
    )

    #: Names Dapr defines for this component that Blockyard deliberately does not implement,
    #: mapped to the reason; giving one is a :class:`ComponentConfigError`, never silently ignored.
    unsupported: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def parse(cls, properties: Mapping[str, Any], *, component: str | None = None, source: str | None = None) -> Self:
        """Validate Dapr-style ``properties`` (name -> value) into this model.

        Names no field defines are logged as a warning and ignored.

        :raises ComponentConfigError: listing every problem, each naming its field and what was
            expected; values are never echoed (they may be secrets).
        """
        checked = cls.check(properties)
        if checked.unknown:
            _log.warning(
                "component %r: ignoring unknown metadata field(s) %s",
                component,
                ", ".join(repr(u) for u in checked.unknown),
            )
        if checked.model is not None:
            return checked.model
        problems = checked.problems
        raise ComponentConfigError(
            "; ".join(p.message for p in problems),
            component=component,
            source=source,
            problems=problems,
            field=next((p.field for p in problems if p.field), None),
        )

    @classmethod
    def check(cls, properties: Mapping[str, Any]) -> MetadataCheck[Self]:
        """Validate ``properties`` without raising or logging: the model, or every problem.

        Each problem's ``field`` is the name as given (or the field's Dapr name when it is missing).
        """
        lookup = cls.field_lookup()
        data: dict[str, Any] = {}
        given: dict[str, str] = {}
        problems: list[Problem] = []
        unknown: list[str] = []
        unsupported = {k.lower(): (k, why) for k, why in cls.unsupported.items()}
        for raw_name, value in properties.items():
            low = raw_name.lower()
            if low in unsupported:
                name, why = unsupported[low]
                problems.append(
                    Problem(f"field {name!r} is not supported by this component: {why}", field=name, code="unsupported")
                )
                continue
            field_name = lookup.get(low)
            if field_name is None:
                unknown.append(raw_name)
                continue
            if field_name in given:
                problems.append(
                    Problem(
                        f"field {raw_name!r} is given twice (also as {given[field_name]!r}); "
                        "metadata names match case-insensitively",
                        field=raw_name,
                        code="duplicate",
                    )
                )
                continue
            given[field_name] = raw_name
            data[field_name] = value
        if not problems:
            try:
                return MetadataCheck(cls.model_validate(data), [], unknown)
            except ValidationError as exc:
                problems.extend(_describe(cls, exc, given))
        return MetadataCheck(None, problems, unknown)

    @classmethod
    def field_lookup(cls) -> Mapping[str, str]:
        """Every accepted metadata name (Python name, Dapr name, aliases), lower-case -> field name."""
        return _lookup(cls)

    def __repr_args__(self) -> Any:
        # SecretStr already masks itself; this keeps reprs to set fields only.
        return [(k, v) for k, v in super().__repr_args__() if k in self.model_fields_set]

    @classmethod
    def dapr_metadata(cls) -> list[dict[str, Any]]:
        """The Dapr ``metadata.yaml`` ``metadata[]`` entries generated from the model."""
        out: list[dict[str, Any]] = []
        for name, info in cls.model_fields.items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            entry: dict[str, Any] = {
                "name": info.alias or name,
                "description": info.description or "",
                "type": _field_type(info, extra),
            }
            if info.is_required():
                entry["required"] = True
            if _is_secret(info.annotation):
                entry["sensitive"] = True
            default = _default_text(info)
            if default is not None:
                entry["default"] = default
            for key in ("example", "allowedValues"):
                if key in extra:
                    entry[key] = extra[key]
            if extra.get("aliases"):
                entry["aliases"] = extra["aliases"]
            if extra.get("deprecated"):
                entry["deprecated"] = True
            out.append(entry)
        return out

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """A JSON Schema of the metadata, by Dapr name, with ``sensitive`` marked."""
        schema = cls.model_json_schema(by_alias=True, mode="validation")
        for name, info in cls.model_fields.items():
            if _is_secret(info.annotation):
                prop = schema.get("properties", {}).get(info.alias or name)
                if prop is not None:
                    prop["sensitive"] = True
                    prop.pop("default", None)
        return schema


def _field_type(info: FieldInfo, extra: Mapping[str, Any]) -> str:
    # pydantic moves an Annotated type's Field(json_schema_extra=...) onto the field itself.
    fmt = extra.get("format")
    if fmt in ("duration", "bytesize"):
        return str(fmt)
    return _schema_type(info.annotation)


def _default_text(info: FieldInfo) -> str | None:
    if info.is_required() or info.default is None:
        return None
    value = info.get_default(call_default_factory=True)
    if value is None or isinstance(value, SecretStr):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


@cache
def _lookup(cls: type[ComponentMetadata]) -> dict[str, str]:
    table: dict[str, str] = {}
    for name, info in cls.model_fields.items():
        names = {name, info.alias or name}
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        names.update(extra.get("aliases") or ())  # type: ignore[arg-type]
        for n in names:
            table[str(n).lower()] = name
    return table


def _describe(cls: type[ComponentMetadata], exc: ValidationError, given: Mapping[str, str]) -> list[Problem]:
    problems = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = err["loc"][0] if err["loc"] else None
        info = cls.model_fields.get(str(loc)) if loc is not None else None
        label = given.get(str(loc)) or (info.alias if info and info.alias else str(loc)) if loc is not None else None
        if err["type"] == "missing":
            problems.append(Problem(f"field {label!r} is required", field=label, code="required"))
        else:
            msg = err["msg"].removeprefix("Value error, ")
            for bound in (err.get("ctx") or {}).values():
                if isinstance(bound, timedelta):  # pydantic prints datetime.timedelta(...)
                    msg = msg.replace(repr(bound), format_duration(bound))
            problems.append(Problem(f"field {label!r}: {msg}" if label else msg, field=label or _named_in(cls, msg)))
    return problems


_QUOTED = re.compile(r"'([^']+)'")


def _named_in(cls: type[ComponentMetadata], message: str) -> str | None:
    """The first metadata name a model-level message quotes: the field a rule across fields concerns."""
    lookup = cls.field_lookup()
    return next((name for name in _QUOTED.findall(message) if name.lower() in lookup), None)

"""Knobs: the suite class attributes a case (or ``conformance run --knob``) may override.

A knob is a public, non-callable class attribute of a suite that is not one of the attributes that
say *which* component runs (``component_class``, ``metadata``, ``backend``, ...). Its type is the
attribute's annotation (``bad_etag: str``, ``ttl_timeout: float``, ``operations: list[str]``), so a
value given as text on the command line is parsed to that type::

    >>> from blockyard_conformance.state_suite import StateStoreSuite
    >>> parse_knob_options(StateStoreSuite, ["ttl_timeout=2.5", "bad_etag=9999999"])
    {'ttl_timeout': 2.5, 'bad_etag': '9999999'}
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from blockyard.errors import ComponentConfigError

__all__ = ["NOT_KNOBS", "KnobError", "check_knobs", "coerce_knob", "known_knobs", "parse_knob_options", "unknown_knobs"]

NOT_KNOBS = frozenset({"kind", "case", "component_class", "metadata", "component_name", "backend", "blockyard_limits"})
"""Suite attributes that choose the component, never tuned by a knob."""


class KnobError(ComponentConfigError):
    """A knob is unknown to the suite, malformed, or its value has the wrong type."""


def _all_vars(cls: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        out.update(vars(klass))
    return out


def known_knobs(suite: type) -> dict[str, Any]:
    """Every knob of ``suite``, name -> its type (the annotation, ``ClassVar`` unwrapped), sorted by name."""
    hints: dict[str, Any] = {}
    for klass in reversed(suite.__mro__):
        try:
            hints.update(typing.get_type_hints(klass))
        except (NameError, TypeError):  # an unresolvable annotation: fall back on the default's type
            continue
    out: dict[str, Any] = {}
    for name, value in _all_vars(suite).items():
        if name.startswith("_") or name in NOT_KNOBS or callable(value) or isinstance(value, (classmethod, property)):
            continue
        hint = hints.get(name, type(value))
        if typing.get_origin(hint) is typing.ClassVar:
            args = typing.get_args(hint)
            hint = args[0] if args else Any
        out[name] = hint
    return dict(sorted(out.items()))


def unknown_knobs(suite: type, names: Iterable[str]) -> list[str]:
    """The names among ``names`` that are no knob of ``suite``, sorted."""
    known = known_knobs(suite)
    return sorted(n for n in names if n not in known)


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def coerce_knob(suite: type, name: str, value: Any, *, from_text: bool = False) -> Any:
    """``value`` checked (and, ``from_text``, parsed) against the type of knob ``name`` of ``suite``.

    Text is taken as is for a ``str`` knob and read as YAML otherwise (``2.5``, ``true``,
    ``[get, create]``, ``{a: b}``).

    :raises KnobError: the knob is unknown (naming the known ones) or the value does not fit its type.
    """
    from pydantic import TypeAdapter, ValidationError

    knobs = known_knobs(suite)
    if name not in knobs:
        raise KnobError(f"unknown knob {name!r} for {suite.__name__}; known: {', '.join(knobs)}", field=name)
    hint = knobs[name]
    if from_text and isinstance(value, str) and hint is not str:
        try:
            value = yaml.safe_load(value) if value.strip() else value
        except yaml.YAMLError:
            pass  # the type check below names the knob and the expected type
    if hint is Any:
        return value
    try:
        return TypeAdapter(hint).validate_python(value, strict=hint in (str, bool))
    except ValidationError:
        raise KnobError(
            f"knob {name!r} of {suite.__name__} expects {_type_name(hint)}, got {value!r}", field=name
        ) from None


def parse_knob_options(suite: type, options: Iterable[str]) -> dict[str, Any]:
    """``NAME=VALUE`` strings (``--knob``, repeatable) as typed knob values for ``suite``.

    :raises KnobError: an option without ``=``, an unknown name (the error lists the known ones), or a
        value of the wrong type.
    """
    out: dict[str, Any] = {}
    for option in options:
        name, sep, text = option.partition("=")
        name = name.strip()
        if not sep or not name:
            raise KnobError(f"--knob {option!r}: expected NAME=VALUE", field="knob")
        out[name] = coerce_knob(suite, name, text, from_text=True)
    return out


def check_knobs(suite: type, knobs: Mapping[str, Any]) -> None:
    """Raise :class:`KnobError` naming every unknown knob in ``knobs`` and the known ones."""
    unknown = unknown_knobs(suite, knobs)
    if unknown:
        raise KnobError(
            f"unknown knob(s) {', '.join(unknown)} for {suite.__name__}; known: {', '.join(known_knobs(suite))}",
            field="knobs",
        )

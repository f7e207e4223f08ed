"""Conformance cases: a Component YAML, the backend it needs, knobs and known limits.

A plugin contributes case files through the ``blockyard_conformance_cases`` hook::

    cases:
      - id: state.redis                 # unique; "<type>" or "<type>-<variant>"
        backend: redis                  # launcher backend name; omit for embedded components
        component: |                    # Dapr Component YAML with ${...} placeholders
          apiVersion: dapr.io/v1alpha1
          kind: Component
          metadata: {name: statestore}
          spec:
            type: state.redis
            version: v1
            metadata:
              - {name: redisHost, value: "${backend.host}:${backend.port}"}
        knobs: {bad_etag: "9999999"}    # suite class attributes to override
        limits:                         # known limits of this backend flavour
          - {test: "test_message_ttl*", skip: "the emulator does not expire messages"}
          - {test: "test_some_case", xfail: "known defect: ..."}   # strict xfail
        setup: my_plugin.conformance:seed   # optional "module:function", see below

``setup`` names a function the kit calls once before the case's tests, as
``setup(endpoint, run_id)`` (``endpoint`` is ``None`` for embedded components): it creates what
the case needs (a table, a bucket, seeded secrets), named from ``run_id``, and may return a
callable that removes them afterwards.

Placeholders (in the component YAML, in string knobs and in ``env`` values): ``${backend.host}``, ``${backend.port}``,
``${backend.url}``, ``${backend.params.<key>}``, ``${run_id}`` (fresh per case run) and
``${tmpdir}`` (a fresh temporary folder). An unknown placeholder is an error naming it.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from blockyard.errors import ComponentConfigError
from blockyard.kinds import ComponentKind, kind_of
from blockyard_conformance.support import import_named

if TYPE_CHECKING:
    from blockyard_conformance.backends.recipe import Endpoint

__all__ = [
    "Case",
    "CaseError",
    "Limit",
    "component_file_case",
    "discover_cases",
    "load_case_file",
    "parse_cases",
    "run_case_setup",
    "select_cases",
    "substitute",
]

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_CASE_KEYS = {"id", "backend", "component", "knobs", "limits", "description", "env", "setup"}


class CaseError(ComponentConfigError):
    """A case file is malformed (names the file, the case and the field)."""


@dataclass(frozen=True, slots=True)
class Limit:
    """A known limit of a backend flavour: tests matching ``test`` are skipped or strictly xfailed."""

    test: str
    skip: str | None = None
    xfail: str | None = None

    def matches(self, test_name: str) -> bool:
        """True when ``test_name`` (the test function's name) matches the glob ``test``."""
        return fnmatch.fnmatchcase(test_name, self.test)


@dataclass(frozen=True, slots=True)
class Case:
    """One conformance case: which component, on which backend, with which knobs and limits."""

    id: str
    component: str
    """The Component YAML, placeholders not yet substituted."""
    type: str
    """The component type from ``spec.type``, e.g. ``state.redis``."""
    backend: str | None = None
    knobs: Mapping[str, Any] = field(default_factory=dict)
    limits: tuple[Limit, ...] = ()
    source: str = "<string>"
    description: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    """Environment variables set while the case runs (e.g. for ``secretstores.local.env``, or for an
    ``envRef`` that hands the component a multi-line value such as a PEM certificate)."""
    setup: str | None = None
    """``"module:function"`` creating the case's fixtures (see the module docstring)."""

    @property
    def case_dir(self) -> str:
        """The folder of the case file (placeholder ``${case_dir}``), for fixture files shipped beside it."""
        return str(Path(self.source).parent) if self.source and not self.source.startswith("<") else "."

    @property
    def kind(self) -> str:
        """The building block: ``state``, ``pubsub``, ``bindings`` or ``secretstores``."""
        return kind_of(self.type)

    @property
    def embedded(self) -> bool:
        """True when the component needs no external backend."""
        return self.backend is None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form, readable back with :func:`parse_cases`."""
        return {
            "id": self.id,
            "backend": self.backend,
            "component": self.component,
            "knobs": dict(self.knobs),
            "limits": [
                {k: v for k, v in (("test", lim.test), ("skip", lim.skip), ("xfail", lim.xfail)) if v is not None}
                for lim in self.limits
            ],
            "description": self.description,
            "env": dict(self.env),
            **({"setup": self.setup} if self.setup else {}),
        }


def _fail(source: str, message: str, field_name: str | None = None) -> CaseError:
    return CaseError(message, source=source, field=field_name)


def _spec_type(text: str, source: str, case_id: str) -> str:
    try:
        docs = [d for d in yaml.safe_load_all(_PLACEHOLDER.sub("x", text)) if d]
    except yaml.YAMLError as exc:
        raise _fail(source, f"case {case_id!r}: component YAML is malformed: {exc}", "component") from None
    comps = [d for d in docs if isinstance(d, dict) and d.get("kind", "Component") == "Component"]
    if len(comps) != 1:
        raise _fail(source, f"case {case_id!r}: 'component' must hold exactly one Component, found {len(comps)}")
    spec = comps[0].get("spec")
    type_ = spec.get("type") if isinstance(spec, dict) else None
    kinds = ComponentKind.names()
    if not isinstance(type_, str) or kind_of(type_) not in kinds:
        raise _fail(
            source, f"case {case_id!r}: component spec.type must start with one of {', '.join(kinds)}", "spec.type"
        )
    return type_


def _limits(raw: Any, source: str, case_id: str) -> tuple[Limit, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _fail(source, f"case {case_id!r}: 'limits' must be a list", "limits")
    out = []
    for i, item in enumerate(raw):
        where = f"case {case_id!r}: limits[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("test"), str):
            raise _fail(source, f"{where} needs a 'test' glob", "limits")
        skip, xfail = item.get("skip"), item.get("xfail")
        reason = skip if skip is not None else xfail
        if (skip is None) == (xfail is None) or not isinstance(reason, str) or not reason.strip():
            raise _fail(source, f"{where} needs exactly one of 'skip' or 'xfail', with a reason", "limits")
        extra = set(item) - {"test", "skip", "xfail"}
        if extra:
            raise _fail(source, f"{where} has unknown field(s) {', '.join(sorted(extra))}", "limits")
        out.append(Limit(item["test"], skip, xfail))
    return tuple(out)


def parse_cases(data: Any, *, source: str = "<string>") -> list[Case]:
    """Validate a case document (``{"cases": [...]}``) into cases.

    :raises CaseError: naming the file, the case and the field for every malformed entry.
    """
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise _fail(source, "a case file must be a mapping with a 'cases' list", "cases")
    cases = []
    for i, raw in enumerate(data["cases"]):
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
            raise _fail(source, f"cases[{i}] needs a string 'id'", "id")
        case_id = raw["id"]
        unknown = set(raw) - _CASE_KEYS
        if unknown:
            raise _fail(source, f"case {case_id!r} has unknown field(s) {', '.join(sorted(unknown))}")
        component = raw.get("component")
        if not isinstance(component, str) or not component.strip():
            raise _fail(source, f"case {case_id!r} needs 'component': a Component YAML text", "component")
        backend = raw.get("backend")
        if backend is not None and (not isinstance(backend, str) or not backend):
            raise _fail(source, f"case {case_id!r}: 'backend' must be a backend name", "backend")
        knobs = raw.get("knobs") or {}
        if not isinstance(knobs, dict) or not all(isinstance(k, str) and k.isidentifier() for k in knobs):
            raise _fail(source, f"case {case_id!r}: 'knobs' must map attribute names to values", "knobs")
        env = raw.get("env") or {}
        if not isinstance(env, dict):
            raise _fail(source, f"case {case_id!r}: 'env' must map variable names to values", "env")
        setup = raw.get("setup")
        if setup is not None and (not isinstance(setup, str) or not re.fullmatch(r"[\w.]+:\w+", setup)):
            raise _fail(source, f"case {case_id!r}: 'setup' must be 'module:function'", "setup")
        cases.append(
            Case(
                id=case_id,
                component=component,
                type=_spec_type(component, source, case_id),
                backend=backend,
                knobs=knobs,
                limits=_limits(raw.get("limits"), source, case_id),
                source=source,
                description=str(raw.get("description") or ""),
                env={str(k): str(v) for k, v in env.items()},
                setup=setup,
            )
        )
    return cases


def load_case_file(path: str | Path) -> list[Case]:
    """Read the cases of one YAML file.

    :raises CaseError: the file is unreadable or malformed.
    """
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise _fail(str(p), f"cannot read case file: {exc}") from None
    return parse_cases(data, source=str(p))


def discover_cases(paths: Iterable[str | Path] | None = None) -> list[Case]:
    """Every case contributed by installed plugins (``blockyard_conformance_cases``), sorted by id.

    :raises CaseError: a file is malformed, or two cases share an id.
    """
    if paths is None:
        from blockyard.registry import get_registry

        paths = list(get_registry().iter_hook("blockyard_conformance_cases"))
    seen: dict[str, Case] = {}
    for path in paths:
        for case in load_case_file(path):
            other = seen.get(case.id)
            if other is not None:
                raise _fail(case.source, f"case id {case.id!r} is also declared in {other.source}", "id")
            seen[case.id] = case
    return sorted(seen.values(), key=lambda c: c.id)


def component_file_case(path: str | Path, *, backend: str | None = None) -> Case:
    """A case for any Component YAML file: features come from the component class, no knobs.

    :raises CaseError: the file is unreadable or holds no single Component.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(str(p), f"cannot read component file: {exc}") from None
    type_ = _spec_type(text, str(p), p.name)
    return Case(id=f"{type_}@{p.stem}", component=text, type=type_, backend=backend, source=str(p))


def select_cases(cases: Iterable[Case], patterns: Iterable[str]) -> list[Case]:
    """The cases whose id matches one of ``patterns`` (exact or glob); all when none given.

    :raises CaseError: a pattern matches no case (naming the known ids).
    """
    cases = list(cases)
    pats = list(patterns)
    if not pats:
        return cases
    chosen: dict[str, Case] = {}
    for pat in pats:
        hits = [c for c in cases if fnmatch.fnmatchcase(c.id, pat)]
        if not hits:
            known = ", ".join(c.id for c in cases) or "none installed"
            raise CaseError(f"no conformance case matches {pat!r}; known cases: {known}", field="case")
        chosen.update((c.id, c) for c in hits)
    return [c for c in cases if c.id in chosen]


def substitute(
    text: str, *, run_id: str, tmpdir: str, endpoint: Endpoint | None, source: str = "<case>", case_dir: str = "."
) -> str:
    """Replace the ``${...}`` placeholders of ``text``.

    :raises CaseError: for an unknown placeholder, or a ``${backend.*}`` one without a backend.
    """

    def one(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name == "run_id":
            return run_id
        if name == "tmpdir":
            return tmpdir
        if name == "case_dir":
            return case_dir
        if name.startswith("backend."):
            if endpoint is None:
                raise _fail(source, f"placeholder ${{{name}}} needs a backend, and the case names none")
            attr = name.removeprefix("backend.")
            if attr in ("host", "port", "url", "flavour", "address"):
                return str(getattr(endpoint, attr))
            if attr.startswith("params."):
                key = attr.removeprefix("params.")
                if key in endpoint.params:
                    return str(endpoint.params[key])
                raise _fail(source, f"placeholder ${{{name}}}: backend {endpoint.backend!r} has no param {key!r}")
        known = "run_id, tmpdir, case_dir, backend.host, backend.port, backend.url, backend.params.<key>"
        raise _fail(source, f"unknown placeholder ${{{name}}}; known: {known}")

    return _PLACEHOLDER.sub(one, text)


def substitute_knobs(
    knobs: Mapping[str, Any], *, run_id: str, tmpdir: str, endpoint: Endpoint | None, source: str, case_dir: str = "."
) -> dict[str, Any]:
    """``knobs`` with placeholders replaced in every string (mapping keys too), recursively."""

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return substitute(value, run_id=run_id, tmpdir=tmpdir, endpoint=endpoint, source=source, case_dir=case_dir)
        if isinstance(value, dict):
            return {walk(k): walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return {k: walk(v) for k, v in knobs.items()}


def run_case_setup(case: Case, endpoint: Endpoint | None, run_id: str) -> Callable[[], Any] | None:
    """Call the case's ``setup`` function; return its cleanup callable (or ``None``).

    :raises CaseError: the function cannot be imported.
    """
    if not case.setup:
        return None
    try:
        fn = import_named(case.setup)
    except (ImportError, AttributeError) as exc:
        raise _fail(case.source, f"case {case.id!r}: cannot import setup {case.setup!r}: {exc}", "setup") from None
    cleanup = fn(endpoint, run_id)
    return cleanup if callable(cleanup) else None

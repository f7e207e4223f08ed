"""Offline validation: every problem of a set of resource files, without connecting or reading secrets."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from blockyard.errors import ComponentNotFoundError
from blockyard.problems import Problem, Severity, sorted_problems
from blockyard.resources.creating import metadata_problems, type_problem
from blockyard.resources.loading import PathArg, read_paths
from blockyard.resources.model import ComponentResource
from blockyard.resources.ordering import ordering_problems
from blockyard.resources.scoping import scoped_out_reason, split_by_scope

if TYPE_CHECKING:
    from blockyard.registry import Registry

__all__ = ["ValidationReport", "validate_resources"]

_PLACEHOLDER = "__blockyard_placeholder__"


@dataclass
class ValidationReport:
    """What :func:`validate_resources` found: every :class:`~blockyard.problems.Problem`, by file and line.

    ``problems`` and ``warnings`` are the text of the errors and of the warnings. With an app id,
    ``scoped_out`` holds the components that app does not load (they are checked all the same).
    """

    resources: list[ComponentResource] = field(default_factory=list)
    details: list[Problem] = field(default_factory=list)
    app_id: str | None = None
    scoped_out: list[ComponentResource] = field(default_factory=list)

    @property
    def scoped_out_reasons(self) -> list[str]:
        """Why each scoped-out component is not loaded by :attr:`app_id`, as text."""
        return [scoped_out_reason(r, self.app_id) for r in self.scoped_out]

    @property
    def problems(self) -> list[str]:
        """The errors, as text."""
        return [str(p) for p in self.details if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[str]:
        """The warnings (ignored metadata names, unset variables), as text."""
        return [str(p) for p in self.details if p.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not any(p.severity is Severity.ERROR for p in self.details)


def validate_resources(
    paths: PathArg, *, registry: Registry | None = None, app_id: str | None = None
) -> ValidationReport:
    """Check files offline: schema, types against the registry, metadata against each model, and
    the ``kind: Resiliency`` documents (a target naming no component of the set is a warning).

    Nothing connects and no secret is read: a ``secretKeyRef`` is checked only for its store
    existing in the set, an ``envRef`` for the variable being set. Unknown metadata names are
    warnings, as in Dapr. With ``app_id``, the report lists the components scoped to other apps,
    and a component that app loads reading its secrets from one of them is an error.
    """
    from blockyard.resiliency import read_resiliency, target_warnings

    if registry is None:
        from blockyard.registry import get_registry

        registry = get_registry()
    resources, problems = read_paths(paths)
    problems.extend(ordering_problems(resources)[1])
    resiliencies, resiliency_problems = read_resiliency(paths)
    problems.extend(resiliency_problems)
    problems.extend(target_warnings(resiliencies, (r.name for r in resources)))
    for res in resources:
        problems.extend(_check_one(res, registry))
    kept, scoped_out = split_by_scope(resources, app_id)
    for res in kept:
        if res.secret_store in scoped_out:
            message = f"auth.secretStore: {scoped_out_reason(scoped_out[res.secret_store], app_id)}"
            problems.append(Problem(message, res.path, res.line_of("auth.secretStore"), res.name, "auth.secretStore"))
    return ValidationReport(
        resources=resources, details=sorted_problems(problems), app_id=app_id, scoped_out=list(scoped_out.values())
    )


def _check_one(res: ComponentResource, registry: Registry) -> list[Problem]:
    from blockyard.metadata import ComponentMetadata

    try:
        cls = registry.resolve(res.type, res.version)
    except ComponentNotFoundError as exc:
        return [type_problem(res, exc)]
    model: type[ComponentMetadata] = cls.Metadata or ComponentMetadata
    properties: dict[str, Any] = {}
    referenced: set[str] = set()
    found: list[Problem] = []
    for item in res.metadata:
        if item.value is not None:
            properties[item.name] = list(item.value) if isinstance(item.value, tuple) else item.value
        elif item.env_ref is not None and item.env_ref in os.environ:
            properties[item.name] = os.environ[item.env_ref]
        else:
            if item.env_ref is not None:
                message = f"metadata {item.name!r}: environment variable {item.env_ref!r} (envRef) is not set here"
                found.append(Problem(message, res.path, item.line, res.name, item.name, Severity.WARNING, "unset-env"))
            properties[item.name] = _PLACEHOLDER
            referenced.add(item.name.lower())
    lookup = model.field_lookup()
    checked = model.check(properties)
    unknown = {u.lower() for u in checked.unknown}
    for item in res.metadata:
        if item.name.lower() in unknown:
            message = f"metadata {item.name!r} is not a field of {res.type}; it is ignored"
            found.append(Problem(message, res.path, item.line, res.name, item.name, Severity.WARNING, "unknown-field"))
    referenced_fields = {lookup[n] for n in referenced if n in lookup}
    kept = [
        p
        for p in checked.problems
        # The real value of a referenced field is known only at load time; its name is checked now.
        if p.code in ("unsupported", "duplicate") or lookup.get((p.field or "").lower()) not in referenced_fields
    ]
    found.extend(metadata_problems(res, kept))
    return found

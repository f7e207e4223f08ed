"""Reading ``kind: Resiliency`` documents from the same files and folders as the Components."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from blockyard._yaml import load_documents
from blockyard.errors import ComponentConfigError
from blockyard.problems import Problem, Severity
from blockyard.resiliency.model import ResiliencyDocument, ResiliencySpec
from blockyard.resiliency.resolve import Resiliency
from blockyard.resources.document import validation_problems
from blockyard.resources.loading import PathArg, read_files

__all__ = ["ResiliencyResource", "load_resiliency", "parse_resiliency", "read_resiliency", "target_warnings"]


@dataclass(frozen=True, slots=True)
class ResiliencyResource:
    """A parsed ``kind: Resiliency`` document: its ``spec``, where it is, and its ``scopes``."""

    name: str
    spec: ResiliencySpec
    path: str = "<string>"
    line: int = 1
    scopes: tuple[str, ...] = ()


def read_resiliency_text(text: str, origin: str) -> tuple[list[ResiliencyResource], list[Problem]]:
    """The valid Resiliency documents of ``text`` and the problems of the others (never raises).

    Other kinds are skipped, and so is malformed YAML: the Component reader reports it.
    """
    docs, _ = load_documents(text)
    found: list[ResiliencyResource] = []
    problems: list[Problem] = []
    for doc in docs:
        data = doc.data
        if not isinstance(data, dict) or data.get("kind") != "Resiliency":
            continue
        meta = data.get("metadata")
        raw = meta.get("name") if isinstance(meta, dict) else None
        name = raw.strip() if isinstance(raw, str) and raw.strip() else None
        try:
            parsed = ResiliencyDocument.model_validate(data)
        except ValidationError as exc:
            label = f"resiliency {name!r}" if name else "resiliency"
            problems.extend(
                p.replace(message=f"{label}: {p.message}") for p in validation_problems(exc, doc, origin, None)
            )
            continue
        problems.extend(Problem(yp.message, origin, yp.line, name) for yp in doc.problems)
        found.append(ResiliencyResource(parsed.metadata.name, parsed.spec, origin, doc.line, tuple(parsed.scopes)))
    return found, problems


def read_resiliency(paths: PathArg) -> tuple[list[ResiliencyResource], list[Problem]]:
    """Every valid Resiliency document of ``paths`` and every problem found (never raises).

    Unreadable files are the Component reader's to report; they are skipped here.
    """
    texts, _ = read_files(paths)
    found: list[ResiliencyResource] = []
    problems: list[Problem] = []
    for origin, text in texts:
        resources, text_problems = read_resiliency_text(text, origin)
        found.extend(resources)
        problems.extend(text_problems)
    return found, problems + _clashes(found)


def load_resiliency(paths: PathArg) -> Resiliency:
    """The policies of every Resiliency document in ``paths``, merged.

    :raises ComponentConfigError: listing every problem, each at its file and line.
    """
    found, problems = read_resiliency(paths)
    if problems:
        raise ComponentConfigError.from_problems(problems)
    return merge(found)


def parse_resiliency(text: str, *, source: str = "<string>") -> Resiliency:
    """The policies of every Resiliency document in YAML ``text``.

    :raises ComponentConfigError: listing every problem.
    """
    found, problems = read_resiliency_text(text, source)
    problems += _clashes(found)
    if problems:
        raise ComponentConfigError.from_problems(problems)
    return merge(found)


def merge(resources: Iterable[ResiliencyResource]) -> Resiliency:
    """One :class:`Resiliency` from several documents (names are unique across them: see :func:`read_resiliency`)."""
    timeouts, retries, breakers, targets = {}, {}, {}, {}
    for r in resources:
        timeouts.update(r.spec.policies.timeouts)
        retries.update(r.spec.policies.retries)
        breakers.update(r.spec.policies.circuit_breakers)
        targets.update(r.spec.targets.components)
    return Resiliency(timeouts=timeouts, retries=retries, circuit_breakers=breakers, components=targets)


def target_warnings(resources: Sequence[ResiliencyResource], components: Iterable[str]) -> list[Problem]:
    """A warning for each component target that names no component of the set (its policies go unused)."""
    known = set(components)
    out = []
    for r in resources:
        for name in r.spec.targets.components:
            if name not in known:
                message = f"resiliency {r.name!r}: target component {name!r} is not defined; its policies are unused"
                out.append(Problem(message, r.path, r.line, None, f"spec.targets.components.{name}", Severity.WARNING))
    return out


def _clashes(resources: Sequence[ResiliencyResource]) -> list[Problem]:
    """A problem for each policy or component target defined by two documents."""
    seen: dict[tuple[str, str], ResiliencyResource] = {}
    out = []
    for r in resources:
        names = [
            *(("timeout", n) for n in r.spec.policies.timeouts),
            *(("retry", n) for n in r.spec.policies.retries),
            *(("circuit breaker", n) for n in r.spec.policies.circuit_breakers),
            *(("target component", n) for n in r.spec.targets.components),
        ]
        for what, name in names:
            first = seen.setdefault((what, name), r)
            if first is not r:
                message = (
                    f"resiliency {r.name!r}: {what} {name!r} is already defined by resiliency {first.name!r} "
                    f"at {first.path}:{first.line}"
                )
                out.append(Problem(message, r.path, r.line, None, name, code="duplicate"))
    return out

"""Reading resource files and folders into :class:`ComponentResource` objects."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from blockyard._yaml import load_documents
from blockyard.errors import ComponentConfigError
from blockyard.problems import Problem
from blockyard.resources.document import read_document
from blockyard.resources.model import ComponentResource

__all__ = ["PathArg", "check_unique_names", "load_resources", "parse_resources", "read_files", "read_paths"]

_log = logging.getLogger("blockyard.resources")

PathArg = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]


def parse_resources(text: str, *, source: str = "<string>") -> list[ComponentResource]:
    """Parse every ``Component`` document in ``text``; other Dapr kinds are skipped.

    :raises ComponentConfigError: listing every problem (``source`` names the text in them).
    """
    resources, problems = read_text(text, source)
    problems.extend(duplicate_names(resources))
    if problems:
        raise ComponentConfigError.from_problems(problems)
    return resources


def load_resources(path: PathArg) -> list[ComponentResource]:
    """Load the components of a file, of every ``*.yaml``/``*.yml`` in a folder, or of several of these.

    :raises ComponentConfigError: listing every problem of every file.
    """
    resources, problems = read_paths(path)
    if problems:
        raise ComponentConfigError.from_problems(problems)
    return resources


def check_unique_names(resources: Sequence[ComponentResource]) -> None:
    """:raises ComponentConfigError: naming every component whose ``metadata.name`` is taken."""
    problems = duplicate_names(resources)
    if problems:
        raise ComponentConfigError.from_problems(problems)


def read_paths(paths: PathArg) -> tuple[list[ComponentResource], list[Problem]]:
    """Every component of ``paths`` that is valid, and every problem found (never raises)."""
    texts, problems = read_files(paths)
    resources: list[ComponentResource] = []
    for origin, text in texts:
        found, file_problems = read_text(text, origin)
        resources.extend(found)
        problems.extend(file_problems)
    problems.extend(duplicate_names(resources))
    return resources, problems


def read_files(paths: PathArg) -> tuple[list[tuple[str, str]], list[Problem]]:
    """The ``(path, text)`` of every resource file of ``paths`` (a file, or the ``*.yaml``/``*.yml``
    of a folder, sorted), and a problem for each one that cannot be read (never raises)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    texts: list[tuple[str, str]] = []
    problems: list[Problem] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.suffix in (".yaml", ".yml") and f.is_file())
            if not files:
                _log.warning("no *.yaml or *.yml files in folder %s", p)
        elif p.exists():
            files = [p]
        else:
            problems.append(Problem("no such file or folder", str(p)))
            continue
        for f in files:
            try:
                text = f.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(Problem(f"cannot read the file: {type(exc).__name__}: {exc}", str(f)))
                continue
            texts.append((str(f), text))
    return texts, problems


def read_text(text: str, origin: str) -> tuple[list[ComponentResource], list[Problem]]:
    """The valid components of ``text`` and the problems of the others (never raises)."""
    docs, syntax = load_documents(text)
    problems: list[Problem] = []
    resources: list[ComponentResource] = []
    for doc in docs:
        resource, doc_problems = read_document(doc, origin)
        problems.extend(doc_problems)
        if resource is not None:
            resources.append(resource)
    if syntax is not None:
        col = f", column {syntax.column}" if syntax.column else ""
        problems.append(Problem(f"{syntax.message} (document {syntax.document}{col})", origin, syntax.line))
    return resources, problems


def duplicate_names(resources: Sequence[ComponentResource]) -> list[Problem]:
    """A problem for every component whose ``metadata.name`` an earlier one already has."""
    seen: dict[str, ComponentResource] = {}
    problems = []
    for r in resources:
        first = seen.setdefault(r.name, r)
        if first is not r:
            message = (
                f"metadata.name: the name is already used by the component at {first.path}:{first.line}; "
                "component names must be unique"
            )
            problems.append(
                Problem(message, r.path, r.line_of("metadata.name"), r.name, "metadata.name", code="duplicate")
            )
    return problems


def names(resources: Iterable[ComponentResource]) -> str:
    """The sorted names of ``resources``, comma-separated (``none`` when empty)."""
    found = sorted(r.name for r in resources)
    return ", ".join(found) if found else "none"

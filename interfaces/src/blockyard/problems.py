"""What is wrong with a component definition, as data: :class:`Problem`.

Every check (the Component document, references between components, a metadata model) reports
:class:`Problem` objects; they travel unchanged into
:attr:`~blockyard.errors.ComponentConfigError.details` and
:attr:`~blockyard.resources.ValidationReport.details`. Text is made only for display, by
``str(problem)``: ``<file>:<line>: component '<name>': <message>``. A message never holds a
metadata value.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from typing import Any

__all__ = ["Problem", "Severity", "sorted_problems"]


class Severity(enum.StrEnum):
    """How bad a problem is: an ``error`` stops loading; a ``warning`` (an ignored field) does not."""

    ERROR = "error"
    WARNING = "warning"


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """One problem of a component definition.

    :param message: what is wrong and what was expected (names the field in its own words).
    :param file: the file (or ``<string>``) it is in, when known.
    :param line: the 1-based line, 0 when unknown.
    :param component: the component's ``metadata.name``, when known.
    :param field: the field concerned: a document path (``spec.type``) or a metadata name.
    :param severity: :attr:`Severity.ERROR` or :attr:`Severity.WARNING`.
    :param code: a short machine-readable kind (``required``, ``unsupported``, ``duplicate``,
        ``invalid``, ...), for tools that sort problems without reading the message.
    """

    message: str
    file: str | None = None
    line: int = 0
    component: str | None = None
    field: str | None = None
    severity: Severity = Severity.ERROR
    code: str = "invalid"

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        who = f"component {self.component!r}: " if self.component else ""
        return f"{where}{who}{self.message}"

    def replace(self, **changes: Any) -> Problem:
        """A copy with ``changes`` applied (``file``, ``line``, ``component``, ``message``, ...)."""
        return dataclasses.replace(self, **changes)

    def sort_key(self) -> tuple[str, int]:
        """Order by file, then line."""
        return (self.file or "", self.line)


def sorted_problems(problems: Iterable[Problem]) -> list[Problem]:
    """``problems`` ordered by file and line (stable: equal places keep their order)."""
    return sorted(problems, key=Problem.sort_key)

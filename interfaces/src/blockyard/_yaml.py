"""YAML reading for resource files: plain data with line numbers, scalars kept as text.

Dapr turns every metadata value into a string, so scalars are kept exactly as written (``0755``,
``1.0`` and ``yes`` stay text; only ``null``/``~``/empty become ``None``). Each document comes
back with the line of every mapping entry and list item (1-based), keyed by its path, so errors
can point at the line. Duplicate mapping keys are reported rather than silently overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = ["Document", "YamlProblem", "load_documents"]

_NULL_TAG = "tag:yaml.org,2002:null"

Path_ = tuple[str | int, ...]


@dataclass(slots=True)
class YamlProblem:
    """Malformed YAML or a duplicated key; ``line``/``column`` are 1-based (0 = unknown)."""

    message: str
    line: int = 0
    column: int = 0
    document: int = 0


@dataclass(slots=True)
class Document:
    """One YAML document: its data, its 1-based index and start line, and the line of each path."""

    data: Any
    index: int
    line: int
    lines: dict[Path_, int] = field(default_factory=dict)
    problems: list[YamlProblem] = field(default_factory=list)

    def line_of(self, *path: str | int) -> int:
        """The line of ``path``, or of its closest known ancestor, or of the document."""
        p: Path_ = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.line


try:
    _Loader: type[Any] = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Loader = yaml.SafeLoader


def load_documents(text: str) -> tuple[list[Document], YamlProblem | None]:
    """Parse every document of ``text``.

    Returns the documents read before any syntax error, and that error (or ``None``).
    """
    docs: list[Document] = []
    try:
        for index, node in enumerate(yaml.compose_all(text, Loader=_Loader), start=1):
            if node is None:
                continue
            doc = Document(None, index, node.start_mark.line + 1)
            doc.data = _convert(node, (), doc, set())
            docs.append(doc)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        line = mark.line + 1 if mark is not None else 0
        col = mark.column + 1 if mark is not None else 0
        return docs, YamlProblem(f"malformed YAML: {what}", line, col, len(docs) + 1)
    except yaml.YAMLError as exc:
        return docs, YamlProblem(f"malformed YAML: {exc}", 0, 0, len(docs) + 1)
    return docs, None


def _convert(node: yaml.Node, path: Path_, doc: Document, active: set[int]) -> Any:
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _NULL_TAG:
            return None
        return str(node.value)
    if id(node) in active:  # a recursive alias
        doc.problems.append(YamlProblem("recursive YAML alias", node.start_mark.line + 1, node.start_mark.column + 1))
        return None
    active.add(id(node))
    try:
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, child in enumerate(node.value):
                doc.lines[(*path, i)] = child.start_mark.line + 1
                items.append(_convert(child, (*path, i), doc, active))
            return items
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = _convert(key_node, path, doc, active)
                if isinstance(key, (dict, list)) or key is None:
                    key = str(key)
                if key == "<<" and isinstance(value_node, (yaml.MappingNode, yaml.SequenceNode)):
                    merged = _convert(value_node, path, doc, active)
                    for m in merged if isinstance(merged, list) else [merged]:
                        if isinstance(m, dict):
                            for k, v in m.items():
                                out.setdefault(k, v)
                    continue
                line = key_node.start_mark.line + 1
                if key in out:
                    doc.problems.append(
                        YamlProblem(
                            f"key {key!r} appears twice in the same mapping", line, key_node.start_mark.column + 1
                        )
                    )
                doc.lines[(*path, key)] = line
                out[key] = _convert(value_node, (*path, key), doc, active)
            return out
    finally:
        active.discard(id(node))
    return None  # pragma: no cover - no other node kinds

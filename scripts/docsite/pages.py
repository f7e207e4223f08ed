"""Pages taken from the repository's own Markdown (README, CONTRIBUTING), so there is one source."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["REPOSITORY", "contributing_page", "getting_started_page", "section"]

REPOSITORY = "https://github.com/blockyard/blockyard/blob/main"
"""Where links to repository files point (the project's URLs in every pyproject)."""

_LINK = re.compile(r"\]\((?!https?://|#|mailto:)([^)\s]+)\)")


def section(markdown: str, heading: str) -> str:
    """The ``## heading`` section of ``markdown`` (without its heading), up to the next ``## ``.

    :raises KeyError: when there is no such section.
    """
    match = re.search(rf"^## {re.escape(heading)}\s*$(.*?)(?=^## |\Z)", markdown, flags=re.M | re.S)
    if match is None:
        raise KeyError(f"no '## {heading}' section")
    return match.group(1).strip() + "\n"


def repository_links(markdown: str, base: str = "") -> str:
    """Relative links to repository files turned into links to the repository (they are not pages)."""
    return _LINK.sub(lambda m: f"]({REPOSITORY}/{base}{m.group(1)})", markdown)


def getting_started_page(root: Path) -> str:
    """The README's quick start and its ``blockyard.open()`` example."""
    readme = (root / "README.md").read_text(encoding="utf-8")
    parts = [
        "# Getting started",
        "",
        section(readme, "Quick start"),
        "## Use it in an application",
        "",
        section(readme, "Use it in an application"),
        "## Components",
        "",
        section(readme, "Components"),
        "Every component has its own page: [Components](components/index.md).",
        "",
    ]
    return repository_links("\n".join(parts))


def contributing_page(root: Path) -> str:
    """CONTRIBUTING.md, its links to repository files pointing at the repository."""
    return repository_links((root / "CONTRIBUTING.md").read_text(encoding="utf-8"))

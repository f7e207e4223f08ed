"""MkDocs hooks (``mkdocs.yml``: ``hooks:``): generate the pages, the plots and the navigation.

``BLOCKYARD_DOCS_REPORT`` names the conformance ``report.json`` (default ``reports/report.json``; its
``report.html`` beside it is published too); ``BLOCKYARD_DOCS_BENCH`` the folder of benchmark results
(default ``bench/results``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))

from docsite.rst import roles_in_html  # noqa: E402
from docsite.site import generate_site  # noqa: E402

_generated: dict[str, str | bytes] = {}


def on_config(config: Any) -> Any:
    site = generate_site(
        ROOT,
        report=Path(os.environ.get("BLOCKYARD_DOCS_REPORT", ROOT / "reports" / "report.json")),
        bench=Path(os.environ.get("BLOCKYARD_DOCS_BENCH", ROOT / "bench" / "results")),
    )
    _generated.clear()
    _generated.update(site.files)
    config["nav"] = site.nav
    return config


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for path, content in _generated.items():
        files.append(File.generated(config, path, content=content))
    return files


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    return roles_in_html(html)

"""The documentation site's generated pages: one per component, the conformance matrix, benchmark plots.

Everything here is generated when the site is built (``make docs``: ``mkdocs build --strict``, whose
hooks are :mod:`docsite.hooks`), from what the installed code says — the registered component specs
and their metadata models, a conformance ``report.json``, the benchmarks' JSON results — so a page
cannot drift from the model it documents.
"""

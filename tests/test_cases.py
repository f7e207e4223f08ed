"""Every registered conformance case, as one generated suite class per case.

``pytest`` (``make test``) runs them all; a case whose backend the launcher cannot bring up is
skipped as "not run" with the reason and the command that enables it.
"""

from __future__ import annotations

from blockyard_conformance.cases import discover_cases
from blockyard_conformance.generate import install_case_classes

install_case_classes(globals(), discover_cases())

"""The ``blockyard`` entry point of ``blockyard-dbm``: the component spec and the conformance case.

Light on purpose: it imports neither ``dbm`` nor the store's module.
"""

from __future__ import annotations

from pathlib import Path

from blockyard.hookspecs import hookimpl
from blockyard.registry import ComponentSpec

__all__ = ["blockyard_components", "blockyard_conformance_cases"]


@hookimpl
def blockyard_components() -> list[ComponentSpec]:
    """``state.dbm``."""
    return [
        ComponentSpec(
            "state",
            "dbm",
            "blockyard_dbm.state:DbmStateStore",
            status="alpha",
            features=("ETAG", "FIRST_WRITE"),
            description="State in a stdlib dbm file (an example third-party plugin).",
        )
    ]


@hookimpl
def blockyard_conformance_cases() -> list[Path]:
    """The conformance case file of ``state.dbm``."""
    return [Path(__file__).parent / "conformance" / "cases.yaml"]

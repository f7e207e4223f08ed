"""Plugin hooks of ``blockyard-cassandra`` (imports no Cassandra driver): component spec and conformance case."""

from __future__ import annotations

from pathlib import Path

from blockyard.hookspecs import hookimpl
from blockyard.registry import ComponentSpec

__all__ = ["SPECS", "blockyard_components", "blockyard_conformance_cases"]

SPECS: tuple[ComponentSpec, ...] = (
    ComponentSpec(
        "state",
        "cassandra",
        "blockyard_cassandra.state:CassandraStateStore",
        status="alpha",
        features=("ETAG", "FIRST_WRITE", "TTL", "TTL_EXPIRE_TIME"),
        description="Cassandra state store: USING TTL, ETags and first-write by lightweight transactions",
        distribution="blockyard-cassandra",
    ),
)


@hookimpl
def blockyard_components() -> list[ComponentSpec]:
    """The Cassandra state store."""
    return list(SPECS)


@hookimpl
def blockyard_conformance_cases() -> list[Path]:
    """The conformance case of ``state.cassandra`` (run against the ``cassandra`` backend)."""
    return [Path(__file__).parent / "conformance" / "cases.yaml"]

"""Plugin hooks of ``blockyard-cassandra`` (imports no Cassandra driver): component spec and conformance case."""

from __future__ import annotations

from pathlib import Path

from blockyard.hookspecs import hookimpl
from blockyard.registry import ComponentSpec

__all__ = ["BLOCKYARD_CONTRACT", "SPECS", "blockyard_components", "blockyard_conformance_cases"]

#: The Blockyard plugin contract this plugin implements (see :mod:`blockyard.contract`).
BLOCKYARD_CONTRACT = "1.0"

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

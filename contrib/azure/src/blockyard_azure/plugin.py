"""Plugin hooks of ``blockyard-azure`` (imports no Azure SDK): component specs and conformance cases."""

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
        "azure.cosmosdb",
        "blockyard_azure.state:CosmosDBStateStore",
        status="alpha",
        features=(
            "ETAG",
            "FIRST_WRITE",
            "PARTITION_KEY",
            "QUERY_API",
            "TRANSACTIONAL",
            "TTL",
            "TTL_EXPIRE_TIME",
        ),
        description="Azure Cosmos DB state store: ETags, TTL, transactional batch, parameterised SQL queries",
        distribution="blockyard-azure",
    ),
    ComponentSpec(
        "bindings",
        "azure.cosmosdb",
        "blockyard_azure.binding:CosmosDBBinding",
        status="alpha",
        operations=("create",),
        direction="output",
        description="Azure Cosmos DB output binding: create documents",
        distribution="blockyard-azure",
    ),
)


@hookimpl
def blockyard_components() -> list[ComponentSpec]:
    """The two Cosmos DB components."""
    return list(SPECS)


@hookimpl
def blockyard_conformance_cases() -> list[Path]:
    """The conformance cases of the Cosmos DB components (run against the ``cosmosdb`` backend)."""
    return [Path(__file__).parent / "conformance" / "cases.yaml"]

"""The light ``blockyard`` plugin of blockyard-dapr: ``blockyard serve`` and the socket clients. Imports no gRPC."""

from __future__ import annotations

from typing import Any

from blockyard.hookspecs import hookimpl
from blockyard.registry import ComponentSpec

__all__ = ["BLOCKYARD_CONTRACT", "SPECS", "blockyard_backend_recipes", "blockyard_cli_commands", "blockyard_components"]

#: The Blockyard plugin contract this plugin implements (see :mod:`blockyard.contract`).
BLOCKYARD_CONTRACT = "1.0"


@hookimpl
def blockyard_cli_commands() -> list[Any]:
    """The ``serve`` command."""
    from blockyard_dapr.cli import serve

    return [serve]


# the most a socket client can offer; each instance keeps what its server reports
_STATE_FEATURES = ("ETAG", "FIRST_WRITE", "QUERY_API", "TRANSACTIONAL", "TTL", "TTL_EXPIRE_TIME")
_PUBSUB_FEATURES = ("BULK_PUBSUB", "CONSUMER_GROUPS", "MESSAGE_TTL", "ORDERED", "REDELIVERY", "SUBSCRIBE_WILDCARDS")

SPECS: tuple[ComponentSpec, ...] = tuple(
    ComponentSpec(
        kind,
        "dapr-socket",
        f"blockyard_dapr.client:{cls}",
        status="alpha",
        description=f"any pluggable {kind} component, reached over its Unix socket (features as it reports)",
        distribution="blockyard-dapr",
        **extra,  # type: ignore[arg-type]
    )
    for kind, cls, extra in (
        ("state", "SocketStateStore", {"features": _STATE_FEATURES}),
        ("pubsub", "SocketPubSub", {"features": _PUBSUB_FEATURES}),
        ("bindings", "SocketBinding", {"direction": "input,output"}),
        ("secretstores", "SocketSecretStore", {"features": ("MULTIPLE_KEY_VALUES_PER_SECRET", "SECRET_VERSIONS")}),
    )
)


@hookimpl
def blockyard_components() -> list[ComponentSpec]:
    """The socket clients: ``state.dapr-socket``, ``pubsub.dapr-socket``, ``bindings.dapr-socket``, ..."""
    return list(SPECS)


@hookimpl(optionalhook=True)
def blockyard_backend_recipes() -> list[Any]:
    """The launcher's ``daprd``, ``placement`` and ``scheduler`` backends (built from source by
    ``blockyard backends install daprd``)."""
    from blockyard_dapr.recipe import DaprdRecipe, PlacementRecipe, SchedulerRecipe

    return [DaprdRecipe, PlacementRecipe, SchedulerRecipe]

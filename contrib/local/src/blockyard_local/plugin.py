"""The ``blockyard`` entry point of ``blockyard-local``: component specs and conformance cases.

Light on purpose: it imports no component module (so neither croniter nor httpx).
"""

from __future__ import annotations

from pathlib import Path

from blockyard.hookspecs import hookimpl
from blockyard.registry import ComponentSpec

__all__ = ["BLOCKYARD_CONTRACT", "blockyard_components", "blockyard_conformance_cases"]

#: The Blockyard plugin contract this plugin implements (see :mod:`blockyard.contract`).
BLOCKYARD_CONTRACT = "1.0"

_STATE_FEATURES = (
    "DELETE_WITH_PREFIX",
    "ETAG",
    "FIRST_WRITE",
    "KEYS_LIKE",
    "QUERY_API",
    "TRANSACTIONAL",
    "TTL",
    "TTL_EXPIRE_TIME",
)


@hookimpl
def blockyard_components() -> list[ComponentSpec]:
    """The eight embedded components."""
    return [
        ComponentSpec(
            "state",
            "in-memory",
            "blockyard_local.state_memory:InMemoryStateStore",
            status="stable",
            features=_STATE_FEATURES,
            description="State in the process's memory; the reference implementation of the state contract.",
        ),
        ComponentSpec(
            "state",
            "sqlite",
            "blockyard_local.state_sqlite:SQLiteStateStore",
            status="stable",
            features=_STATE_FEATURES,
            aliases=("sqlite3",),
            description="State in an SQLite database file (stdlib sqlite3 on a worker thread).",
        ),
        ComponentSpec(
            "pubsub",
            "in-memory",
            "blockyard_local.pubsub_memory:InMemoryPubSub",
            status="stable",
            features=("BULK_PUBSUB", "BULK_SUBSCRIBE", "CONSUMER_GROUPS", "MESSAGE_TTL", "ORDERED", "REDELIVERY"),
            description="A message broker inside the process, with consumer groups and redelivery.",
        ),
        ComponentSpec(
            "secretstores",
            "local.file",
            "blockyard_local.secretstores_file:LocalFileSecretStore",
            status="stable",
            features=("MULTIPLE_KEY_VALUES_PER_SECRET",),
            description="Secrets from a JSON file (multi-valued secrets with multiValued: true).",
        ),
        ComponentSpec(
            "secretstores",
            "local.env",
            "blockyard_local.secretstores_env:LocalEnvSecretStore",
            status="stable",
            description="Secrets from environment variables.",
        ),
        ComponentSpec(
            "bindings",
            "localstorage",
            "blockyard_local.bindings_localstorage:LocalStorageBinding",
            status="stable",
            operations=("create", "delete", "get", "list"),
            direction="output",
            description="Files under a root folder.",
        ),
        ComponentSpec(
            "bindings",
            "cron",
            "blockyard_local.bindings_cron:CronBinding",
            status="alpha",
            direction="input",
            description="Fires on a cron schedule.",
        ),
        ComponentSpec(
            "bindings",
            "http",
            "blockyard_local.bindings_http:HttpBinding",
            status="alpha",
            direction="output",
            operations=("create", "delete", "get", "head", "options", "patch", "post", "put"),
            description="Sends HTTP requests.",
        ),
    ]


@hookimpl(optionalhook=True)
def blockyard_conformance_cases() -> list[Path]:
    """The conformance case file of the eight components."""
    return [Path(__file__).parent / "conformance" / "cases.yaml"]

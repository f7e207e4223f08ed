"""Entry-point hooks of ``blockyard-rabbitmq`` (imports no pika)."""

from __future__ import annotations

from pathlib import Path

from blockyard.hookspecs import hookimpl
from blockyard.registry import ComponentSpec

__all__ = ["BLOCKYARD_CONTRACT", "blockyard_components", "blockyard_conformance_cases"]

#: The Blockyard plugin contract this plugin implements (see :mod:`blockyard.contract`).
BLOCKYARD_CONTRACT = "1.0"

PUBSUB_FEATURES = ("BULK_PUBSUB", "CONSUMER_GROUPS", "MESSAGE_TTL", "REDELIVERY")


@hookimpl
def blockyard_components() -> list[ComponentSpec]:
    """``pubsub.rabbitmq`` and ``bindings.rabbitmq`` (input and output)."""
    return [
        ComponentSpec(
            "pubsub",
            "rabbitmq",
            "blockyard_rabbitmq.pubsub:RabbitMQPubSub",
            status="beta",
            features=PUBSUB_FEATURES,
            description="RabbitMQ exchanges per topic, a queue per consumer group; confirms and manual acks",
        ),
        ComponentSpec(
            "bindings",
            "rabbitmq",
            "blockyard_rabbitmq.binding:RabbitMQBinding",
            status="beta",
            operations=("create",),
            direction="input,output",
            description="Publish to and consume from one RabbitMQ queue",
        ),
    ]


@hookimpl(optionalhook=True)
def blockyard_conformance_cases() -> list[Path]:
    """The conformance cases of both components."""
    return [Path(__file__).parent / "conformance" / "cases.yaml"]

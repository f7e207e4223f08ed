"""Entry-point hooks of ``blockyard-kafka`` (imports no aiokafka): component specs and conformance cases."""

from __future__ import annotations

from pathlib import Path

from blockyard.hookspecs import hookimpl
from blockyard.registry import ComponentSpec

__all__ = ["BLOCKYARD_CONTRACT", "SPECS", "blockyard_components", "blockyard_conformance_cases"]

#: The Blockyard plugin contract this plugin implements (see :mod:`blockyard.contract`).
BLOCKYARD_CONTRACT = "1.1"

SPECS: tuple[ComponentSpec, ...] = (
    ComponentSpec(
        "pubsub",
        "kafka",
        "blockyard_kafka.pubsub:KafkaPubSub",
        status="alpha",
        features=("BULK_PUBSUB", "BULK_SUBSCRIBE", "CONSUMER_GROUPS", "ORDERED", "REDELIVERY"),
        description="Kafka topics and consumer groups; commit after success, per partition in order",
        distribution="blockyard-kafka",
    ),
    ComponentSpec(
        "bindings",
        "kafka",
        "blockyard_kafka.binding:KafkaBinding",
        status="alpha",
        operations=("create",),
        direction="input,output",
        description="Publish to one Kafka topic; read several in a consumer group",
        distribution="blockyard-kafka",
    ),
)


@hookimpl
def blockyard_components() -> list[ComponentSpec]:
    """``pubsub.kafka`` and ``bindings.kafka`` (input and output)."""
    return list(SPECS)


@hookimpl(optionalhook=True)
def blockyard_conformance_cases() -> list[Path]:
    """The conformance cases of both components (backends ``kafka`` and ``kafka-sasl``)."""
    return [Path(__file__).parent / "conformance" / "cases.yaml"]

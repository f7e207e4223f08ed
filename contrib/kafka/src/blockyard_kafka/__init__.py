"""Blockyard Kafka components: ``pubsub.kafka`` and ``bindings.kafka`` (aiokafka).

The classes are imported lazily through the registry; see :mod:`blockyard_kafka.pubsub` and
:mod:`blockyard_kafka.binding` for the user guides.
"""

__version__ = "0.1.0"

"""Blockyard RabbitMQ components: ``pubsub.rabbitmq`` and ``bindings.rabbitmq`` (pika, asyncio adapter).

The classes are imported lazily through the registry; see :mod:`blockyard_rabbitmq.pubsub` and
:mod:`blockyard_rabbitmq.binding` for the user guides.
"""

__version__ = "0.1.0"

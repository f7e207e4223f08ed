"""Blockyard components on Redis: ``state.redis``, ``pubsub.redis`` (Streams) and ``bindings.redis``.

Install ``blockyard-redis`` and load a Dapr Component YAML of one of these types, or import the
classes from :mod:`blockyard_redis.state`, :mod:`blockyard_redis.pubsub` and
:mod:`blockyard_redis.bindings`. This package imports no Redis client until a component is used.
"""

__version__ = "0.1.0"

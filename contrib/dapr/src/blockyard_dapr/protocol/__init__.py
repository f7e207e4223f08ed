"""Dapr's pluggable-component protocol (``dapr.proto.components.v1``): schema and generated stubs.

The ``.proto`` files beside this module are the schema, wire-compatible with Dapr 1.18; the
``*_pb2`` / ``*_pb2_grpc`` modules are generated from them by :mod:`blockyard_dapr.protocol.generate`.
"""

__all__ = ["SUBSCRIBED_HEADER"]

#: Response header a Blockyard server sends on ``PullMessages`` / ``Read`` once the component has
#: attached to the topic (the schema has no such answer; daprd ignores the header). A client that
#: waits for it knows that a message published from then on is delivered.
SUBSCRIBED_HEADER = "x-blockyard-subscribed"

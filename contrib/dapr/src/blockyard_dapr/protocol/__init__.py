"""Dapr's pluggable-component protocol (``dapr.proto.components.v1``): schema and generated stubs.

The ``.proto`` files beside this module are the schema, wire-compatible with Dapr 1.18; the
``*_pb2`` / ``*_pb2_grpc`` modules are generated from them by :mod:`blockyard_dapr.protocol.generate`.
"""

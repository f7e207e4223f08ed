"""The ``otel`` fixture (see :mod:`otel_testkit`)."""

from otel_testkit import otel

__all__ = ["otel"]

"""The light ``blockyard`` plugin of blockyard-dapr: adds ``blockyard serve``. Imports no gRPC."""

from __future__ import annotations

from typing import Any

from blockyard.hookspecs import hookimpl

__all__ = ["blockyard_cli_commands"]


@hookimpl
def blockyard_cli_commands() -> list[Any]:
    """The ``serve`` command."""
    from blockyard_dapr.cli import serve

    return [serve]

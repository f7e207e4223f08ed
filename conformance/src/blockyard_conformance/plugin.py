"""The kit's light ``blockyard`` plugin: adds ``blockyard conformance`` and ``blockyard backends``.

Importing this module imports neither pytest nor rich; the commands load when the CLI asks.
"""

from __future__ import annotations

from typing import Any

from blockyard.hookspecs import hookimpl

__all__ = ["blockyard_cli_commands"]


@hookimpl
def blockyard_cli_commands() -> list[Any]:
    """The ``conformance`` group, and the ``backends`` group when its module imports."""
    from blockyard_conformance.cli import conformance

    commands: list[Any] = [conformance]
    try:
        from blockyard_conformance.backends.cli import backends
    except ImportError:
        return commands
    commands.append(backends)
    return commands

"""The kit's light ``blockyard`` plugin: adds ``blockyard conformance`` and ``blockyard backends``.

Importing this module imports neither pytest nor rich; the commands load when the CLI asks.
"""

from __future__ import annotations

from typing import Any

from blockyard.hookspecs import hookimpl

__all__ = ["BLOCKYARD_CONTRACT", "blockyard_cli_commands"]

#: The Blockyard plugin contract this plugin implements (see :mod:`blockyard.contract`).
BLOCKYARD_CONTRACT = "1.0"


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

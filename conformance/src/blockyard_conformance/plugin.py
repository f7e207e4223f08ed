"""The kit's light ``blockyard`` plugin: adds ``blockyard conformance``, ``blockyard new`` and ``blockyard backends``.

Importing this module imports neither pytest nor rich; the commands load when the CLI asks.
"""

from __future__ import annotations

from typing import Any

from blockyard.hookspecs import hookimpl

__all__ = ["BLOCKYARD_CONTRACT", "blockyard_backend_recipes", "blockyard_cli_commands"]

#: The Blockyard plugin contract this plugin implements (see :mod:`blockyard.contract`).
BLOCKYARD_CONTRACT = "1.0"


@hookimpl
def blockyard_cli_commands() -> list[Any]:
    """The ``conformance`` and ``new`` groups, and the ``backends`` group when its module imports."""
    from blockyard_conformance.cli import conformance
    from blockyard_conformance.scaffold import new

    commands: list[Any] = [conformance, new]
    try:
        from blockyard_conformance.backends.cli import backends
    except ImportError:
        return commands
    commands.append(backends)
    return commands


@hookimpl
def blockyard_backend_recipes() -> list[Any]:
    """The ``chromium`` backend (headless Chromium behind chromedriver) for browser checks of reports and docs.

    A tool rather than a service: it has no Compose file, so it is brought like a plugin's backend.
    """
    from blockyard_conformance.backends.native.chromium import ChromiumRecipe

    return [ChromiumRecipe]

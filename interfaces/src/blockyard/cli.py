"""The ``blockyard`` command.

::

    blockyard list                      # installed components, and plugins that failed to load
    blockyard describe state.redis      # its metadata fields (from its model)
    blockyard validate components/      # every problem of every file; exit status 1 if any
    blockyard schema state.redis        # JSON Schema of the metadata (--format yaml | dapr)

Plugins add subcommands through the ``blockyard_cli_commands`` hook; they are looked up only when
a name is not a built-in command (or for ``--help``), so ``blockyard list`` loads no plugin's
command code. ``list`` reads plugin specs only: it imports no component module and no backend SDK.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, NoReturn, cast

import click

from blockyard import __version__

if TYPE_CHECKING:
    from rich.console import Console

    from blockyard.component import Component
    from blockyard.registry import ComponentSpec, Registry

__all__ = ["PluginGroup", "cli", "dapr_component_schema", "main"]

#: Dapr's capability names for the features that have one in ``metadata.yaml``.
_CAPABILITIES = {
    "ETAG": "etag",
    "TRANSACTIONAL": "transactional",
    "TTL": "ttl",
    "QUERY_API": "query",
    "MULTIPLE_KEY_VALUES_PER_SECRET": "multipleKeyValuesPerSecret",
    "BULK_PUBSUB": "bulkPublish",
    "BULK_SUBSCRIBE": "bulkSubscribe",
    "MESSAGE_TTL": "ttl",
}


class PluginGroup(click.Group):
    """A group whose extra commands come from the ``blockyard_cli_commands`` hook, loaded on demand."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plugin_commands: dict[str, click.Command] | None = None
        self.plugin_errors: list[str] = []

    def plugin_commands(self) -> dict[str, click.Command]:
        """The plugins' commands by name (a plugin whose hook fails is reported on stderr)."""
        if self._plugin_commands is None:
            from blockyard.registry import get_registry

            found: dict[str, click.Command] = {}
            pm = get_registry().plugin_manager
            for impl in pm.hook.blockyard_cli_commands.get_hookimpls():
                try:
                    commands = cast("list[Any]", impl.function() or [])
                except Exception as exc:
                    self.plugin_errors.append(f"plugin {impl.plugin_name!r}: {type(exc).__name__}: {exc}")
                    click.echo(
                        f"warning: commands of plugin {impl.plugin_name!r} failed to load: {type(exc).__name__}: {exc}",
                        err=True,
                    )
                    continue
                for command in commands:
                    if isinstance(command, click.Command) and command.name and command.name not in self.commands:
                        found.setdefault(command.name, command)
            self._plugin_commands = found
        return self._plugin_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.plugin_commands()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        return self.plugin_commands().get(cmd_name)


def console(stderr: bool = False, *, soft_wrap: bool = False) -> Console:
    """A rich console for command output, shared by plugin subcommands.

    Output that is not a terminal (CI logs, pipes) gets 160 columns instead of rich's 80, unless
    ``COLUMNS`` says otherwise, so tables stay readable. ``soft_wrap`` keeps long lines whole.
    """
    import os

    from rich.console import Console

    out = Console(stderr=stderr, highlight=False, soft_wrap=soft_wrap)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = 160
    return out


def _fail(message: str, code: int = 1) -> NoReturn:
    console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {_escape(message)}")
    sys.exit(code)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _registry() -> Registry:
    from blockyard.registry import get_registry

    return get_registry()


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``: the core's version and contract, then every installed plugin distribution's."""
    if not value or ctx.resilient_parsing:
        return
    from blockyard.contract import CONTRACT_VERSION, installed_distributions

    click.echo(f"blockyard {__version__} (contract {CONTRACT_VERSION})")
    for name, version in installed_distributions():
        click.echo(f"  {name} {version}")
    ctx.exit()


@click.group(cls=PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the versions of blockyard and of every installed plugin distribution, and exit.",
)
def cli() -> None:
    """Blockyard: Dapr-style building blocks (state, pub/sub, bindings, secret stores)."""


@cli.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def list_components(fmt: str) -> None:
    """List the installed component types, and plugins that failed to load."""
    registry = _registry()
    specs = registry.specs()
    failures = registry.failures
    if fmt == "json":
        import json

        click.echo(
            json.dumps(
                {
                    "components": [_spec_dict(s) for s in specs],
                    "failures": [
                        {"entry_point": f.entry_point, "distribution": f.distribution, "error": f.error}
                        for f in failures
                    ],
                },
                indent=2,
            )
        )
        return
    from rich.table import Table

    out = console()
    from rich import box

    table = Table(title="Installed components", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("type", overflow="fold", min_width=16)
    table.add_column("version", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("features", overflow="fold", min_width=20)
    table.add_column("distribution", overflow="fold", min_width=12)
    for s in specs:
        table.add_row(
            _escape(s.type + (f" ({', '.join(s.aliases)})" if s.aliases else "")),
            s.version,
            s.status,
            _escape(_features_text(s)),
            _escape(s.distribution or "-"),
        )
    if specs:
        out.print(table)
    else:
        out.print('No components installed. Try: pip install "blockyard[local]"')
    if failures:
        bad = Table(title="Plugins that failed to load", title_justify="left", box=box.SIMPLE_HEAD, style="red")
        for column in ("entry point", "distribution", "error"):
            bad.add_column(column, overflow="fold")
        for f in failures:
            bad.add_row(_escape(f.entry_point), _escape(f.distribution or "-"), _escape(f.error))
        out.print(bad)


def _features_text(spec: ComponentSpec) -> str:
    parts = list(spec.features)
    if spec.direction:
        parts.insert(0, spec.direction)
    if spec.operations:
        parts.append("ops: " + " ".join(spec.operations))
    return ", ".join(parts) or "-"


def _spec_dict(spec: ComponentSpec) -> dict[str, Any]:
    return {
        "type": spec.type,
        "version": spec.version,
        "status": spec.status,
        "features": list(spec.features),
        "operations": list(spec.operations),
        "direction": spec.direction,
        "aliases": list(spec.aliases),
        "distribution": spec.distribution,
        "target": spec.target,
        "description": spec.description,
    }


def _resolve(type_: str, version: str | None) -> tuple[ComponentSpec, type[Component]]:
    from blockyard.errors import ComponentNotFoundError

    registry = _registry()
    try:
        return registry.spec(type_, version), registry.resolve(type_, version)
    except ComponentNotFoundError as exc:
        _fail(exc.message)


@cli.command()
@click.argument("type_", metavar="TYPE")
@click.option("--version", "version", default=None, help="The component version (default v1).")
def describe(type_: str, version: str | None) -> None:
    """Show a component type's metadata fields, from its model."""
    from rich.table import Table

    spec, cls = _resolve(type_, version)
    model = _model(cls)
    out = console()
    out.print(f"[bold]{_escape(spec.type)}[/] {spec.version} ({spec.status})  {_escape(spec.target)}")
    doc = spec.description or next(iter((cls.__doc__ or "").strip().splitlines()), "")
    if doc:
        out.print(_escape(doc))
    out.print(f"distribution: {_escape(spec.distribution or '-')}")
    out.print(f"features: {_escape(_features_text(spec))}")
    table = Table(title="Metadata", title_justify="left")
    for column in ("name", "type", "default", "required", "sensitive", "description", "aliases"):
        table.add_column(column, overflow="fold")
    for entry in model.dapr_metadata():
        table.add_row(
            _escape(entry["name"]),
            entry["type"],
            _escape(str(entry.get("default", ""))),
            "yes" if entry.get("required") else "",
            "yes" if entry.get("sensitive") else "",
            _escape(entry.get("description", "")),
            _escape(", ".join(entry.get("aliases", []))),
        )
    out.print(table)
    if model.unsupported:
        out.print("Not implemented (rejected if given):")
        for name, why in model.unsupported.items():
            out.print(f"  {_escape(name)}: {_escape(why)}")


def _model(cls: type[Component]) -> Any:
    from blockyard.metadata import ComponentMetadata

    return cls.Metadata or ComponentMetadata


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option(
    "--app-id",
    default=None,
    help="The app id to load for: components scoped to other apps are listed as not loaded.",
)
def validate(paths: tuple[str, ...], app_id: str | None) -> None:
    """Check Component YAML files or folders offline; exit status 1 on any problem.

    Types are resolved against the installed plugins and metadata against each component's
    model; nothing connects. A secretKeyRef is checked only for its secret store existing.
    """
    from blockyard.resources import validate_resources

    if app_id == "":
        raise click.BadParameter("must be a non-empty app id", param_hint="--app-id")
    report = validate_resources(list(paths), app_id=app_id)
    out = console(soft_wrap=True)
    for warning in report.warnings:
        out.print(f"[yellow]warning:[/] {_escape(warning)}")
    for reason in report.scoped_out_reasons:
        out.print(f"[cyan]scoped out:[/] {_escape(reason)}: not loaded")
    for problem in report.problems:
        out.print(f"[red]error:[/] {_escape(problem)}")
    files = len({r.path for r in report.resources})
    summary = f"{len(report.resources)} component(s) in {files} file(s)"
    if app_id is not None:
        loaded = len(report.resources) - len(report.scoped_out)
        summary += f"; app {app_id!r} loads {loaded}, {len(report.scoped_out)} scoped to other apps"
    if report.problems:
        out.print(f"[bold red]{len(report.problems)} problem(s)[/]; {summary}")
        sys.exit(1)
    out.print(f"[green]ok[/]: {summary}")


@cli.command()
@click.argument("type_", metavar="TYPE")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "yaml", "dapr"]),
    default="json",
    show_default=True,
    help="json / yaml: JSON Schema of the metadata; dapr: a Dapr metadata.yaml document.",
)
@click.option("--version", "version", default=None, help="The component version (default v1).")
def schema(type_: str, fmt: str, version: str | None) -> None:
    """Print the metadata schema of a component type, generated from its model."""
    spec, cls = _resolve(type_, version)
    if fmt == "dapr":
        document = dapr_component_schema(spec, cls)
    else:
        document = _model(cls).json_schema()
        document.setdefault("title", f"{spec.type} {spec.version} metadata")
    if fmt == "json":
        import json

        click.echo(json.dumps(document, indent=2))
    else:
        import yaml

        click.echo(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), nl=False)


def dapr_component_schema(spec: ComponentSpec, cls: type[Component]) -> dict[str, Any]:
    """A Dapr ``metadata.yaml``-style document for ``spec``, generated from the class and its model."""
    doc: dict[str, Any] = {
        "schemaVersion": "v1",
        "type": spec.kind,
        "name": spec.name,
        "version": spec.version,
        "status": spec.status,
        "title": spec.description or spec.name,
    }
    if spec.kind == "bindings":
        direction = spec.direction or ""
        operations = spec.operations or tuple(sorted(getattr(cls, "operations", ())))
        doc["binding"] = {
            "input": "input" in direction,
            "output": "output" in direction,
            "operations": [{"name": op, "description": ""} for op in operations],
        }
    features = [str(getattr(f, "value", f)) for f in sorted(cls.features)] or list(spec.features)
    doc["capabilities"] = sorted({_CAPABILITIES.get(f, f.lower()) for f in features})
    doc["metadata"] = _model(cls).dapr_metadata()
    return doc


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``blockyard`` command."""
    cli.main(args=argv, prog_name="blockyard")


if __name__ == "__main__":  # pragma: no cover
    main()

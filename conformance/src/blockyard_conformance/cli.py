"""``blockyard conformance`` - list, run and plan the conformance cases.

::

    blockyard conformance list
    blockyard conformance run                          # every case whose backend is available
    blockyard conformance run state.redis 'pubsub.*' --report-dir reports
    blockyard conformance run --component my-statestore.yaml
    blockyard conformance matrix --format github       # {"include": [{"case", "backend", "compose"}]}

    blockyard conformance run --component my.yaml --knob bad_etag=9999999 --strict
    blockyard conformance run --socket /tmp/dapr-components-sockets/my-store.sock --kind state \
        --init redisHost=127.0.0.1:6379

``--socket PATH --kind KIND`` runs the suite of KIND against any Dapr pluggable component listening on
that Unix socket, whatever its language, through the ``<kind>.dapr-socket`` client component (from
blockyard-dapr); ``--init NAME=VALUE`` is the metadata sent at its ``Init``.

``run`` exits 1 when any case failed, else 0; not-run cases are reported, and are failures only
with ``--strict`` (CI). ``--knob NAME=VALUE`` sets a suite knob for every selected case; the value
is parsed to the knob's declared type and an unknown name is refused with the list of known ones.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

__all__ = ["conformance", "github_matrix", "main", "with_knob_options"]

SOCKET_KINDS = ("state", "pubsub", "bindings", "secretstores")


def _cases(patterns: tuple[str, ...]) -> list[Any]:
    from blockyard_conformance.cases import discover_cases, select_cases

    return select_cases(discover_cases(), patterns)


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@click.group("conformance")
def conformance() -> None:
    """Run the conformance suites on every installed component, or on a Component file."""


@conformance.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--embedded", is_flag=True, help="Only the cases that need no backend.")
@click.option("--ids", is_flag=True, help="Print only the case ids, one a line (for `conformance run`).")
def list_cases(as_json: bool, embedded: bool, ids: bool) -> None:
    """List the conformance cases the installed plugins contribute."""
    from blockyard.errors import BlockyardError

    try:
        cases = _cases(())
    except BlockyardError as exc:
        raise _fail(exc) from None
    if embedded:
        cases = [c for c in cases if c.backend is None]
    if ids:
        click.echo("\n".join(c.id for c in cases))
        return
    if as_json:
        click.echo(json.dumps([{**c.to_json(), "type": c.type, "source": c.source} for c in cases], indent=2))
        return
    from rich.table import Table

    from blockyard.cli import console

    table = Table("case", "type", "backend", "knobs", "limits", "source")
    for c in cases:
        table.add_row(c.id, c.type, c.backend or "embedded", ", ".join(c.knobs) or "-", str(len(c.limits)), c.source)
    console().print(table)


@conformance.command("run")
@click.argument("patterns", nargs=-1)
@click.option(
    "--component",
    "components",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Run the suites on this Component YAML (features come from its class). Repeatable.",
)
@click.option("--backend", default=None, help="Launcher backend the --component files need (for ${backend.*}).")
@click.option(
    "--socket",
    "socket_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Run the suite of --kind on the pluggable component listening on this Unix socket.",
)
@click.option("--kind", type=click.Choice(SOCKET_KINDS), default=None, help="The building block behind --socket.")
@click.option(
    "--init",
    "init_options",
    multiple=True,
    metavar="NAME=VALUE",
    help="Metadata the --socket component gets at Init (repeatable).",
)
@click.option(
    "--name",
    "instance",
    default="conformance",
    show_default=True,
    help="The component instance name sent to the --socket server (a served Component's metadata.name).",
)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write junit.xml, report.md, report.html and report.json here.",
)
@click.option("--no-progress", is_flag=True, help="No live progress view.")
@click.option("-k", "keyword", default=None, help="Only tests matching this pytest -k expression.")
@click.option(
    "--knob",
    "knob_options",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set a suite knob for every selected case (typed by the suite; e.g. bad_etag=9999999). Repeatable.",
)
@click.option("--strict", is_flag=True, help="A case that could not run is a failure (for CI).")
def run(
    patterns: tuple[str, ...],
    components: tuple[str, ...],
    backend: str | None,
    socket_path: Path | None,
    kind: str | None,
    init_options: tuple[str, ...],
    instance: str,
    report_dir: Path | None,
    no_progress: bool,
    keyword: str | None,
    knob_options: tuple[str, ...],
    strict: bool,
) -> None:
    """Run the cases matching PATTERNS (ids or globs; all by default).

    Exits 1 when a case failed, or with --strict when a case could not run; else 0.
    """
    from blockyard.cli import console
    from blockyard.errors import BlockyardError
    from blockyard_conformance.cases import component_file_case
    from blockyard_conformance.reports import write_reports
    from blockyard_conformance.runner import run_cases

    try:
        cases = [component_file_case(p, backend=backend) for p in components]
        if socket_path is not None or kind is not None or init_options:
            cases.append(_socket_case(socket_path, kind, init_options, instance))
        if patterns or not cases:
            cases = _cases(patterns) + cases
        cases = [with_knob_options(c, knob_options) for c in cases]
    except BlockyardError as exc:
        raise _fail(exc) from None
    err = console(stderr=True)
    outcome = run_cases(cases, console=err, progress=not no_progress, pytest_args=["-k", keyword] if keyword else [])
    out = console()
    _print_summary(out, outcome)
    if report_dir is not None:
        for path in write_reports(outcome.results, report_dir):
            out.print(f"wrote {path}")
    not_run = [r.case for r in outcome.results if r.status == "not-run"]
    if strict and not_run:
        out.print(f"[red]--strict:[/] {len(not_run)} case(s) not run count as failures: {', '.join(not_run)}")
        sys.exit(1)
    if strict and not outcome.results:
        out.print("[red]--strict:[/] no case was selected")
        sys.exit(1)
    sys.exit(outcome.exit_code)


def _socket_case(socket_path: Path | None, kind: str | None, init_options: tuple[str, ...], instance: str) -> Any:
    from blockyard_conformance.sockets import socket_case

    if socket_path is None or kind is None:
        raise click.UsageError("--socket and --kind go together (--init needs them too)")
    init: dict[str, str] = {}
    for option in init_options:
        name, sep, value = option.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{option!r} is not NAME=VALUE", param_hint="--init")
        init[name.strip()] = value
    return socket_case(socket_path, kind, init, name=instance)


def with_knob_options(case: Any, options: tuple[str, ...]) -> Any:
    """``case`` with the ``--knob NAME=VALUE`` options applied over its own knobs, typed by its suite.

    :raises KnobError: an unknown knob (listing the known ones) or a value of the wrong type.
    """
    if not options:
        return case
    import dataclasses

    from blockyard_conformance.generate import suite_for
    from blockyard_conformance.knobs import KnobError, parse_knob_options

    try:
        given = parse_knob_options(suite_for(case.kind), options)
    except KnobError as exc:
        raise KnobError(f"case {case.id}: {exc.message}", field=exc.field) from None
    return dataclasses.replace(case, knobs={**case.knobs, **given})


def _print_summary(console: Any, outcome: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    from blockyard_conformance.reports import by_kind, matrix_rows

    for kind, subset in by_kind(outcome.results):
        columns, rows = matrix_rows(subset, short=True)
        table = Table("case", "backend", *columns, title=f"{kind} conformance")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    console.print("✓ passed  ✗ failed  xfail known defect  skip limit  — feature not declared  (details: --report-dir)")
    for r in outcome.results:
        for group, (status, reason) in r.groups().items():
            if status in ("skipped", "xfailed") and reason:
                console.print(f"[dim]{escape(f'{r.case} {group}: {status}: {reason}')}[/]")
    for r in outcome.results:
        for note in r.notes():
            console.print(f"[cyan]note[/] {r.case}: {note}")
    for r in outcome.results:
        if r.status == "not-run":
            enable = escape(str(r.enable_command))
            console.print(f"[yellow]not run[/] {escape(f'{r.case}: {r.reason}')}\n    enable with: {enable}")
        for t in r.tests:
            if t.outcome == "failed":
                console.print(f"[red]FAILED[/] {escape(f'{r.case} :: {t.name}')}\n{escape((t.details or '')[-3000:])}")
    for err in outcome.errors:
        console.print(f"[red]collection error[/] {escape(str(err))}")
    counts = {s: sum(r.status == s for r in outcome.results) for s in ("passed", "failed", "not-run")}
    console.print(
        f"{len(outcome.results)} case(s): {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['not-run']} not run in {outcome.duration_s:.1f}s"
    )


def github_matrix(cases: list[Any], *, include_embedded: bool = False) -> dict[str, list[dict[str, str]]]:
    """The GitHub Actions matrix: one entry per case with a backend (and its Compose file).

    Embedded cases need no job of their own (``make test`` runs them); ``include_embedded``
    adds them with ``backend: "embedded"`` and no ``compose``. A matrix is never empty: when no
    case needs a backend, the embedded cases are listed. ``compose`` is the path of the Compose
    file shipped with the kit (relative to the working folder when beneath it).

    :raises click.UsageError: when there is no case at all.
    """
    if not cases:
        raise click.UsageError("no conformance case matched: nothing to put in the matrix")
    with_backend = any(c.backend is not None for c in cases)
    include = []
    for c in cases:
        if c.backend is None:
            if include_embedded or not with_backend:
                include.append({"case": c.id, "backend": "embedded"})
            continue
        entry = {"case": c.id, "backend": c.backend}
        compose = _compose(c.backend)
        if compose is not None:
            entry["compose"] = compose
        include.append(entry)
    return {"include": include}


def _compose(backend: str) -> str | None:
    try:
        from blockyard_conformance.backends.paths import compose_file
    except ImportError:
        return None
    path = compose_file(backend)
    if path is None:
        return None
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()


@conformance.command("matrix")
@click.argument("patterns", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["github", "json", "table"]), default="table")
@click.option("--include-embedded", is_flag=True, help="Also list cases that need no backend.")
def matrix(patterns: tuple[str, ...], fmt: str, include_embedded: bool) -> None:
    """Print the CI matrix of cases (``--format github`` for a GitHub Actions ``strategy.matrix``)."""
    from blockyard.errors import BlockyardError

    try:
        data = github_matrix(_cases(patterns), include_embedded=include_embedded)
    except BlockyardError as exc:
        raise _fail(exc) from None
    if fmt == "github":
        click.echo(json.dumps(data, separators=(",", ":")))
    elif fmt == "json":
        click.echo(json.dumps(data, indent=2))
    else:
        from rich.table import Table

        from blockyard.cli import console

        table = Table("case", "backend", "compose")
        for e in data["include"]:
            table.add_row(e["case"], e["backend"], e.get("compose", "-"))
        console().print(table)


def main() -> None:
    """``python -m blockyard_conformance``: the ``conformance`` group on its own."""
    conformance()

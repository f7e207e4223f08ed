"""``blockyard new component NAME --kind KIND``: a new plugin distribution from the kit's template.

The template (a cookiecutter template shipped in this wheel, ``templates/component``) writes
``./blockyard-NAME/``: ``pyproject.toml`` with the ``blockyard`` entry point, a metadata model, a
component implementing the kind's hooks in memory (a reference implementation that passes the
kit as generated, for the author to replace with a backend), the light plugin module, a
conformance case, a pytest module subclassing the kind's suite and a GitHub workflow using the
project's reusable one. No prompts unless ``--interactive``::

    blockyard new component mystore --kind state
    cd blockyard-mystore && pip install -e '.[test]'
    blockyard conformance run state.mystore --strict && pytest tests/

Needs the ``new`` extra: ``pip install 'blockyard-conformance[new]'``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import click

__all__ = ["KINDS", "TEMPLATE", "ScaffoldError", "new", "new_component", "template_context"]

TEMPLATE = Path(__file__).parent / "templates" / "component"
"""The cookiecutter template of a component distribution."""

_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")


@dataclass(frozen=True, slots=True)
class _Kind:
    class_suffix: str
    suite: str
    component_name: str


KINDS = {
    "state": _Kind("StateStore", "StateStoreSuite", "statestore"),
    "pubsub": _Kind("PubSub", "PubSubSuite", "pubsub"),
    "bindings": _Kind("Binding", "BindingSuite", "binding"),
    "secretstores": _Kind("SecretStore", "SecretStoreSuite", "secretstore"),
}


class ScaffoldError(click.ClickException):
    """The name, kind or target folder is unusable, or the template tool is missing."""


def template_context(name: str, kind: str, *, blockyard_repo: str = "blockyard/blockyard") -> dict[str, str]:
    """The template's variables for component ``kind.name``.

    :raises ScaffoldError: ``name`` is not lower-case words joined by ``-``, or ``kind`` is unknown.
    """
    if kind not in KINDS:
        raise ScaffoldError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not _NAME.fullmatch(name):
        raise ScaffoldError(
            f"component name {name!r} must be lower-case letters and digits, words joined by '-' (e.g. 'my-store')"
        )
    k = KINDS[kind]
    camel = "".join(part.capitalize() for part in name.split("-"))
    return {
        "name": name,
        "kind": kind,
        "type": f"{kind}.{name}",
        "dist": f"blockyard-{name}",
        "package": "blockyard_" + name.replace("-", "_"),
        "module": name.replace("-", "_"),
        "class_name": camel + k.class_suffix,
        "suite": k.suite,
        "component_name": k.component_name,
        "blockyard_repo": blockyard_repo,
    }


def new_component(
    name: str,
    kind: str,
    output_dir: Path = Path("."),
    *,
    interactive: bool = False,
    blockyard_repo: str = "blockyard/blockyard",
) -> Path:
    """Write ``output_dir/blockyard-NAME/`` from the template; return its path.

    :raises ScaffoldError: a bad name or kind, an existing target folder, or cookiecutter missing.
    """
    context = template_context(name, kind, blockyard_repo=blockyard_repo)
    target = output_dir / context["dist"]
    if target.exists():
        raise ScaffoldError(f"{target} already exists; choose another name or folder")
    try:
        from cookiecutter.main import cookiecutter
    except ImportError:
        raise ScaffoldError("the template tool is not installed: pip install 'blockyard-conformance[new]'") from None
    written = cookiecutter(str(TEMPLATE), no_input=not interactive, extra_context=context, output_dir=str(output_dir))
    return Path(written)


@click.group("new")
def new() -> None:
    """Start a new plugin from the kit's template."""


@new.command("component")
@click.argument("name")
@click.option("--kind", type=click.Choice(list(KINDS)), required=True, help="The building block.")
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where blockyard-NAME/ is written.",
)
@click.option("--interactive", is_flag=True, help="Prompt for the template's variables.")
@click.option(
    "--blockyard-repo",
    default="blockyard/blockyard",
    show_default=True,
    help="OWNER/REPO of Blockyard on GitHub, for the generated workflow's reusable workflow.",
)
def component(name: str, kind: str, output_dir: Path, interactive: bool, blockyard_repo: str) -> None:
    """Write ./blockyard-NAME/: a KIND.NAME component that passes the conformance kit as generated."""
    path = new_component(name, kind, output_dir, interactive=interactive, blockyard_repo=blockyard_repo)
    ctx = template_context(name, kind)
    click.echo(f"wrote {path}")
    click.echo(
        f"next: cd {path} && pip install -e '.[test]' && "
        f"blockyard conformance run {ctx['type']} --strict && pytest tests/"
    )

"""The ``blockyard`` entry point of ``{{ cookiecutter.dist }}``: the component spec and its conformance case.

Light on purpose: it does not import the component's module (nor, later, your backend's SDK).
"""

from __future__ import annotations

from pathlib import Path

from blockyard.hookspecs import hookimpl
from blockyard.registry import ComponentSpec

__all__ = ["blockyard_components", "blockyard_conformance_cases"]


@hookimpl
def blockyard_components() -> list[ComponentSpec]:
    """``{{ cookiecutter.type }}``; its features must equal the class's (the kit checks it)."""
    return [
        ComponentSpec(
            "{{ cookiecutter.kind }}",
            "{{ cookiecutter.name }}",
            "{{ cookiecutter.package }}.component:{{ cookiecutter.class_name }}",
            status="alpha",
{% include cookiecutter.kind ~ "/spec.py.j2" %}
            description="{{ cookiecutter.type }} (generated reference implementation).",
        )
    ]


@hookimpl
def blockyard_conformance_cases() -> list[Path]:
    """The conformance case file of ``{{ cookiecutter.type }}``."""
    return [Path(__file__).parent / "conformance" / "cases.yaml"]

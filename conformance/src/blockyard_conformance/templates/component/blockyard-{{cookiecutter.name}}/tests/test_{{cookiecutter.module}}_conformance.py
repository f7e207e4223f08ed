"""The conformance kit on ``{{ cookiecutter.type }}``: the {{ cookiecutter.kind }} suite, subclassed (``pytest tests/``)."""

from __future__ import annotations

from blockyard_conformance import {{ cookiecutter.suite }}
from {{ cookiecutter.package }}.component import {{ cookiecutter.class_name }}


class Test{{ cookiecutter.class_name }}({{ cookiecutter.suite }}):
    component_class = {{ cookiecutter.class_name }}
{% include cookiecutter.kind ~ "/test.py.j2" -%}

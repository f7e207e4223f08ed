{% include cookiecutter.kind ~ "/component.py.j2" -%}

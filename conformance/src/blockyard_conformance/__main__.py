"""``python -m blockyard_conformance run ...``: the ``conformance`` commands without the ``blockyard`` CLI."""

from blockyard_conformance.cli import main

main()

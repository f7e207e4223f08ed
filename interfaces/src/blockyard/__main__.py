"""``python -m blockyard``: the ``blockyard`` command."""

from blockyard.cli import main

main()

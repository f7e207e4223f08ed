"""``python -m blockyard_conformance.backends`` = ``blockyard backends``."""

from .cli import backends

if __name__ == "__main__":
    backends(prog_name="python -m blockyard_conformance.backends")

"""Generate the Python stubs of Dapr's pluggable-component protocol from the ``.proto`` files here.

The schema (``common``, ``state``, ``pubsub``, ``bindings``, ``secretstore``) is wire-compatible
with Dapr 1.18's ``dapr.proto.components.v1``. The generated ``*_pb2.py``, ``*_pb2.pyi`` and
``*_pb2_grpc.py`` modules are committed; ``--check`` regenerates into a temporary folder and fails
when anything differs, so the stubs can never drift from the schema::

    python -m blockyard_dapr.protocol.generate          # rewrite the stubs
    python -m blockyard_dapr.protocol.generate --check  # exit 1 if they are stale

Needs ``grpcio-tools`` (the ``codegen`` extra of ``blockyard-dapr``).
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from importlib import resources
from pathlib import Path

__all__ = ["PROTOS", "check", "generate"]

HERE = Path(__file__).resolve().parent
SOURCE_ROOT = HERE.parents[1]  # the folder holding the blockyard_dapr package
PROTOS = ("common", "state", "pubsub", "bindings", "secretstore")
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def generate(out_root: Path = SOURCE_ROOT) -> list[Path]:
    """Run protoc over the schema; write the stubs under ``out_root/blockyard_dapr/protocol``.

    :raises RuntimeError: protoc failed (its exit code is in the message).
    """
    from grpc_tools import protoc

    include = resources.files("grpc_tools") / "_proto"
    files = [str(HERE / f"{name}.proto") for name in PROTOS]
    args = [
        "protoc",
        f"-I{SOURCE_ROOT}",
        f"-I{include}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *files,
    ]
    code = protoc.main(args)
    if code != 0:
        raise RuntimeError(f"protoc failed with exit code {code}")
    folder = out_root / "blockyard_dapr" / "protocol"
    return [folder / f"{name}{suffix}" for name in PROTOS for suffix in SUFFIXES]


def check() -> list[str]:
    """The committed stubs that differ from freshly generated ones (empty when all are current)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        return [
            path.name
            for path in fresh
            if not (HERE / path.name).exists() or not filecmp.cmp(path, HERE / path.name, shallow=False)
        ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed stubs are stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = check()
        if stale:
            print("stale stubs (run python -m blockyard_dapr.protocol.generate):", ", ".join(stale))
            return 1
        print("stubs are current")
        return 0
    for path in generate():
        print("wrote", path.relative_to(SOURCE_ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())

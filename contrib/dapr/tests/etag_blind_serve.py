"""``blockyard serve`` with one deliberately broken type registered: ``state.etag-blind``.

An in-memory store that ignores the ETag of a write: what the kit over a socket must catch.
Run as ``python etag_blind_serve.py serve --type state.etag-blind --socket-folder DIR``.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from blockyard.registry import register
from blockyard.state import SetOp
from blockyard_local.state_memory import InMemoryStateStore


class EtagBlindStore(InMemoryStateStore):
    """Declares ETAG, but every write wins, whatever ETag it carries."""

    type: ClassVar[str] = "state.etag-blind"

    async def _set(self, op: SetOp) -> str | None:
        return await super()._set(dataclasses.replace(op, etag=None))


if __name__ == "__main__":
    from blockyard.cli import main
    from blockyard.registry import get_registry

    base = get_registry().spec(InMemoryStateStore.type)
    register(dataclasses.replace(base, name="etag-blind", target="etag_blind_serve:EtagBlindStore"))
    main()

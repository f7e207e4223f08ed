"""The building blocks: the one definition of the kinds a component can be."""

from __future__ import annotations

import enum

__all__ = ["ComponentKind", "kind_of"]


class ComponentKind(enum.StrEnum):
    """The building block a component implements; the first part of its Dapr type, in report order."""

    STATE = "state"
    PUBSUB = "pubsub"
    BINDINGS = "bindings"
    SECRETSTORES = "secretstores"

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Every kind's name, in order: ``("state", "pubsub", "bindings", "secretstores")``."""
        return tuple(k.value for k in cls)

    @classmethod
    def order(cls, name: str) -> int:
        """The position of kind ``name`` in report order; unknown kinds sort last."""
        names = cls.names()
        return names.index(name) if name in names else len(names)


def kind_of(type_: str) -> str:
    """The building block of a Dapr type: the part before the first dot (``state.redis`` -> ``state``)."""
    return type_.partition(".")[0]

"""The parsed form of a ``kind: Component`` document: :class:`ComponentResource`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from blockyard.kinds import kind_of

__all__ = ["API_VERSION", "OTHER_KINDS", "ComponentResource", "MetadataItem", "SecretKeyRef"]

API_VERSION = "dapr.io/v1alpha1"
#: Other Dapr resource kinds: skipped, not errors.
OTHER_KINDS = frozenset({"Subscription", "Configuration", "Resiliency", "HTTPEndpoint", "MCPServer", "Workflow"})


@dataclass(frozen=True, slots=True)
class SecretKeyRef:
    """``secretKeyRef``: read key ``key`` of secret ``name`` from the component's ``auth.secretStore``."""

    name: str
    key: str


@dataclass(frozen=True, slots=True)
class MetadataItem:
    """One ``spec.metadata[]`` entry: exactly one of ``value``, ``secret_key_ref``, ``env_ref``.

    ``value`` is text (a list of texts for a YAML list) and never shown in ``repr``.
    """

    name: str
    value: str | tuple[str, ...] | None = field(default=None, repr=False)
    secret_key_ref: SecretKeyRef | None = None
    env_ref: str | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class ComponentResource:
    """A parsed ``kind: Component`` document.

    ``kind`` is the building block (``state``, ``pubsub``, ``bindings``, ``secretstores``);
    ``source`` is ``<file>:<document number>`` (1-based); ``line`` the document's first line.
    """

    name: str
    type: str
    version: str = "v1"
    metadata: tuple[MetadataItem, ...] = ()
    secret_store: str | None = None
    source: str = "<string>"
    path: str = "<string>"
    line: int = 1
    init_timeout: float | None = None
    ignore_errors: bool = False
    scopes: tuple[str, ...] = ()
    namespace: str | None = None
    _lines: Mapping[str, int] = field(default_factory=dict, repr=False, compare=False, hash=False)

    @property
    def kind(self) -> str:
        """The building block: the part of ``type`` before the first dot."""
        return kind_of(self.type)

    def line_of(self, what: str) -> int:
        """The line of ``spec.type``, ``spec.metadata``, ``auth.secretStore``... or of a metadata name."""
        for item in self.metadata:
            if item.name.lower() == what.lower():
                return item.line
        return self._lines.get(what, self.line)

    def uses_secrets(self) -> bool:
        """True when some metadata comes from a ``secretKeyRef``."""
        return any(item.secret_key_ref is not None for item in self.metadata)

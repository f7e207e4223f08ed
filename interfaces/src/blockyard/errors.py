"""One exception hierarchy for every component and every backend.

Every error Blockyard raises is a :class:`BlockyardError`. Backend SDK exceptions never leak raw:
a component wraps them (see :meth:`blockyard.component.Component._wrap`) into the matching
subclass, carrying the component's name, the operation and the key, and chains the original as
``__cause__``. Messages never contain a metadata value, a state value or a secret.

An error is *retryable* when the same call may succeed later unchanged: a transient fault of the
backend, not a wrong request. :func:`is_retryable` is the one test (resiliency retry policies and
circuit breakers use it); a class says so with ``retryable = True``.

::

    BlockyardError
    ├── ComponentConfigError        bad Component YAML / metadata (names file, component, field)
    │   └── ComponentNotFoundError  unknown component type (names the distribution to install)
    ├── InvalidRequestError         bad call arguments: empty key, bad ttlInSeconds, bad option
    ├── ETagError
    │   ├── ETagMismatchError       the ETag does not match, or first-write found the key
    │   └── ETagInvalidError        the ETag is malformed for this store
    ├── NotSupportedError           the operation or feature is not declared by the component
    ├── SecretNotFoundError         no such secret (or key / version of it)
    ├── BackendUnavailableError     cannot reach the backend (refused, timeout, sealed, ...)  [retryable]
    │   └── CircuitOpenError        a resiliency circuit breaker is open: the call was not made
    ├── AuthenticationError         the backend refused the credentials
    ├── ComponentClosedError        the component is closed or was never initialised
    ├── BulkError                   some items of a bulk operation failed; ``errors`` maps key -> cause
    └── BackendError                any other backend failure
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, Self

from blockyard.problems import Problem

__all__ = [
    "AuthenticationError",
    "BackendError",
    "BackendUnavailableError",
    "BlockyardError",
    "BulkError",
    "CircuitOpenError",
    "ComponentClosedError",
    "ComponentConfigError",
    "ComponentNotFoundError",
    "ETagError",
    "ETagInvalidError",
    "ETagMismatchError",
    "InvalidRequestError",
    "NotSupportedError",
    "SecretNotFoundError",
    "is_retryable",
]


class BlockyardError(Exception):
    """Base of every Blockyard error.

    :param message: what went wrong and, where useful, what was expected. Never a secret.
    :param component: the component's name (``metadata.name``) or type.
    :param operation: the operation that failed (``get``, ``publish``, ``init``, ...).
    :param key: the state key, topic, secret name or metadata field concerned.
    """

    #: True when the same call may succeed later unchanged (a transient backend fault); see :func:`is_retryable`.
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        component: str | None = None,
        operation: str | None = None,
        key: str | None = None,
    ) -> None:
        self.message = message
        self.component = component
        self.operation = operation
        self.key = key
        super().__init__(self._render())

    def fill(self, component: str | None, operation: str | None, key: str | None) -> BlockyardError:
        """Set whichever of component, operation and key are still unknown; return ``self``."""
        changed = False
        if self.component is None and component is not None:
            self.component, changed = component, True
        if self.operation is None and operation is not None:
            self.operation, changed = operation, True
        if self.key is None and key is not None:
            self.key, changed = key, True
        if changed:
            self.args = (self._render(),)
        return self

    def _render(self) -> str:
        where = []
        if self.component:
            where.append(f"component {self.component!r}")
        if self.operation:
            where.append(f"operation {self.operation!r}")
        if self.key is not None:
            where.append(f"key {self.key!r}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class ComponentConfigError(BlockyardError):
    """A component definition or its metadata is invalid.

    ``details`` holds every problem found as a :class:`~blockyard.problems.Problem` (file, line,
    component, field, message), so a validator can report all of them at once; ``problems`` is
    their text, one line each.
    """

    def __init__(
        self,
        message: str,
        *,
        component: str | None = None,
        field: str | None = None,
        source: str | None = None,
        problems: Sequence[Problem | str] | None = None,
    ) -> None:
        self.field = field
        self.source = source
        given = problems if problems is not None else [message]
        self.details: tuple[Problem, ...] = tuple(p if isinstance(p, Problem) else Problem(p) for p in given)
        prefix = f"{source}: " if source else ""
        super().__init__(prefix + message, component=component, operation=None, key=field)

    @property
    def problems(self) -> list[str]:
        """The text of each problem (``str`` of each of :attr:`details`)."""
        return [str(p) for p in self.details]

    @classmethod
    def from_problems(cls, problems: Sequence[Problem]) -> Self:
        """One error listing ``problems`` (at least one); the message is their text.

        ``component``, ``field`` and ``source`` are set when every problem shares them.
        """
        texts = [str(p) for p in problems]
        if len(texts) == 1:
            message = texts[0]
        else:
            message = f"{len(texts)} problems in component definitions:\n" + "\n".join(f"  - {t}" for t in texts)
        err = cls(message, problems=problems)
        components = {p.component for p in problems}
        fields = {p.field for p in problems}
        sources = {p.file for p in problems}
        # Set after construction: the message already names them.
        err.component = components.pop() if len(components) == 1 else None
        err.field = fields.pop() if len(fields) == 1 else None
        err.source = sources.pop() if len(sources) == 1 else None
        if len(texts) == 1 and err.field is not None:
            err.key = err.field
        return err

    def _render(self) -> str:
        # The message (each problem) already names its field.
        return f"component {self.component!r}: {self.message}" if self.component else self.message


class ComponentNotFoundError(ComponentConfigError):
    """No installed plugin provides the requested component type."""


class InvalidRequestError(BlockyardError, ValueError):
    """The call's arguments are invalid (empty key, bad ``ttlInSeconds``, unknown option...)."""


class ETagError(BlockyardError):
    """Base of the ETag errors; ``kind`` is ``"mismatch"`` or ``"invalid"`` as in Dapr."""

    kind: str = ""


class ETagMismatchError(ETagError):
    """The ETag does not match the stored one, the key is absent, or a first-write found the key."""

    kind = "mismatch"


class ETagInvalidError(ETagError):
    """The ETag cannot be parsed by this store."""

    kind = "invalid"


class NotSupportedError(BlockyardError):
    """The component does not declare the feature or operation that was used."""


class SecretNotFoundError(BlockyardError):
    """The secret (or the requested key or version of it) does not exist."""


class BackendUnavailableError(BlockyardError):
    """The backend cannot be reached: connection refused, timeout, sealed, shutting down. Retryable."""

    retryable = True


class CircuitOpenError(BackendUnavailableError):
    """A resiliency circuit breaker is open (or half-open and busy): the call was refused without
    touching the backend. Retryable later; a retry policy does not retry it (as in Dapr)."""


class AuthenticationError(BlockyardError):
    """The backend refused the credentials."""


class ComponentClosedError(BlockyardError):
    """The component was closed, or used before ``init()``."""


class BackendError(BlockyardError):
    """Any other backend failure, with the original exception as ``__cause__``."""


class BulkError(BlockyardError):
    """Some items of a bulk operation failed; the others were applied.

    ``errors`` maps each failed key (or entry id) to its cause, in request order.
    """

    def __init__(
        self,
        errors: Mapping[str, BlockyardError],
        *,
        component: str | None = None,
        operation: str | None = None,
    ) -> None:
        self.errors: dict[str, BlockyardError] = dict(errors)
        keys = ", ".join(repr(k) for k in list(self.errors)[:5])
        more = f" and {len(self.errors) - 5} more" if len(self.errors) > 5 else ""
        super().__init__(
            f"{len(self.errors)} item(s) failed: {keys}{more}",
            component=component,
            operation=operation,
        )


def is_retryable(exc: BaseException) -> bool:
    """True when ``exc`` is a transient fault the same call may get past: a retryable
    :class:`BlockyardError`, or a raw timeout / connection error."""
    if isinstance(exc, BlockyardError):
        return exc.retryable
    return isinstance(exc, (TimeoutError, ConnectionError))

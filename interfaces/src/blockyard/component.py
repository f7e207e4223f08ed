"""The lifecycle every component shares.

A component is constructed from its metadata (parsed and validated once, here), then
``await init()`` connects it, it does its work, and ``await close()`` releases it. ``close()`` is
idempotent; any operation before ``init()`` or after ``close()`` raises
:class:`~blockyard.errors.ComponentClosedError`. A component is also an async context manager::

    async with InMemoryStateStore(name="cache") as store:
        await store.set("k", {"a": 1})

Plugins implement ``_init``, ``_close`` and optionally ``_ping``, and translate their SDK's
exceptions by overriding :meth:`Component._translate_error`.
"""

from __future__ import annotations

import abc
import asyncio
import builtins
import enum
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from blockyard import telemetry
from blockyard.errors import (
    BackendError,
    BackendUnavailableError,
    BlockyardError,
    BulkError,
    ComponentClosedError,
    ComponentConfigError,
    NotSupportedError,
)
from blockyard.kinds import ComponentKind

if TYPE_CHECKING:
    from blockyard.metadata import ComponentMetadata
    from blockyard.telemetry import Outgoing

__all__ = ["Component", "ComponentKind"]


_NEW, _READY, _CLOSED = 0, 1, 2
_Request = TypeVar("_Request")
_Result = TypeVar("_Result")
_Op = TypeVar("_Op")
_URL_CREDENTIALS = re.compile(r"(\w[\w+.-]*://[^:/@\s]*:)[^@\s]+@")


class Component(abc.ABC):
    """Base of every component: typed metadata, lifecycle, error translation.

    Class attributes a plugin sets:

    - ``type``: the Dapr type, e.g. ``"state.redis"``.
    - ``Metadata``: the pydantic model of its metadata (:class:`blockyard.metadata.ComponentMetadata`
      subclass); the single source of its schema.
    - ``features``: the declared features (a frozenset of the building block's feature enum).
    """

    kind: ClassVar[ComponentKind]
    type: ClassVar[str] = ""
    Metadata: ClassVar[builtins.type[ComponentMetadata] | None] = None
    features: ClassVar[frozenset[enum.StrEnum]] = frozenset()
    #: Feature -> name of the mixin class that implements it; a class declaring the feature must
    #: subclass that mixin (checked when the class is defined). Set by each building block.
    feature_mixins: ClassVar[Mapping[enum.StrEnum, str]] = {}
    #: The id of the application using the component, set before ``init()`` (``blockyard.open(...,
    #: app_id=...)`` sets it): a state store's ``appid`` key prefix, the ``source`` of published events.
    app_id: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        bases = {k.__name__ for k in cls.__mro__}
        for feature, mixin in cls.feature_mixins.items():
            if feature in cls.features and mixin not in bases:
                raise TypeError(f"{cls.__name__} declares {feature} but does not subclass {mixin}")

    def __init__(
        self,
        metadata: Mapping[str, Any] | ComponentMetadata | None = None,
        *,
        name: str | None = None,
    ) -> None:
        """Parse and validate ``metadata`` (raw Dapr properties or a ready model).

        :raises ComponentConfigError: naming every invalid or missing field.
        """
        self.name: str = name or self.type or type(self).__name__
        self.meta: Any = self._parse_metadata(metadata)
        self.log = logging.getLogger(f"blockyard.{self.type or type(self).__name__}")
        self._lifecycle = _NEW
        self._lifecycle_lock: asyncio.Lock | None = None

    def _parse_metadata(self, metadata: Mapping[str, Any] | ComponentMetadata | None) -> Any:
        from blockyard.metadata import ComponentMetadata

        model = type(self).Metadata or ComponentMetadata
        if isinstance(metadata, model):
            return metadata
        if isinstance(metadata, ComponentMetadata):  # another model: re-read what was set
            metadata = metadata.model_dump(by_alias=True, exclude_unset=True)
        return model.parse(metadata or {}, component=self.name)

    # -- lifecycle ---------------------------------------------------------------------------

    async def init(self) -> None:
        """Connect to the backend. Idempotent once ready.

        :raises ComponentClosedError: if the component was closed.
        :raises BackendUnavailableError: if the backend cannot be reached.
        """
        if self._lifecycle_lock is None:
            self._lifecycle_lock = asyncio.Lock()
        async with self._lifecycle_lock:
            if self._lifecycle == _READY:
                return
            if self._lifecycle == _CLOSED:
                raise ComponentClosedError("cannot init a closed component", component=self.name, operation="init")
            try:
                await self._init()
            except Exception as exc:
                raise self._wrap(exc, "init", None)
            telemetry.arm()
            self._lifecycle = _READY

    async def close(self) -> None:
        """Release every resource. Safe to call twice, or before ``init()``."""
        if self._lifecycle == _CLOSED:
            return
        was_ready = self._lifecycle == _READY
        self._lifecycle = _CLOSED
        if was_ready:
            await self._close()

    async def ping(self) -> None:
        """Check the backend answers.

        :raises NotSupportedError: if the component has no health check.
        :raises BackendUnavailableError: if the backend does not answer.
        """
        self._check_ready("ping")
        await self._call_hook("ping", None, self._ping())

    def _narrow_features(self, keep: Iterable[enum.StrEnum]) -> None:
        """Restrict this instance's ``features`` to ``keep`` (intersected with the class's).

        For plugins whose configuration or server decides a feature at ``init()`` (a KV v1 mount has
        no versions; without ``requeueInFailure`` there is no redelivery). The conformance kit reads
        the features of the initialised instance.
        """
        self.__dict__["features"] = type(self).features & frozenset(keep)

    @property
    def ready(self) -> bool:
        """True between a successful ``init()`` and ``close()``."""
        return self._lifecycle == _READY

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._lifecycle == _CLOSED

    async def __aenter__(self) -> Self:
        await self.init()
        return self

    async def __aexit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        state = ("new", "ready", "closed")[self._lifecycle]
        return f"<{type(self).__name__} name={self.name!r} type={self.type!r} {state}>"

    # -- plugin hooks ------------------------------------------------------------------------

    async def _init(self) -> None:  # noqa: B027 - optional hook
        """Connect; called once by :meth:`init`."""

    async def _close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; called once by :meth:`close`, only after a successful init."""

    async def _ping(self) -> None:
        raise NotSupportedError("ping is not implemented by this component", component=self.name, operation="ping")

    def _translate_error(self, exc: BaseException) -> builtins.type[BlockyardError] | BlockyardError | None:
        """Map a backend SDK exception to a Blockyard error class or a ready error; ``None`` for the default.

        The default maps timeouts and connection errors to :class:`BackendUnavailableError` and
        everything else to :class:`BackendError`. Return an instance to choose the message yourself.
        """
        return None

    # -- helpers for plugins -----------------------------------------------------------------

    def _check_ready(self, operation: str) -> None:
        if self._lifecycle != _READY:
            why = "closed" if self._lifecycle == _CLOSED else "not initialised (call init() first)"
            raise ComponentClosedError(f"component is {why}", component=self.name, operation=operation)

    def _wrap(self, exc: BaseException, operation: str, key: str | None) -> BlockyardError:
        """Turn any exception into a :class:`BlockyardError` naming component, operation and key.

        A Blockyard error passes through with its missing context filled in. Anything else becomes
        what :meth:`_translate_error` picks, with ``exc`` as ``__cause__``; a generated message carries
        the exception's class and text with every sensitive metadata value and URL credential masked.
        Use it as ``except Exception as exc: raise self._wrap(exc, "get", key)``.
        """
        if isinstance(exc, BlockyardError):
            return exc.fill(self.name, operation, key)
        translated = self._translate_error(exc)
        if isinstance(translated, BlockyardError):
            err = translated.fill(self.name, operation, key)
        else:
            cls = translated
            if cls is None:
                is_connection = isinstance(exc, (TimeoutError, ConnectionError, OSError))
                cls = BackendUnavailableError if is_connection else BackendError
            message = self._scrub(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            if issubclass(cls, ComponentConfigError):
                err = cls(message, component=self.name)
            else:
                err = cls(message, component=self.name, operation=operation, key=key)
        err.__cause__ = exc
        return err

    async def _call_hook(
        self,
        operation: str,
        key: str | None,
        call: Awaitable[_Result],
        *,
        count: int = 1,
        outgoing: Iterable[Outgoing] = (),
    ) -> _Result:
        """Await ``call`` (a plugin hook); any exception becomes a :class:`BlockyardError` naming
        ``operation`` and ``key`` (see :meth:`_wrap`). The one way public methods call their hooks.

        Also the one place operations are observed (:mod:`blockyard.telemetry`): ``count`` is the
        number of keys or messages the call concerns; ``outgoing`` are the messages it sends, which
        get the trace context in their metadata.

        An SDK that cancels its in-flight calls when ``close()`` shuts it down (grpc.aio does) would
        raise ``CancelledError`` into a caller nobody cancelled: that becomes a
        :class:`ComponentClosedError` (the operation's outcome is unknown).
        """
        observer = telemetry.active
        try:
            if observer is not None:
                return await observer.run(self, operation, key, call, count, outgoing)
            try:
                return await call
            except Exception as exc:
                raise self._wrap(exc, operation, key)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._lifecycle != _CLOSED or (task is not None and task.cancelling()):
                raise
            raise ComponentClosedError(
                "component was closed while the operation ran; its outcome is unknown",
                component=self.name,
                operation=operation,
                key=key,
            ) from None

    async def _run_bulk(
        self,
        operation: str,
        items: Sequence[tuple[str, _Request]],
        prepare: Callable[[_Request], _Op],
        apply: Callable[[list[_Op]], Awaitable[Mapping[str, BlockyardError]]],
        *,
        key: str | None = None,
        sends: Callable[[list[_Op]], Iterable[Outgoing]] | None = None,
    ) -> None:
        """Run a bulk operation: prepare each ``(id, request)``, apply every valid one, report the rest.

        ``apply`` gets the prepared ops and returns the errors by id of those that failed; an exception
        it raises is wrapped naming ``operation`` and ``key``. ``sends`` picks the messages the ops
        send (they get the trace context, see :meth:`_call_hook`).

        :raises BulkError: naming each failed id (invalid or failed) with its cause; the others were applied.
        """
        ops: list[_Op] = []
        errors: dict[str, BlockyardError] = {}
        for item_id, request in items:
            try:
                ops.append(prepare(request))
            except BlockyardError as exc:
                errors[item_id] = exc
        if ops:
            sent = sends(ops) if sends is not None else ()
            errors.update(await self._call_hook(operation, key, apply(ops), count=len(items), outgoing=sent))
        if errors:
            raise BulkError(errors, component=self.name, operation=operation)

    def _unsupported(self, feature: enum.StrEnum, what: str, *, key: str | None = None) -> NotSupportedError:
        """The error for ``what`` (an operation, or what a request used) needing undeclared ``feature``.

        The error names ``key`` when given, else ``what`` as the operation.
        """
        return NotSupportedError(
            f"{what} needs feature {feature.value}, which {self.type or 'this component'} does not declare",
            component=self.name,
            operation=what if key is None else None,
            key=key,
        )

    def _scrub(self, text: str) -> str:
        """``text`` with every sensitive (``SecretStr``) metadata value and URL password masked."""
        for _, value in self.meta or ():
            secret = value.get_secret_value() if hasattr(value, "get_secret_value") else None
            if isinstance(secret, str) and secret and secret in text:
                text = text.replace(secret, "********")
        return _URL_CREDENTIALS.sub(r"\1********@", text)

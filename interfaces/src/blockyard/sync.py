"""The same components, blocking: for threaded code (Flask, Django, scripts, worker threads).

::

    import blockyard.sync

    with blockyard.sync.open("components/", app_id="checkout") as yard:
        store = yard.state("statestore")
        etag = store.set("order-1", {"qty": 3})
        print(store.get("order-1").json())

        def handle(message: blockyard.Message) -> None:   # a plain function, run on a worker thread
            print(message.json())

        with yard.pubsub("pubsub").subscribe("orders", handle):
            yard.pubsub("pubsub").publish("orders", {"id": 1})

Guarantees:

- :func:`open` loads and initialises the yard exactly as :func:`blockyard.open` does (same
  arguments, same scopes), on **one background event-loop thread** owned by the returned
  :class:`SyncYard`; every call from any thread runs there. The wrappers are thread-safe: any
  number of threads may call them at once.
- Every call returns what the async method returns and raises **the same exception** (the same
  classes of :mod:`blockyard.errors`, with the same messages).
- A subscription's handler is a plain function, run on a worker thread of the yard (never on the
  loop thread), so it may block and may call the facade itself. Its result and errors mean what
  they mean for an async handler (``None`` acknowledges, raising asks for redelivery).
- The caller's context variables travel with each call (an OpenTelemetry span current in the
  calling thread is the parent of the operation's span), and into handler threads.
- :meth:`SyncYard.close` (or leaving the ``with`` block) closes every component, stops the loop and
  joins its thread and the handler threads; it is idempotent. A yard still open when the interpreter
  exits is closed then.
- Calling the facade from the yard's own loop thread (from async code it runs) raises
  :class:`RuntimeError` instead of deadlocking: async code uses the async components.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import logging
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from blockyard.bindings import InputBinding, OutputBinding
from blockyard.component import Component
from blockyard.errors import ComponentConfigError
from blockyard.pubsub import PubSub
from blockyard.secretstores import SecretStore
from blockyard.state import StateStore
from blockyard.yard import Yard

if TYPE_CHECKING:
    import enum

    from blockyard.bindings import BindingEvent, BindingResponse
    from blockyard.pubsub import BulkPublishEntry, Message
    from blockyard.query import Query
    from blockyard.registry import Registry
    from blockyard.resources.loading import PathArg
    from blockyard.state_types import (
        Concurrency,
        Consistency,
        DeleteRequest,
        KeysPage,
        QueryResult,
        SetRequest,
        StateItem,
    )
    from blockyard.subscription import HandlerResult, Subscription

__all__ = [
    "SyncInputBinding",
    "SyncOutputBinding",
    "SyncPubSub",
    "SyncSecretStore",
    "SyncStateStore",
    "SyncSubscription",
    "SyncYard",
    "open",
]

_log = logging.getLogger("blockyard.sync")
_T = TypeVar("_T")
_C = TypeVar("_C", bound=Component)
_In = TypeVar("_In")

SyncHandler = Callable[["Message"], "HandlerResult | None"]
"""A blocking message handler: returns ``None`` / a :class:`~blockyard.subscription.HandlerResult`, or raises."""
SyncInputHandler = Callable[["BindingEvent"], "HandlerResult | None"]
"""A blocking input-binding handler."""


class _LoopThread:
    """One event loop running forever on its own daemon thread, plus a pool for blocking handlers."""

    def __init__(self, name: str, handler_threads: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.handlers = ThreadPoolExecutor(max_workers=handler_threads, thread_name_prefix=f"{name}-handler")
        self._started = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()
        self._started.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._started.set)
        try:
            self.loop.run_forever()
        finally:
            try:
                pending = asyncio.all_tasks(self.loop)
                for task in pending:
                    task.cancel()
                if pending:
                    self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
                self.loop.run_until_complete(self.loop.shutdown_default_executor())
            finally:
                self.loop.close()

    def call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coro`` on the loop and wait for it; its exception is raised here unchanged."""
        if threading.current_thread() is self.thread:
            coro.close()
            raise RuntimeError("a blockyard.sync call was made on the yard's own event loop thread; use the async API")
        if not self.thread.is_alive():
            coro.close()
            raise ComponentConfigError("the yard is closed")
        # run_coroutine_threadsafe schedules with a copy of this thread's context: context variables
        # (the current span) travel with the call.
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    async def run_handler(self, handler: Callable[[_In], _T], arg: _In) -> _T:
        """Run a blocking ``handler(arg)`` on a handler thread, in the current context."""
        ctx = contextvars.copy_context()
        return await self.loop.run_in_executor(self.handlers, ctx.run, handler, arg)

    def stop(self) -> None:
        """Stop the loop, join its thread, then the handler threads."""
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()
        self.handlers.shutdown(wait=True)


class _SyncComponent(Generic[_C]):
    """What every wrapper shares: the async component it drives and the loop it runs on."""

    def __init__(self, component: _C, runner: _LoopThread) -> None:
        self.component: _C = component
        """The async component (use it only from async code on the yard's loop)."""
        self._runner = runner

    @property
    def name(self) -> str:
        """The component's name."""
        return self.component.name

    @property
    def type(self) -> str:
        """The component's Dapr type, e.g. ``state.redis``."""
        return self.component.type

    @property
    def features(self) -> frozenset[enum.StrEnum]:
        """The component's declared features."""
        return self.component.features

    def ping(self) -> None:
        """See :meth:`blockyard.component.Component.ping`."""
        self._runner.call(self.component.ping())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self.component!r}>"


class SyncStateStore(_SyncComponent[StateStore]):
    """A state store, blocking. Each method is the :class:`~blockyard.state.StateStore` method of the same name."""

    def get(
        self, key: str, *, consistency: Consistency | str | None = None, metadata: Mapping[str, str] | None = None
    ) -> StateItem:
        """Read ``key``; a missing key gives ``StateItem(key, value=None)``."""
        return self._runner.call(self.component.get(key, consistency=consistency, metadata=metadata))

    def set(
        self,
        key: str,
        value: Any,
        *,
        etag: str | None = None,
        ttl: int | None = None,
        concurrency: Concurrency | str | None = None,
        consistency: Consistency | str | None = None,
        metadata: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> str | None:
        """Write ``value``; return the new ETag."""
        return self._runner.call(
            self.component.set(
                key,
                value,
                etag=etag,
                ttl=ttl,
                concurrency=concurrency,
                consistency=consistency,
                metadata=metadata,
                content_type=content_type,
            )
        )

    def delete(
        self,
        key: str,
        *,
        etag: str | None = None,
        concurrency: Concurrency | str | None = None,
        consistency: Consistency | str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        """Delete ``key``."""
        self._runner.call(
            self.component.delete(key, etag=etag, concurrency=concurrency, consistency=consistency, metadata=metadata)
        )

    def bulk_get(
        self,
        keys: Sequence[str],
        *,
        consistency: Consistency | str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> list[StateItem]:
        """Read many keys: one item per key, in order."""
        return self._runner.call(self.component.bulk_get(keys, consistency=consistency, metadata=metadata))

    def bulk_set(self, requests: Iterable[SetRequest]) -> None:
        """Write many items."""
        self._runner.call(self.component.bulk_set(list(requests)))

    def bulk_delete(self, requests: Iterable[DeleteRequest]) -> None:
        """Delete many keys."""
        self._runner.call(self.component.bulk_delete(list(requests)))

    def transact(
        self, operations: Sequence[SetRequest | DeleteRequest], *, metadata: Mapping[str, str] | None = None
    ) -> None:
        """Apply operations atomically and in order."""
        self._runner.call(self.component.transact(operations, metadata=metadata))

    def delete_with_prefix(self, prefix: str) -> int:
        """Delete the keys directly under ``prefix``; return how many."""
        return self._runner.call(self.component.delete_with_prefix(prefix))

    def keys_like(
        self, pattern: str, *, page_size: int | None = None, continuation_token: str | None = None
    ) -> KeysPage:
        """One page of the live keys matching ``pattern``."""
        return self._runner.call(
            self.component.keys_like(pattern, page_size=page_size, continuation_token=continuation_token)
        )

    def query(
        self, query: Query | Mapping[str, Any] | str | bytes, *, metadata: Mapping[str, str] | None = None
    ) -> QueryResult:
        """Run a Dapr state query."""
        return self._runner.call(self.component.query(query, metadata=metadata))


class SyncSubscription:
    """A running subscription (or input-binding reader); :meth:`cancel` or a ``with`` block stops it."""

    def __init__(self, subscription: Subscription, runner: _LoopThread) -> None:
        self.subscription = subscription
        self._runner = runner

    @property
    def topic(self) -> str:
        """The topic (the binding's name for an input binding)."""
        return self.subscription.topic

    @property
    def consumer_group(self) -> str | None:
        """The consumer group."""
        return self.subscription.consumer_group

    @property
    def active(self) -> bool:
        """True until cancelled."""
        return self.subscription.active

    def cancel(self) -> None:
        """Stop delivery; after it returns the handler is not called again. Idempotent."""
        if self.subscription.active:
            self._runner.call(self.subscription.cancel())

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cancel()

    def __repr__(self) -> str:
        return f"<SyncSubscription {self.subscription!r}>"


class SyncPubSub(_SyncComponent[PubSub]):
    """A pub/sub component, blocking; handlers are plain functions run on the yard's handler threads."""

    def publish(
        self,
        topic: str,
        data: Any,
        *,
        metadata: Mapping[str, str] | None = None,
        content_type: str | None = None,
        ttl: int | None = None,
    ) -> None:
        """Publish one message; returns when the broker has it."""
        self._runner.call(self.component.publish(topic, data, metadata=metadata, content_type=content_type, ttl=ttl))

    def bulk_publish(
        self, topic: str, entries: Sequence[BulkPublishEntry], *, metadata: Mapping[str, str] | None = None
    ) -> None:
        """Publish many messages."""
        self._runner.call(self.component.bulk_publish(topic, entries, metadata=metadata))

    def subscribe(
        self,
        topic: str,
        handler: SyncHandler,
        *,
        consumer_group: str | None = None,
        metadata: Mapping[str, str] | None = None,
        dead_letter_topic: str | None = None,
    ) -> SyncSubscription:
        """Deliver ``topic`` to ``handler`` (called on a handler thread); return once set up.
        ``dead_letter_topic``: as in :meth:`blockyard.pubsub.PubSub.subscribe`."""
        runner = self._runner

        async def run(message: Message) -> HandlerResult | None:
            return await runner.run_handler(handler, message)

        sub = runner.call(
            self.component.subscribe(
                topic, run, consumer_group=consumer_group, metadata=metadata, dead_letter_topic=dead_letter_topic
            )
        )
        return SyncSubscription(sub, runner)

    def bulk_subscribe(
        self,
        topic: str,
        handler: Callable[[list[Message]], Mapping[str, HandlerResult] | None],
        *,
        consumer_group: str | None = None,
        max_messages: int = 100,
        max_await: timedelta = timedelta(seconds=1),
        metadata: Mapping[str, str] | None = None,
        dead_letter_topic: str | None = None,
    ) -> SyncSubscription:
        """Deliver batches to ``handler`` (called on a handler thread); ``dead_letter_topic`` as in
        :meth:`blockyard.pubsub.PubSub.bulk_subscribe`."""
        runner = self._runner

        async def run(messages: list[Message]) -> Mapping[str, HandlerResult] | None:
            return await runner.run_handler(handler, messages)

        sub = runner.call(
            self.component.bulk_subscribe(
                topic,
                run,
                consumer_group=consumer_group,
                max_messages=max_messages,
                max_await=max_await,
                metadata=metadata,
                dead_letter_topic=dead_letter_topic,
            )
        )
        return SyncSubscription(sub, runner)


class SyncSecretStore(_SyncComponent[SecretStore]):
    """A secret store, blocking."""

    def get_secret(self, name: str, *, metadata: Mapping[str, str] | None = None) -> dict[str, str]:
        """The secret's key/value pairs."""
        return self._runner.call(self.component.get_secret(name, metadata=metadata))

    def bulk_get_secrets(self, *, metadata: Mapping[str, str] | None = None) -> dict[str, dict[str, str]]:
        """Every secret the store can list."""
        return self._runner.call(self.component.bulk_get_secrets(metadata=metadata))


class SyncOutputBinding(_SyncComponent[OutputBinding]):
    """An output binding, blocking."""

    def invoke(self, operation: str, data: Any = None, *, metadata: Mapping[str, str] | None = None) -> BindingResponse:
        """Run ``operation``."""
        return self._runner.call(self.component.invoke(operation, data, metadata=metadata))


class SyncInputBinding(_SyncComponent[InputBinding]):
    """An input binding, blocking; the handler is a plain function run on a handler thread."""

    def read(self, handler: SyncInputHandler) -> SyncSubscription:
        """Deliver events to ``handler``; return once reading is set up."""
        runner = self._runner

        async def run(event: BindingEvent) -> HandlerResult | None:
            return await runner.run_handler(handler, event)

        return SyncSubscription(runner.call(self.component.read(run)), runner)


class SyncYard:
    """A started :class:`~blockyard.yard.Yard` driven from threads; see the module docstring."""

    def __init__(self, yard: Yard, *, handler_threads: int = 8) -> None:
        """Start ``yard`` on a new loop thread.

        :raises ComponentConfigError: and every other error :meth:`Yard.start` raises (the thread is stopped).
        """
        self._runner = _LoopThread("blockyard-sync", handler_threads)
        self._lock = threading.Lock()
        self._closed = False
        try:
            self.yard = self._runner.call(yard.start())
        except BaseException:
            self._runner.stop()
            raise
        atexit.register(self.close)

    @property
    def app_id(self) -> str | None:
        """The app id the yard was loaded for."""
        return self.yard.app_id

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Close every component, stop the loop, join the threads. Idempotent.

        :raises BackendError: if closing a component failed (after everything was stopped).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        atexit.unregister(self.close)
        try:
            self._runner.call(self.yard.close())
        finally:
            self._runner.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[str]:
        return iter(self.yard)

    def __len__(self) -> int:
        return len(self.yard)

    def __contains__(self, name: object) -> bool:
        return name in self.yard

    def state(self, name: str) -> SyncStateStore:
        """The state store called ``name`` (errors as :meth:`Yard.state`)."""
        return SyncStateStore(self.yard.state(name), self._runner)

    def pubsub(self, name: str) -> SyncPubSub:
        """The pub/sub component called ``name``."""
        return SyncPubSub(self.yard.pubsub(name), self._runner)

    def secrets(self, name: str) -> SyncSecretStore:
        """The secret store called ``name``."""
        return SyncSecretStore(self.yard.secrets(name), self._runner)

    def output_binding(self, name: str) -> SyncOutputBinding:
        """The output binding called ``name``."""
        return SyncOutputBinding(self.yard.output_binding(name), self._runner)

    def input_binding(self, name: str) -> SyncInputBinding:
        """The input binding called ``name``."""
        return SyncInputBinding(self.yard.input_binding(name), self._runner)

    def __repr__(self) -> str:
        return f"<SyncYard {'closed' if self._closed else 'open'} components={list(self.yard)}>"


def open(
    path_or_paths: PathArg,
    *,
    registry: Registry | None = None,
    app_id: str | None = None,
    handler_threads: int = 8,
) -> SyncYard:
    """Load and start the yard of ``path_or_paths`` (as :func:`blockyard.open`) on a background loop.

    The returned yard is open; use it in a ``with`` block or call :meth:`SyncYard.close`.
    ``handler_threads`` bounds how many subscription handlers run at once.

    :raises ComponentConfigError: for any problem in the definitions (nothing is left running).
    :raises BlockyardError: if a component fails to initialise (nothing is left running).
    """
    if not isinstance(handler_threads, int) or handler_threads < 1:
        raise ComponentConfigError(f"handler_threads must be a positive integer, got {handler_threads!r}")
    return SyncYard(Yard(path_or_paths, registry=registry, app_id=app_id), handler_threads=handler_threads)

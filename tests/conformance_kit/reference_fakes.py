"""Small, correct in-process components the kit's self-tests run the suites against.

Each broken variant in the self-tests subclasses one of these and breaks exactly one rule.
They are fakes of a *component* (the thing under test is the conformance kit).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from blockyard.bindings import BindingEvent, BindingResponse, DeliverEvent, InputBinding, InvokeRequest, OutputBinding
from blockyard.errors import ETagMismatchError, SecretNotFoundError
from blockyard.metadata import ComponentMetadata, SecretStr, meta
from blockyard.pubsub import (
    BulkPublisher,
    BulkSubscriber,
    BulkSubscribeRequest,
    Message,
    PublishOp,
    PubSubFeature,
    SubscribeRequest,
)
from blockyard.secretstores import SecretStore, SecretStoreFeature
from blockyard.state import (
    TTL_EXPIRE_TIME,
    Consistency,
    DeleteOp,
    DeleteWithPrefixStateStore,
    KeysLikeStateStore,
    KeysPage,
    SetOp,
    StateFeature,
    StateItem,
    TransactionalStateStore,
    compile_like,
)
from blockyard.subscription import HandlerResult, Stopper


class FakeMetadata(ComponentMetadata):
    namespace: str = meta(description="required namespace")
    password: SecretStr | None = meta(None, description="a sensitive value")


class FakeClock:
    """A clock a test moves by hand (the model test's controllable clock)."""

    def __init__(self) -> None:
        self.t = time.time()

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class RefStateStore(TransactionalStateStore, DeleteWithPrefixStateStore, KeysLikeStateStore):
    """Every state feature, correctly."""

    type = "state.ref"
    Metadata = FakeMetadata
    features = frozenset(
        {
            StateFeature.ETAG,
            StateFeature.TRANSACTIONAL,
            StateFeature.TTL,
            StateFeature.DELETE_WITH_PREFIX,
            StateFeature.KEYS_LIKE,
            StateFeature.FIRST_WRITE,
            StateFeature.TTL_EXPIRE_TIME,
        }
    )

    now: Callable[[], float] = staticmethod(time.time)
    """The store's clock (a test may replace it with a :class:`FakeClock`'s ``now``)."""

    async def _init(self) -> None:
        self.data: dict[str, tuple[bytes, str, float | None]] = {}

    def _live(self, key: str) -> tuple[bytes, str, float | None] | None:
        entry = self.data.get(key)
        if entry is not None and entry[2] is not None and entry[2] <= self.now():
            del self.data[key]
            return None
        return entry

    async def _get(self, key: str, consistency: Consistency | None, metadata: Mapping[str, str]) -> StateItem:
        entry = self._live(key)
        if entry is None:
            return StateItem(key)
        md = {}
        if entry[2] is not None:
            md[TTL_EXPIRE_TIME] = datetime.fromtimestamp(entry[2], UTC).isoformat().replace("+00:00", "Z")
        return StateItem(key, entry[0], entry[1], md)

    async def _bulk_get(
        self, keys: list[str], consistency: Consistency | None, metadata: Mapping[str, str]
    ) -> list[StateItem]:
        """Every key in one step (``_get`` never suspends): a snapshot, as transaction isolation needs."""
        return [await self._get(k, consistency, metadata) for k in keys]

    def _check(self, key: str, etag: str | None, first_write: bool) -> None:
        entry = self._live(key)
        if etag is not None and (entry is None or entry[1] != etag):
            raise ETagMismatchError("etag mismatch")
        if first_write and entry is not None:
            raise ETagMismatchError("key exists")

    def _apply_set(self, op: SetOp) -> str:
        etag = uuid.uuid4().hex
        self.data[op.key] = (op.value, etag, self.now() + op.ttl if op.ttl else None)
        return etag

    async def _set(self, op: SetOp) -> str | None:
        self._check(op.key, op.etag, op.first_write)
        return self._apply_set(op)

    async def _delete(self, op: DeleteOp) -> None:
        self._check(op.key, op.etag, False)
        self.data.pop(op.key, None)

    async def _transact(self, ops: list[SetOp | DeleteOp], metadata: Mapping[str, str]) -> None:
        for op in ops:
            self._check(op.key, op.etag, isinstance(op, SetOp) and op.first_write)
        for op in ops:
            if isinstance(op, SetOp):
                self._apply_set(op)
            else:
                self.data.pop(op.key, None)

    async def _delete_with_prefix(self, prefix: str) -> int:
        doomed = [k for k in list(self.data) if k.startswith(prefix) and "||" not in k[len(prefix) :]]
        for k in doomed:
            del self.data[k]
        return len(doomed)

    async def _keys_like(self, pattern: str, page_size: int | None, continuation_token: str | None) -> KeysPage:
        rx = compile_like(pattern)
        after = continuation_token or ""
        found = sorted(k for k in list(self.data) if k > after and rx.fullmatch(k) and self._live(k))
        if page_size is None or len(found) <= page_size:
            return KeysPage(found)
        return KeysPage(found[:page_size], found[page_size - 1])


class _Group:
    def __init__(self) -> None:
        self.queue: collections.deque[tuple[Message, float | None]] = collections.deque()
        self.ready = asyncio.Event()

    def put(self, item: tuple[Message, float | None], front: bool = False) -> None:
        if front:
            self.queue.appendleft(item)
        else:
            self.queue.append(item)
        self.ready.set()

    async def take(self) -> tuple[Message, float | None]:
        while not self.queue:
            self.ready.clear()
            await self.ready.wait()
        return self.queue.popleft()


class RefPubSub(BulkPublisher, BulkSubscriber):
    """Consumer groups, at-least-once redelivery, order, bulk and TTL, correctly.

    A message answered RETRY comes back after ``backoff`` seconds, at most ``max_redeliveries``
    times (0: no limit)."""

    type = "pubsub.ref"
    features = frozenset(PubSubFeature)  # type: ignore[assignment]
    _ids = itertools.count()
    max_redeliveries: ClassVar[int] = 0
    backoff: ClassVar[float] = 0.01

    async def _init(self) -> None:
        self.topics: dict[str, dict[str, _Group]] = {}
        self.redeliveries: dict[str | None, int] = {}

    async def _publish(self, op: PublishOp) -> None:
        expires = time.monotonic() + op.ttl if op.ttl else None
        for group in self.topics.get(op.topic, {}).values():
            group.put((Message(op.topic, op.data, dict(op.metadata), op.content_type, str(next(self._ids))), expires))

    def on_result(self, group: _Group, item: tuple[Message, float | None], result: HandlerResult) -> None:
        if result is not HandlerResult.RETRY:
            return
        count = self.redeliveries[item[0].id] = self.redeliveries.get(item[0].id, 0) + 1
        if not self.max_redeliveries or count <= self.max_redeliveries:  # behind the others, after the backoff
            asyncio.get_running_loop().call_later(self.backoff, group.put, item)

    def group(self, topic: str, consumer_group: str) -> _Group:
        """The queue of ``consumer_group`` on ``topic`` (created on first use)."""
        return self.topics.setdefault(topic, {}).setdefault(consumer_group, _Group())

    async def _subscribe(self, req: SubscribeRequest) -> Stopper:
        return self.running(self.worker(req, self.group(req.topic, req.consumer_group)))

    async def worker(self, req: SubscribeRequest, group: _Group) -> None:
        """Deliver the group's messages one at a time, skipping expired ones, until cancelled."""
        while True:
            item = await group.take()
            if item[1] is not None and item[1] <= time.monotonic():
                continue
            await self.handle(req, group, item)

    async def _bulk_subscribe(self, req: BulkSubscribeRequest) -> Stopper:
        return self.running(self.bulk_worker(req, self.group(req.topic, req.consumer_group)))

    async def bulk_worker(self, req: BulkSubscribeRequest, group: _Group) -> None:
        """Deliver what waits, up to ``max_messages`` at once, skipping expired messages, until cancelled."""
        while True:
            batch = [await group.take()]
            while group.queue and len(batch) < req.max_messages:
                batch.append(group.queue.popleft())
            now = time.monotonic()
            batch = [item for item in batch if item[1] is None or item[1] > now]
            if not batch:
                continue
            try:
                results = await req.deliver_batch([message for message, _ in batch])
            except asyncio.CancelledError:
                for item in reversed(batch):
                    group.put(item, front=True)
                raise
            for item in batch:
                self.on_result(group, item, results.get(item[0].id or "", HandlerResult.SUCCESS))

    async def handle(self, req: SubscribeRequest, group: _Group, item: tuple[Message, float | None]) -> None:
        """Deliver one message; a delivery cut short by cancellation puts it back at the front."""
        try:
            result = await req.deliver(item[0])
        except asyncio.CancelledError:
            group.put(item, front=True)
            raise
        self.on_result(group, item, result)

    def running(self, work: Coroutine[Any, Any, None]) -> Stopper:
        """Run ``work`` as a task; the stopper cancels it and returns once it has ended."""
        task = asyncio.get_running_loop().create_task(work)

        async def stop() -> None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        return stop


class RefSecretStore(SecretStore):
    """Seeded like the conformance backends; versions of ``versioned`` are "1" and "2"."""

    type = "secretstores.ref"
    features = frozenset(SecretStoreFeature)  # type: ignore[assignment]
    SECRETS: ClassVar[dict[str, list[dict[str, str]]]] = {
        "conftestsecret": [{"conftestsecret": "abcd"}],
        "secondsecret": [{"secondsecret": "efgh"}],
        "multiplekeyvaluessecret": [{"first": "1", "second": "2", "third": "3"}],
        "versioned": [{"versioned": "v1"}, {"versioned": "v2"}],
    }

    async def _get_secret(self, name: str, metadata: Mapping[str, str]) -> dict[str, str]:
        versions = self.SECRETS.get(name)
        if versions is None:
            raise SecretNotFoundError("no such secret")
        version = metadata.get("version_id")
        if version is None:
            return dict(versions[-1])
        if not version.isdigit() or not 1 <= int(version) <= len(versions):
            raise SecretNotFoundError("no such version")
        return dict(versions[int(version) - 1])

    async def _bulk_get_secrets(self, metadata: Mapping[str, str]) -> dict[str, dict[str, str]]:
        return {n: dict(v[-1]) for n, v in self.SECRETS.items()}


class RefBinding(InputBinding, OutputBinding):
    """An output binding storing blobs by metadata ``key``; every create is also an input event."""

    type = "bindings.ref"
    operations = frozenset({"create", "get", "list", "delete"})
    BLOBS: ClassVar[dict[str, bytes]] = {}
    READERS: ClassVar[list[DeliverEvent]] = []

    async def _invoke(self, req: InvokeRequest) -> BindingResponse:
        key = req.metadata.get("key", "default")
        if req.operation == "create":
            self.BLOBS[key] = req.data or b""
            for deliver in list(self.READERS):
                asyncio.get_running_loop().create_task(_deliver(deliver, _event(req.data)))
            return BindingResponse()
        if req.operation == "get":
            return BindingResponse(self.BLOBS.get(key))
        if req.operation == "list":
            return BindingResponse(",".join(sorted(self.BLOBS)).encode())
        self.BLOBS.pop(key, None)
        return BindingResponse()

    async def _read(self, deliver: DeliverEvent) -> Stopper:
        self.READERS.append(deliver)

        async def stop() -> None:
            self.READERS.remove(deliver)

        return stop


def _event(data: bytes | None) -> BindingEvent:
    return BindingEvent(data)


async def _deliver(deliver: DeliverEvent, event: BindingEvent) -> None:
    await deliver(event)

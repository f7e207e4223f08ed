"""The base classes validate and normalise before a plugin sees a request."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest
from core_testkit import SECRETS, EchoBinding, MemPubSub, MemSecrets, MemState, PlainState

from blockyard.errors import (
    BackendError,
    BackendUnavailableError,
    BlockyardError,
    BulkError,
    ComponentClosedError,
    ComponentConfigError,
    ETagMismatchError,
    InvalidRequestError,
    NotSupportedError,
    SecretNotFoundError,
)
from blockyard.metadata import ComponentMetadata, SecretStr, meta
from blockyard.pubsub import BulkPublishEntry, Message, PubSubFeature
from blockyard.secretstores import SecretStore
from blockyard.state import Consistency, DeleteRequest, SetOp, SetRequest, StateFeature, StateItem, StateStore
from blockyard.subscription import HandlerResult


@pytest.fixture
async def store() -> Any:
    async with MemState({"host": "h"}, name="cache") as s:
        yield s


# -- lifecycle -----------------------------------------------------------------------------


async def test_lifecycle_before_init_after_close_idempotent() -> None:
    s = MemState({"host": "h"}, name="cache")
    assert repr(s) == "<MemState name='cache' type='state.mem' new>"
    with pytest.raises(ComponentClosedError, match="not initialised"):
        await s.get("k")
    await s.init()
    await s.init()  # idempotent
    assert s.ready
    with pytest.raises(NotSupportedError, match="ping is not implemented"):
        await s.ping()
    await s.close()
    await s.close()
    assert s.closed
    assert not s.ready
    with pytest.raises(ComponentClosedError, match="component 'cache', operation 'set': component is closed"):
        await s.set("k", 1)
    with pytest.raises(ComponentClosedError, match="cannot init a closed component"):
        await s.init()


class CancelsOnClose(MemState):
    """A store whose SDK cancels in-flight calls when it is shut down, as grpc.aio's channel does."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending: asyncio.Future[StateItem] | None = None
        self.started = asyncio.Event()

    async def _get(self, key: str, consistency: Consistency | None, metadata: Mapping[str, str]) -> StateItem:
        self.pending = asyncio.get_running_loop().create_future()
        self.started.set()
        return await self.pending

    async def _close(self) -> None:
        if self.pending is not None:
            self.pending.cancel()


async def test_an_operation_cut_by_close_raises_component_closed() -> None:
    s = CancelsOnClose({"host": "h"}, name="cache")
    await s.init()
    get = asyncio.create_task(s.get("k"))
    await s.started.wait()
    await s.close()
    with pytest.raises(ComponentClosedError, match="component 'cache', operation 'get', key 'k': component was closed"):
        await get


async def test_a_cancelled_caller_stays_cancelled_when_close_runs_too() -> None:
    s = CancelsOnClose({"host": "h"}, name="cache")
    await s.init()
    get = asyncio.create_task(s.get("k"))
    await s.started.wait()
    get.cancel()
    await s.close()
    with pytest.raises(asyncio.CancelledError):
        await get


async def test_init_failure_is_translated() -> None:
    s = MemState({"host": "h", "failInit": "1"}, name="c")
    with pytest.raises(BackendUnavailableError) as ei:
        await s.init()
    assert (
        str(ei.value) == "component 'c', operation 'init': ConnectionRefusedError: connection refused by test backend"
    )
    assert isinstance(ei.value.__cause__, ConnectionRefusedError)
    assert not s.ready


# -- state ---------------------------------------------------------------------------------


async def test_state_set_normalises_the_request(store: MemState) -> None:
    etag = await store.set("k", {"a": 1}, metadata={"ttlInSeconds": "30"}, consistency="strong")
    op = store.calls[-1][1]
    assert isinstance(op, SetOp)
    assert (op.value, op.ttl, op.etag, op.first_write, op.consistency) == (b'{"a":1}', 30, None, False, "strong")
    await store.set("k", b"raw", etag=etag, ttl=0)
    assert store.calls[-1][1].ttl is None
    assert store.calls[-1][1].value == b"raw"
    await store.set("k2", "x", etag="")  # empty etag counts as none
    assert store.calls[-1][1].etag is None
    item = await store.get("k")
    assert item.found
    assert item.value == b"raw"
    missing = await store.get("absent")
    assert not missing.found
    assert missing.value is None
    assert missing.json() is None


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"key": ""}, InvalidRequestError, "key must be a non-empty string"),
        ({"key": 5}, InvalidRequestError, "key must be a non-empty string"),
        ({"ttl": "abc"}, InvalidRequestError, "expected an integer from -1"),
        ({"ttl": -2}, InvalidRequestError, "expected an integer from -1"),
        ({"ttl": True}, InvalidRequestError, "expected an integer from -1"),
        ({"ttl": 5, "metadata": {"ttlInSeconds": "5"}}, InvalidRequestError, "not both"),
        ({"concurrency": "sometimes"}, InvalidRequestError, "unrecognized concurrency model 'sometimes'"),
        ({"consistency": "weak"}, InvalidRequestError, "unrecognized consistency model"),
        ({"etag": 3}, InvalidRequestError, "etag must be a string"),
        ({"value": object()}, InvalidRequestError, "neither bytes nor JSON-serialisable"),
    ],
)
async def test_state_set_rejects_bad_input(store: MemState, kwargs: dict[str, Any], error: type, match: str) -> None:
    args = {"key": "k", "value": 1, **kwargs}
    with pytest.raises(error, match=match):
        await store.set(args.pop("key"), args.pop("value"), **args)
    assert store.calls == []  # the plugin never saw it


async def test_undeclared_features_raise_not_supported() -> None:
    async with PlainState(name="plain") as s:
        with pytest.raises(NotSupportedError, match="needs feature ETAG"):
            await s.set("k", 1, etag="1")
        with pytest.raises(NotSupportedError, match="needs feature TTL"):
            await s.set("k", 1, ttl=5)
        with pytest.raises(NotSupportedError, match="needs feature FIRST_WRITE"):
            await s.set("k", 1, concurrency="first-write")
        with pytest.raises(NotSupportedError, match="transact needs feature TRANSACTIONAL"):
            await s.transact([])
        for call in (s.delete_with_prefix("p"), s.keys_like("%"), s.query({})):
            with pytest.raises(NotSupportedError):
                await call
        with pytest.raises(NotSupportedError, match="needs feature FIRST_WRITE"):
            await s.set("k", 1, concurrency="first-write", etag="")  # an empty etag is no etag
        assert await s.set("k", 1, concurrency="last-write") is None
    assert s.closed


def test_feature_without_its_mixin_is_refused_at_class_definition() -> None:
    with pytest.raises(TypeError, match="declares TRANSACTIONAL but does not subclass TransactionalStateStore"):

        class Bad(PlainState):
            features = frozenset({StateFeature.TRANSACTIONAL})

    from blockyard.pubsub import PubSub

    with pytest.raises(TypeError, match="declares BULK_PUBSUB but does not subclass BulkPublisher"):

        class BadPubSub(MemPubSub):
            features = frozenset({PubSubFeature.BULK_PUBSUB})

    assert issubclass(MemPubSub, PubSub)


async def test_etag_and_first_write(store: MemState) -> None:
    etag = await store.set("k", 1)
    with pytest.raises(ETagMismatchError) as ei:
        await store.set("k", 2, etag="999")
    assert (ei.value.component, ei.value.operation, ei.value.key, ei.value.kind) == ("cache", "set", "k", "mismatch")
    with pytest.raises(ETagMismatchError):
        await store.set("k", 2, concurrency="first-write")
    assert store.calls[-1][1].first_write is True
    await store.set("k", 2, etag=etag, concurrency="first-write")
    assert store.calls[-1][1].first_write is False  # with an etag it is an etag check
    with pytest.raises(ETagMismatchError):
        await store.delete("k", etag="999")
    await store.delete("absent")


async def test_sdk_errors_are_wrapped_with_context(store: MemState) -> None:
    with pytest.raises(BackendError) as ei:
        await store.set("explode", 1)
    assert str(ei.value) == "component 'cache', operation 'set', key 'explode': KeyError: 'boom'"
    assert isinstance(ei.value.__cause__, KeyError)


async def test_wrapped_errors_mask_secrets_and_url_credentials() -> None:
    class LeakyMetadata(ComponentMetadata):
        password: SecretStr = meta(description="a secret")

    class Leaky(StateStore):
        type = "state.leaky"
        Metadata = LeakyMetadata

        async def _get(self, key: str, consistency: Any, metadata: Mapping[str, str]) -> StateItem:
            raise RuntimeError("auth failed for hunter2 at amqp://guest:s3cret@127.0.0.1:5672/")

        async def _set(self, op: SetOp) -> None:
            raise NotImplementedError

        async def _delete(self, op: Any) -> None:
            raise NotImplementedError

    async with Leaky({"password": "hunter2"}, name="leaky") as leaky:
        with pytest.raises(BackendError) as ei:
            await leaky.get("k")
    text = str(ei.value)
    assert "hunter2" not in text
    assert "s3cret" not in text
    assert "amqp://guest:********@127.0.0.1:5672/" in text


async def test_translate_error_may_return_a_config_error_or_an_instance() -> None:
    class Picky(PlainState):
        def _translate_error(self, exc: BaseException) -> Any:
            if isinstance(exc, KeyError):
                return ComponentConfigError("field 'vhost': no such vhost")
            return ComponentConfigError

    async with Picky(name="picky") as picky:
        picky._get = _raiser(KeyError("x"))  # type: ignore[method-assign]
        with pytest.raises(ComponentConfigError, match="no such vhost") as ei:
            await picky.get("k")
        assert ei.value.component == "picky"
        assert isinstance(ei.value.__cause__, KeyError)
        picky._get = _raiser(ValueError("bad"))  # type: ignore[method-assign]
        with pytest.raises(ComponentConfigError, match="ValueError: bad"):
            await picky.get("k")


def _raiser(exc: BaseException) -> Any:
    async def raise_it(*args: Any) -> Any:
        raise exc

    return raise_it


async def test_bulk_operations_report_each_failed_key(store: MemState) -> None:
    etag = await store.set("a", 1)
    with pytest.raises(BulkError) as ei:
        await store.bulk_set(
            [SetRequest("a", 2, etag="bad"), SetRequest("b", 3), SetRequest("", 4), SetRequest("c", 5, etag=etag)]
        )
    assert set(ei.value.errors) == {"a", "", "c"}
    assert isinstance(ei.value.errors["a"], ETagMismatchError)
    assert isinstance(ei.value.errors[""], InvalidRequestError)
    assert "3 item(s) failed" in str(ei.value)
    assert (await store.get("b")).value == b"3"  # the good item was written
    items = await store.bulk_get(["b", "zz", "a"])
    assert [i.key for i in items] == ["b", "zz", "a"]
    assert items[1].value is None
    with pytest.raises(BulkError) as ei:
        await store.bulk_delete([DeleteRequest("b"), DeleteRequest("a", etag="nope")])
    assert list(ei.value.errors) == ["a"]
    assert not (await store.get("b")).found


async def test_transact_validates_everything_first(store: MemState) -> None:
    with pytest.raises(InvalidRequestError):
        await store.transact([SetRequest("a", 1), SetRequest("", 2)])
    with pytest.raises(InvalidRequestError, match="takes SetRequest or DeleteRequest"):
        await store.transact(["nope"])  # type: ignore[list-item]
    assert store.calls == []
    await store.transact([SetRequest("a", 1), DeleteRequest("b")])
    assert [type(o).__name__ for o in store.calls[-1][1]] == ["SetOp", "DeleteOp"]


# -- pub/sub -------------------------------------------------------------------------------


async def test_pubsub_publish_subscribe_and_handler_results(caplog: pytest.LogCaptureFixture) -> None:
    async with MemPubSub(name="bus") as bus:
        got: list[Message] = []

        async def ok(m: Message) -> None:
            got.append(m)

        async def failing(m: Message) -> HandlerResult:
            raise RuntimeError("payload-secret-content")

        results: list[HandlerResult] = []
        sub = await bus.subscribe("orders", ok)
        bad = await bus.subscribe("orders", failing)
        assert sub.consumer_group == "bus"  # default group: the component name

        orig = bus.subs[1].deliver

        async def spy(m: Message) -> HandlerResult:
            results.append(await orig(m))
            return results[-1]

        bus.subs[1].deliver = spy
        await bus.publish("orders", {"id": 1}, ttl=10)
        assert got[0].json() == {"id": 1}
        assert results == [HandlerResult.RETRY]
        assert "payload-secret-content" not in caplog.text
        assert "RuntimeError" in caplog.text
        assert bus.published[-1].ttl == 10
        await sub.cancel()
        await sub.cancel()
        assert not sub.active
        await bus.publish("orders", b"x")
        assert len(got) == 1
    assert not bad.active  # close cancels every subscription


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda b: b.publish("", 1), InvalidRequestError, "topic must be a non-empty string"),
        (lambda b: b.publish("t", 1, ttl="x"), InvalidRequestError, "ttlInSeconds"),
        (lambda b: b.subscribe(None, None), InvalidRequestError, "topic must be a non-empty string"),
        (lambda b: b.bulk_publish("t", [BulkPublishEntry("1", 1)]), NotSupportedError, "needs feature BULK_PUBSUB"),
        (lambda b: b.bulk_subscribe("t", None), NotSupportedError, "needs feature BULK_SUBSCRIBE"),
    ],
)
async def test_pubsub_rejects_bad_input(call: Any, error: type, match: str) -> None:
    async with MemPubSub(name="bus") as bus:
        with pytest.raises(error, match=match):
            await call(bus)
        assert bus.published == []


async def test_message_ttl_needs_the_feature() -> None:
    class NoTtl(MemPubSub):
        features = frozenset()

    async with NoTtl(name="bus") as bus:
        with pytest.raises(NotSupportedError, match="publish with a TTL needs feature MESSAGE_TTL"):
            await bus.publish("t", 1, metadata={"ttlInSeconds": "5"})
    async with MemPubSub(name="bus", metadata={"failInit": "false"}) as plain:
        assert plain.default_consumer_group == "bus"


# -- bindings ------------------------------------------------------------------------------


async def test_output_binding_operations_and_data() -> None:
    async with EchoBinding(name="echo") as b:
        assert (await b.invoke("CREATE", "text")).data == b"text"
        assert (await b.invoke("create", {"a": 1})).json() == {"a": 1}
        assert (await b.invoke("create", None)).data is None
        with pytest.raises(NotSupportedError, match="operation 'delete' is not supported; supported: create, get"):
            await b.invoke("delete")
        with pytest.raises(InvalidRequestError, match="operation must be a non-empty string"):
            await b.invoke("")
        with pytest.raises(BackendError, match="component 'echo', operation 'get'"):
            await b.invoke("get")


async def test_input_binding_reads_until_cancelled() -> None:
    async with EchoBinding(name="echo") as b:
        seen: list[bytes | None] = []

        async def handler(event: Any) -> HandlerResult | None:
            seen.append(event.data)
            return HandlerResult.DROP if event.data == b"drop" else None

        async def broken(event: Any) -> None:
            raise ValueError("x")

        sub = await b.read(handler)
        await b.read(broken)
        assert await b.emit(b"one") == [HandlerResult.SUCCESS, HandlerResult.RETRY]
        assert await b.emit(b"drop") == [HandlerResult.DROP, HandlerResult.RETRY]
        await sub.cancel()
        assert await b.emit(b"two") == [HandlerResult.RETRY]
        assert seen == [b"one", b"drop"]
    assert b.delivers == []


# -- secret stores -------------------------------------------------------------------------


async def test_secret_store_contract(caplog: pytest.LogCaptureFixture) -> None:
    SECRETS["vault"] = {"db": {"user": "u", "password": "p@ss-never-shown"}}
    async with MemSecrets(name="vault") as s:
        assert await s.get_secret("db") == {"user": "u", "password": "p@ss-never-shown"}
        assert await s.bulk_get_secrets() == {"db": {"user": "u", "password": "p@ss-never-shown"}}
        with pytest.raises(SecretNotFoundError) as ei:
            await s.get_secret("nope")
        assert (ei.value.component, ei.value.operation, ei.value.key) == ("vault", "get_secret", "nope")
        with pytest.raises(InvalidRequestError):
            await s.get_secret("")
        with pytest.raises(NotSupportedError, match="'version_id' needs feature SECRET_VERSIONS"):
            await s.get_secret("db", metadata={"version_id": "2"})
    assert "p@ss-never-shown" not in caplog.text


def test_abstract_contracts_cannot_be_instantiated() -> None:
    with pytest.raises(TypeError):
        StateStore()  # type: ignore[abstract]
    with pytest.raises(TypeError):
        SecretStore()  # type: ignore[abstract]


async def test_component_metadata_model_instance_is_accepted() -> None:
    from core_testkit import MemStateMetadata

    model = MemStateMetadata.parse({"host": "a"})
    s = MemState(model, name="x")
    assert s.meta is model


async def test_many_concurrent_bulk_gets_respect_parallelism(store: MemState, monkeypatch: pytest.MonkeyPatch) -> None:
    store.bulk_parallelism = 4  # type: ignore[misc]
    running = 0
    peak = 0
    original = store._get

    async def slow(key: str, c: Consistency | None, md: Mapping[str, str]) -> StateItem:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0)
        running -= 1
        return await original(key, c, md)

    monkeypatch.setattr(store, "_get", slow)
    items = await store.bulk_get([f"k{i}" for i in range(20)])
    assert len(items) == 20
    assert peak <= 4


def test_blockyard_errors_are_one_hierarchy() -> None:
    assert issubclass(InvalidRequestError, ValueError)
    assert all(issubclass(e, BlockyardError) for e in (BulkError, ETagMismatchError, SecretNotFoundError))

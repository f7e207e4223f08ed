"""The state store suite: Dapr's conformance cases, with its gaps closed, and more.

Knobs (class attributes): ``bad_etag`` (a well-formed ETag that never matches),
``bad_etag_error`` (which error a write with ``bad_etag`` must raise: ``mismatch``, ``invalid`` or
``either``; unset: ``mismatch`` when ``bad_etag`` is set, ``either`` for the default ``"bad-etag"``,
and the run notes when a store refused it as malformed),
``large_value_size``, ``ttl_timeout`` (seconds to wait for an expiry), ``concurrent_writers``,
``concurrent_inserts``, ``model_examples`` / ``model_steps`` / ``model_shrink`` (the hypothesis
model test; ``model_clock()`` gives it a clock to move, for TTL), ``etag_writers`` /
``etag_increments`` (the lost-update scenario: 16 x 100 by default), ``durable_writes`` (acknowledged
writes that must survive a SIGKILL of the backend, knob ``kill_backend``); the reliability scenarios'
knobs are in :mod:`blockyard_conformance.state_reliability`.

Every test uses keys under a fresh prefix and deletes them afterwards.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

import orjson
import pytest
import pytest_asyncio

from blockyard.component import Component
from blockyard.errors import (
    BackendUnavailableError,
    BlockyardError,
    BulkError,
    ETagError,
    ETagInvalidError,
    ETagMismatchError,
    InvalidRequestError,
    NotSupportedError,
)
from blockyard.state import (
    TTL_EXPIRE_TIME,
    DeleteRequest,
    DeleteWithPrefixStateStore,
    KeysLikeStateStore,
    QueryableStateStore,
    SetRequest,
    StateItem,
    StateStore,
    TransactionalStateStore,
)
from blockyard_conformance.base_suite import SuiteEnv
from blockyard_conformance.marks import capability
from blockyard_conformance.query_suite import QuerySuite
from blockyard_conformance.state_model import ModelClock, run_state_model
from blockyard_conformance.state_reliability import StateReliabilitySuite
from blockyard_conformance.support import eventually, fresh_id

__all__ = ["Keys", "StateStoreSuite"]

_JSON_MD = {"contentType": "application/json"}


class Keys:
    """Makes this test's keys (under one fresh prefix) and remembers them for cleanup."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.made: list[str] = []

    def __call__(self, suffix: str) -> str:
        """The key ``<prefix>-<suffix>``."""
        return self.raw(f"{self.prefix}-{suffix}")

    def raw(self, key: str) -> str:
        """Remember ``key`` (already unique) for cleanup and return it."""
        self.made.append(key)
        return key


def assert_value(item: StateItem, expected: Any) -> None:
    """Bytes compare raw; anything else compares JSON-decoded (Dapr's rule)."""
    assert item.error is None, f"{item.key!r}: unexpected error {item.error}"
    assert item.value is not None, f"{item.key!r}: no item, expected a value"
    if isinstance(expected, bytes):
        assert item.value == expected, f"{item.key!r}: bytes differ"
    else:
        assert orjson.loads(item.value) == expected, f"{item.key!r}: value differs"


def _parse_rfc3339(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert value.tzinfo is not None, f"{TTL_EXPIRE_TIME} {text!r} has no time zone"
    return value


class StateStoreSuite(QuerySuite, StateReliabilitySuite):
    """Conformance tests of a :class:`~blockyard.state.StateStore`."""

    kind: ClassVar[str] = "state"
    bad_etag: str = "bad-etag"
    """A well-formed ETag that matches no write (stores with numeric ETags: ``"9999999"``)."""
    bad_etag_error: Literal["mismatch", "invalid", "either"] | None = None
    """The error a write or delete with ``bad_etag`` must raise: ``"mismatch"`` (ETagMismatchError;
    ``bad_etag`` is well-formed for the store), ``"invalid"`` (ETagInvalidError; the store checks the
    ETag's form and ``bad_etag`` fails it) or ``"either"``. Unset: ``"mismatch"`` when ``bad_etag``
    is set, ``"either"`` for the default ``"bad-etag"`` (both are honest answers to it)."""
    large_value_size: int = 1024 * 1024
    ttl_timeout: float = 10.0
    concurrent_writers: int = 50
    concurrent_inserts: int = 20
    model_examples: int = 15
    model_steps: int = 12
    model_shrink: bool = True
    """Knob: shrink a failing model sequence to a minimal one (slow on a remote backend)."""
    etag_writers: int = 16
    etag_increments: int = 100
    durable_writes: int = 1000

    def model_clock(self, store: StateStore) -> ModelClock | None:
        """A clock the model test may move for ``store``; ``None`` (the default): the store keeps real time."""
        return None

    def wrong_etag_errors(self) -> tuple[type[ETagError], ...]:
        """The errors a write or delete with ``bad_etag`` may raise (knob ``bad_etag_error``)."""
        mode = self.bad_etag_error or ("either" if self.bad_etag == StateStoreSuite.bad_etag else "mismatch")
        allowed: dict[str, tuple[type[ETagError], ...]] = {
            "mismatch": (ETagMismatchError,),
            "invalid": (ETagInvalidError,),
            "either": (ETagMismatchError, ETagInvalidError),
        }
        if mode not in allowed:
            pytest.fail(f"knob bad_etag_error must be one of {', '.join(allowed)}, got {mode!r}", pytrace=False)
        return allowed[mode]

    def check_wrong_etag(self, error: BaseException, what: str) -> None:
        """Assert ``error`` is what ``what`` (an operation with ``bad_etag``) must raise; note an
        accepted ETagInvalidError in the run's output."""
        expected = self.wrong_etag_errors()
        names = " or ".join(e.__name__ for e in expected)
        assert isinstance(error, expected), (
            f"{what} with bad_etag {self.bad_etag!r} raised {type(error).__name__}, expected {names}"
        )
        if isinstance(error, ETagInvalidError) and ETagMismatchError in expected:
            self.note(
                f"bad_etag {self.bad_etag!r} is refused as malformed (ETagInvalidError), accepted as honest; "
                "set knob bad_etag to a well-formed ETag that never matches to check mismatches with it "
                "(or bad_etag_error=invalid to require the refusal)"
            )

    @contextmanager
    def raises_wrong_etag(self, what: str) -> Iterator[None]:
        """Expect the block (an operation with ``bad_etag``) to raise what ``bad_etag_error`` says."""
        with pytest.raises(self.wrong_etag_errors()) as raised:
            yield
        self.check_wrong_etag(raised.value, what)

    async def exercise(self, component: Component) -> None:
        assert isinstance(component, StateStore)
        await component.get(fresh_id("blockyard-lifecycle-"))

    @pytest.fixture
    def store(self, component: Component) -> StateStore:
        """The component, checked to be a state store."""
        assert isinstance(component, StateStore), f"{type(component).__name__} is not a StateStore"
        return component

    @pytest_asyncio.fixture
    async def keys(self, store: StateStore) -> AsyncIterator[Keys]:
        """Fresh keys for this test, deleted afterwards."""
        made = Keys(fresh_id("blockyard-"))
        yield made
        for key in dict.fromkeys(made.made):
            try:
                await store.delete(key)
            except BlockyardError:
                pass

    # -- fault injection ---------------------------------------------------------------------

    @capability("fault")
    async def test_state_survives_a_backend_restart(self, store: StateStore, keys: Keys, suite_env: SuiteEnv) -> None:
        """After the launcher restarts the backend, the store reconnects by itself and reads back what
        it wrote before, with the same ETag (knob ``restart_backend``)."""
        async with self.restartable(suite_env, store) as target:
            assert isinstance(target.component, StateStore)
            store = target.component
            key = keys("fault")
            etag = await self.written_etag(store, key, await store.set(key, {"kept": True}))
            await target.restart()
            item = await _eventually(lambda: store.get(key), within=self.restart_timeout)
            assert item.json() == {"kept": True}
            if "ETAG" in self.declared(store):
                assert item.etag == etag
                assert await self.written_etag(store, key, await store.set(key, {"kept": "updated"}, etag=etag)) != etag

    @capability("fault")
    async def test_acknowledged_writes_survive_a_backend_kill(
        self, store: StateStore, keys: Keys, suite_env: SuiteEnv
    ) -> None:
        """``durable_writes`` acknowledged writes (10 at a time) all read back exact after the launcher
        SIGKILLs the backend and starts it again (knob ``kill_backend``); the store reconnects by itself."""
        backend = self.killable_backend(suite_env)
        written = [keys(f"durable-{i}") for i in range(self.durable_writes)]
        for start in range(0, len(written), 10):
            await asyncio.gather(*(store.set(k, {"n": i}) for i, k in enumerate(written[start : start + 10], start)))
        await self.restart(backend, kill=True)
        started = time.monotonic()
        await _eventually(lambda: store.get(written[0]), within=self.restart_timeout)
        recovery = time.monotonic() - started
        lost: list[str] = []
        for start in range(0, len(written), 10):
            chunk = written[start : start + 10]
            items = await asyncio.gather(*(store.get(k) for k in chunk))
            lost += [k for i, (k, item) in enumerate(zip(chunk, items, strict=True), start) if item.json() != {"n": i}]
        self.record_reliability(
            "SIGKILL of the backend",
            {"acked_writes": len(written), "lost": len(lost), "recovery_s": round(recovery, 2)},
        )
        assert not lost, f"{len(lost)} of {len(written)} acknowledged writes lost in a SIGKILL, e.g. {lost[:3]}"

    @capability("fault")
    async def test_fails_fast_while_the_backend_stalls_and_recovers(
        self, store: StateStore, keys: Keys, suite_env: SuiteEnv
    ) -> None:
        """While the case stalls the backend (knob ``stall_backend``, for backends the fault proxy
        cannot reach: e.g. another connection holds an embedded database's write lock), a write fails
        within ``operation_timeout`` + 1 s with BackendUnavailableError (typed, retryable) naming the
        component, never hangs; after the stall the same component works again within
        ``recovery_within`` seconds, and a write succeeds and reads back (no restart). Knob
        ``stall_metadata`` gives this test's component its own metadata (e.g. a shorter lock wait)."""
        async with self.stall_target(store) as target:
            assert isinstance(target, StateStore)
            key = keys("stall")
            await target.set(key, {"stalled": False})
            async with self.stalled_backend(suite_env, target):
                took, error = await self.timed_failure(target.set(key, {"stalled": True}), during="a stall")
            assert error is not None, "a write succeeded while the backend was stalled"
            assert isinstance(error, BackendUnavailableError), (
                f"while the backend was stalled a write raised {type(error).__name__}: {error}; "
                "expected BackendUnavailableError (typed, retryable)"
            )
            assert error.component == target.name, (
                f"the error of a write while the backend was stalled names component {error.component!r}, "
                f"not {target.name!r}"
            )
            assert took <= self.operation_timeout + 1, (
                f"a write took {took:.1f}s to fail while the backend was stalled; operation_timeout is "
                f"{self.operation_timeout:g}s"
            )
            recovered = await self.recovery_seconds(target)
            await target.set(key, {"stalled": "over"})
            assert (await target.get(key)).json() == {"stalled": "over"}, "a write after the stall does not read back"
        self.record_reliability("stalled backend", {"failure_s": round(took, 2), "recovery_s": round(recovered, 2)})

    # -- core ----------------------------------------------------------------------------------

    @capability("core")
    async def test_set_and_get_value_types(self, store: StateStore, keys: Keys) -> None:
        """Every value type round-trips: bytes (incl. non-UTF-8) kept raw, the rest as JSON."""
        values: dict[str, Any] = {
            "int": 123,
            "bool": True,
            "bytes": b"\x01",
            "non-utf8": b"\xff\xfe\x00\x80binary\xc3\x28",
            "json-in-string": '{"a":"b"}',
            "string": "hello world",
            "empty-string": "",
            "empty-bytes": b"",
            "struct": {"message": "test", "product": {"value": 15}, "status": "ACTIVE"},
            "list": [1, "two", None, 3.5],
            "int32-struct": {"message": 42},
        }
        for name, value in values.items():
            md = _JSON_MD if isinstance(value, dict) else None
            await store.set(keys(name), value, metadata=md)
        for name, value in values.items():
            assert_value(await store.get(keys(name)), value)

    @capability("core")
    async def test_keys_are_compared_exactly(self, store: StateStore, keys: Keys) -> None:
        """Keys that differ only by Unicode normalisation (NFC/NFD) or by case are different keys."""
        variants = {"nfc": "caf\u00e9", "nfd": "cafe\u0301", "lower": "key", "upper": "KEY", "title": "Key"}
        made = {name: keys.raw(f"{keys.prefix}-{text}") for name, text in variants.items()}
        for i, key in enumerate(made.values()):
            await store.set(key, i)
        for i, (name, key) in enumerate(made.items()):
            item = await store.get(key)
            assert item.found, f"{name} key {key!r} reads as no item"
            assert item.json() == i, f"{name} key {key!r} reads another key's value (keys must compare exactly)"
        items = await store.bulk_get(list(made.values()))
        assert [it.json() for it in items] == list(range(len(made))), "bulk_get mixes keys that differ in form or case"
        await store.delete(made["nfd"])
        await store.delete(made["upper"])
        found = {name: (await store.get(key)).found for name, key in made.items()}
        assert found == {"nfc": True, "nfd": False, "lower": True, "upper": False, "title": True}, (
            f"deleting one form of a key deleted another: {found}"
        )

    @capability("core")
    async def test_large_value(self, store: StateStore, keys: Keys) -> None:
        """A value of ``large_value_size`` bytes (1 MiB by default) round-trips byte-exact."""
        value = os.urandom(self.large_value_size)
        await store.set(keys("large"), value)
        assert_value(await store.get(keys("large")), value)

    @capability("core")
    async def test_missing_key_reads_as_no_item(self, store: StateStore, keys: Keys) -> None:
        """A missing key reads as an item with no value and no ETag, never an error."""
        item = await store.get(keys("missing"))
        assert item.key == keys("missing")
        assert item.value is None
        assert not item.found
        assert not item.etag

    @capability("core")
    async def test_last_write_wins(self, store: StateStore, keys: Keys) -> None:
        """A second plain write replaces the value."""
        await store.set(keys("k"), "one")
        await store.set(keys("k"), "two")
        assert_value(await store.get(keys("k")), "two")

    @capability("core")
    async def test_delete(self, store: StateStore, keys: Keys) -> None:
        """A deleted key reads as no item; deleting a missing key succeeds."""
        await store.set(keys("to-be-deleted"), "x")
        await store.delete(keys("to-be-deleted"))
        assert (await store.get(keys("to-be-deleted"))).value is None
        await store.delete(keys("never-written"))
        await store.delete(keys("to-be-deleted"))

    @capability("core")
    async def test_bulk_set_get_delete(self, store: StateStore, keys: Keys) -> None:
        """bulk_set writes every item, bulk_get reads them, bulk_delete removes them."""
        values: dict[str, Any] = {"int": 7, "bool": False, "bytes": b"\x00\x01", "string": "s", "struct": {"a": 1}}
        await store.bulk_set([SetRequest(keys(n), v) for n, v in values.items()])
        for n, v in values.items():
            assert_value(await store.get(keys(n)), v)
        await store.bulk_delete([DeleteRequest(keys("int")), DeleteRequest(keys("string")), DeleteRequest(keys("nx"))])
        assert (await store.get(keys("int"))).value is None
        assert (await store.get(keys("string"))).value is None
        assert_value(await store.get(keys("struct")), {"a": 1})

    @capability("core")
    async def test_bulk_get_returns_every_key_in_order(self, store: StateStore, keys: Keys) -> None:
        """bulk_get returns one item per requested key, in order; a missing key has no value, no error."""
        for i in range(3):
            await store.set(keys(f"k{i}"), i)
        wanted = [keys("k2"), keys("doesnotexist"), keys("k0"), keys("k1"), keys("doesnotexist-2")]
        items = await store.bulk_get(wanted)
        assert [it.key for it in items] == wanted, "bulk_get must return every requested key, in order"
        assert_value(items[0], 2)
        assert items[1].value is None
        assert items[1].error is None
        assert_value(items[2], 0)
        assert_value(items[3], 1)
        assert items[4].value is None
        assert items[4].error is None
        assert await store.bulk_get([]) == []

    @capability("core")
    async def test_no_ttl_no_expire_time(self, store: StateStore, keys: Keys) -> None:
        """A value written without TTL reports no expire time."""
        await store.set(keys("k"), 1)
        assert TTL_EXPIRE_TIME not in (await store.get(keys("k"))).metadata

    @capability("core")
    async def test_features_both_ways(self, store: StateStore, keys: Keys) -> None:
        """Declared features have their mixin; undeclared ones lack it and raise NotSupportedError."""
        declared = self.declared(store)
        class_declared = {str(f) for f in type(store).features}
        k = keys("feature")
        checks: dict[str, tuple[type[Any] | None, Callable[[], Awaitable[Any]]]] = {
            "TRANSACTIONAL": (TransactionalStateStore, lambda: store.transact([SetRequest(k, 1)])),
            "DELETE_WITH_PREFIX": (DeleteWithPrefixStateStore, lambda: store.delete_with_prefix(k)),
            "KEYS_LIKE": (KeysLikeStateStore, lambda: store.keys_like(k)),
            "QUERY_API": (QueryableStateStore, lambda: store.query({"filter": {}})),
            "ETAG": (None, lambda: store.set(k, 1, etag=self.bad_etag)),
            "TTL": (None, lambda: store.set(k, 1, ttl=60)),
            "FIRST_WRITE": (None, lambda: store.set(k, 1, concurrency="first-write")),
        }
        for name, (mixin, call) in checks.items():
            if name in declared:
                if mixin is not None:
                    assert isinstance(store, mixin), f"declares {name} but is not a {mixin.__name__}"
                continue
            if mixin is not None and name not in class_declared:
                assert not isinstance(store, mixin), f"is a {mixin.__name__} but does not declare {name}"
            with pytest.raises(NotSupportedError):
                await call()

    # -- ETags ---------------------------------------------------------------------------------

    @capability("etag", "ETAG")
    async def test_etag_sequence(self, store: StateStore, keys: Keys) -> None:
        """Dapr's nine ETag steps, with partial bulk failures, each error an ETagMismatchError."""
        k1, k2, k3, k4 = keys("k1"), keys("k2"), keys("k3"), keys("k4")
        # 1. bulk set without ETags; get and bulk_get agree on non-empty ETags
        await store.bulk_set([SetRequest(k, f"v-{k}") for k in (k1, k2, k3, k4)])
        single = {k: (await store.get(k)).etag for k in (k1, k2, k3, k4)}
        assert all(single.values()), "every stored item must have an ETag"
        assert {it.key: it.etag for it in await store.bulk_get([k1, k2, k3, k4])} == single
        # 2. a wrong ETag is a mismatch
        with self.raises_wrong_etag("set"):
            await store.set(k1, "nope", etag=self.bad_etag)
        assert_value(await store.get(k1), f"v-{k1}")
        # 3. the right ETag writes and changes the ETag; set returns it
        new = await self.written_etag(store, k1, await store.set(k1, "v1-2", etag=single[k1]))
        item = await store.get(k1)
        assert_value(item, "v1-2")
        assert item.etag, "a write must change the ETag"
        assert item.etag != single[k1], "a write must change the ETag"
        assert new == item.etag, "set must return the new ETag"
        # 4. bulk: one bad ETag fails alone; the good item is written
        before2 = single[k2]
        with pytest.raises(BulkError) as raised:
            await store.bulk_set([SetRequest(k1, "bad", etag=self.bad_etag), SetRequest(k2, "v2-2", etag=before2)])
        assert list(raised.value.errors) == [k1], "exactly the item with the wrong ETag must fail"
        self.check_wrong_etag(raised.value.errors[k1], "bulk_set")
        item1, item2 = await store.bulk_get([k1, k2])
        assert item1.etag == new, "the item that failed must keep its ETag"
        assert_value(item1, "v1-2")
        assert_value(item2, "v2-2")
        assert item2.etag != before2
        # 5. bulk with valid ETags writes both
        await store.bulk_set([SetRequest(k1, "v1-3", etag=item1.etag), SetRequest(k2, "v2-3", etag=item2.etag)])
        item1b, item2b = await store.bulk_get([k1, k2])
        assert_value(item1b, "v1-3")
        assert_value(item2b, "v2-3")
        assert item1b.etag != item1.etag
        assert item2b.etag != item2.etag
        # 6. delete with a wrong ETag is a mismatch and deletes nothing
        with self.raises_wrong_etag("delete"):
            await store.delete(k1, etag=self.bad_etag)
        assert (await store.get(k1)).found
        # 7. delete with the right ETag; the item and its ETag are gone
        await store.delete(k1, etag=item1b.etag)
        gone = await store.get(k1)
        assert gone.value is None
        assert not gone.etag
        # 8. bulk delete: the bad ETag fails alone
        e3, e4 = (await store.get(k3)).etag, (await store.get(k4)).etag
        with pytest.raises(BulkError) as raised:
            await store.bulk_delete([DeleteRequest(k3, etag=e3), DeleteRequest(k4, etag=self.bad_etag)])
        assert list(raised.value.errors) == [k4]
        self.check_wrong_etag(raised.value.errors[k4], "bulk_delete")
        assert (await store.get(k3)).value is None
        assert (await store.get(k4)).etag == e4
        # 9. bulk delete with valid ETags
        await store.bulk_delete([DeleteRequest(k2, etag=item2b.etag), DeleteRequest(k4, etag=e4)])
        for it in await store.bulk_get([k2, k4]):
            assert it.value is None
            assert not it.etag

    @capability("etag", "ETAG")
    async def test_every_write_changes_etag(self, store: StateStore, keys: Keys) -> None:
        """Plain writes (no ETag given) change the ETag too, even with the same value."""
        seen = [await self.written_etag(store, keys("k"), await store.set(keys("k"), "same")) for _ in range(4)]
        assert all(seen), "every write must return a new ETag"
        assert len(set(seen)) == len(seen), "every write must return a new ETag"
        assert (await store.get(keys("k"))).etag == seen[-1]

    @capability("etag", "ETAG")
    async def test_etag_on_missing_key_is_mismatch(self, store: StateStore, keys: Keys) -> None:
        """A write or delete with an ETag on an absent key is a mismatch and writes nothing."""
        with self.raises_wrong_etag("set of an absent key"):
            await store.set(keys("absent"), 1, etag=self.bad_etag)
        assert (await store.get(keys("absent"))).value is None
        with self.raises_wrong_etag("delete of an absent key"):
            await store.delete(keys("absent"), etag=self.bad_etag)

    @capability("etag", "ETAG")
    async def test_etag_does_not_survive_delete_and_recreate(self, store: StateStore, keys: Keys) -> None:
        """An ETag read before a delete never matches again, not even after the key is re-created."""
        key = keys("recreated")
        first = await self.written_etag(store, key, await store.set(key, "one"))
        assert first, "set must return the new ETag"
        await store.delete(key)
        with pytest.raises(ETagMismatchError):
            await store.set(key, "stale", etag=first)
        assert not (await store.get(key)).found, "a write with an ETag of a deleted key must write nothing"
        second = await self.written_etag(store, key, await store.set(key, "two"))
        assert second, "set must return the new ETag"
        assert second != first, "a re-created key got the ETag it had before the delete"
        with pytest.raises(ETagMismatchError):
            await store.set(key, "stale", etag=first)
        with pytest.raises(ETagMismatchError):
            await store.delete(key, etag=first)
        item = await store.get(key)
        assert_value(item, "two")
        assert item.etag == second

    @capability("concurrency", "ETAG")
    async def test_concurrent_etag_increments_lose_nothing(self, store: StateStore, keys: Keys) -> None:
        """Concurrent read-modify-write with ETags: the counter equals the successful writes."""
        key = keys("counter")
        await store.set(key, 0)
        writes = 0

        async def worker() -> None:
            nonlocal writes
            for _ in range(self.concurrent_writers * 4):
                item = await store.get(key)
                await asyncio.sleep(0)  # let the others read the same version
                try:
                    await store.set(key, orjson.loads(item.value or b"0") + 1, etag=item.etag)
                except ETagMismatchError:
                    continue
                writes += 1
                return

        await asyncio.gather(*(worker() for _ in range(self.concurrent_writers)))
        final = orjson.loads((await store.get(key)).value or b"0")
        assert final == writes, f"lost update: {writes} successful ETag writes but the counter is {final}"
        assert writes == self.concurrent_writers, "every writer should eventually succeed"

    @capability("concurrency", "ETAG")
    async def test_concurrent_etag_writers_lose_no_update(self, store: StateStore, keys: Keys) -> None:
        """``etag_writers`` writers each make ``etag_increments`` read-modify-write increments of one
        counter, retrying on ETagMismatchError only: the counter ends at exactly writers x increments."""
        key = keys("s1-counter")
        await store.set(key, 0)
        mismatches = 0

        async def writer() -> None:
            nonlocal mismatches
            done = 0
            while done < self.etag_increments:
                item = await store.get(key)
                await asyncio.sleep(0)  # let the others read the same version
                try:
                    await store.set(key, orjson.loads(item.value or b"0") + 1, etag=item.etag)
                except ETagMismatchError:
                    mismatches += 1
                    continue
                done += 1

        await asyncio.gather(*(writer() for _ in range(self.etag_writers)))
        final = orjson.loads((await store.get(key)).value or b"0")
        want = self.etag_writers * self.etag_increments
        self.record_reliability(
            "ETag increments", {"writers": self.etag_writers, "final": final, "mismatches": mismatches}
        )
        assert final == want, f"lost updates: {want} acknowledged ETag increments but the counter is {final}"

    # -- first-write ---------------------------------------------------------------------------

    @capability("first-write", "FIRST_WRITE")
    @pytest.mark.parametrize("no_etag", [None, ""], ids=["etag-none", "etag-empty"])
    async def test_first_write_without_etag(self, store: StateStore, keys: Keys, no_etag: str | None) -> None:
        """First-write without an ETag inserts once; the second insert is an ETagMismatchError."""
        key = keys("fw")
        await store.delete(key)
        await store.set(key, "v1", etag=no_etag, concurrency="first-write", consistency="strong")
        assert_value(await store.get(key), "v1")
        with pytest.raises(ETagMismatchError):
            await store.set(key, "v2", etag=no_etag, concurrency="first-write", consistency="strong")
        assert_value(await store.get(key), "v1")

    @capability("first-write", "FIRST_WRITE", "ETAG")
    async def test_first_write_with_etag(self, store: StateStore, keys: Keys) -> None:
        """First-write with the current ETag writes; a stale ETag is an ETagMismatchError."""
        key = keys("fw-etag")
        await store.set(key, "v1")
        etag = (await store.get(key)).etag
        assert etag
        new = await self.written_etag(store, key, await store.set(key, "v2", etag=etag, concurrency="first-write"))
        assert new
        assert new != etag
        with pytest.raises(ETagMismatchError):
            await store.set(key, "v3", etag=etag, concurrency="first-write")
        assert_value(await store.get(key), "v2")

    @capability("first-write", "FIRST_WRITE")
    async def test_first_write_over_last_write_key_conflicts(self, store: StateStore, keys: Keys) -> None:
        """First-write over a key written with last-write conflicts; after a delete it inserts."""
        key = keys("lw")
        await store.set(key, "plain")
        with pytest.raises(ETagMismatchError):
            await store.set(key, "fw", concurrency="first-write")
        assert_value(await store.get(key), "plain")
        await store.delete(key)
        await store.set(key, "fw", concurrency="first-write")
        assert_value(await store.get(key), "fw")

    @capability("concurrency", "FIRST_WRITE")
    async def test_concurrent_first_write_has_one_winner(self, store: StateStore, keys: Keys) -> None:
        """Concurrent first-write inserts of one key: exactly one succeeds, the rest conflict."""
        key = keys("race")

        async def insert(i: int) -> int | None:
            try:
                await store.set(key, i, concurrency="first-write")
            except ETagMismatchError:
                return None
            return i

        results = await asyncio.gather(*(insert(i) for i in range(self.concurrent_inserts)))
        winners = [r for r in results if r is not None]
        assert len(winners) == 1, f"{len(winners)} first-write inserts of one key succeeded, expected exactly 1"
        assert_value(await store.get(key), winners[0])

    # -- transactions --------------------------------------------------------------------------

    @capability("transactions", "TRANSACTIONAL")
    async def test_transaction_groups(self, store: StateStore, keys: Keys) -> None:
        """Transactions of upserts and deletes (of written and never-written keys) apply."""
        assert isinstance(store, TransactionalStateStore)
        g1: dict[str, Any] = {"int": 1, "bool": True, "bytes": b"\x01", "string": "s"}
        await store.transact(
            [*(SetRequest(keys(n), v) for n, v in g1.items()), DeleteRequest(keys("never-written"))],
            metadata={"partitionKey": "myPartition"},
        )
        for n, v in g1.items():
            assert_value(await store.get(keys(n), metadata={"partitionKey": "myPartition"}), v)
        await store.transact(
            [SetRequest(keys("struct"), {"a": [1, 2]}, metadata=_JSON_MD), DeleteRequest(keys("int"))],
            metadata={"partitionKey": "myPartition"},
        )
        assert_value(await store.get(keys("struct")), {"a": [1, 2]})
        assert (await store.get(keys("int"))).value is None
        await store.transact([DeleteRequest(keys("non-existent-key"))])

    @capability("transactions", "TRANSACTIONAL")
    async def test_transaction_applies_in_order(self, store: StateStore, keys: Keys) -> None:
        """Operations on the same key apply in the order given."""
        assert isinstance(store, TransactionalStateStore)
        k1, k2, k3 = keys("k1"), keys("k2"), keys("k3")
        k4, k5 = keys("k4"), keys("k5")
        await store.set(k1, "value1")
        await store.set(k4, "value4")
        await store.transact(
            [
                DeleteRequest(k1),
                SetRequest(k2, "value2"),
                DeleteRequest(k2),
                SetRequest(k3, "value3-first"),
                SetRequest(k3, "value3"),
                DeleteRequest(k4),
                SetRequest(k4, "value4-again"),
                SetRequest(k5, "value5"),
                DeleteRequest(k5),
                SetRequest(k5, "value5-last"),
            ]
        )
        got = {k: (await store.get(k)).json() for k in (k1, k2, k3, k4, k5)}
        assert got == {k1: None, k2: None, k3: "value3", k4: "value4-again", k5: "value5-last"}, (
            f"operations on one key were not applied in the order given: {got}"
        )

    @capability("transactions", "TRANSACTIONAL", "ETAG")
    async def test_transaction_with_failing_etag_changes_nothing(self, store: StateStore, keys: Keys) -> None:
        """One wrong ETag fails the whole transaction: no operation is applied."""
        assert isinstance(store, TransactionalStateStore)
        a, b, c, d = keys("a"), keys("b"), keys("c"), keys("d")
        await store.set(a, "a0")
        await store.set(b, "b0")
        await store.set(d, "d0")
        before = {k: (await store.get(k)).etag for k in (a, b, d)}
        with pytest.raises(ETagError) as raised:
            await store.transact(
                [SetRequest(a, "a1"), SetRequest(c, "c1"), DeleteRequest(d), SetRequest(b, "b1", etag=self.bad_etag)]
            )
        self.check_wrong_etag(raised.value, "transact")
        assert_value(await store.get(a), "a0")
        assert_value(await store.get(b), "b0")
        assert_value(await store.get(d), "d0")
        assert (await store.get(c)).value is None, "a failed transaction must not write anything"
        assert {k: (await store.get(k)).etag for k in (a, b, d)} == before

    @capability("transactions", "TRANSACTIONAL", "FIRST_WRITE")
    async def test_transaction_with_first_write_conflict_changes_nothing(self, store: StateStore, keys: Keys) -> None:
        """A first-write conflict inside a transaction fails it as a whole."""
        assert isinstance(store, TransactionalStateStore)
        a, b = keys("a"), keys("b")
        await store.set(b, "b0")
        with pytest.raises(ETagMismatchError):
            await store.transact([SetRequest(a, "a1"), SetRequest(b, "b1", concurrency="first-write")])
        assert (await store.get(a)).value is None
        assert_value(await store.get(b), "b0")

    # -- TTL -----------------------------------------------------------------------------------

    @capability("ttl", "TTL")
    async def test_ttl_bad_value_is_rejected(self, store: StateStore, keys: Keys) -> None:
        """A ``ttlInSeconds`` that is not an integer is an InvalidRequestError."""
        with pytest.raises(InvalidRequestError):
            await store.set(keys("k"), 1, metadata={"ttlInSeconds": "foo"})

    @capability("ttl", "TTL")
    async def test_ttl_expires_and_later_writes_reset_it(self, store: StateStore, keys: Keys) -> None:
        """An item expires after its TTL, while one whose TTL has not run out stays (whatever expiry
        work the store did meanwhile); a write without TTL (or TTL -1) removes an earlier TTL.

        Also: a first-write over an expired key inserts, and keys_like does not list it.
        """
        expiring, cleared, negative, fw = keys("expiring"), keys("cleared"), keys("negative"), keys("fw")
        lasting = keys("lasting")
        await store.set(lasting, "v", ttl=3600)
        # 2 s, read back at once: a store counting whole seconds (Cassandra) may end a 1 s TTL at once
        await store.set(expiring, "v", metadata={"ttlInSeconds": "2"})
        assert_value(await store.get(expiring), "v")
        await store.set(cleared, "v", ttl=1)
        await store.set(cleared, "kept")
        await store.set(negative, "v", ttl=1)
        await store.set(negative, "kept", metadata={"ttlInSeconds": "-1"})
        first_write = "FIRST_WRITE" in self.declared(store)
        if first_write:
            await store.set(fw, "old", ttl=1)

        async def expired() -> bool:
            return (await store.get(expiring)).value is None

        await eventually(expired, within=self.ttl_timeout, what=f"expiry of a 2 s TTL on {expiring!r}")
        await asyncio.sleep(1.0)  # margin: the cleared keys were written after the expiring one
        assert_value(await store.get(cleared), "kept")
        assert_value(await store.get(negative), "kept")
        lasted = await store.get(lasting)
        assert lasted.value is not None, "an item with an hour-long TTL expired along with one whose TTL had run out"
        assert_value(lasted, "v")
        if first_write:
            await eventually(lambda: _absent(store, fw), within=self.ttl_timeout, what=f"expiry of {fw!r}")
            await store.set(fw, "new", concurrency="first-write")
            assert_value(await store.get(fw), "new")
        if "KEYS_LIKE" in self.declared(store):
            page = await store.keys_like(expiring)
            assert page.keys == [], "keys_like must not list an expired key"

    @capability("ttl", "TTL", "TTL_EXPIRE_TIME")
    async def test_ttl_expire_time(self, store: StateStore, keys: Keys) -> None:
        """``ttlExpireTime`` is RFC 3339 near now + TTL, in get and bulk_get; gone once the TTL is removed."""
        a, b, c = keys("a"), keys("b"), keys("c")
        await store.set(a, "123", ttl=3600)
        await store.set(b, "234", metadata={"ttlInSeconds": "3600"})
        expected = datetime.now(UTC) + timedelta(hours=1)
        item = await store.get(a)
        assert TTL_EXPIRE_TIME in item.metadata, f"get must return metadata[{TTL_EXPIRE_TIME!r}]"
        got = _parse_rfc3339(item.metadata[TTL_EXPIRE_TIME])
        assert abs(got - expected) < timedelta(minutes=10), f"{TTL_EXPIRE_TIME} is far from now + 1 h"
        for it in await store.bulk_get([a, b]):
            assert TTL_EXPIRE_TIME in it.metadata, f"bulk_get must return {TTL_EXPIRE_TIME} for {it.key!r}"
            assert abs(_parse_rfc3339(it.metadata[TTL_EXPIRE_TIME]) - expected) < timedelta(minutes=10)
        await store.set(a, "123", metadata={"ttlInSeconds": "-1"})
        assert TTL_EXPIRE_TIME not in (await store.get(a)).metadata, "ttl -1 must remove the TTL"
        await store.set(b, "234")
        assert TTL_EXPIRE_TIME not in (await store.get(b)).metadata, "a write without TTL must remove it"
        await store.set(c, "x", ttl=60)
        assert TTL_EXPIRE_TIME in (await store.get(c)).metadata

    @capability("ttl", "TTL")
    async def test_ttl_holds_on_every_path(self, store: StateStore, keys: Keys) -> None:
        """A TTL given through set, bulk_set or a transaction (as ``ttl`` or ``ttlInSeconds``) expires the
        item for every read path: bulk_get, keys_like and the first-write absent check as well as get.

        Each read path is checked on a key no other path touched first (so a store that only drops
        expired items lazily, on ``get``, does not hide the defect).
        """
        declared = self.declared(store)
        by_set = {path: keys(f"set-{path}") for path in ("bulk-get", "keys-like", "first-write", "get")}
        for key in by_set.values():
            await store.set(key, "v", ttl=1)
        written = await _write_with_ttl(store, keys, "", 1, transactional="TRANSACTIONAL" in declared)
        if "TTL_EXPIRE_TIME" in declared:
            # read back from an hour-long TTL: a 1 s one may be over already (Cassandra counts whole seconds)
            lasting = await _write_with_ttl(store, keys, "lasting-", 3600, transactional="TRANSACTIONAL" in declared)
            for how, key in lasting.items():
                md = (await store.get(key)).metadata
                assert TTL_EXPIRE_TIME in md, f"a TTL given through {how} was not stored ({TTL_EXPIRE_TIME} missing)"
        kept = keys("set-keys-like-kept")
        await store.set(kept, "kept")
        sentinel = keys("sentinel")
        await store.set(sentinel, "v", ttl=1)  # written last: once it expired, so did every key above
        await eventually(lambda: _absent(store, sentinel), within=self.ttl_timeout, what=f"expiry of {sentinel!r}")
        items = await store.bulk_get([by_set["bulk-get"], kept])
        assert not items[0].found, "bulk_get returned an expired item"
        assert_value(items[1], "kept")
        if "FIRST_WRITE" in declared:
            try:
                await store.set(by_set["first-write"], "new", concurrency="first-write")
            except ETagMismatchError:
                raise AssertionError("first-write over an expired key conflicted: an expired item is absent") from None
            assert_value(await store.get(by_set["first-write"]), "new")
        if "KEYS_LIKE" in declared:
            assert isinstance(store, KeysLikeStateStore)
            listed = (await store.keys_like(f"{by_set['keys-like']}%")).keys
            assert by_set["keys-like"] not in listed, "keys_like listed an expired key"
            assert kept in listed
        assert not (await store.get(by_set["get"])).found, "get returned an expired item"
        for how, key in written.items():
            assert not (await store.get(key)).found, f"a TTL given through {how} did not expire the item"

    # -- delete with prefix / keys like --------------------------------------------------------

    @capability("delete-with-prefix", "DELETE_WITH_PREFIX")
    async def test_delete_with_prefix(self, store: StateStore, keys: Keys) -> None:
        """Deletes only the keys directly under the prefix; empty prefixes are rejected."""
        assert isinstance(store, DeleteWithPrefixStateStore)
        p = keys.prefix
        made = [
            keys.raw(f"{p}||key1"),
            keys.raw(f"{p}||key2"),
            keys.raw(f"{p}||{p}2||key3"),
            keys.raw(f"other-{p}||key1"),
            keys.raw(f"no-prefix-{p}"),
        ]
        await store.bulk_set([SetRequest(k, "v") for k in made])
        assert await store.delete_with_prefix(f"{p}||") == 2
        assert (await store.get(made[2])).found, "a deeper key must not be deleted"
        assert await store.delete_with_prefix(f"other-{p}") == 1
        assert (await store.get(made[4])).found
        assert [it.found for it in await store.bulk_get(made)] == [False, False, True, False, True]
        for bad in ("", "||"):
            with pytest.raises(InvalidRequestError):
                await store.delete_with_prefix(bad)

    @capability("keys-like", "KEYS_LIKE")
    async def test_keys_like_patterns(self, store: StateStore, keys: Keys) -> None:
        """``%`` matches any run and ``_`` one character; everything else (``.``) is literal."""
        assert isinstance(store, KeysLikeStateStore)
        p = keys.prefix
        made = {
            n: keys.raw(f"{p}{n}")
            for n in ("||key1", "||key2", "||x||key3", "abc1", "abcd", "hello%%wor.kflow", "hello__worXkflow")
        }
        await store.bulk_set([SetRequest(k, 1) for k in made.values()])

        async def like(pattern: str) -> list[str]:
            return sorted((await store.keys_like(p + pattern)).keys)

        assert await like("||%") == sorted([made["||key1"], made["||key2"], made["||x||key3"]])
        assert await like("%key1") == [made["||key1"]]
        assert await like("||%||%") == [made["||x||key3"]]
        assert await like("abc_") == sorted([made["abc1"], made["abcd"]])
        assert await like("ab_") == []
        assert await like("hello%wor.kflow") == [made["hello%%wor.kflow"]], "'.' must stay literal"
        assert await like("hello__worXkflow") == [made["hello__worXkflow"]], "'_' matches one character"
        with pytest.raises(InvalidRequestError):
            await store.keys_like("")

    @capability("keys-like", "KEYS_LIKE")
    async def test_keys_like_paging(self, store: StateStore, keys: Keys) -> None:
        """Pages of the requested size chain through a token to every key exactly once."""
        assert isinstance(store, KeysLikeStateStore)
        made = [keys(f"page-{i:02d}") for i in range(12)]
        await store.bulk_set([SetRequest(k, i) for i, k in enumerate(made)])
        pattern = f"{keys.prefix}-page-%"
        whole = await store.keys_like(pattern)
        assert sorted(whole.keys) == made
        assert whole.continuation_token is None
        seen: list[str] = []
        token: str | None = None
        sizes = []
        for _ in range(10):
            page = await store.keys_like(pattern, page_size=5, continuation_token=token)
            seen.extend(page.keys)
            sizes.append(len(page.keys))
            token = page.continuation_token
            if token is None:
                break
        assert sorted(seen) == made, "paging must return every key exactly once"
        assert sizes[:2] == [5, 5], f"pages of 5 expected, got {sizes}"

    @capability("delete-with-prefix", "DELETE_WITH_PREFIX")
    async def test_delete_with_prefix_boundaries(self, store: StateStore, keys: Keys) -> None:
        """The prefix is literal and ends at ``||``: longer names, other case and ``%``/``_``/``*``/``?``
        in the prefix match nothing else. A key is directly under it when no ``||`` follows the prefix,
        even if a single ``|`` does."""
        assert isinstance(store, DeleteWithPrefixStateStore)
        p = keys.prefix
        doomed = [
            keys.raw(f"{p}_a%*?[x]||key1"),
            keys.raw(f"{p}_a%*?[x]||key2"),
            keys.raw(f"{p}_a%*?[x]|||key3"),  # the rest is '|key3': no '||' in it
        ]
        kept = [
            keys.raw(f"{p}xa%*?[x]||key1"),  # '_' as one-character wildcard
            keys.raw(f"{p}_abc*?[x]||key1"),  # '%' as a run wildcard
            keys.raw(f"{p}_a%ZZ[x]||key1"),  # '*' and '?' as glob wildcards
            keys.raw(f"{p}_a%*?x||key1"),  # '[x]' as a glob class
            keys.raw(f"{p}_a%*?[x]-longer||key1"),  # a longer name with the same start
            keys.raw(f"{p}_A%*?[X]||key1"),  # another case
            keys.raw(f"{p}_a%*?[x]"),  # the prefix itself, without a separator
            keys.raw(f"{p}_a%*?[x]||||key1"),  # the rest is '||key1': one level deeper
        ]
        await store.bulk_set([SetRequest(k, "v") for k in doomed + kept])
        assert await store.delete_with_prefix(f"{p}_a%*?[x]") == len(doomed)
        found = [it.found for it in await store.bulk_get(doomed + kept)]
        wrongly_deleted = [k for k, f in zip(doomed + kept, found, strict=True) if k in kept and not f]
        assert not wrongly_deleted, f"delete_with_prefix deleted keys outside the prefix: {wrongly_deleted}"
        assert found[: len(doomed)] == [False] * len(doomed)

    @capability("keys-like", "KEYS_LIKE")
    async def test_keys_like_paging_while_keys_change(self, store: StateStore, keys: Keys) -> None:
        """Keys that exist for the whole listing are returned exactly once, whatever is written or deleted
        between pages."""
        assert isinstance(store, KeysLikeStateStore)
        made = [keys(f"page-{i:02d}") for i in range(10)]
        await store.bulk_set([SetRequest(k, i) for i, k in enumerate(made)])
        pattern = f"{keys.prefix}-page-%"
        first = await store.keys_like(pattern, page_size=4)
        assert len(first.keys) == 4, f"a page of 4 expected, got {first.keys}"
        assert first.continuation_token is not None
        seen = list(first.keys)
        # between pages: delete two keys already listed, add keys before and after the cursor
        await store.delete(first.keys[0])
        await store.delete(first.keys[1])
        await store.set(keys("page-00a"), "new")
        await store.set(keys("page-99"), "new")
        token: str | None = first.continuation_token
        for _ in range(20):
            page = await store.keys_like(pattern, page_size=4, continuation_token=token)
            seen.extend(page.keys)
            token = page.continuation_token
            if token is None:
                break
        stable = [k for k in made if k not in first.keys[:2]]
        missing = [k for k in stable if k not in seen]
        assert not missing, f"paging skipped keys that existed for the whole listing: {missing}"
        repeated = sorted({k for k in seen if seen.count(k) > 1})
        assert not repeated, f"paging returned keys more than once: {repeated}"

    # -- model ---------------------------------------------------------------------------------

    @capability("model")
    async def test_random_operations_agree_with_a_dict(self, store: StateStore, keys: Keys) -> None:
        """Hypothesis drives set/get/delete/first-write/ETag/bulk/transaction/TTL sequences; the store agrees
        with a dict. The seed is in pytest's header; ``BLOCKYARD_MODEL_SEED`` replays it."""
        used: list[str] = []
        try:
            await run_state_model(
                store,
                prefix=keys.prefix,
                declared=self.declared(store),
                bad_etag=self.bad_etag,
                wrong_etag_errors=self.wrong_etag_errors(),
                examples=self.model_examples,
                steps=self.model_steps,
                used=used,
                clock=self.model_clock(store),
                shrink=self.model_shrink,
                set_returns_etag=self.set_returns_etag,
            )
        finally:
            for k in set(used):
                keys.raw(k)


async def _write_with_ttl(
    store: StateStore, keys: Keys, tag: str, seconds: int, *, transactional: bool
) -> dict[str, str]:
    """Write one key with a TTL of ``seconds`` through each of bulk_set and (when ``transactional``) a
    transaction, given as ``ttl`` and as ``ttlInSeconds``; return the keys by how they were written."""
    ttl_md = {"ttlInSeconds": str(seconds)}
    written = {"bulk_set ttl": keys(f"{tag}bulk-ttl"), "bulk_set ttlInSeconds": keys(f"{tag}bulk-md")}
    await store.bulk_set(
        [
            SetRequest(written["bulk_set ttl"], "v", ttl=seconds),
            SetRequest(written["bulk_set ttlInSeconds"], "v", metadata=ttl_md),
        ]
    )
    if transactional:
        assert isinstance(store, TransactionalStateStore)
        written["transaction ttl"] = keys(f"{tag}tx-ttl")
        written["transaction ttlInSeconds"] = keys(f"{tag}tx-md")
        await store.transact(
            [
                SetRequest(written["transaction ttl"], "v", ttl=seconds),
                SetRequest(written["transaction ttlInSeconds"], "v", metadata=ttl_md),
            ]
        )
    return written


async def _absent(store: StateStore, key: str) -> bool:
    return (await store.get(key)).value is None


async def _eventually(call: Callable[[], Awaitable[Any]], *, within: float) -> Any:
    """``await call()``, retried while the backend is unavailable, for at most ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            return await call()
        except BackendUnavailableError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)

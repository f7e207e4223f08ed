"""Property-based model test of a state store: random operation sequences against a dict.

Hypothesis's state machine runs on a worker thread and submits each operation to the test's
event loop, so the store stays on the loop it was initialised on.

The model covers plain and ETag writes and deletes, first-write, bulk get/set/delete,
transactions (applied in order, all or nothing) and TTL. TTL runs on a clock: with a
:class:`ModelClock` the case can move (a store whose time the test controls), items expire when
the model says so and every read path and the first-write check must agree; without one, TTLs are
an hour long and the model checks ``ttlExpireTime`` and that a write without TTL removes it.

Runs are reproducible: the seed comes from ``BLOCKYARD_MODEL_SEED`` (else a fresh one), is shown in
pytest's header, and a failure names it with the command that replays it.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, get_state_machine_test, precondition, rule

from blockyard.errors import BlockyardError, ETagMismatchError
from blockyard.state import TTL_EXPIRE_TIME, DeleteRequest, SetRequest, StateStore, TransactionalStateStore
from blockyard_conformance.support import fresh_id

__all__ = ["SEED_ENV", "ModelClock", "model_seed", "run_state_model"]

T = TypeVar("T")
SEED_ENV = "BLOCKYARD_MODEL_SEED"
KEY = st.integers(min_value=0, max_value=3)
VALUE = st.binary(min_size=0, max_size=12)
LONG_TTL = 3600
_session_seed: int | None = None


class ModelClock(Protocol):
    """A clock the test moves: the store under test must take its time from it."""

    def now(self) -> float:
        """Seconds since the epoch, as the store sees them."""
        ...

    def advance(self, seconds: float) -> None:
        """Move the store's time forward."""
        ...


def model_seed() -> int:
    """The seed of the model runs: ``BLOCKYARD_MODEL_SEED`` if set, else one drawn once per process."""
    global _session_seed
    raw = os.environ.get(SEED_ENV, "").strip()
    if raw.isdigit():
        return int(raw)
    if _session_seed is None:
        _session_seed = random.SystemRandom().randrange(2**32)
    return _session_seed


@dataclass(slots=True)
class _Entry:
    value: bytes
    etag: str | None
    expires: float | None


def _machine(
    store: StateStore,
    loop: asyncio.AbstractEventLoop,
    prefix: str,
    declared: set[str],
    bad_etag: str,
    wrong_etag_errors: tuple[type[BaseException], ...],
    used: list[str],
    clock: ModelClock | None,
    set_returns_etag: bool = True,
) -> type[RuleBasedStateMachine]:
    etags_on = "ETAG" in declared
    first_write_on = "FIRST_WRITE" in declared
    ttl_on = "TTL" in declared
    expire_time_on = "TTL_EXPIRE_TIME" in declared
    transactions_on = "TRANSACTIONAL" in declared and isinstance(store, TransactionalStateStore)
    ttls = st.sampled_from([None, 2, 5] if clock is not None else [None, LONG_TTL]) if ttl_on else st.just(None)

    def run(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    def call(coro: Coroutine[Any, Any, T]) -> T:
        """Run an operation the model expects to succeed; a store error is a disagreement."""
        try:
            return run(coro)
        except BlockyardError as exc:
            raise AssertionError(
                f"the store raised {type(exc).__name__} where the model expects success: {exc}"
            ) from exc

    def mismatch(
        coro: Coroutine[Any, Any, Any], what: str, errors: tuple[type[BaseException], ...] = (ETagMismatchError,)
    ) -> None:
        try:
            run(coro)
        except errors:
            return
        raise AssertionError(f"{what} should raise {' or '.join(e.__name__ for e in errors)}")

    class StateStoreModel(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.ns = fresh_id(prefix)
            self.model: dict[str, _Entry] = {}

        def key(self, i: int) -> str:
            k = f"{self.ns}-{i}"
            used.append(k)
            return k

        def live(self, k: str) -> _Entry | None:
            entry = self.model.get(k)
            if entry is not None and entry.expires is not None and clock is not None and entry.expires <= clock.now():
                del self.model[k]
                return None
            return entry

        def expires(self, ttl: int | None) -> float | None:
            return None if ttl is None else (clock.now() if clock is not None else 0.0) + ttl

        def wrote(self, k: str, v: bytes, etag: str | None, ttl: int | None) -> None:
            if etags_on and not set_returns_etag:
                assert etag is None, f"a write of {k!r} returned {etag!r} though it cannot know the new ETag"
                etag = call(store.get(k)).etag
            if etags_on:
                assert etag, f"a write of {k!r} returned no ETag"
                old = self.model.get(k)
                assert old is None or etag != old.etag, f"a write to {k!r} did not change its ETag"
            self.model[k] = _Entry(v, etag, self.expires(ttl))

        def learn_etags(self, ks: list[str]) -> None:
            if etags_on:
                for k in dict.fromkeys(ks):
                    if k in self.model:
                        self.model[k].etag = call(store.get(k)).etag

        @rule(i=KEY, v=VALUE, ttl=ttls)
        def set(self, i: int, v: bytes, ttl: int | None) -> None:
            k = self.key(i)
            self.wrote(k, v, call(store.set(k, v, ttl=ttl)), ttl)

        @rule(i=KEY)
        def get(self, i: int) -> None:
            k = self.key(i)
            item = call(store.get(k))
            entry = self.live(k)
            assert item.value == (entry.value if entry else None), f"get({k!r}) disagrees with the model"
            if etags_on:
                assert item.etag == (entry.etag if entry else None), f"get({k!r}) returned another ETag"
            if expire_time_on:
                has_ttl = entry is not None and entry.expires is not None
                assert (TTL_EXPIRE_TIME in item.metadata) == has_ttl, (
                    f"get({k!r}): {TTL_EXPIRE_TIME} is {'missing' if has_ttl else 'there without a TTL'}"
                )

        @rule(i=KEY)
        def delete(self, i: int) -> None:
            k = self.key(i)
            call(store.delete(k))
            self.model.pop(k, None)

        @precondition(lambda self: first_write_on)
        @rule(i=KEY, v=VALUE)
        def first_write(self, i: int, v: bytes) -> None:
            k = self.key(i)
            if self.live(k) is not None:
                mismatch(store.set(k, v, concurrency="first-write"), f"first-write over existing {k!r}")
            else:
                self.wrote(k, v, call(store.set(k, v, concurrency="first-write")), None)

        @precondition(lambda self: etags_on)
        @rule(i=KEY, v=VALUE, stale=st.booleans())
        def set_with_etag(self, i: int, v: bytes, stale: bool) -> None:
            k = self.key(i)
            entry = self.live(k)
            if entry is not None and not stale:
                self.wrote(k, v, call(store.set(k, v, etag=entry.etag)), None)
            else:
                mismatch(store.set(k, v, etag=bad_etag), f"set of {k!r} with a wrong ETag", wrong_etag_errors)

        @precondition(lambda self: etags_on)
        @rule(i=KEY, stale=st.booleans())
        def delete_with_etag(self, i: int, stale: bool) -> None:
            k = self.key(i)
            entry = self.live(k)
            if entry is not None and not stale:
                call(store.delete(k, etag=entry.etag))
                self.model.pop(k)
            else:
                mismatch(store.delete(k, etag=bad_etag), f"delete of {k!r} with a wrong ETag", wrong_etag_errors)

        @rule(idx=st.lists(KEY, min_size=1, max_size=5))
        def bulk_get(self, idx: list[int]) -> None:
            ks = [self.key(i) for i in idx]
            items = call(store.bulk_get(ks))
            assert [it.key for it in items] == ks, "bulk_get did not return the requested keys in order"
            expected = [(e.value if (e := self.live(k)) else None) for k in ks]
            assert [it.value for it in items] == expected, "bulk_get disagrees with the model"

        @rule(pairs=st.dictionaries(KEY, st.tuples(VALUE, ttls), min_size=1, max_size=4))
        def bulk_set(self, pairs: dict[int, tuple[bytes, int | None]]) -> None:
            reqs = [SetRequest(self.key(i), v, ttl=ttl) for i, (v, ttl) in pairs.items()]
            call(store.bulk_set(reqs))
            for r in reqs:
                self.model[r.key] = _Entry(r.value, None, self.expires(r.ttl))
            self.learn_etags([r.key for r in reqs])

        @rule(idx=st.lists(KEY, min_size=1, max_size=4, unique=True))
        def bulk_delete(self, idx: list[int]) -> None:
            ks = [self.key(i) for i in idx]
            call(store.bulk_delete([DeleteRequest(k) for k in ks]))
            for k in ks:
                self.model.pop(k, None)

        @precondition(lambda self: transactions_on)
        @rule(ops=st.lists(st.tuples(KEY, st.none() | VALUE, ttls), min_size=1, max_size=5))
        def transact(self, ops: list[tuple[int, bytes | None, int | None]]) -> None:
            assert isinstance(store, TransactionalStateStore)
            reqs: list[SetRequest | DeleteRequest] = [
                DeleteRequest(self.key(i)) if v is None else SetRequest(self.key(i), v, ttl=ttl) for i, v, ttl in ops
            ]
            call(store.transact(reqs))
            for r in reqs:
                if isinstance(r, DeleteRequest):
                    self.model.pop(r.key, None)
                else:
                    self.model[r.key] = _Entry(r.value, None, self.expires(r.ttl))
            self.learn_etags([r.key for r in reqs])

        @precondition(lambda self: clock is not None and ttl_on)
        @rule(seconds=st.sampled_from([0.7, 3.1, 6.3]))
        def advance_clock(self, seconds: float) -> None:
            assert clock is not None
            clock.advance(seconds)

    return StateStoreModel


async def run_state_model(
    store: StateStore,
    *,
    prefix: str,
    declared: set[str],
    bad_etag: str,
    wrong_etag_errors: tuple[type[BaseException], ...] = (ETagMismatchError,),
    examples: int,
    steps: int,
    used: list[str],
    clock: ModelClock | None = None,
    shrink: bool = True,
    set_returns_etag: bool = True,
) -> None:
    """Run the model test, appending every key it touches to ``used`` (for cleanup).

    A write or delete with ``bad_etag`` must raise one of ``wrong_etag_errors``. Without
    ``set_returns_etag`` a write must return ``None`` and the model reads the new ETag back.

    :raises AssertionError: (via hypothesis, with the shrunk failing sequence) on any disagreement;
        its notes name the seed and how to replay it.
    """
    machine = _machine(
        store, asyncio.get_running_loop(), prefix, declared, bad_etag, wrong_etag_errors, used, clock, set_returns_etag
    )
    config = settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        phases=[p for p in Phase if shrink or p is not Phase.shrink],
    )
    number = model_seed()
    test: Callable[[], None] = seed(number)(get_state_machine_test(machine, settings=config))
    try:
        await asyncio.to_thread(test)
    except AssertionError as exc:
        exc.add_note(f"model seed {number}: replay with {SEED_ENV}={number} and the same test selection")
        raise

"""Property-based model test of a state store: random operation sequences against a dict.

Hypothesis's state machine runs on a worker thread and submits each operation to the test's
event loop, so the store stays on the loop it was initialised on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from blockyard.errors import ETagMismatchError
from blockyard.state import SetRequest, StateStore
from blockyard_conformance.support import fresh_id

__all__ = ["run_state_model"]

T = TypeVar("T")
KEY = st.integers(min_value=0, max_value=3)
VALUE = st.binary(min_size=0, max_size=12)


def _machine(
    store: StateStore, loop: asyncio.AbstractEventLoop, prefix: str, declared: set[str], bad_etag: str, used: list[str]
) -> type[RuleBasedStateMachine]:
    etags_on = "ETAG" in declared
    first_write_on = "FIRST_WRITE" in declared

    def call(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    def mismatch(coro: Coroutine[Any, Any, Any], what: str) -> None:
        try:
            call(coro)
        except ETagMismatchError:
            return
        raise AssertionError(f"{what} should raise ETagMismatchError")

    class StateStoreModel(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.ns = fresh_id(prefix)
            self.model: dict[str, bytes] = {}
            self.etags: dict[str, str | None] = {}

        def key(self, i: int) -> str:
            k = f"{self.ns}-{i}"
            used.append(k)
            return k

        def wrote(self, k: str, v: bytes, etag: str | None) -> None:
            if etags_on:
                assert etag, f"set of {k!r} returned no ETag"
                assert etag != self.etags.get(k), f"a write to {k!r} did not change its ETag"
            self.model[k], self.etags[k] = v, etag

        @rule(i=KEY, v=VALUE)
        def set(self, i: int, v: bytes) -> None:
            k = self.key(i)
            self.wrote(k, v, call(store.set(k, v)))

        @rule(i=KEY)
        def get(self, i: int) -> None:
            k = self.key(i)
            item = call(store.get(k))
            assert item.value == self.model.get(k), f"get({k!r}) disagrees with the model"
            if etags_on:
                assert item.etag == self.etags.get(k), f"get({k!r}) returned another ETag than the last write"

        @rule(i=KEY)
        def delete(self, i: int) -> None:
            k = self.key(i)
            call(store.delete(k))
            self.model.pop(k, None)
            self.etags.pop(k, None)

        @precondition(lambda self: first_write_on)
        @rule(i=KEY, v=VALUE)
        def first_write(self, i: int, v: bytes) -> None:
            k = self.key(i)
            if k in self.model:
                mismatch(store.set(k, v, concurrency="first-write"), f"first-write over existing {k!r}")
            else:
                self.wrote(k, v, call(store.set(k, v, concurrency="first-write")))

        @precondition(lambda self: etags_on)
        @rule(i=KEY, v=VALUE, stale=st.booleans())
        def set_with_etag(self, i: int, v: bytes, stale: bool) -> None:
            k = self.key(i)
            if k in self.model and not stale:
                self.wrote(k, v, call(store.set(k, v, etag=self.etags[k])))
            else:
                mismatch(store.set(k, v, etag=bad_etag), f"set of {k!r} with a wrong ETag")

        @precondition(lambda self: etags_on)
        @rule(i=KEY, stale=st.booleans())
        def delete_with_etag(self, i: int, stale: bool) -> None:
            k = self.key(i)
            if k in self.model and not stale:
                call(store.delete(k, etag=self.etags[k]))
                self.model.pop(k)
                self.etags.pop(k)
            else:
                mismatch(store.delete(k, etag=bad_etag), f"delete of {k!r} with a wrong ETag")

        @rule(idx=st.lists(KEY, min_size=1, max_size=5))
        def bulk_get(self, idx: list[int]) -> None:
            ks = [self.key(i) for i in idx]
            items = call(store.bulk_get(ks))
            assert [it.key for it in items] == ks, "bulk_get did not return the requested keys in order"
            assert [it.value for it in items] == [self.model.get(k) for k in ks], "bulk_get disagrees with the model"

        @rule(pairs=st.dictionaries(KEY, VALUE, min_size=1, max_size=4))
        def bulk_set(self, pairs: dict[int, bytes]) -> None:
            reqs = [SetRequest(self.key(i), v) for i, v in pairs.items()]
            call(store.bulk_set(reqs))
            for r in reqs:
                self.model[r.key] = r.value
                self.etags[r.key] = call(store.get(r.key)).etag if etags_on else None

    return StateStoreModel


async def run_state_model(
    store: StateStore,
    *,
    prefix: str,
    declared: set[str],
    bad_etag: str,
    examples: int,
    steps: int,
    used: list[str],
) -> None:
    """Run the model test, appending every key it touches to ``used`` (for cleanup).

    :raises AssertionError: (via hypothesis, with the shrunk failing sequence) on any disagreement.
    """
    machine = _machine(store, asyncio.get_running_loop(), prefix, declared, bad_etag, used)
    config = settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
    )
    await asyncio.to_thread(run_state_machine_as_test, machine, settings=config)

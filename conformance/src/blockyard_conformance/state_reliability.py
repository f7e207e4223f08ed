"""State store reliability scenarios: hostile keys (S7), transaction isolation (S3), no leaks (S9).

:class:`~blockyard_conformance.state_suite.StateStoreSuite` includes these tests (they use its
``store`` and ``keys`` fixtures). Knobs (class attributes):

- ``hostile_refused``: names of :func:`hostile_corpus` entries the backend refuses by its own
  documented rule (e.g. ``nul``, ``long-4k``); each must then be refused with an
  InvalidRequestError naming the key. ``dapr-delimiter`` is added while a ``keyPrefix`` applies.
- ``isolation_reads`` / ``isolation_transactions``: the isolation scenario's size (200 / 100;
  ``make reliability``: 1,000 each, from ``BLOCKYARD_RELIABILITY_MESSAGES``).
- ``leak_cycles`` (100 init/close cycles), ``leak_failures`` (operations failed behind a cut:
  100; 1,000 in ``make reliability``), ``leak_fd_tolerance`` (descriptors a library keeps in a
  documented process-wide cache; 0 unless the case says which), ``leak_settle`` (seconds an SDK may
  take to close its sockets in its own thread after ``close()`` returned).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

import orjson
import pytest

from blockyard.component import Component
from blockyard.errors import BlockyardError, InvalidRequestError
from blockyard.state import KeysLikeStateStore, SetRequest, StateItem, StateStore, TransactionalStateStore
from blockyard_conformance.accounting import reliability_size
from blockyard_conformance.base_suite import ComponentSuite, SuiteEnv
from blockyard_conformance.leaks import FD_DIR, Resources, connections_closed, connections_to, settled, snapshot
from blockyard_conformance.marks import capability
from blockyard_conformance.query_suite import query_all

if TYPE_CHECKING:
    from blockyard_conformance.state_suite import Keys

__all__ = ["HOSTILE_KEY_SIZE", "StateReliabilitySuite", "hostile_corpus"]

HOSTILE_KEY_SIZE = 4096
"""The long keys of the corpus, in characters (the application's key, before any ``keyPrefix``)."""


def hostile_corpus(prefix: str) -> dict[str, str]:
    """Name -> key, every key under ``prefix`` (hex, so ``%`` and ``_`` in a key are the corpus's own).

    Twins differ only where a careless store would merge them: ``plain`` / ``leading-space`` /
    ``trailing-space`` by surrounding whitespace, ``long-4k`` / ``long-4k-twin`` in their last
    character, ``nul`` / ``nul-twin`` after the NUL.
    """
    p = prefix
    long_base = f"{p}-long-" + "k" * HOSTILE_KEY_SIZE
    return {
        "plain": f"{p}-ws",
        "leading-space": f" {p}-ws",
        "trailing-space": f"{p}-ws ",
        "tab": f"{p}-tab\tin-key",
        "quote": f"{p}-it's",
        "double-quote": f'{p}-say "hi"',
        "semicolon": f"{p}-a;b",
        "sql-comment": f"{p}-x' OR '1'='1' --",
        "block-comment": f"{p}-/* c */",
        "statement": f"{p}'); DROP TABLE state; --",
        "backslash": f"{p}-a\\b\\\\",
        "percent": f"{p}-100%",
        "underscore": f"{p}-a_b",
        "like-pattern": f"{p}-%_%-like",
        "nul": f"{p}-nul\x00a",
        "nul-twin": f"{p}-nul\x00b",
        "long-4k": long_base[: HOSTILE_KEY_SIZE - 1] + "a",
        "long-4k-twin": long_base[: HOSTILE_KEY_SIZE - 1] + "b",
        "non-bmp": f"{p}-\U0001d11e\U0001f600\U0001f004",
        "unicode": f"{p}-ключ-🔑-中文-é",
        "dapr-delimiter": f"{p}||inner||",
        "punctuation": f"{p}-a:b/c?d#e&f=g h~!@$^*()[]{{}}<>|+,.",
        "large-value": f"{p}-large';--",
        "empty-bytes": f'{p}-empty"; --',
        "empty-string": f"{p}-empty-string/**/",
    }


def _value(name: str, prefix: str, i: int, large: int) -> Any:
    """The value written under corpus entry ``name``: distinct JSON documents (queryable), except a
    ``large``-byte random value and the two empty values."""
    if name == "large-value":
        return os.urandom(large)
    if name == "empty-bytes":
        return b""
    if name == "empty-string":
        return ""
    return {"corpus": prefix, "i": i}


def _same(item: StateItem, expected: Any) -> bool:
    if item.value is None or item.error is not None:
        return False
    if isinstance(expected, bytes):
        return item.value == expected
    return bool(orjson.loads(item.value) == expected)


def _names_key(error: BlockyardError, key: str) -> bool:
    return error.key is not None and (error.key == key or error.key.endswith(key))


def _judge_refusal(
    name: str, key: str, error: BlockyardError | None, *, must_refuse: bool, operation: str
) -> str | None:
    """What is wrong with ``operation`` of hostile key ``name`` ending in ``error`` (None: it succeeded), or None."""
    if error is None:
        if must_refuse and operation == "set":
            return f"hostile key {name} is listed in hostile_refused but set accepted it"
        return None
    if not isinstance(error, InvalidRequestError):
        return (
            f"hostile key {name} {_short(key)}: {operation} raised {type(error).__name__} ({error}); expected a round "
            "trip or an InvalidRequestError naming the key"
        )
    if not must_refuse:
        return (
            f"hostile key {name} {_short(key)} was refused ({error}); list it in knob hostile_refused if the "
            "backend documents the rule, else it must round-trip"
        )
    if not _names_key(error, key):
        return f"the refusal of hostile key {name} by {operation} does not name the key: {error}"
    return None


def _short(key: str) -> str:
    text = repr(key)
    return text if len(text) <= 60 else f"{text[:40]}...{text[-12:]} ({len(key)} chars)"


class StateReliabilitySuite(ComponentSuite):
    """The S3, S7 and S9 scenarios (mixed into the state suite)."""

    hostile_refused: ClassVar[list[str]] = []
    isolation_reads: int = min(reliability_size(200), 1000)
    isolation_transactions: int = min(reliability_size(100), 1000)
    leak_cycles: int = 100
    leak_failures: int = min(reliability_size(100), 1000)
    leak_fd_tolerance: int = 0
    leak_settle: float = 5.0
    large_value_size: int  # the state suite's knob

    # -- S7 ------------------------------------------------------------------------------------

    def refused_entries(self, store: StateStore) -> set[str]:
        """The corpus entries ``store`` must refuse: knob ``hostile_refused``, plus ``dapr-delimiter``
        while a ``keyPrefix`` applies (Dapr's rule)."""
        known = set(hostile_corpus("x"))
        unknown = sorted(set(self.hostile_refused) - known)
        if unknown:
            pytest.fail(f"knob hostile_refused names no corpus entry: {unknown}; known: {sorted(known)}", pytrace=False)
        return set(self.hostile_refused) | ({"dapr-delimiter"} if store.key_prefix else set())

    @capability("core")
    async def test_hostile_keys_round_trip_or_are_refused_typed(self, store: StateStore, keys: Keys) -> None:
        """Every key of the hostile corpus (quotes, ``;``, ``--``, ``/* */``, backslash, ``%``, ``_``,
        NUL, 4 KiB, non-BMP, ``||``, surrounding whitespace; a 1 MiB and two empty values) round-trips
        exactly through set, get, bulk_get, delete (and keys_like / query where declared) as a key of
        its own; or, when the case lists it in ``hostile_refused``, is refused with an
        InvalidRequestError naming the key. Never a generic error, never another key."""
        corpus = {name: keys.raw(key) for name, key in hostile_corpus(keys.prefix).items()}
        refused = self.refused_entries(store)
        values = {n: _value(n, keys.prefix, i, self.large_value_size) for i, n in enumerate(corpus)}
        accepted: dict[str, str] = {}
        for name, key in corpus.items():
            md = {"contentType": "application/json"} if isinstance(values[name], dict) else None
            error: BlockyardError | None = None
            try:
                await store.set(key, values[name], metadata=md)
            except BlockyardError as exc:
                error = exc
            problem = _judge_refusal(name, key, error, must_refuse=name in refused, operation="set")
            assert problem is None, problem
            if error is None:
                accepted[name] = key
        for name, key in accepted.items():
            item = await store.get(key)
            assert item.key == key, f"get of hostile key {name} answered for another key {_short(item.key)}"
            assert _same(item, values[name]), f"hostile key {name} {_short(key)} reads back another value"
        items = await store.bulk_get(list(accepted.values()))
        assert [it.key for it in items] == list(accepted.values()), "bulk_get of the hostile keys changed a key"
        wrong = [n for n, it in zip(accepted, items, strict=True) if not _same(it, values[n])]
        assert not wrong, f"bulk_get read other values for hostile keys {wrong}"
        for name in refused & set(corpus):
            await self._still_refused(store, name, corpus[name])
        await self._listed_exactly(store, keys.prefix, accepted, values)
        await self._deleted_one_by_one(store, accepted)
        self.record_reliability(
            "hostile keys",
            {"keys": len(corpus), "round_trip": len(accepted), "refused_typed": len(corpus) - len(accepted)},
        )

    async def _still_refused(self, store: StateStore, name: str, key: str) -> None:
        """A refused key reads as no item or is refused again, typed; deleting it likewise."""
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "get": lambda: store.get(key),
            "delete": lambda: store.delete(key),
        }
        for operation, call in calls.items():
            error: BlockyardError | None = None
            result: Any = None
            try:
                result = await call()
            except BlockyardError as exc:
                error = exc
            if error is not None:
                problem = _judge_refusal(name, key, error, must_refuse=True, operation=operation)
                assert problem is None, problem
            elif operation == "get":
                assert isinstance(result, StateItem)
                assert not result.found, f"refused hostile key {name} reads as an item"

    async def _listed_exactly(
        self, store: StateStore, prefix: str, accepted: dict[str, str], values: dict[str, Any]
    ) -> None:
        declared = self.declared(store)
        if "KEYS_LIKE" in declared:
            assert isinstance(store, KeysLikeStateStore)
            listed = (await store.keys_like(f"%{prefix}%")).keys
            assert sorted(listed) == sorted(accepted.values()), (
                "keys_like lists other keys than the hostile keys written: "
                f"extra {[_short(k) for k in set(listed) - set(accepted.values())]}, "
                f"missing {[n for n, k in accepted.items() if k not in listed]}"
            )
        if "QUERY_API" in declared:
            documents = {k for n, k in accepted.items() if isinstance(values[n], dict)}
            pages = await query_all(store, {"filter": {"EQ": {"corpus": prefix}}})
            found = [k for page in pages for k in page]
            assert sorted(found) == sorted(documents), (
                f"query lists other keys than the hostile keys written: extra {set(found) - documents}, "
                f"missing {[n for n, k in accepted.items() if k in documents and k not in found]}"
            )

    async def _deleted_one_by_one(self, store: StateStore, accepted: dict[str, str]) -> None:
        """Deleting each key leaves every other one in place (twins included), then nothing is left."""
        remaining = dict(accepted)
        for name, key in accepted.items():
            await store.delete(key)
            del remaining[name]
            assert not (await store.get(key)).found, f"hostile key {name} still reads after its delete"
            if remaining and name in ("plain", "long-4k", "nul"):  # their twins must survive the delete
                found = [it.found for it in await store.bulk_get(list(remaining.values()))]
                gone = [n for n, f in zip(remaining, found, strict=True) if not f]
                assert not gone, f"deleting hostile key {name} deleted {gone} too"

    # -- S3 ------------------------------------------------------------------------------------

    @capability("transactions", "TRANSACTIONAL")
    async def test_transactions_are_isolated_from_concurrent_readers(self, store: StateStore, keys: Keys) -> None:
        """``isolation_reads`` bulk_gets of two keys (4 readers) while ``isolation_transactions``
        transactions (2 writers) each set both keys to the same new counter value: no read ever sees
        the two keys differ (half a transaction)."""
        assert isinstance(store, TransactionalStateStore)
        a, b = keys("iso-a"), keys("iso-b")
        await store.transact([SetRequest(a, 0), SetRequest(b, 0)])
        counter = iter(range(1, self.isolation_transactions + 1))
        reads = torn = during = 0
        writing = True
        first_torn: tuple[Any, Any] | None = None

        async def writer() -> None:
            for n in counter:
                await store.transact([SetRequest(a, n), SetRequest(b, n)])
                await asyncio.sleep(0)  # let the readers run between transactions

        async def reader() -> None:
            nonlocal reads, torn, during, first_torn
            while reads < self.isolation_reads:
                reads += 1
                overlapping = writing
                got = await store.bulk_get([a, b])
                errors = [it.error for it in got if it.error is not None]
                assert not errors, f"bulk_get during transactions failed: {errors[0]}"
                pair = tuple(it.json() for it in got)
                if overlapping and writing:
                    during += 1
                if pair[0] != pair[1]:
                    torn += 1
                    first_torn = first_torn or (pair[0], pair[1])
                await asyncio.sleep(0)  # let the writers run between reads, even on a store that never waits

        async def writers() -> None:
            nonlocal writing
            try:
                await asyncio.gather(writer(), writer())
            finally:
                writing = False

        await asyncio.gather(writers(), *(reader() for _ in range(4)))
        self.record_reliability(
            "transaction isolation",
            {"transactions": self.isolation_transactions, "reads": reads, "during_writes": during, "torn": torn},
        )
        assert torn == 0, f"{torn} of {reads} reads saw half a transaction, e.g. {first_torn}"
        assert during > 0, "no read overlapped a transaction: the scenario proved nothing (raise isolation_reads)"
        final = [it.json() for it in await store.bulk_get([a, b])]
        assert final[0] == final[1], f"the keys ended different after every transaction: {final}"

    # -- S9 ------------------------------------------------------------------------------------

    def _leak_baseline(self) -> None:
        if not FD_DIR.is_dir():
            pytest.skip(f"{FD_DIR} is not there to count open file descriptors (Linux only)")

    async def _assert_back_to(self, baseline: Resources, what: str) -> Resources:
        after = await settled(baseline, within=self.leak_settle, fd_tolerance=self.leak_fd_tolerance)
        assert not after.exceeds(baseline, fd_tolerance=self.leak_fd_tolerance), (
            f"{what}: not back to baseline after close ({after.describe(baseline)}; "
            f"fd tolerance {self.leak_fd_tolerance}): close() leaves connections or tasks behind"
        )
        return after

    @capability("lifecycle")
    async def test_no_leaks_after_init_close_cycles(self, suite_env: SuiteEnv) -> None:
        """After ``leak_cycles`` init / one operation / close cycles, the process's open file
        descriptors and asyncio tasks are back to what they were (closed components stay referenced,
        so no garbage collection hides a forgotten connection or task)."""
        self._leak_baseline()
        await self._one_cycle(suite_env)  # the first one may load modules and fill process-wide caches
        baseline = snapshot()
        started = time.monotonic()
        closed = [await self._one_cycle(suite_env) for _ in range(self.leak_cycles)]
        after = await self._assert_back_to(baseline, f"{len(closed)} init/close cycles")
        self.record_reliability(
            "init/close cycles",
            {
                "cycles": self.leak_cycles,
                "fds_delta": after.fds - baseline.fds,
                "tasks_delta": after.tasks - baseline.tasks,
                "seconds": round(time.monotonic() - started, 1),
            },
        )

    async def _one_cycle(self, env: SuiteEnv) -> Component:
        comp = await self.create_component(env)
        await comp.init()
        try:
            await self.exercise(comp)
        finally:
            await comp.close()
        return comp

    @capability("fault")
    async def test_no_leaks_after_failures_behind_a_network_cut(self, suite_env: SuiteEnv) -> None:
        """``leak_failures`` operations fail (none hangs) behind a verified cut of the kit's proxy; the
        component is closed during the cut, and then holds no connection to the proxy any more; once
        the proxy is gone too, open file descriptors and asyncio tasks are back to what they were
        before (knob ``network_faults``)."""
        self._leak_baseline()
        await self._one_cycle(suite_env)  # the first one may load modules and fill process-wide caches
        baseline = snapshot()
        closed: list[Component] = []
        async with self.through_fault_proxy(suite_env) as (proxy, comp):
            closed.append(comp)
            await self.fault_probe(comp)
            proxy.probe = None  # the cut is verified by the proxy's own probe; the failures below show it too
            await proxy.cut()
            outcomes = await asyncio.gather(
                *(self.timed_failure(self.fault_probe(comp)) for _ in range(self.leak_failures))
            )
            succeeded = sum(1 for _, error in outcomes if error is None)
            assert not succeeded, f"{succeeded} operations succeeded through a verified network cut"
            opened = connections_to(proxy.port)
            took, error = await self.timed_failure(comp.close())
            assert error is None, f"close() during a network cut raised {type(error).__name__}: {error}"
            left = await connections_closed(proxy.port, within=self.leak_settle)
            assert not left, (
                f"{left} of the component's {opened} connections to its backend are still open after close() "
                "during a network cut"
            )
        after = await self._assert_back_to(baseline, f"{self.leak_failures} failed operations behind a cut")
        self.record_reliability(
            "failures behind a cut, then close",
            {
                "failed_operations": len(outcomes),
                "connections_at_close": opened,
                "close_s": round(took, 2),
                "fds_delta": after.fds - baseline.fds,
                "tasks_delta": after.tasks - baseline.tasks,
            },
        )

"""Planted defects of a state store (and of the checks every kind shares), one per suite test or more.

Each broken store subclasses ``RefStateStore`` (which passes the whole suite) and breaks one rule.
"""

from __future__ import annotations

import textwrap

from kit_selftest import Defect

STATE_SUITE = """
class TestBroken(StateStoreSuite):
    component_class = Broken
    metadata = {"namespace": "n", "password": "sup3r-s3cret"}
    concurrent_writers = 10
    model_examples = 100
    model_steps = 30
    model_shrink = False
    ttl_timeout = 4.0
"""


STATE_ON_A_CLOCK_SUITE = """
class TestBroken(StateStoreSuite):
    component_class = Broken
    metadata = {"namespace": "n"}
    model_examples = 400
    model_steps = 30
    model_shrink = False

    def model_clock(self, store):
        clock = FakeClock()
        store.now = clock.now
        return clock
"""


INVALID_METADATA_SUITE = (
    STATE_SUITE
    + """
    invalid_metadata = [{"namespace": "a/b"}]
"""
)


STALL_SUITE = (
    STATE_SUITE
    + """
    stall_backend = "test_case:stall"
    operation_timeout = 0.5
    recovery_within = 1.0
"""
)
STALL_TEST = "test_fails_fast_while_the_backend_stalls_and_recovers"
"""The state suite with a stall the inner module supplies (knob ``stall_backend``)."""

STALLABLE = """
import contextlib
from blockyard.errors import BackendError, BackendUnavailableError


@contextlib.asynccontextmanager
async def stall(component, endpoint):
    component.stalled = True
    try:
        yield
    finally:
        component.stalled = False


class Stallable(RefStateStore):
    \"\"\"Fails every write at once with BackendUnavailableError while stalled; works again after.\"\"\"

    stalled = False

    async def _set(self, op):
        if self.stalled:
            raise BackendUnavailableError("the backend accepts no work")
        return await super()._set(op)
"""
"""A store that is correct under the stall of ``STALL_SUITE``; the stall defects subclass it."""


def _stall(body: str) -> Defect:
    return Defect(STALLABLE + textwrap.dedent(body), STALL_TEST, STALL_SUITE)


def _state(body: str, test: str) -> Defect:
    return Defect(body, test, STATE_SUITE)


def _model(body: str) -> Defect:
    """A defect only the model test is asked to find (with the clock it controls)."""
    return Defect(body, "test_random_operations_agree_with_a_dict", STATE_ON_A_CLOCK_SUITE)


STATE_DEFECTS: dict[str, Defect] = {
    # -- lifecycle (shared by every kind) ----------------------------------------------------
    "ping-fails-when-ready": _state(
        """
        class Broken(RefStateStore):
            async def _ping(self):
                raise ConnectionError("no health endpoint")
        """,
        "test_ping",
    ),
    "works-after-close": _state(
        """
        class Broken(RefStateStore):
            async def get(self, key, **kwargs):
                return await self._get(key, None, {})
        """,
        "test_close_twice_then_use_raises_closed",
    ),
    "works-before-init": _state(
        """
        class Broken(RefStateStore):
            data = {}
            async def get(self, key, **kwargs):
                return await self._get(key, None, {})
        """,
        "test_use_before_init_raises_closed",
    ),
    "invalid-metadata-accepted": Defect(
        """
        class Broken(RefStateStore):
            pass
        """,
        "test_invalid_metadata_is_named",
        INVALID_METADATA_SUITE,
    ),
    "invalid-metadata-refused-with-another-error": Defect(
        """
        class Broken(RefStateStore):
            async def _init(self):
                if "/" in self.meta.namespace:
                    raise ValueError("no slash allowed")
                await super()._init()
        """,
        "test_invalid_metadata_is_named",
        INVALID_METADATA_SUITE,
    ),
    "invalid-metadata-error-names-no-field": Defect(
        """
        from blockyard.errors import ComponentConfigError
        class Broken(RefStateStore):
            async def _init(self):
                if "/" in self.meta.namespace:
                    raise ComponentConfigError("invalid configuration")
                await super()._init()
        """,
        "test_invalid_metadata_is_named",
        INVALID_METADATA_SUITE,
    ),
    "refused-metadata-leaves-its-worker-thread": Defect(
        """
        import asyncio
        from concurrent.futures import ThreadPoolExecutor
        from blockyard.errors import ComponentConfigError
        class Broken(RefStateStore):
            async def _init(self):
                self.pool = ThreadPoolExecutor(max_workers=1)  # not shut down when the open fails
                await asyncio.get_running_loop().run_in_executor(self.pool, self._open)
                await super()._init()

            def _open(self):
                if "/" in self.meta.namespace:
                    raise ComponentConfigError("field 'namespace': no '/' allowed", field="namespace")
        """,
        "test_invalid_metadata_is_named",
        INVALID_METADATA_SUITE,
    ),
    "config-error-names-no-field": _state(
        """
        from blockyard.errors import ComponentConfigError
        class Broken(RefStateStore):
            def _parse_metadata(self, metadata):
                try:
                    return super()._parse_metadata(metadata)
                except ComponentConfigError:
                    raise ComponentConfigError("invalid configuration") from None
        """,
        "test_missing_required_field_is_named",
    ),
    "close-forgets-a-connection": _state(
        """
        import socket
        class Broken(RefStateStore):
            async def _init(self):
                await super()._init()
                self.connection = socket.socketpair()
        """,
        "test_no_leaks_after_init_close_cycles",
    ),
    "close-forgets-a-background-task": _state(
        """
        class Broken(RefStateStore):
            async def _init(self):
                await super()._init()
                self.heartbeat = asyncio.get_running_loop().create_task(asyncio.Event().wait())
        """,
        "test_no_leaks_after_init_close_cycles",
    ),
    "secret-in-repr": _state(
        """
        class Broken(RefStateStore):
            def __repr__(self):
                return f"<Broken password={self.meta.password.get_secret_value()}>"
        """,
        "test_sensitive_values_hidden",
    ),
    # -- core ------------------------------------------------------------------------------
    "bytes-mangled-as-text": _state(
        """
        class Broken(RefStateStore):
            def _apply_set(self, op):
                op.value = op.value.decode(errors="replace").encode()
                return super()._apply_set(op)
        """,
        "test_set_and_get_value_types",
    ),
    "tab-escaped-on-write-only": _state(
        """
        class Broken(RefStateStore):
            def _apply_set(self, op):
                op.key = op.key.replace("\\t", "\\\\t")
                return super()._apply_set(op)
        """,
        "test_hostile_keys_round_trip_or_are_refused_typed",
    ),
    "keys-whitespace-stripped": _state(
        """
        class Broken(RefStateStore):
            def _live(self, key):
                return super()._live(key.strip())
            def _apply_set(self, op):
                op.key = op.key.strip()
                return super()._apply_set(op)
            async def _delete(self, op):
                op.key = op.key.strip()
                return await super()._delete(op)
        """,
        "test_hostile_keys_round_trip_or_are_refused_typed",
    ),
    "long-keys-truncated": _state(
        """
        class Broken(RefStateStore):
            def _live(self, key):
                return super()._live(key[:1024])
            def _apply_set(self, op):
                op.key = op.key[:1024]
                return super()._apply_set(op)
            async def _delete(self, op):
                op.key = op.key[:1024]
                return await super()._delete(op)
        """,
        "test_hostile_keys_round_trip_or_are_refused_typed",
    ),
    "nul-key-generic-error": _state(
        """
        class Broken(RefStateStore):
            async def _set(self, op):
                if "\\x00" in op.key:
                    raise RuntimeError("embedded null character")
                return await super()._set(op)
        """,
        "test_hostile_keys_round_trip_or_are_refused_typed",
    ),
    "nul-key-refused-without-naming-it": Defect(
        """
        from blockyard.errors import InvalidRequestError
        class Broken(RefStateStore):
            async def _set(self, op):
                if "\\x00" in op.key:
                    raise InvalidRequestError("keys must not contain NUL", key="")
                return await super()._set(op)
        """,
        "test_hostile_keys_round_trip_or_are_refused_typed",
        STATE_SUITE + "    hostile_refused = ['nul', 'nul-twin']\n",
    ),
    "nul-key-silently-dropped": _state(
        """
        class Broken(RefStateStore):
            def _live(self, key):
                return super()._live(key.split("\\x00")[0])
            def _apply_set(self, op):
                op.key = op.key.split("\\x00")[0]
                return super()._apply_set(op)
            async def _delete(self, op):
                op.key = op.key.split("\\x00")[0]
                return await super()._delete(op)
        """,
        "test_hostile_keys_round_trip_or_are_refused_typed",
    ),
    "keys-normalised-to-nfc": _state(
        """
        class Broken(RefStateStore):
            def _live(self, key):
                return super()._live(unicodedata.normalize("NFC", key))
            def _apply_set(self, op):
                op.key = unicodedata.normalize("NFC", op.key)
                return super()._apply_set(op)
            async def _delete(self, op):
                op.key = unicodedata.normalize("NFC", op.key)
                return await super()._delete(op)
        """,
        "test_keys_are_compared_exactly",
    ),
    "keys-case-insensitive": _state(
        """
        class Broken(RefStateStore):
            def _live(self, key):
                return super()._live(key.lower())
            def _apply_set(self, op):
                op.key = op.key.lower()
                return super()._apply_set(op)
            async def _delete(self, op):
                op.key = op.key.lower()
                return await super()._delete(op)
        """,
        "test_keys_are_compared_exactly",
    ),
    "large-value-truncated": _state(
        """
        class Broken(RefStateStore):
            def _apply_set(self, op):
                op.value = op.value[:65536]
                return super()._apply_set(op)
        """,
        "test_large_value",
    ),
    "missing-key-reads-as-empty": _state(
        """
        class Broken(RefStateStore):
            async def _get(self, key, consistency, metadata):
                item = await super()._get(key, consistency, metadata)
                return item if item.value is not None else StateItem(key, b"")
        """,
        "test_missing_key_reads_as_no_item",
    ),
    "plain-write-keeps-first-value": _state(
        """
        class Broken(RefStateStore):
            def _apply_set(self, op):
                if op.key in self.data and op.etag is None:
                    return self.data[op.key][1]
                return super()._apply_set(op)
        """,
        "test_last_write_wins",
    ),
    "delete-does-nothing": _state(
        """
        class Broken(RefStateStore):
            async def _delete(self, op):
                self._check(op.key, op.etag, False)
        """,
        "test_delete",
    ),
    "bulk-delete-does-nothing": _state(
        """
        class Broken(RefStateStore):
            async def _bulk_delete(self, ops):
                return {}
        """,
        "test_bulk_set_get_delete",
    ),
    "bulk-get-drops-missing-keys": _state(
        """
        class Broken(RefStateStore):
            async def _bulk_get(self, keys, consistency, metadata):
                items = [await self._get(k, consistency, metadata) for k in keys]
                return [i for i in items if i.value is not None]
        """,
        "test_bulk_get_returns_every_key_in_order",
    ),
    "expire-time-without-ttl": _state(
        """
        class Broken(RefStateStore):
            async def _get(self, key, consistency, metadata):
                item = await super()._get(key, consistency, metadata)
                if item.value is not None:
                    item.metadata.setdefault("ttlExpireTime", "9999-12-31T23:59:59Z")
                return item
        """,
        "test_no_ttl_no_expire_time",
    ),
    "mixin-without-declared-feature": _state(
        """
        class Broken(RefStateStore):
            features = RefStateStore.features - {"KEYS_LIKE"}
        """,
        "test_features_both_ways",
    ),
    # -- ETags -----------------------------------------------------------------------------
    "wrong-etag-ignored": _state(
        """
        class Broken(RefStateStore):
            async def _set(self, op):
                self._check(op.key, None, op.first_write)
                return self._apply_set(op)
        """,
        "test_etag_sequence",
    ),
    "delete-ignores-etag": _state(
        """
        class Broken(RefStateStore):
            async def _delete(self, op):
                self.data.pop(op.key, None)
        """,
        "test_etag_sequence",
    ),
    "etag-unchanged-by-write": _state(
        """
        class Broken(RefStateStore):
            def _apply_set(self, op):
                old = self.data.get(op.key)
                etag = old[1] if old else "e-" + op.key
                self.data[op.key] = (op.value, etag, None)
                return etag
        """,
        "test_every_write_changes_etag",
    ),
    "etag-write-on-absent-key-inserts": _state(
        """
        class Broken(RefStateStore):
            def _check(self, key, etag, first_write):
                if etag is not None and self._live(key) is None:
                    return
                super()._check(key, etag, first_write)
        """,
        "test_etag_on_missing_key_is_mismatch",
    ),
    "etag-counter-restarts-after-delete": _state(
        """
        class Broken(RefStateStore):
            def _apply_set(self, op):
                old = self.data.get(op.key)
                etag = str(int(old[1]) + 1) if old else "1"
                self.data[op.key] = (op.value, etag, time.time() + op.ttl if op.ttl else None)
                return etag
        """,
        "test_etag_does_not_survive_delete_and_recreate",
    ),
    "etag-check-not-atomic": _state(
        """
        class Broken(RefStateStore):
            async def _set(self, op):
                self._check(op.key, op.etag, op.first_write)
                await asyncio.sleep(0)
                return self._apply_set(op)
        """,
        "test_concurrent_etag_increments_lose_nothing",
    ),
    "etag-check-not-atomic-under-many-writers": _state(
        """
        class Broken(RefStateStore):
            async def _set(self, op):
                self._check(op.key, op.etag, op.first_write)
                await asyncio.sleep(0)
                return self._apply_set(op)
        """,
        "test_concurrent_etag_writers_lose_no_update",
    ),
    # -- first-write -----------------------------------------------------------------------
    "first-write-ignored": _state(
        """
        class Broken(RefStateStore):
            async def _set(self, op):
                self._check(op.key, op.etag, False)
                return self._apply_set(op)
        """,
        "test_first_write_without_etag",
    ),
    "stale-etag-accepted": _state(
        """
        class Broken(RefStateStore):
            async def _init(self):
                await super()._init()
                self.history = {}
            def _check(self, key, etag, first_write):
                if etag is not None and etag in self.history.get(key, ()) and self._live(key):
                    return
                super()._check(key, etag, first_write)
            def _apply_set(self, op):
                etag = super()._apply_set(op)
                self.history.setdefault(op.key, set()).add(etag)
                return etag
        """,
        "test_first_write_with_etag",
    ),
    "first-write-conflicts-only-with-first-writes": _state(
        """
        class Broken(RefStateStore):
            async def _init(self):
                await super()._init()
                self.inserted = set()
            async def _set(self, op):
                if op.first_write:
                    if op.key in self.inserted and self._live(op.key):
                        raise ETagMismatchError("exists")
                    self.inserted.add(op.key)
                    return self._apply_set(op)
                return await super()._set(op)
        """,
        "test_first_write_over_last_write_key_conflicts",
    ),
    "non-atomic-first-write": _state(
        """
        class Broken(RefStateStore):
            async def _set(self, op):
                if op.first_write:
                    exists = self._live(op.key) is not None
                    await asyncio.sleep(0)
                    if exists:
                        raise ETagMismatchError("exists")
                    return self._apply_set(op)
                return await super()._set(op)
        """,
        "test_concurrent_first_write_has_one_winner",
    ),
    # -- transactions ----------------------------------------------------------------------
    "transaction-interleaved-with-readers": _state(
        """
        class Broken(RefStateStore):
            async def _transact(self, ops, metadata):
                for op in ops:
                    await super()._transact([op], metadata)
                    await asyncio.sleep(0)
        """,
        "test_transactions_are_isolated_from_concurrent_readers",
    ),
    "transaction-skips-deletes": _state(
        """
        class Broken(RefStateStore):
            async def _transact(self, ops, metadata):
                await super()._transact([op for op in ops if isinstance(op, SetOp)], metadata)
        """,
        "test_transaction_groups",
    ),
    "transaction-sets-before-deletes": _state(
        """
        class Broken(RefStateStore):
            async def _transact(self, ops, metadata):
                sets = [op for op in ops if isinstance(op, SetOp)]
                await super()._transact(sets + [op for op in ops if not isinstance(op, SetOp)], metadata)
        """,
        "test_transaction_applies_in_order",
    ),
    "transaction-deletes-before-sets": _state(
        """
        class Broken(RefStateStore):
            async def _transact(self, ops, metadata):
                sets = [op for op in ops if isinstance(op, SetOp)]
                await super()._transact([op for op in ops if not isinstance(op, SetOp)] + sets, metadata)
        """,
        "test_transaction_applies_in_order",
    ),
    "partial-transaction": _state(
        """
        class Broken(RefStateStore):
            async def _transact(self, ops, metadata):
                for op in ops:
                    self._check(op.key, op.etag, isinstance(op, SetOp) and op.first_write)
                    if isinstance(op, SetOp):
                        self._apply_set(op)
                    else:
                        self.data.pop(op.key, None)
        """,
        "test_transaction_with_failing_etag_changes_nothing",
    ),
    "transaction-checks-first-write-late": _state(
        """
        class Broken(RefStateStore):
            async def _transact(self, ops, metadata):
                for op in ops:
                    self._check(op.key, op.etag, False)
                for op in ops:
                    if isinstance(op, SetOp):
                        self._check(op.key, None, op.first_write)
                        self._apply_set(op)
                    else:
                        self.data.pop(op.key, None)
        """,
        "test_transaction_with_first_write_conflict_changes_nothing",
    ),
    # -- TTL -------------------------------------------------------------------------------
    "bad-ttl-silently-ignored": _state(
        """
        class Broken(RefStateStore):
            async def set(self, key, value, *, metadata=None, **kwargs):
                md = dict(metadata or {})
                if not str(md.get("ttlInSeconds", "0")).lstrip("-").isdigit():
                    md.pop("ttlInSeconds")
                return await super().set(key, value, metadata=md, **kwargs)
        """,
        "test_ttl_bad_value_is_rejected",
    ),
    "ttl-never-expires": _state(
        """
        class Broken(RefStateStore):
            def _live(self, key):
                return self.data.get(key)
        """,
        "test_ttl_expires_and_later_writes_reset_it",
    ),
    "expiry-takes-unexpired-items": _state(
        """
        class Broken(RefStateStore):
            def _live(self, key):
                # an expiry pass comparing the wrong way round also takes items still to expire
                now = self.now()
                if any(e[2] is not None and e[2] <= now for e in self.data.values()):
                    for k in [k for k, e in self.data.items() if e[2] is not None]:
                        del self.data[k]
                return super()._live(key)
        """,
        "test_ttl_expires_and_later_writes_reset_it",
    ),
    "expire-time-without-zone": _state(
        """
        from datetime import datetime
        class Broken(RefStateStore):
            async def _get(self, key, consistency, metadata):
                item = await super()._get(key, consistency, metadata)
                entry = self.data.get(key)
                if entry is not None and entry[2] is not None:
                    item.metadata["ttlExpireTime"] = datetime.fromtimestamp(entry[2]).isoformat()
                return item
        """,
        "test_ttl_expire_time",
    ),
    "bulk-get-ignores-ttl": _state(
        """
        class Broken(RefStateStore):
            async def _bulk_get(self, keys, consistency, metadata):
                return [StateItem(k, *self.data[k][:2]) if k in self.data else StateItem(k) for k in keys]
        """,
        "test_ttl_holds_on_every_path",
    ),
    "keys-like-ignores-ttl": _state(
        """
        class Broken(RefStateStore):
            async def _keys_like(self, pattern, page_size, token):
                rx = compile_like(pattern)
                return KeysPage(sorted(k for k in self.data if rx.fullmatch(k)))
        """,
        "test_ttl_holds_on_every_path",
    ),
    "first-write-sees-expired-items": _state(
        """
        class Broken(RefStateStore):
            def _check(self, key, etag, first_write):
                if first_write and key in self.data:
                    raise ETagMismatchError("key exists")
                super()._check(key, etag, first_write)
        """,
        "test_ttl_holds_on_every_path",
    ),
    "bulk-set-drops-ttl": _state(
        """
        class Broken(RefStateStore):
            async def _bulk_set(self, ops):
                for op in ops:
                    op.ttl = None
                return await super()._bulk_set(ops)
        """,
        "test_ttl_holds_on_every_path",
    ),
    "transaction-drops-ttl": _state(
        """
        class Broken(RefStateStore):
            async def _transact(self, ops, metadata):
                for op in ops:
                    if isinstance(op, SetOp):
                        op.ttl = None
                await super()._transact(ops, metadata)
        """,
        "test_ttl_holds_on_every_path",
    ),
    # -- delete with prefix / keys like -------------------------------------------------------
    "delete-with-prefix-deletes-deeper-keys": _state(
        """
        class Broken(RefStateStore):
            async def _delete_with_prefix(self, prefix):
                doomed = [k for k in list(self.data) if k.startswith(prefix)]
                for k in doomed:
                    del self.data[k]
                return len(doomed)
        """,
        "test_delete_with_prefix",
    ),
    "delete-with-prefix-like-wildcards": _state(
        """
        class Broken(RefStateStore):
            async def _delete_with_prefix(self, prefix):
                rx = compile_like(prefix + "%")
                doomed = [k for k in list(self.data) if rx.fullmatch(k) and "||" not in k[len(prefix):]]
                for k in doomed:
                    del self.data[k]
                return len(doomed)
        """,
        "test_delete_with_prefix_boundaries",
    ),
    "delete-with-prefix-glob-wildcards": _state(
        """
        import fnmatch
        class Broken(RefStateStore):
            async def _delete_with_prefix(self, prefix):
                doomed = [k for k in list(self.data)
                          if fnmatch.fnmatchcase(k, prefix + "*") and "||" not in k[len(prefix):]]
                for k in doomed:
                    del self.data[k]
                return len(doomed)
        """,
        "test_delete_with_prefix_boundaries",
    ),
    "delete-with-prefix-ignores-case": _state(
        """
        class Broken(RefStateStore):
            async def _delete_with_prefix(self, prefix):
                doomed = [k for k in list(self.data)
                          if k.lower().startswith(prefix.lower()) and "||" not in k[len(prefix):]]
                for k in doomed:
                    del self.data[k]
                return len(doomed)
        """,
        "test_delete_with_prefix_boundaries",
    ),
    "delete-with-prefix-refuses-any-bar-in-the-rest": _state(
        """
        import re
        class Broken(RefStateStore):
            async def _delete_with_prefix(self, prefix):
                rx = re.compile(re.escape(prefix) + "[^|]*")
                doomed = [k for k in list(self.data) if rx.fullmatch(k)]
                for k in doomed:
                    del self.data[k]
                return len(doomed)
        """,
        "test_delete_with_prefix_boundaries",
    ),
    "delete-with-prefix-rest-off-by-one": _state(  # SQL's 1-based substr() ported to a 0-based slice
        """
        class Broken(RefStateStore):
            async def _delete_with_prefix(self, prefix):
                doomed = [k for k in list(self.data) if k.startswith(prefix) and "||" not in k[len(prefix) + 1:]]
                for k in doomed:
                    del self.data[k]
                return len(doomed)
        """,
        "test_delete_with_prefix_boundaries",
    ),
    "keys-like-dot-is-a-wildcard": _state(
        """
        import re
        class Broken(RefStateStore):
            async def _keys_like(self, pattern, page_size, token):
                rx = re.compile(pattern.replace("%", ".*").replace("_", "."))
                return KeysPage(sorted(k for k in self.data if self._live(k) and rx.fullmatch(k)))
        """,
        "test_keys_like_patterns",
    ),
    "keys-like-ignores-page-size": _state(
        """
        class Broken(RefStateStore):
            async def _keys_like(self, pattern, page_size, token):
                return await super()._keys_like(pattern, None, token)
        """,
        "test_keys_like_paging",
    ),
    "keys-like-offset-tokens": _state(
        """
        class Broken(RefStateStore):
            async def _keys_like(self, pattern, page_size, token):
                rx = compile_like(pattern)
                found = sorted(k for k in list(self.data) if self._live(k) and rx.fullmatch(k))
                start = int(token or 0)
                if page_size is None:
                    return KeysPage(found[start:])
                end = start + page_size
                return KeysPage(found[start:end], str(end) if end < len(found) else None)
        """,
        "test_keys_like_paging_while_keys_change",
    ),
    # -- model -----------------------------------------------------------------------------
    "delete-with-etag-keeps-the-key": _state(
        """
        class Broken(RefStateStore):
            async def _delete(self, op):
                self._check(op.key, op.etag, False)
                if op.etag is None:
                    self.data.pop(op.key, None)
        """,
        "test_random_operations_agree_with_a_dict",
    ),
    "model/transaction-drops-ttl": _model(
        """
        class Broken(RefStateStore):
            async def _transact(self, ops, metadata):
                for op in ops:
                    if isinstance(op, SetOp):
                        op.ttl = None
                await super()._transact(ops, metadata)
        """
    ),
    "model/bulk-get-ignores-ttl": _model(
        """
        class Broken(RefStateStore):
            async def _bulk_get(self, keys, consistency, metadata):
                return [StateItem(k, *self.data[k][:2]) if k in self.data else StateItem(k) for k in keys]
        """
    ),
    "model/transaction-applies-deletes-last": _model(
        """
        class Broken(RefStateStore):
            async def _transact(self, ops, metadata):
                sets = [op for op in ops if isinstance(op, SetOp)]
                await super()._transact(sets + [op for op in ops if not isinstance(op, SetOp)], metadata)
        """
    ),
    # -- a stalled backend (knob stall_backend) ----------------------------------------------
    "stall/write-hangs": _stall(
        """
        class Broken(Stallable):
            async def _set(self, op):
                while self.stalled:  # waits for the backend with no timeout of its own
                    await asyncio.sleep(0.05)
                return await super()._set(op)
        """
    ),
    "stall/plain-backend-error": _stall(
        """
        class Broken(Stallable):
            async def _set(self, op):
                if self.stalled:
                    raise BackendError("database is locked")  # not marked retryable
                return await super()._set(op)
        """
    ),
    "stall/error-names-another-component": _stall(
        """
        class Broken(Stallable):
            async def _set(self, op):
                if self.stalled:
                    raise BackendUnavailableError("the backend accepts no work", component="the-backend")
                return await super()._set(op)
        """
    ),
    "stall/broken-after-the-stall": _stall(
        """
        class Broken(Stallable):
            failed = False
            async def _set(self, op):
                self.failed = self.failed or self.stalled
                if self.failed:  # never reconnects
                    raise BackendUnavailableError("the backend accepts no work")
                return await super()._set(op)
            async def _get(self, key, consistency, metadata):
                if self.failed:
                    raise BackendUnavailableError("the backend accepts no work")
                return await super()._get(key, consistency, metadata)
        """
    ),
    "model/bulk-delete-skips-last": _model(
        """
        class Broken(RefStateStore):
            async def _bulk_delete(self, ops):
                return await super()._bulk_delete(ops[:-1])
        """
    ),
}

"""Store-specific behaviour of state.in-memory and state.sqlite (metadata, storage, sweeping)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from pathlib import Path

import pytest

from blockyard.errors import BackendUnavailableError, ComponentClosedError, ComponentConfigError, ETagMismatchError
from blockyard.state import StateFeature
from blockyard_local.state_memory import InMemoryStateStore
from blockyard_local.state_sqlite import SQLiteStateStore


async def test_memory_sweeper_removes_expired_items() -> None:
    async with InMemoryStateStore({"cleanupInterval": "50ms"}) as store:
        await store.set("k", 1, ttl=1)
        await store.set("keep", 1)
        await asyncio.sleep(1.3)
        assert set(store._data) == {"keep"}


async def test_memory_instances_do_not_share_data() -> None:
    async with InMemoryStateStore() as a, InMemoryStateStore() as b:
        await a.set("k", 1)
        assert (await b.get("k")).value is None


async def test_memory_close_stops_the_sweeper_and_operations() -> None:
    store = InMemoryStateStore()
    await store.init()
    sweeper = store._sweeper
    assert sweeper is not None
    assert not sweeper.done()
    await store.close()
    assert sweeper.done()
    with pytest.raises(ComponentClosedError):
        await store.get("k")


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path)


async def test_sqlite_persists_and_stores_text_or_blob(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    async with SQLiteStateStore({"url": str(db), "tableName": "my_state"}) as store:
        await store.set("text", {"a": 1})
        await store.set("bin", b"\xff\x00")
    with _raw(db) as conn:
        rows = dict(conn.execute("SELECT key, typeof(value) || ':' || is_binary FROM my_state").fetchall())
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert rows == {"text": "text:0", "bin": "blob:1"}
    assert mode == "wal"
    async with SQLiteStateStore({"connectionString": f"file:{db}"}, name="again") as again:
        assert (await again.get("text")).value is None  # another table
    async with SQLiteStateStore({"connectionString": str(db), "tableName": "my_state"}) as again:
        assert (await again.get("bin")).value == b"\xff\x00"


async def test_sqlite_disable_wal(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    async with SQLiteStateStore({"connectionString": str(db), "disableWAL": "true"}) as store:
        await store.set("k", 1)
    with _raw(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


async def test_sqlite_in_memory_database() -> None:
    async with SQLiteStateStore({"connectionString": ":memory:"}) as store:
        await store.set("k", 1)
        assert (await store.get("k")).json() == 1


@pytest.mark.parametrize("bad", ["state;drop", "1abc", "a b", 'x"y', "sqlite_master", "a" * 64, ""])
def test_sqlite_rejects_bad_table_names(bad: str) -> None:
    with pytest.raises(ComponentConfigError, match="tableName") as info:
        SQLiteStateStore({"connectionString": ":memory:", "tableName": bad}, name="db")
    assert info.value.field == "tableName"
    assert info.value.component == "db"


def test_sqlite_requires_a_connection_string() -> None:
    with pytest.raises(ComponentConfigError, match=r"connectionString.*required"):
        SQLiteStateStore({})


def test_sqlite_rejects_bad_durations() -> None:
    with pytest.raises(ComponentConfigError, match="busyTimeout"):
        SQLiteStateStore({"connectionString": ":memory:", "busyTimeout": "soon"})


async def test_sqlite_unopenable_database_is_a_config_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secret_path = str(tmp_path / "no-such-dir" / "private-name.db")
    store = SQLiteStateStore({"connectionString": secret_path}, name="db")
    with caplog.at_level(logging.DEBUG), pytest.raises(ComponentConfigError, match="connectionString") as info:
        await store.init()
    assert "private-name" not in str(info.value)
    assert "private-name" not in repr(store)
    assert "private-name" not in repr(store.meta)
    assert "private-name" not in caplog.text


async def test_sqlite_file_that_is_no_database_is_a_config_error(tmp_path: Path) -> None:
    text = tmp_path / "private-notes.txt"
    text.write_text("a text file, not an SQLite database\n")
    store = SQLiteStateStore({"connectionString": str(text)}, name="db")
    with pytest.raises(ComponentConfigError, match=r"connectionString.*not an SQLite database") as info:
        await store.init()
    assert info.value.field == "connectionString"
    assert "private-notes" not in str(info.value)
    assert text.read_text() == "a text file, not an SQLite database\n", "the refused file was changed"
    await store.close()


async def test_sqlite_locked_database_is_backend_unavailable(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    async with SQLiteStateStore({"connectionString": str(db), "busyTimeout": "100ms"}) as store:
        await store.set("k", 1)
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(BackendUnavailableError, match="locked"):
                await store.set("k", 2)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        await store.set("k", 3)
        assert (await store.get("k")).json() == 3


async def test_sqlite_first_write_across_two_components(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    async with SQLiteStateStore({"connectionString": db}) as a, SQLiteStateStore({"connectionString": db}) as b:

        async def attempt(store: SQLiteStateStore, i: int) -> bool:
            try:
                await store.set("race", i, concurrency="first-write")
            except ETagMismatchError:
                return False
            return True

        wins = await asyncio.gather(*(attempt(a if i % 2 else b, i) for i in range(20)))
        assert sum(wins) == 1


async def test_sqlite_uses_one_worker_thread(tmp_path: Path) -> None:
    async with SQLiteStateStore({"connectionString": str(tmp_path / "s.db")}, name="one") as store:
        await asyncio.gather(*(store.set(f"k{i}", i) for i in range(50)))
        workers = [t for t in threading.enumerate() if t.name.startswith("blockyard-sqlite-one")]
        assert len(workers) == 1


async def test_sqlite_sweeps_expired_rows(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    async with SQLiteStateStore({"connectionString": str(db), "cleanupInterval": "100ms"}) as store:
        await store.set("gone", 1, ttl=1)
        await store.set("kept", 1)
        await asyncio.sleep(1.4)
        with _raw(db) as conn:
            assert [r[0] for r in conn.execute('SELECT key FROM "state"')] == ["kept"]


async def test_sqlite_manual_sweep_and_disabled_cleanup(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    async with SQLiteStateStore({"connectionString": str(db), "cleanupInterval": "0"}) as store:
        assert store._sweeper is None
        await store.set("gone", 1, ttl=1)
        await asyncio.sleep(1.1)
        with _raw(db) as conn:
            assert conn.execute('SELECT count(*) FROM "state"').fetchone()[0] == 1  # still stored
        assert await store.sweep_expired() == 1


async def test_sqlite_ping_and_close(tmp_path: Path) -> None:
    store = SQLiteStateStore({"connectionString": str(tmp_path / "s.db")})
    await store.init()
    await store.ping()
    await store.close()
    await store.close()
    with pytest.raises(ComponentClosedError):
        await store.set("k", 1)


@pytest.mark.parametrize("cls", [InMemoryStateStore, SQLiteStateStore])
def test_declared_features(cls: type[InMemoryStateStore] | type[SQLiteStateStore]) -> None:
    assert cls.features == {
        StateFeature.ETAG,
        StateFeature.TRANSACTIONAL,
        StateFeature.TTL,
        StateFeature.TTL_EXPIRE_TIME,
        StateFeature.FIRST_WRITE,
        StateFeature.DELETE_WITH_PREFIX,
        StateFeature.KEYS_LIKE,
        StateFeature.QUERY_API,
    }

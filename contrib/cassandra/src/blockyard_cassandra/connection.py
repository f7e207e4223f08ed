"""Connection metadata of ``state.cassandra`` and the bridge from cassandra-driver to asyncio.

:class:`CassandraMetadata` is the single source of the component's schema: Dapr's fields (``hosts``,
``port``, ``username``/``password``, ``keyspace``, ``table``, ``replicationFactor``, ``consistency``,
``protoVersion``, ``enableHostVerification``) plus Blockyard's own (``lightweightTransactions``,
``serialConsistency``, ``connectTimeout``, ``requestTimeout``). ``keyspace`` and ``table`` must be
plain CQL identifiers (a letter, then letters, digits or ``_``; at most 48 characters): they are the
only text ever written into a CQL statement, every value is a bind parameter.

:func:`execute` runs a bound statement through ``Session.execute_async`` and awaits the driver's
own ``ResponseFuture`` through its callbacks: the driver's I/O thread completes an asyncio future,
so the event loop never blocks on a query. Connecting and closing (blocking in the driver) run in
a worker thread.

:func:`cassandra_error_class` maps driver errors: refused credentials ->
:class:`~blockyard.errors.AuthenticationError`; no reachable host, timeouts and unavailable
replicas -> :class:`~blockyard.errors.BackendUnavailableError`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar, Literal

from pydantic import field_validator

from blockyard.errors import AuthenticationError, BackendUnavailableError, BlockyardError
from blockyard.metadata import CommaList, ComponentMetadata, Duration, SecretStr, meta

__all__ = ["CONSISTENCY_LEVELS", "CassandraMetadata", "cassandra_error_class", "execute"]

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,47}")

#: Dapr's consistency names -> cassandra-driver's ``ConsistencyLevel`` attribute names.
CONSISTENCY_LEVELS: dict[str, str] = {
    "Any": "ANY",
    "One": "ONE",
    "Two": "TWO",
    "Three": "THREE",
    "Quorum": "QUORUM",
    "All": "ALL",
    "LocalQuorum": "LOCAL_QUORUM",
    "EachQuorum": "EACH_QUORUM",
    "LocalOne": "LOCAL_ONE",
}
_SERIAL_LEVELS = {"Serial": "SERIAL", "LocalSerial": "LOCAL_SERIAL"}


def _choice(value: Any, allowed: Sequence[str], what: str) -> str:
    if isinstance(value, str):
        for name in allowed:
            if value.strip().lower() == name.lower():
                return name
    raise ValueError(f"expected a {what}: one of {', '.join(allowed)}")


class CassandraMetadata(ComponentMetadata):
    """Metadata of ``state.cassandra`` (Dapr's names, case-insensitive)."""

    unsupported: ClassVar[dict[str, str]] = {}

    hosts: CommaList = meta(
        description="comma-separated contact points (host names or addresses)", example="cassandra-0,cassandra-1"
    )
    port: int = meta(9042, description="CQL native transport port", example="9042")
    username: str | None = meta(None, description="user name for password authentication", example="cassandra")
    password: SecretStr | None = meta(None, description="password for password authentication (sensitive)")
    keyspace: str = meta("dapr", description="keyspace, created (SimpleStrategy) when missing", example="dapr")
    table: str = meta("items", description="table, created when missing", example="items")
    replication_factor: int = meta(1, description="replication factor of a keyspace created here", example="1")
    consistency: Literal["Any", "One", "Two", "Three", "Quorum", "All", "LocalQuorum", "EachQuorum", "LocalOne"] = meta(
        "All", description="consistency level of reads and writes", allowed=tuple(CONSISTENCY_LEVELS)
    )
    proto_version: int = meta(4, description="CQL native protocol version (3 to 5)", example="4")
    enable_host_verification: bool = meta(
        False, description="connect over TLS and verify the server certificate and host name (system CA store)"
    )
    lightweight_transactions: bool = meta(
        True,
        description="ETags and first-write through lightweight transactions (Paxos); false: plain writes only",
    )
    serial_consistency: Literal["Serial", "LocalSerial"] = meta(
        "Serial", description="serial consistency of lightweight transactions", allowed=tuple(_SERIAL_LEVELS)
    )
    connect_timeout: Duration = meta(
        timedelta(seconds=5), description="init() fails when no host accepts a connection within it", example="5s"
    )
    request_timeout: Duration = meta(timedelta(seconds=10), description="timeout of one query", example="10s")

    @field_validator("hosts")
    @classmethod
    def _check_hosts(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("expected at least one host")
        return value

    @field_validator("keyspace", "table")
    @classmethod
    def _check_identifier(cls, value: str) -> str:
        if not _IDENTIFIER.fullmatch(value):
            raise ValueError("expected a CQL identifier: a letter, then letters, digits or '_' (at most 48)")
        return value.lower()

    @field_validator("consistency", mode="before")
    @classmethod
    def _check_consistency(cls, value: Any) -> str:
        return _choice(value, tuple(CONSISTENCY_LEVELS), "consistency level")

    @field_validator("serial_consistency", mode="before")
    @classmethod
    def _check_serial(cls, value: Any) -> str:
        return _choice(value, tuple(_SERIAL_LEVELS), "serial consistency level")

    @field_validator("port")
    @classmethod
    def _check_port(cls, value: int) -> int:
        if not 0 < value < 65536:
            raise ValueError("expected a TCP port from 1 to 65535")
        return value

    @field_validator("replication_factor")
    @classmethod
    def _check_rf(cls, value: int) -> int:
        if value < 1:
            raise ValueError("expected an integer >= 1")
        return value

    @field_validator("proto_version")
    @classmethod
    def _check_proto(cls, value: int) -> int:
        if not 3 <= value <= 5:
            raise ValueError("expected a CQL protocol version from 3 to 5 (cassandra-driver speaks no older one)")
        return value

    def consistency_level(self) -> int:
        """The driver's ``ConsistencyLevel`` value of ``consistency``."""
        from cassandra import ConsistencyLevel

        return int(getattr(ConsistencyLevel, CONSISTENCY_LEVELS[self.consistency]))

    def serial_consistency_level(self) -> int:
        """The driver's ``ConsistencyLevel`` value of ``serialConsistency``."""
        from cassandra import ConsistencyLevel

        return int(getattr(ConsistencyLevel, _SERIAL_LEVELS[self.serial_consistency]))

    def cluster(self) -> Any:
        """A new, unconnected ``cassandra.cluster.Cluster`` for this metadata (rows come back as plain tuples)."""
        from cassandra.auth import PlainTextAuthProvider
        from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
        from cassandra.policies import ExponentialReconnectionPolicy
        from cassandra.query import tuple_factory

        connect = self.connect_timeout.total_seconds()
        profile = ExecutionProfile(
            consistency_level=self.consistency_level(),
            serial_consistency_level=self.serial_consistency_level(),
            request_timeout=self.request_timeout.total_seconds(),
            # rows as plain tuples: the driver's default builds a namedtuple class for every result,
            # in its I/O thread (100-250 us a read here, more than all the rest of a get)
            row_factory=tuple_factory,
        )
        kwargs: dict[str, Any] = {}
        if self.username or self.password:
            password = self.password.get_secret_value() if self.password else ""
            kwargs["auth_provider"] = PlainTextAuthProvider(username=self.username or "", password=password)
        if self.enable_host_verification:
            import ssl

            kwargs["ssl_context"] = ssl.create_default_context()
        return Cluster(
            list(self.hosts),
            port=self.port,
            protocol_version=self.proto_version,
            execution_profiles={EXEC_PROFILE_DEFAULT: profile},
            connect_timeout=connect,
            control_connection_timeout=connect,
            # a restarted node is found again within seconds, not the driver's default 10 minutes
            reconnection_policy=ExponentialReconnectionPolicy(base_delay=0.5, max_delay=5.0),
            **kwargs,
        )


async def execute(session: Any, statement: Any) -> list[Any]:
    """Run ``statement`` on ``session`` without blocking the loop; return the rows of its first page.

    :raises Exception: whatever the driver raises for the query (translate with :func:`cassandra_error_class`).
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[list[Any]] = loop.create_future()

    def settle(outcome: Any, failed: bool) -> None:
        if done.done():
            return  # the awaiting task was cancelled
        if failed:
            done.set_exception(outcome)
        else:
            done.set_result(list(outcome or ()))

    def on_rows(rows: Any) -> None:
        loop.call_soon_threadsafe(settle, rows, False)

    def on_error(exc: BaseException) -> None:
        loop.call_soon_threadsafe(settle, exc, True)

    response = session.execute_async(statement)
    response.add_callbacks(on_rows, on_error)
    return await done


def cassandra_error_class(exc: BaseException) -> type[BlockyardError] | None:
    """The Blockyard error class for a cassandra-driver exception (``None``: the default mapping)."""
    from cassandra import (
        AuthenticationFailed,
        OperationTimedOut,
        ReadTimeout,
        Unauthorized,
        Unavailable,
        WriteTimeout,
    )
    from cassandra.cluster import NoHostAvailable

    if isinstance(exc, (AuthenticationFailed, Unauthorized)):
        return AuthenticationError
    if isinstance(exc, NoHostAvailable):
        causes = list(getattr(exc, "errors", {}).values())
        if causes and all(isinstance(c, AuthenticationFailed) for c in causes):
            return AuthenticationError
        return BackendUnavailableError
    if isinstance(exc, (OperationTimedOut, ReadTimeout, WriteTimeout, Unavailable, asyncio.TimeoutError)):
        return BackendUnavailableError
    return None

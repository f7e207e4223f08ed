"""``blockyard serve`` over a real Unix socket, driven by a gRPC client the way daprd drives it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from blockyard_dapr.protocol import common_pb2, state_pb2, state_pb2_grpc
from blockyard_dapr.testing import ServeProcess

Serve = Callable[..., ServeProcess]
Channels = Callable[[Path], grpc.aio.Channel]


def header(instance: str) -> tuple[tuple[str, str], ...]:
    return (("x-component-instance", instance),)


async def list_services(channel: grpc.aio.Channel) -> list[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    async for response in stub.ServerReflectionInfo(iter([request])):
        return sorted(s.name for s in response.list_services_response.service)
    raise AssertionError("no reflection response")


def field_violation(error: grpc.aio.AioRpcError) -> str:
    """The field named by the error's BadRequest detail ('' when there is none)."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    if status is None:
        return ""
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            return ",".join(v.field for v in bad.field_violations)
    return ""


@pytest.fixture
async def memory(serve: Serve, channel_to: Channels, instance: str) -> grpc.aio.Channel:
    """A channel to a served ``state.in-memory`` whose instance ``instance`` is initialised."""
    proc = serve("--type", "state.in-memory", sockets=["blockyard-in-memory"])
    channel = channel_to(proc.socket_path("blockyard-in-memory"))
    await state_pb2_grpc.StateStoreStub(channel).Init(
        state_pb2.InitRequest(metadata=common_pb2.MetadataRequest()), metadata=header(instance)
    )
    return channel


@pytest.fixture
def state(memory: grpc.aio.Channel) -> state_pb2_grpc.StateStoreStub:
    return state_pb2_grpc.StateStoreStub(memory)


async def test_reflection_lists_what_the_store_declares(serve: Serve, channel_to: Channels) -> None:
    proc = serve("--type", "state.in-memory", sockets=["blockyard-in-memory"])
    services = await list_services(channel_to(proc.socket_path("blockyard-in-memory")))
    assert services == [
        "dapr.proto.components.v1.QueriableStateStore",
        "dapr.proto.components.v1.StateStore",
        "dapr.proto.components.v1.TransactionalStateStore",
        "dapr.proto.components.v1.TransactionalStoreMultiMaxSize",
        "grpc.reflection.v1alpha.ServerReflection",
    ]


async def test_features_are_the_declared_ones(state: state_pb2_grpc.StateStoreStub, instance: str) -> None:
    reply = await state.Features(common_pb2.FeaturesRequest(), metadata=header(instance))
    assert {"ETAG", "TRANSACTIONAL", "TTL", "QUERY_API"} <= set(reply.features)
    assert "KEYS_LIKE" in reply.features  # Blockyard's own names travel too; daprd ignores unknown ones


async def test_set_get_delete_round_trip(state: state_pb2_grpc.StateStoreStub, instance: str) -> None:
    md = header(instance)
    await state.Set(state_pb2.SetRequest(key="k", value=b'{"n":1}', content_type="application/json"), metadata=md)
    got = await state.Get(state_pb2.GetRequest(key="k"), metadata=md)
    assert got.data == b'{"n":1}'
    assert got.etag.value
    await state.Delete(state_pb2.DeleteRequest(key="k"), metadata=md)
    missing = await state.Get(state_pb2.GetRequest(key="k"), metadata=md)
    assert missing.data == b""
    assert not missing.HasField("etag")


async def test_wrong_etag_is_failed_precondition_naming_the_etag_field(
    state: state_pb2_grpc.StateStoreStub, instance: str
) -> None:
    md = header(instance)
    await state.Set(state_pb2.SetRequest(key="k", value=b"1"), metadata=md)
    current = (await state.Get(state_pb2.GetRequest(key="k"), metadata=md)).etag.value
    stale = "0" if current != "0" else "1"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await state.Set(state_pb2.SetRequest(key="k", value=b"2", etag=state_pb2.Etag(value=stale)), metadata=md)
    assert info.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert field_violation(info.value) == "etag"
    assert (await state.Get(state_pb2.GetRequest(key="k"), metadata=md)).data == b"1"


async def test_first_write_conflict_is_an_etag_mismatch(state: state_pb2_grpc.StateStoreStub, instance: str) -> None:
    md = header(instance)
    first = state_pb2.StateOptions(concurrency=state_pb2.StateOptions.CONCURRENCY_FIRST_WRITE)
    await state.Set(state_pb2.SetRequest(key="k", value=b"1", options=first), metadata=md)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await state.Set(state_pb2.SetRequest(key="k", value=b"2", options=first), metadata=md)
    assert info.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert field_violation(info.value) == "etag"


async def test_ttl_metadata_is_honoured(state: state_pb2_grpc.StateStoreStub, instance: str) -> None:
    md = header(instance)
    await state.Set(state_pb2.SetRequest(key="k", value=b"1", metadata={"ttlInSeconds": "100"}), metadata=md)
    got = await state.Get(state_pb2.GetRequest(key="k"), metadata=md)
    assert "ttlExpireTime" in got.metadata
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await state.Set(state_pb2.SetRequest(key="k", value=b"1", metadata={"ttlInSeconds": "soon"}), metadata=md)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "ttlInSeconds" in (info.value.details() or "")


async def test_bulk_get_answers_every_key_in_order(state: state_pb2_grpc.StateStoreStub, instance: str) -> None:
    md = header(instance)
    await state.BulkSet(
        state_pb2.BulkSetRequest(items=[state_pb2.SetRequest(key=k, value=k.encode()) for k in ("a", "b")]),
        metadata=md,
    )
    reply = await state.BulkGet(
        state_pb2.BulkGetRequest(items=[state_pb2.GetRequest(key=k) for k in ("b", "missing", "a")]), metadata=md
    )
    assert [(i.key, i.data) for i in reply.items] == [("b", b"b"), ("missing", b""), ("a", b"a")]


async def test_transaction_is_all_or_nothing(
    memory: grpc.aio.Channel, state: state_pb2_grpc.StateStoreStub, instance: str
) -> None:
    md = header(instance)
    tx = state_pb2_grpc.TransactionalStateStoreStub(memory)
    await state.Set(state_pb2.SetRequest(key="guarded", value=b"old"), metadata=md)
    ops = [
        state_pb2.TransactionalStateOperation(set=state_pb2.SetRequest(key="new", value=b"1")),
        state_pb2.TransactionalStateOperation(
            set=state_pb2.SetRequest(key="guarded", value=b"x", etag=state_pb2.Etag(value="not-the-etag"))
        ),
    ]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await tx.Transact(state_pb2.TransactionalStateRequest(operations=ops), metadata=md)
    assert info.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert (await state.Get(state_pb2.GetRequest(key="new"), metadata=md)).data == b""
    await tx.Transact(state_pb2.TransactionalStateRequest(operations=ops[:1]), metadata=md)
    assert (await state.Get(state_pb2.GetRequest(key="new"), metadata=md)).data == b"1"


async def test_instances_on_one_socket_are_independent(serve: Serve, channel_to: Channels) -> None:
    proc = serve("--type", "state.in-memory", sockets=["blockyard-in-memory"])
    stub = state_pb2_grpc.StateStoreStub(channel_to(proc.socket_path("blockyard-in-memory")))
    for name in ("orders", "carts"):
        await stub.Init(state_pb2.InitRequest(metadata=common_pb2.MetadataRequest()), metadata=header(name))
    await stub.Set(state_pb2.SetRequest(key="k", value=b"orders"), metadata=header("orders"))
    assert (await stub.Get(state_pb2.GetRequest(key="k"), metadata=header("carts"))).data == b""
    assert (await stub.Get(state_pb2.GetRequest(key="k"), metadata=header("orders"))).data == b"orders"


async def test_bad_metadata_fails_init_naming_the_field(serve: Serve, channel_to: Channels, tmp_path: Path) -> None:
    proc = serve("--type", "state.sqlite", sockets=["blockyard-sqlite"])
    stub = state_pb2_grpc.StateStoreStub(channel_to(proc.socket_path("blockyard-sqlite")))
    properties = {"connectionString": str(tmp_path / "db.sqlite"), "cleanupInterval": "every now and then"}
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Init(
            state_pb2.InitRequest(metadata=common_pb2.MetadataRequest(properties=properties)), metadata=header("db")
        )
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "cleanupInterval" in (info.value.details() or "")


async def test_a_call_before_init_is_refused(serve: Serve, channel_to: Channels) -> None:
    proc = serve("--type", "state.in-memory", sockets=["blockyard-in-memory"])
    stub = state_pb2_grpc.StateStoreStub(channel_to(proc.socket_path("blockyard-in-memory")))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Get(state_pb2.GetRequest(key="k"), metadata=header("never-initialised"))
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "never-initialised" in (info.value.details() or "")

"""Pub/sub, bindings and secret stores served over a real socket, driven as daprd drives them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from blockyard_dapr.protocol import (
    SUBSCRIBED_HEADER,
    bindings_pb2,
    bindings_pb2_grpc,
    common_pb2,
    pubsub_pb2,
    pubsub_pb2_grpc,
    secretstore_pb2,
    secretstore_pb2_grpc,
)
from blockyard_dapr.testing import ServeProcess

Serve = Callable[..., ServeProcess]
Channels = Callable[[Path], grpc.aio.Channel]
WAIT = 30.0


def header(instance: str) -> tuple[tuple[str, str], ...]:
    return (("x-component-instance", instance),)


async def subscribe(stream: grpc.aio.StreamStreamCall[Any, Any], topic: str) -> None:
    """Open ``topic`` on a PullMessages stream and wait until the server says its subscription is
    attached (header ``x-blockyard-subscribed``), as daprd's publishes come after it."""
    await stream.write(pubsub_pb2.PullMessagesRequest(topic=pubsub_pb2.Topic(name=topic)))
    headers = await asyncio.wait_for(stream.initial_metadata(), WAIT)
    assert dict(headers).get(SUBSCRIBED_HEADER) == "1", f"no {SUBSCRIBED_HEADER} header: {headers}"


def init(properties: dict[str, str] | None = None) -> common_pb2.MetadataRequest:
    return common_pb2.MetadataRequest(properties=properties or {})


@pytest.fixture
async def pubsub(serve: Serve, channel_to: Channels, instance: str) -> pubsub_pb2_grpc.PubSubStub:
    proc = serve("--type", "pubsub.in-memory", sockets=["blockyard-in-memory"])
    stub = pubsub_pb2_grpc.PubSubStub(channel_to(proc.socket_path("blockyard-in-memory")))
    await stub.Init(pubsub_pb2.PubSubInitRequest(metadata=init()), metadata=header(instance))
    return stub


async def test_a_nacked_message_is_delivered_again_and_an_acked_one_is_not(
    pubsub: pubsub_pb2_grpc.PubSubStub, instance: str
) -> None:
    md = header(instance)
    stream = pubsub.PullMessages(metadata=md)
    await subscribe(stream, "orders")
    await pubsub.Publish(
        pubsub_pb2.PublishRequest(topic="orders", data=b'{"id":1}', content_type="application/json"), metadata=md
    )
    first = await asyncio.wait_for(stream.read(), WAIT)
    assert (first.topic_name, first.data) == ("orders", b'{"id":1}')
    await stream.write(
        pubsub_pb2.PullMessagesRequest(
            ack_message_id=first.id, ack_error=pubsub_pb2.AckMessageError(message="app failed")
        )
    )
    again = await asyncio.wait_for(stream.read(), WAIT)
    assert again.data == b'{"id":1}'
    assert again.id != first.id
    await stream.write(pubsub_pb2.PullMessagesRequest(ack_message_id=again.id))
    await pubsub.Publish(pubsub_pb2.PublishRequest(topic="orders", data=b'{"id":2}'), metadata=md)
    following = await asyncio.wait_for(stream.read(), WAIT)
    assert following.data == b'{"id":2}', "the acknowledged message came back"
    await stream.write(pubsub_pb2.PullMessagesRequest(ack_message_id=following.id))
    await stream.done_writing()


async def test_the_first_stream_request_must_name_a_topic(pubsub: pubsub_pb2_grpc.PubSubStub, instance: str) -> None:
    stream = pubsub.PullMessages(metadata=header(instance))
    await stream.write(pubsub_pb2.PullMessagesRequest(ack_message_id="x"))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await asyncio.wait_for(stream.read(), WAIT)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "topic" in (info.value.details() or "")


async def test_bulk_publish_delivers_every_entry(pubsub: pubsub_pb2_grpc.PubSubStub, instance: str) -> None:
    md = header(instance)
    stream = pubsub.PullMessages(metadata=md)
    await subscribe(stream, "bulk")
    reply = await pubsub.BulkPublish(
        pubsub_pb2.BulkPublishRequest(
            topic="bulk",
            entries=[pubsub_pb2.BulkMessageEntry(entry_id=str(i), event=str(i).encode()) for i in range(5)],
        ),
        metadata=md,
    )
    assert list(reply.failed_entries) == []
    seen = set()
    for _ in range(5):
        message = await asyncio.wait_for(stream.read(), WAIT)
        seen.add(message.data)
        await stream.write(pubsub_pb2.PullMessagesRequest(ack_message_id=message.id))
    assert seen == {str(i).encode() for i in range(5)}
    await stream.done_writing()


async def test_secret_store_get_bulk_and_missing(
    serve: Serve, channel_to: Channels, tmp_path: Path, instance: str
) -> None:
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps({"db": {"user": "app", "password": "s3cr3t-value"}, "token": "t0k3n"}))
    proc = serve("--type", "secretstores.local.file", sockets=["blockyard-local-file"])
    stub = secretstore_pb2_grpc.SecretStoreStub(channel_to(proc.socket_path("blockyard-local-file")))
    md = header(instance)
    await stub.Init(
        secretstore_pb2.SecretStoreInitRequest(
            metadata=init({"secretsFile": str(secrets_file), "multiValued": "true"})
        ),
        metadata=md,
    )
    got = await stub.Get(secretstore_pb2.GetSecretRequest(key="db"), metadata=md)
    assert dict(got.data) == {"user": "app", "password": "s3cr3t-value"}
    bulk = await stub.BulkGet(secretstore_pb2.BulkGetSecretRequest(), metadata=md)
    assert {name: dict(s.secrets) for name, s in bulk.data.items()} == {
        "db": {"user": "app", "password": "s3cr3t-value"},
        "token": {"token": "t0k3n"},
    }
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Get(secretstore_pb2.GetSecretRequest(key="nope"), metadata=md)
    assert info.value.code() is grpc.StatusCode.NOT_FOUND
    assert "s3cr3t-value" not in proc.output()


async def test_output_binding_invokes_and_lists_operations(
    serve: Serve, channel_to: Channels, tmp_path: Path, instance: str
) -> None:
    proc = serve("--type", "bindings.localstorage", sockets=["blockyard-localstorage"])
    stub = bindings_pb2_grpc.OutputBindingStub(channel_to(proc.socket_path("blockyard-localstorage")))
    md = header(instance)
    await stub.Init(bindings_pb2.OutputBindingInitRequest(metadata=init({"rootPath": str(tmp_path)})), metadata=md)
    operations = await stub.ListOperations(bindings_pb2.ListOperationsRequest(), metadata=md)
    assert {"create", "get", "delete"} <= set(operations.operations)
    await stub.Invoke(
        bindings_pb2.InvokeRequest(operation="create", data=b"hello", metadata={"fileName": "a.txt"}), metadata=md
    )
    assert (tmp_path / "a.txt").read_bytes() == b"hello"
    got = await stub.Invoke(bindings_pb2.InvokeRequest(operation="get", metadata={"fileName": "a.txt"}), metadata=md)
    assert got.data == b"hello"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Invoke(bindings_pb2.InvokeRequest(operation="explode"), metadata=md)
    assert info.value.code() is grpc.StatusCode.UNIMPLEMENTED


async def test_input_binding_events_wait_for_the_answer(serve: Serve, channel_to: Channels, instance: str) -> None:
    proc = serve("--type", "bindings.cron", sockets=["blockyard-cron"])
    stub = bindings_pb2_grpc.InputBindingStub(channel_to(proc.socket_path("blockyard-cron")))
    md = header(instance)
    await stub.Init(bindings_pb2.InputBindingInitRequest(metadata=init({"schedule": "@every 1s"})), metadata=md)
    stream = stub.Read(metadata=md)
    first = await asyncio.wait_for(stream.read(), WAIT)
    assert first.message_id
    await stream.write(bindings_pb2.ReadRequest(message_id=first.message_id))
    second = await asyncio.wait_for(stream.read(), WAIT)
    assert second.message_id != first.message_id
    await stream.write(bindings_pb2.ReadRequest(message_id=second.message_id))
    await stream.done_writing()

"""Socket ownership, graceful stop and the Component-files mode of ``blockyard serve``."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from blockyard_dapr.protocol import common_pb2, state_pb2, state_pb2_grpc
from blockyard_dapr.sockets import OwnedSocket, SocketInUseError, claim
from blockyard_dapr.testing import ServeProcess

Serve = Callable[..., ServeProcess]
Channels = Callable[[Path], grpc.aio.Channel]
SERVE = [sys.executable, "-m", "blockyard.cli", "serve"]


def header(instance: str) -> tuple[tuple[str, str], ...]:
    return (("x-component-instance", instance),)


def test_sigterm_stops_cleanly_and_removes_the_socket(serve: Serve) -> None:
    proc = serve("--type", "state.in-memory", sockets=["blockyard-in-memory"])
    path = proc.socket_path("blockyard-in-memory")
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    assert proc.stop() == 0
    assert not path.exists()


def test_a_stale_socket_file_is_replaced(serve: Serve, socket_folder: Path) -> None:
    stale = socket_folder / "blockyard-in-memory.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(stale))  # bound, never listening: what a crashed server leaves
    proc = serve("--type", "state.in-memory", sockets=["blockyard-in-memory"])
    assert proc.process is not None
    assert proc.process.poll() is None


def test_a_live_socket_is_never_taken_over(serve: Serve, socket_folder: Path, tmp_path: Path) -> None:
    serve("--type", "state.in-memory", sockets=["blockyard-in-memory"])
    second = subprocess.run(
        [
            sys.executable,
            "-m",
            "blockyard.cli",
            "serve",
            "--type",
            "state.in-memory",
            "--socket-folder",
            str(socket_folder),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert second.returncode == 1
    assert "served by another running process" in second.stderr
    assert "Traceback" not in second.stderr


def test_a_server_removes_only_its_own_socket_file(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as first:
        first.bind(str(path))
        owned = OwnedSocket.record(path, 0o600)
    path.unlink()
    with socket.socket(socket.AF_UNIX) as newer:
        newer.bind(str(path))  # another server took the path since
        newer.listen()
        assert owned.remove() is False
        assert path.exists()


def test_a_server_removes_its_own_socket_file(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as mine:
        mine.bind(str(path))
        owned = OwnedSocket.record(path, 0o600)
    assert owned.remove() is True
    assert not path.exists()


def test_claim_refuses_a_file_that_is_not_a_socket(tmp_path: Path) -> None:
    path = tmp_path / "x.sock"
    path.write_text("data")
    with pytest.raises(FileExistsError):
        claim(path)
    assert path.read_text() == "data"


def test_claim_refuses_a_listening_socket(tmp_path: Path) -> None:
    path = tmp_path / "live.sock"
    with socket.socket(socket.AF_UNIX) as live:
        live.bind(str(path))
        live.listen()
        with pytest.raises(SocketInUseError):
            claim(path)


COMPONENTS = """\
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: orders
spec:
  type: state.sqlite
  version: v1
  metadata:
    - name: connectionString
      value: {db}
"""


async def test_component_files_are_served_by_name(serve: Serve, channel_to: Channels, tmp_path: Path) -> None:
    folder = tmp_path / "components"
    folder.mkdir()
    (folder / "orders.yaml").write_text(COMPONENTS.format(db=tmp_path / "orders.db"))
    proc = serve(str(folder), sockets=["blockyard-sqlite"])
    stub = state_pb2_grpc.StateStoreStub(channel_to(proc.socket_path("blockyard-sqlite")))
    empty = state_pb2.InitRequest(metadata=common_pb2.MetadataRequest())
    await stub.Init(empty, metadata=header("orders"))
    await stub.Set(state_pb2.SetRequest(key="k", value=b"v"), metadata=header("orders"))
    assert (await stub.Get(state_pb2.GetRequest(key="k"), metadata=header("orders"))).data == b"v"

    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await stub.Init(empty, metadata=header("carts"))
    assert unknown.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "orders" in (unknown.value.details() or "")

    with pytest.raises(grpc.aio.AioRpcError) as twice:
        await stub.Init(
            state_pb2.InitRequest(metadata=common_pb2.MetadataRequest(properties={"tableName": "other"})),
            metadata=header("orders"),
        )
    assert "tableName" in (twice.value.details() or "")


def test_bad_component_files_fail_before_serving(socket_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "components"
    folder.mkdir()
    (folder / "broken.yaml").write_text(COMPONENTS.replace("state.sqlite", "state.nonexistent").format(db="x"))
    result = subprocess.run(
        [*SERVE, str(folder), "--socket-folder", str(socket_folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "state.nonexistent" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(socket_folder.iterdir()) == []

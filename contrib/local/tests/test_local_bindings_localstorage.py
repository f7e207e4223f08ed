"""bindings.localstorage on real files."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from blockyard.errors import ComponentConfigError, InvalidRequestError, NotSupportedError
from blockyard_local.bindings_localstorage import LocalStorageBinding


@pytest.fixture
async def files(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with LocalStorageBinding({"rootPath": str(tmp_path / "root")}, name="files") as b:
        yield b


async def test_create_get_list_delete(files: LocalStorageBinding) -> None:
    resp = await files.invoke("create", b"\x00hello", metadata={"fileName": "a/b.bin"})
    assert resp.json() == {"fileName": "a/b.bin"}
    assert resp.metadata["fileName"] == "a/b.bin"
    assert (files.root / "a" / "b.bin").read_bytes() == b"\x00hello"
    assert (await files.invoke("get", metadata={"fileName": "a/b.bin"})).data == b"\x00hello"
    await files.invoke("create", {"x": 1}, metadata={"fileName": "top.json"})
    await files.invoke("create", "text", metadata={"fileName": "a/c/d.txt"})
    assert (await files.invoke("list")).json() == ["a/b.bin", "a/c/d.txt", "top.json"]
    assert (await files.invoke("list", metadata={"fileName": "a/c"})).json() == ["a/c/d.txt"]
    assert (await files.invoke("get", metadata={"fileName": "top.json"})).json() == {"x": 1}
    deleted = await files.invoke("delete", metadata={"fileName": "a/b.bin"})
    assert deleted.metadata["deleted"] == "true"
    assert not (files.root / "a" / "b.bin").exists()
    again = await files.invoke("delete", metadata={"fileName": "a/b.bin"})
    assert again.metadata["deleted"] == "false"


async def test_create_generates_a_name(files: LocalStorageBinding) -> None:
    resp = await files.invoke("create", b"x")
    name = resp.metadata["fileName"]
    uuid.UUID(name)
    assert (files.root / name).read_bytes() == b"x"
    assert json.loads(resp.data or b"") == {"fileName": name}


async def test_get_missing_file_reads_as_no_data(files: LocalStorageBinding) -> None:
    resp = await files.invoke("get", metadata={"fileName": "nope.txt"})
    assert resp.data is None
    assert resp.metadata == {"fileName": "nope.txt", "found": "false"}
    (files.root / "folder").mkdir()
    with pytest.raises(InvalidRequestError, match="is a folder"):
        await files.invoke("get", metadata={"fileName": "folder"})
    with pytest.raises(InvalidRequestError, match="needs request metadata 'fileName'"):
        await files.invoke("get")


@pytest.mark.parametrize("name", ["../escape.txt", "a/../../escape.txt", "/etc/passwd", "a/..", "..", "a\x00b", "."])
async def test_paths_outside_the_root_are_refused(files: LocalStorageBinding, name: str) -> None:
    for op in ("create", "get", "delete"):
        with pytest.raises(InvalidRequestError, match="inside rootPath"):
            await files.invoke(op, b"x", metadata={"fileName": name})
    assert not (files.root.parent / "escape.txt").exists()


async def test_symlinks_out_of_the_root_are_refused(files: LocalStorageBinding, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret")
    os.symlink(outside, files.root / "link")
    os.symlink(outside / "secret.txt", files.root / "file-link")
    for name in ("link/secret.txt", "file-link", "link/new.txt"):
        with pytest.raises(InvalidRequestError):
            await files.invoke("get", metadata={"fileName": name})
        with pytest.raises(InvalidRequestError):
            await files.invoke("create", b"x", metadata={"fileName": name})
    assert not (outside / "new.txt").exists()
    assert (await files.invoke("list")).json() == []


@pytest.mark.parametrize("root", ["/", "/etc", "/proc/self", "/sys", "/dev", "/boot", "/var/run/secrets/x"])
def test_system_roots_are_refused(root: str) -> None:
    with pytest.raises(ComponentConfigError, match="rootPath") as info:
        LocalStorageBinding({"rootPath": root})
    assert info.value.field == "rootPath"


def test_symlink_to_a_system_root_is_refused(tmp_path: Path) -> None:
    os.symlink("/etc", tmp_path / "etc-link")
    with pytest.raises(ComponentConfigError, match="rootPath"):
        LocalStorageBinding({"rootPath": str(tmp_path / "etc-link")})


def test_root_path_is_required() -> None:
    with pytest.raises(ComponentConfigError, match="rootPath"):
        LocalStorageBinding({})


async def test_unknown_operation(files: LocalStorageBinding) -> None:
    with pytest.raises(NotSupportedError, match="create, delete, get, list"):
        await files.invoke("presign")

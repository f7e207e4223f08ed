"""``bindings.localstorage``: an output binding that stores files under a root folder.

Operations (request metadata ``fileName`` is a path relative to ``rootPath``):

- ``create``: writes ``data`` to ``fileName`` (a fresh UUID when absent), creating parent folders;
  the file is replaced atomically. The response data is ``{"fileName": <relative path>}`` and its
  metadata carries ``fileName``. Data is written exactly as given (Dapr's binding also tries to
  base64-decode it; Blockyard does not, so ``get`` returns what ``create`` wrote).
- ``get``: returns the file's bytes. A missing file reads as no data (``data is None``, metadata
  ``found: "false"``), like a missing state key; a folder raises
  :class:`~blockyard.errors.InvalidRequestError` naming ``fileName``.
- ``list``: returns a JSON array of the relative paths of every file under ``fileName`` (a folder,
  default the root), sorted.
- ``delete``: removes the file; deleting a missing file succeeds (like a state delete), with
  response metadata ``deleted: "false"``.

``rootPath`` is resolved (symlinks too) and created at ``init()``; system folders (``/``, ``/proc``,
``/sys``, ``/boot``, ``/dev``, ``/etc``, ``/var/run/secrets``) are refused. A ``fileName`` that is
absolute, contains ``..``, or resolves outside the root (through a symlink) raises
:class:`~blockyard.errors.InvalidRequestError`.

Example::

    import asyncio, tempfile
    from blockyard_local.bindings_localstorage import LocalStorageBinding

    async def main() -> None:
        async with LocalStorageBinding({"rootPath": tempfile.mkdtemp()}) as files:
            await files.invoke("create", b"hello", metadata={"fileName": "a/b.txt"})
            print((await files.invoke("get", metadata={"fileName": "a/b.txt"})).data)
            print((await files.invoke("list")).json())   # ['a/b.txt']

    asyncio.run(main())
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import uuid
from pathlib import Path, PurePosixPath
from typing import ClassVar

from pydantic import field_validator

from blockyard.bindings import BindingResponse, InvokeRequest, OutputBinding
from blockyard.errors import InvalidRequestError
from blockyard.metadata import ComponentMetadata, meta

__all__ = ["LocalStorageBinding", "LocalStorageMetadata"]

_SYSTEM_ROOTS = ("/proc", "/sys", "/boot", "/dev", "/etc", "/var/run/secrets", "/run/secrets")


def _forbidden(path: Path) -> str | None:
    if path == Path(path.anchor):
        return "the filesystem root"
    for root in _SYSTEM_ROOTS:
        for form in {Path(root), Path(root).resolve()}:
            if path == form or form in path.parents:
                return f"the system folder {root!r}"
    return None


class LocalStorageMetadata(ComponentMetadata):
    """Metadata of ``bindings.localstorage``."""

    root_path: str = meta(description="Folder the files are stored under; created if missing.", example="/data/files")

    @field_validator("root_path")
    @classmethod
    def _check_root(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("expected a folder path")
        resolved = Path(value).expanduser().resolve()
        why = _forbidden(resolved)
        if why is not None:
            raise ValueError(f"refusing to store files under {why}")
        return str(resolved)


class LocalStorageBinding(OutputBinding):
    """The ``bindings.localstorage`` output binding. See the module docstring."""

    type: ClassVar[str] = "bindings.localstorage"
    Metadata = LocalStorageMetadata
    operations: ClassVar[frozenset[str]] = frozenset({"create", "get", "list", "delete"})

    @property
    def root(self) -> Path:
        """The resolved root folder."""
        return Path(self.meta.root_path)

    async def _init(self) -> None:
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)

    async def _invoke(self, req: InvokeRequest) -> BindingResponse:
        if req.operation == "create":
            rel = req.metadata.get("fileName") or str(uuid.uuid4())
            path = self._resolve(rel)
            await asyncio.to_thread(self._write, path, req.data or b"")
            name = path.relative_to(self.root).as_posix()
            return BindingResponse(json.dumps({"fileName": name}).encode(), {"fileName": name}, "application/json")
        if req.operation == "get":
            rel = self._required_name(req)
            path = self._resolve(rel)
            try:
                data = await asyncio.to_thread(path.read_bytes)
            except (FileNotFoundError, NotADirectoryError):
                return BindingResponse(None, {"fileName": rel, "found": "false"})
            except IsADirectoryError:
                raise InvalidRequestError(f"{rel!r} (request metadata 'fileName') is a folder, not a file") from None
            return BindingResponse(data, {"fileName": rel, "found": "true"})
        if req.operation == "list":
            rel = req.metadata.get("fileName") or ""
            folder = self._resolve(rel) if rel else self.root
            names = await asyncio.to_thread(self._list, folder)
            return BindingResponse(json.dumps(names).encode(), {}, "application/json")
        rel = self._required_name(req)
        path = self._resolve(rel)
        deleted = await asyncio.to_thread(self._remove, path)
        return BindingResponse(None, {"fileName": rel, "deleted": str(deleted).lower()})

    # -- paths -------------------------------------------------------------------------------

    @staticmethod
    def _required_name(req: InvokeRequest) -> str:
        rel = req.metadata.get("fileName")
        if not rel:
            raise InvalidRequestError(f"operation {req.operation!r} needs request metadata 'fileName'")
        return rel

    def _resolve(self, rel: str) -> Path:
        """The absolute path of ``rel`` under the root, refusing anything that escapes it."""
        bad = InvalidRequestError(
            f"request metadata 'fileName' {rel!r} must be a relative path inside rootPath "
            "(no absolute path, no '..', no symlink leading out)"
        )
        if "\x00" in rel or rel.startswith(("/", "\\")) or os.path.isabs(rel):
            raise bad
        parts = PurePosixPath(rel.replace("\\", "/")).parts
        if not parts or ".." in parts:
            raise bad
        path = self.root.joinpath(*parts).resolve()
        if path == self.root or self.root not in path.parents:
            raise bad
        return path

    # -- blocking file work (run in a thread) ------------------------------------------------

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _list(self, folder: Path) -> list[str]:
        if not folder.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in folder.rglob("*")
            if p.is_file() and self.root in p.resolve().parents
        )

    @staticmethod
    def _remove(path: Path) -> bool:
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

"""Unix socket files that belong to the process that created them.

daprd finds pluggable components by the socket files in one folder, so a stale file from a crashed
server must be cleared — but a live server's socket must never be taken over, and a server must
never delete a socket file that a newer server has since created at the same path.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = ["OwnedSocket", "SocketInUseError", "claim", "socket_answers"]


class SocketInUseError(RuntimeError):
    """Another live process serves on this socket path."""


def socket_answers(path: Path, timeout: float = 1.0) -> bool:
    """True when something accepts connections on the Unix socket ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(timeout)
        try:
            probe.connect(str(path))
        except OSError:
            return False
        return True


def claim(path: Path) -> None:
    """Make ``path`` free for a new socket: remove a stale socket file, refuse a live one.

    :raises SocketInUseError: a live server answers on ``path``.
    :raises FileExistsError: ``path`` exists and is not a socket (never removed).
    """
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(f"{path} exists and is not a socket; refusing to replace it")
    if socket_answers(path):
        raise SocketInUseError(f"{path} is served by another running process")
    path.unlink()


@dataclass(frozen=True, slots=True)
class OwnedSocket:
    """A socket file this process created, identified by device, inode and change time."""

    path: Path
    identity: tuple[int, int, int]

    @staticmethod
    def _identity(path: Path) -> tuple[int, int, int]:
        info = path.lstat()
        return info.st_dev, info.st_ino, info.st_ctime_ns

    @classmethod
    def record(cls, path: Path, mode: int) -> OwnedSocket:
        """Set ``mode`` on the socket just bound at ``path`` and remember which file it is."""
        os.chmod(path, mode)
        return cls(path, cls._identity(path))

    def remove(self) -> bool:
        """Delete the file if it is still the one this process created; True when deleted.

        Call it after the server stopped listening. An inode number can be reused once a file is
        gone, so a file that still answers connections is never taken for ours.
        """
        with contextlib.suppress(FileNotFoundError):
            if self._identity(self.path) == self.identity and not socket_answers(self.path):
                self.path.unlink()
                return True
        return False

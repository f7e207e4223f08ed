"""Real Cassandra nodes for the tests: the launcher's ``cassandra`` backend, and a node of our own with
password authentication (the launcher's node admits everyone).

Both come from the launcher's recipe (:mod:`blockyard_conformance.backends.native.cassandra`): the
first through ``get_launcher().up("cassandra")``, the second started here by the recipe with
``PasswordAuthenticator`` on free loopback ports and stopped (its whole process group) afterwards.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

launcher = pytest.importorskip(
    "blockyard_conformance.backends.launcher", reason="the backend launcher (blockyard-conformance) is not installed"
)
from blockyard_conformance.backends import procs  # noqa: E402
from blockyard_conformance.backends.native.cassandra import CassandraRecipe  # noqa: E402
from blockyard_conformance.backends.recipe import BackendUnavailable, Endpoint, free_port  # noqa: E402

KEYSPACE = "blockyard_tests"
"""The keyspace of the tests' tables (one fresh table per test)."""

SUPERUSER = ("cassandra", "cassandra")
"""Cassandra's default superuser, created by ``PasswordAuthenticator`` on an empty node."""


@dataclass(frozen=True)
class Node:
    """Where a Cassandra node listens, and its credentials when it asks for them."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None

    def metadata(self, **extra: Any) -> dict[str, Any]:
        md: dict[str, Any] = {"hosts": self.host, "port": str(self.port), "consistency": "One"}
        if self.username:
            md["username"] = self.username
            md["password"] = self.password
        md.update(extra)
        return md


def launcher_node() -> Node:
    """The launcher's ``cassandra`` backend (skipped as not run when it cannot be had)."""
    try:
        ep = launcher.get_launcher().up("cassandra")
    except BackendUnavailable as exc:
        pytest.skip(f"cassandra is not available: {exc.reason}; enable with: {exc.enable_command}")
    return Node(ep.params.get("hosts", ep.host), ep.port)


class PasswordCassandraRecipe(CassandraRecipe):
    """The launcher's recipe with ``PasswordAuthenticator`` (superuser ``cassandra``/``cassandra``)."""

    authenticator = "PasswordAuthenticator"

    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        base = super().endpoint(port, workdir)
        user, password = SUPERUSER
        return Endpoint(
            backend=base.backend,
            flavour=base.flavour + " with PasswordAuthenticator",
            host=base.host,
            port=base.port,
            url=base.url,
            source=base.source,
            params={**base.params, "username": user, "password": password},
            log_path=base.log_path,
        )


def password_node(workdir: Path) -> Iterator[Node]:
    """Start a node with password authentication in ``workdir``; stop its process group afterwards."""
    recipe = PasswordCassandraRecipe()
    missing = recipe.missing()
    if missing is not None:
        pytest.skip(f"Cassandra cannot run here: {missing}; enable with: {recipe.install_hint}")
    port = free_port()
    with (workdir / "launcher.log").open("wb") as log:
        proc = recipe.start(workdir, port, log)
    endpoint = recipe.endpoint(port, workdir)
    try:
        deadline = time.monotonic() + recipe.startup_timeout * 2  # shared machines boot Java slowly
        while not recipe.ready(endpoint):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (workdir / "system.log").read_text()[-3000:] if (workdir / "system.log").exists() else ""
                pytest.fail(f"Cassandra with PasswordAuthenticator did not become ready:\n{tail}")
            time.sleep(1.0)
        user, password = SUPERUSER
        yield Node(endpoint.host, port, user, password)
    finally:
        procs.stop_group(proc.pid, timeout=30.0)
        proc.wait(10)


async def eventually(check: Callable[[], Any], within: float = 30.0) -> None:
    """Wait until ``check()`` (a bool, or an awaitable of one) is true; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not (await r if inspect.isawaitable(r := check()) else r):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.1)

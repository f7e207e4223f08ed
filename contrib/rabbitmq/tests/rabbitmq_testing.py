"""Test helpers: the RabbitMQ broker of the test-suite: the launcher's, or one started here when the launcher
package is not installed (Debian's rabbitmq-server with a private epmd, both stopped by pid); a blocking
admin client and per-test names for the tests' own checks on the broker."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import pika.exceptions
import pytest

from blockyard_conformance.testing import ServerProcess, free_port, port_open

ENABLE = "apt-get install -y --no-install-recommends rabbitmq-server"


@dataclass
class Broker:
    """A reachable broker: ``url`` (amqp://guest:guest@127.0.0.1:port/), ``restart`` when it is ours."""

    url: str
    port: int
    restart: Callable[[], object] | None
    stop: Callable[[], None] = lambda: None


def _amqp_ready(port: int) -> bool:
    import pika

    try:
        params = pika.URLParameters(f"amqp://guest:guest@127.0.0.1:{port}/")
        params.socket_timeout = 2
        params.connection_attempts = 1
        conn = pika.BlockingConnection(params)
    except Exception:
        return False
    conn.close()
    return True


class OwnBroker:
    """rabbitmq-server on free loopback ports; data kept in one folder across restarts."""

    def __init__(self) -> None:
        scripts = sorted(glob.glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server"))
        epmd = shutil.which("epmd")
        if not scripts or epmd is None:
            raise FileNotFoundError(f"rabbitmq-server is not installed ({ENABLE})")
        self.dir = Path(tempfile.mkdtemp(prefix="blockyard-rmq-test-"))
        self.port, self.dist_port, self.epmd_port = free_port(), free_port(), free_port()
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        (self.dir / "enabled_plugins").write_text("[].\n")
        self.epmd = ServerProcess(
            [epmd, "-address", "127.0.0.1", "-port", str(self.epmd_port)],
            ready=lambda: port_open(self.epmd_port),
            workdir=self.dir / "epmd",
        )
        self.broker = ServerProcess(
            [scripts[-1]], ready=lambda: _amqp_ready(self.port), workdir=self.dir, env=self._env(), timeout=60
        )

    def _env(self) -> dict[str, str]:
        d = self.dir
        return {
            "HOME": str(d),
            "RABBITMQ_NODENAME": "rabbit@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(d / "pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    def start(self) -> None:
        self.epmd.start()
        self.broker.start()

    def stop(self) -> None:
        self.broker.stop()
        self.epmd.stop()

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def get_broker() -> Broker:
    """The launcher's broker when the launcher is installed, else one started here.

    With the launcher, a broker this machine lacks makes the test *not run* and one that failed
    to start fails it. Without it, :raises RuntimeError: with the reason when none can be had.
    """
    try:
        from blockyard_conformance.real_backends import require_backend
    except ImportError:
        pass
    else:
        ep = require_backend("rabbitmq")
        return Broker(ep.url, ep.port, None)
    return _own_broker()


def _own_broker() -> Broker:
    try:
        own = OwnBroker()
    except FileNotFoundError as exc:
        raise RuntimeError(str(exc)) from exc
    own.start()
    return Broker(f"amqp://guest:guest@127.0.0.1:{own.port}/", own.port, own.restart, own.close)


@contextlib.contextmanager
def restartable_broker() -> Iterator[Broker]:
    """A broker only the calling test uses, which it may restart: a private launcher's on a port of
    its own (never the shared one, nor one on the standard port), else one started here."""
    try:
        from blockyard_conformance.real_backends import own_backend
    except ImportError:
        broker = _own_broker()
        try:
            yield broker
        finally:
            broker.stop()
        return
    with own_backend("rabbitmq") as (launcher, ep):
        yield Broker(ep.url, ep.port, lambda: launcher.restart("rabbitmq"))


async def wait_until(cond: Callable[[], bool], within: float = 10.0, what: str = "condition") -> None:
    """Poll ``cond`` every 20 ms; fail the test when it stays false for ``within`` seconds."""
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.02)


class Admin:
    """A blocking pika client for assertions on the broker's side."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: Any = None
        self.ch: Any = None

    def _channel(self) -> Any:
        if self.conn is None or not self.conn.is_open:
            self.conn = pika.BlockingConnection(pika.URLParameters(self.url))
            self.ch = None
        if self.ch is None or not self.ch.is_open:
            self.ch = self.conn.channel()
        return self.ch

    def count(self, queue: str) -> int:
        """Ready messages in ``queue`` (-1 when it does not exist)."""
        try:
            return int(self._channel().queue_declare(queue, passive=True).method.message_count)
        except pika.exceptions.ChannelClosedByBroker:
            return -1

    def exchange_exists(self, exchange: str) -> bool:
        try:
            self._channel().exchange_declare(exchange, passive=True)
            return True
        except pika.exceptions.ChannelClosedByBroker:
            return False

    def get(self, queue: str) -> bytes | None:
        _method, _props, body = self._channel().basic_get(queue, auto_ack=True)
        return body  # type: ignore[no-any-return]

    def delete(self, queues: list[str], exchanges: list[str]) -> None:
        for q in queues:
            try:
                self._channel().queue_delete(q)
            except pika.exceptions.AMQPError:
                pass
        for e in exchanges:
            try:
                self._channel().exchange_delete(e)
            except pika.exceptions.AMQPError:
                pass

    def close(self) -> None:
        if self.conn is not None and self.conn.is_open:
            self.conn.close()


class Namespace:
    """Unique names for one test; everything named through it is deleted at teardown."""

    def __init__(self) -> None:
        self.prefix = f"t{uuid.uuid4().hex[:10]}"
        self.exchanges: list[str] = []
        self.queues: list[str] = []

    def topic(self, name: str = "topic") -> str:
        full = f"{self.prefix}-{name}"
        self.exchanges.append(full)
        return full

    def group(self, name: str = "g") -> str:
        return f"{self.prefix}{name}"

    def queue(self, name: str) -> str:
        """Register a queue (and its dead-letter pair) for deletion; returns ``name``."""
        self.queues += [name, f"dlq-{name}"]
        self.exchanges.append(f"dlx-{name}")
        return name

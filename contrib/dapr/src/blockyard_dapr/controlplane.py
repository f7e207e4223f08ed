"""Dapr's control plane on loopback: the **placement** service (where each actor is active) and the
**scheduler** (actor reminders, workflow timers and jobs, kept in an embedded etcd).

Both are built with daprd (:func:`blockyard_dapr.daprd.build`) and run like it: every port on
127.0.0.1, no TLS (standalone mode), ready when their ``/healthz`` answers. Give their
:attr:`address` to :class:`~blockyard_dapr.daprd.Daprd` (``placement=``, ``scheduler=``)::

    with Placement(log_path=work / "placement.log") as placement, \\
         Scheduler(log_path=work / "scheduler.log") as scheduler, \\
         Daprd("app", resources, sockets, work / "daprd.log", app_port=8000,
               placement=placement.address, scheduler=scheduler.address):
        ...
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, cast

from blockyard_dapr.daprd import LOOPBACK, Program, binary_path, free_port
from blockyard_dapr.process import LoopbackProcess, http_answers

__all__ = ["ControlPlaneProcess", "Placement", "Scheduler"]


@dataclass
class ControlPlaneProcess(LoopbackProcess):
    """A control-plane service: its gRPC ``port`` plus a healthz and a metrics port, all on loopback."""

    log_path: Path
    binary: Path | None = None
    port: int = field(default_factory=free_port)
    healthz_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def address(self) -> str:
        """``127.0.0.1:port``, what daprd is given."""
        return f"{LOOPBACK}:{self.port}"

    def common_flags(self) -> list[str]:
        """The binary and the flags both services share."""
        return [
            str(self.binary or binary_path(cast("Program", self.program))),
            *("--port", str(self.port)),
            *("--listen-address", LOOPBACK),
            *("--healthz-port", str(self.healthz_port)),
            *("--healthz-listen-address", LOOPBACK),
            *("--metrics-port", str(self.metrics_port)),
            *("--metrics-listen-address", LOOPBACK),
            *("--log-level", "info"),
        ]

    def healthy(self) -> bool:
        """True when ``/healthz`` answers 200."""
        return http_answers(f"http://{LOOPBACK}:{self.healthz_port}/healthz", (200,))


@dataclass
class Placement(ControlPlaneProcess):
    """The placement service with an in-memory Raft log of one member (its peer port on loopback)."""

    program: ClassVar[str] = "placement"
    raft_port: int = field(default_factory=free_port)

    def command(self) -> list[str]:
        """The placement command line."""
        return [
            *self.common_flags(),
            *("--id", "dapr-placement-0"),
            *("--initial-cluster", f"dapr-placement-0={LOOPBACK}:{self.raft_port}"),
        ]


@dataclass
class Scheduler(ControlPlaneProcess):
    """The scheduler with its embedded etcd in ``data_dir`` (default: beside the log), which survives
    a restart of the scheduler."""

    program: ClassVar[str] = "scheduler"
    data_dir: Path | None = None
    etcd_client_port: int = field(default_factory=free_port)
    etcd_peer_port: int = field(default_factory=free_port)

    def command(self) -> list[str]:
        """The scheduler command line."""
        data = self.data_dir or self.log_path.with_name("scheduler-data")
        return [
            *self.common_flags(),
            *("--id", "dapr-scheduler-server-0"),
            *("--override-broadcast-host-port", self.address),
            *("--etcd-data-dir", str(data)),
            *("--etcd-client-port", str(self.etcd_client_port)),
            *("--etcd-client-listen-address", LOOPBACK),
            *("--etcd-initial-cluster", f"dapr-scheduler-server-0=http://{LOOPBACK}:{self.etcd_peer_port}"),
        ]

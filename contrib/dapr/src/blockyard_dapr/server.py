"""Serve Blockyard components to daprd: one gRPC server per Unix socket, with server reflection.

A socket named ``<name>.sock`` makes daprd offer the type ``<kind>.<name>`` for every building
block served on it (``blockyard-redis.sock`` serving a state store: ``state.blockyard-redis``).
By default a Blockyard type ``state.redis`` is served on ``blockyard-redis.sock``, so its state
store, pub/sub and bindings share one socket; every daprd Component of such a type is one instance
on that socket (daprd names it in each call).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_reflection.v1alpha import reflection

from blockyard.bindings import InputBinding, OutputBinding
from blockyard.component import Component
from blockyard.pubsub import PubSub
from blockyard.secretstores import SecretStore
from blockyard.state import StateFeature, StateStore
from blockyard_dapr.instances import ComponentSource, Instances
from blockyard_dapr.protocol import bindings_pb2, pubsub_pb2, secretstore_pb2, state_pb2
from blockyard_dapr.protocol import bindings_pb2_grpc as bindings_grpc
from blockyard_dapr.protocol import pubsub_pb2_grpc as pubsub_grpc
from blockyard_dapr.protocol import secretstore_pb2_grpc as secretstore_grpc
from blockyard_dapr.protocol import state_pb2_grpc as state_grpc
from blockyard_dapr.services.bindings import InputBindingServicer, OutputBindingServicer
from blockyard_dapr.services.pubsub import PubSubServicer
from blockyard_dapr.services.secretstores import SecretStoreServicer
from blockyard_dapr.services.state import (
    MultiMaxSizeServicer,
    QueriableStateStoreServicer,
    StateStoreServicer,
    TransactionalStateStoreServicer,
)
from blockyard_dapr.sockets import OwnedSocket, claim

__all__ = [
    "DEFAULT_SOCKET_FOLDER",
    "SocketPlan",
    "SocketServer",
    "default_socket_name",
    "plans_by_socket",
    "socket_folder",
]

DEFAULT_SOCKET_FOLDER = Path("/tmp/dapr-components-sockets")
SOCKET_FOLDER_ENV = "DAPR_COMPONENTS_SOCKETS_FOLDER"
_log = logging.getLogger("blockyard.dapr")


def socket_folder(given: str | os.PathLike[str] | None = None) -> Path:
    """The folder daprd reads sockets from: ``given``, ``$DAPR_COMPONENTS_SOCKETS_FOLDER``, or the default."""
    return Path(given or os.environ.get(SOCKET_FOLDER_ENV) or DEFAULT_SOCKET_FOLDER)


def default_socket_name(component_type: str) -> str:
    """``state.redis`` -> ``blockyard-redis``; ``secretstores.local.file`` -> ``blockyard-local-file``."""
    _, _, rest = component_type.partition(".")
    return "blockyard-" + rest.replace(".", "-")


@dataclass(frozen=True, slots=True)
class Served:
    """One building block on a socket: the component class and where its instances come from."""

    cls: type[Component]
    source: ComponentSource


@dataclass
class SocketPlan:
    """What one socket serves: at most one component class per building block."""

    name: str
    blocks: list[Served] = field(default_factory=list)

    def daprd_types(self) -> list[str]:
        """The ``spec.type`` values daprd offers for this socket."""
        return sorted(f"{block.cls.kind.value}.{self.name}" for block in self.blocks)


def _service(module: object, service: str) -> str:
    return str(module.DESCRIPTOR.services_by_name[service].full_name)  # type: ignore[attr-defined]


def _state_services(block: Served, server: grpc.aio.Server) -> tuple[Instances[Any], list[str]]:
    instances = Instances[StateStore](StateStore, block.source)
    state_grpc.add_StateStoreServicer_to_server(StateStoreServicer(instances), server)
    names = [_service(state_pb2, "StateStore")]
    if StateFeature.TRANSACTIONAL in block.cls.features:
        state_grpc.add_TransactionalStateStoreServicer_to_server(TransactionalStateStoreServicer(instances), server)
        state_grpc.add_TransactionalStoreMultiMaxSizeServicer_to_server(MultiMaxSizeServicer(instances), server)
        names += [_service(state_pb2, "TransactionalStateStore"), _service(state_pb2, "TransactionalStoreMultiMaxSize")]
    if StateFeature.QUERY_API in block.cls.features:
        state_grpc.add_QueriableStateStoreServicer_to_server(QueriableStateStoreServicer(instances), server)
        names.append(_service(state_pb2, "QueriableStateStore"))
    return instances, names


def _pubsub_services(block: Served, server: grpc.aio.Server) -> tuple[Instances[Any], list[str]]:
    instances = Instances[PubSub](PubSub, block.source)
    pubsub_grpc.add_PubSubServicer_to_server(PubSubServicer(instances), server)
    return instances, [_service(pubsub_pb2, "PubSub")]


def _secret_services(block: Served, server: grpc.aio.Server) -> tuple[Instances[Any], list[str]]:
    instances = Instances[SecretStore](SecretStore, block.source)
    secretstore_grpc.add_SecretStoreServicer_to_server(SecretStoreServicer(instances), server)
    return instances, [_service(secretstore_pb2, "SecretStore")]


def _input_services(block: Served, server: grpc.aio.Server) -> tuple[Instances[Any], list[str]]:
    instances = Instances[InputBinding](InputBinding, block.source)
    bindings_grpc.add_InputBindingServicer_to_server(InputBindingServicer(instances), server)
    return instances, [_service(bindings_pb2, "InputBinding")]


def _output_services(block: Served, server: grpc.aio.Server) -> tuple[Instances[Any], list[str]]:
    instances = Instances[OutputBinding](OutputBinding, block.source)
    bindings_grpc.add_OutputBindingServicer_to_server(OutputBindingServicer(instances), server)
    return instances, [_service(bindings_pb2, "OutputBinding")]


#: The servicers each contract gets (a binding class may be both input and output).
_SERVICES: tuple[tuple[type, Callable[[Served, grpc.aio.Server], tuple[Instances[Any], list[str]]]], ...] = (
    (StateStore, _state_services),
    (PubSub, _pubsub_services),
    (SecretStore, _secret_services),
    (InputBinding, _input_services),
    (OutputBinding, _output_services),
)


class SocketServer:
    """A grpc.aio server on one socket, serving a :class:`SocketPlan`."""

    def __init__(self, plan: SocketPlan, folder: Path, *, mode: int = 0o600) -> None:
        self.plan = plan
        self.path = folder / f"{plan.name}.sock"
        self._mode = mode
        self._server: grpc.aio.Server | None = None
        self._owned: OwnedSocket | None = None
        self._instances: list[Instances[Any]] = []

    def _add_services(self, server: grpc.aio.Server) -> list[str]:
        names: list[str] = []
        for block in self.plan.blocks:
            for contract, add in _SERVICES:
                if issubclass(block.cls, contract):
                    instances, offered = add(block, server)
                    self._instances.append(instances)
                    names += offered
        return names

    async def start(self) -> list[str]:
        """Bind the socket and start serving; returns the gRPC services offered.

        :raises SocketInUseError: another live server owns the socket path.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        claim(self.path)
        server = grpc.aio.server()
        services = self._add_services(server)
        reflection.enable_server_reflection([*services, reflection.SERVICE_NAME], server)
        server.add_insecure_port(f"unix://{self.path}")
        await server.start()
        self._owned = OwnedSocket.record(self.path, self._mode)
        self._server = server
        _log.info("serving %s on %s", ", ".join(self.plan.daprd_types()), self.path)
        return services

    async def stop(self, grace: float = 5.0) -> None:
        """Stop serving (in-flight calls get ``grace`` seconds), close what it created, remove its socket."""
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
        for instances in self._instances:
            await instances.close()
        if self._owned is not None:
            self._owned.remove()
            self._owned = None


def plans_by_socket(entries: Iterable[tuple[str, type[Component], ComponentSource]]) -> list[SocketPlan]:
    """Group ``(socket name, class, source)`` entries into one plan per socket.

    :raises ValueError: two different classes of one building block on the same socket.
    """
    plans: dict[str, SocketPlan] = {}
    for name, cls, source in entries:
        plan = plans.setdefault(name, SocketPlan(name))
        same_kind = [b for b in plan.blocks if b.cls.kind is cls.kind]
        if same_kind and same_kind[0].cls is not cls:
            raise ValueError(
                f"socket {name!r} would serve two {cls.kind.value} types ({same_kind[0].cls.type}, {cls.type}); "
                "give one of them another socket name"
            )
        if not same_kind:
            plan.blocks.append(Served(cls, source))
    return list(plans.values())

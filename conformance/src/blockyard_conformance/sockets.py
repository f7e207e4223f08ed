"""Conformance cases for a Dapr pluggable component reached over its Unix socket.

The case's component is ``<kind>.dapr-socket`` (the socket client of blockyard-dapr), found through
the registry like any other type, so the kit runs the suite of ``kind`` against whatever answers on
the socket — a component served by ``blockyard serve`` or one written in Go, .NET or Java.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Mapping
from pathlib import Path

import yaml

from blockyard_conformance.cases import Case, CaseError

__all__ = ["SOCKET_DISTRIBUTION", "socket_case", "socket_type"]

SOCKET_DISTRIBUTION = "blockyard-dapr"

#: What the protocol itself cannot carry, whatever the component behind the socket does:
#: Dapr's ``SetResponse`` is empty, so a write cannot return the new ETag (the suite reads it back).
#: And what the client's gRPC runtime keeps once per process: after its channels come and go,
#: grpc.aio holds an epoll, an eventfd and a socket pair (4 descriptors, however many cycles).
SOCKET_KNOBS: dict[str, dict[str, object]] = {"state": {"set_returns_etag": False, "leak_fd_tolerance": 4}}


def socket_type(kind: str) -> str:
    """The client component type for ``kind``: ``state`` -> ``state.dapr-socket``."""
    return f"{kind}.dapr-socket"


def socket_case(path: str | Path, kind: str, init: Mapping[str, str], *, name: str = "conformance") -> Case:
    """A case running the suite of ``kind`` on the pluggable component at socket ``path``.

    ``init`` is the metadata sent at the component's ``Init``; ``name`` its instance name.

    :raises CaseError: blockyard-dapr is not installed, or nothing but a Unix socket is at ``path``.
    """
    from blockyard.errors import ComponentConfigError
    from blockyard.registry import get_registry

    type_ = socket_type(kind)
    try:
        get_registry().spec(type_)
    except ComponentConfigError:
        raise CaseError(
            f"--socket needs the {type_} client component, which is not installed (pip install {SOCKET_DISTRIBUTION})",
            field="--socket",
        ) from None
    socket = Path(path).absolute()
    try:
        is_socket = stat.S_ISSOCK(socket.stat().st_mode)
    except OSError as exc:
        raise CaseError(f"--socket {socket}: {exc.strerror or exc}", field="--socket") from None
    if not is_socket:
        raise CaseError(f"--socket {socket}: not a Unix socket", field="--socket")
    component = {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": {
            "type": type_,
            "version": "v1",
            "metadata": [
                {"name": "socketPath", "value": str(socket)},
                {"name": "componentMetadata", "value": json.dumps(dict(init))},
            ],
        },
    }
    return Case(
        id=f"{type_}@{socket.stem}",
        knobs=SOCKET_KNOBS.get(kind, {}),
        component=yaml.safe_dump(component, sort_keys=False),
        type=type_,
        source=str(socket),
        description=f"the {kind} component on {socket}",
    )

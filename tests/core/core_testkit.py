"""Small in-process components for the core tests: they exercise the contracts, not a backend."""

from __future__ import annotations

import asyncio
import itertools
import textwrap
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from blockyard.bindings import BindingEvent, BindingResponse, InputBinding, InvokeRequest, OutputBinding
from blockyard.errors import BackendError, ETagMismatchError, SecretNotFoundError
from blockyard.metadata import ByteSize, CommaList, ComponentMetadata, Duration, SecretStr, meta
from blockyard.pubsub import Message, PublishOp, PubSub, PubSubFeature, SubscribeRequest
from blockyard.registry import ComponentSpec, Registry
from blockyard.secretstores import SecretStore, SecretStoreFeature
from blockyard.state import (
    Consistency,
    DeleteOp,
    SetOp,
    StateFeature,
    StateItem,
    StateStore,
    TransactionalStateStore,
)
from blockyard.subscription import Stopper

#: (event, component name) in the order they happened, across every test component.
EVENTS: list[tuple[str, str]] = []
#: Secrets of the test secret stores, by store name then secret name.
SECRETS: dict[str, dict[str, dict[str, str]]] = {}


class Lifecycle(ComponentMetadata):
    fail_init: bool = meta(False, description="raise in init")
    fail_close: bool = meta(False, description="raise in close")


class Recording:
    """Mixin: records init/close in EVENTS and fails on request."""

    name: str
    meta: Any

    async def _init(self) -> None:
        EVENTS.append(("init", self.name))
        if self.meta.fail_init:
            raise ConnectionRefusedError("connection refused by test backend")

    async def _close(self) -> None:
        EVENTS.append(("close", self.name))
        if self.meta.fail_close:
            raise RuntimeError("close failed in test backend")


class MemStateMetadata(Lifecycle):
    host: str = meta(description="host:port of the server", example="localhost:6379")
    password: SecretStr | None = meta(None, description="the password")
    port: int = meta(6379, description="port")
    timeout: Duration = meta(timedelta(seconds=5), description="dial timeout")
    enable_tls: bool = meta(False, alias="enableTLS", description="use TLS")
    hosts: CommaList = meta(default_factory=list, description="more hosts")
    max_size: ByteSize = meta(1024, description="largest value")
    key_prefix: str = meta("", aliases=("prefix",), description="key prefix")
    queue: str = meta("", description="a name that may hold {uuid}")

    unsupported: ClassVar[Mapping[str, str]] = {"redisType": "cluster mode is not implemented"}


class MemState(Recording, TransactionalStateStore):
    """A dict-backed state store with ETags and first-write."""

    type = "state.mem"
    Metadata = MemStateMetadata
    features = frozenset({StateFeature.ETAG, StateFeature.FIRST_WRITE, StateFeature.TTL, StateFeature.TRANSACTIONAL})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.data: dict[str, tuple[bytes, str, int | None]] = {}
        self.calls: list[Any] = []
        self._etags = itertools.count(1)

    async def _get(self, key: str, consistency: Consistency | None, metadata: Mapping[str, str]) -> StateItem:
        self.calls.append(("get", key, consistency))
        if key not in self.data:
            return StateItem(key)
        value, etag, _ = self.data[key]
        return StateItem(key, value, etag)

    async def _set(self, op: SetOp) -> str | None:
        self.calls.append(("set", op))
        current = self.data.get(op.key)
        if op.first_write and current is not None:
            raise ETagMismatchError("first-write found the key")
        if op.etag is not None and (current is None or current[1] != op.etag):
            raise ETagMismatchError("etag mismatch")
        if op.key == "explode":
            raise KeyError("boom")
        etag = str(next(self._etags))
        self.data[op.key] = (op.value, etag, op.ttl)
        return etag

    async def _delete(self, op: DeleteOp) -> None:
        self.calls.append(("delete", op))
        current = self.data.get(op.key)
        if op.etag is not None and (current is None or current[1] != op.etag):
            raise ETagMismatchError("etag mismatch")
        self.data.pop(op.key, None)

    async def _transact(self, ops: list[SetOp | DeleteOp], metadata: Mapping[str, str]) -> None:
        self.calls.append(("transact", ops))


class PlainState(StateStore):
    """No optional features at all."""

    type = "state.plain"

    async def _get(self, key: str, consistency: Consistency | None, metadata: Mapping[str, str]) -> StateItem:
        return StateItem(key)

    async def _set(self, op: SetOp) -> str | None:
        return None

    async def _delete(self, op: DeleteOp) -> None:
        return None


class MemSecretsMetadata(Lifecycle):
    token: SecretStr | None = meta(None, description="a token this store needs")


class MemSecrets(Recording, SecretStore):
    """Serves SECRETS[name]; with ``token`` set, checks it equals SECRETS[name]['__token__']['token']."""

    type = "secretstores.mem"
    Metadata = MemSecretsMetadata
    features = frozenset({SecretStoreFeature.MULTIPLE_KEY_VALUES_PER_SECRET})

    async def _init(self) -> None:
        await super()._init()
        expected = SECRETS.get(self.name, {}).get("__token__", {}).get("token")
        given = self.meta.token.get_secret_value() if self.meta.token else None
        if expected is not None and given != expected:
            raise PermissionError("wrong token")

    async def _get_secret(self, name: str, metadata: Mapping[str, str]) -> dict[str, str]:
        found = SECRETS.get(self.name, {}).get(name)
        if found is None:
            raise SecretNotFoundError(f"secret {name!r} not found")
        return dict(found)

    async def _bulk_get_secrets(self, metadata: Mapping[str, str]) -> dict[str, dict[str, str]]:
        return {k: dict(v) for k, v in SECRETS.get(self.name, {}).items()}


class MemPubSub(Recording, PubSub):
    """Delivers each publish to every subscriber, in-process."""

    type = "pubsub.mem"
    Metadata = Lifecycle
    features = frozenset({PubSubFeature.MESSAGE_TTL})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subs: list[SubscribeRequest] = []
        self.published: list[PublishOp] = []

    async def _publish(self, op: PublishOp) -> None:
        self.published.append(op)
        for req in list(self.subs):
            if req.topic == op.topic:
                await req.deliver(Message(op.topic, op.data, dict(op.metadata), op.content_type))

    async def _subscribe(self, req: SubscribeRequest) -> Stopper:
        self.subs.append(req)

        async def stop() -> None:
            self.subs.remove(req)

        return stop


class EchoBinding(Recording, OutputBinding, InputBinding):
    """Output ``create`` echoes the data; input delivers what ``emit`` gets."""

    type = "bindings.echo"
    Metadata = Lifecycle
    operations = frozenset({"create", "get"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.delivers: list[Any] = []

    async def _invoke(self, req: InvokeRequest) -> BindingResponse:
        if req.operation == "get":
            raise BackendError("get failed")
        return BindingResponse(req.data, dict(req.metadata))

    async def _read(self, deliver: Any) -> Stopper:
        self.delivers.append(deliver)

        async def stop() -> None:
            self.delivers.remove(deliver)

        return stop

    async def emit(self, data: bytes) -> list[Any]:
        return list(await asyncio.gather(*(d(BindingEvent(data)) for d in self.delivers)))


SPECS = [
    ComponentSpec("state", "mem", "core_testkit:MemState", features=("ETAG", "FIRST_WRITE", "TRANSACTIONAL", "TTL")),
    ComponentSpec("state", "plain", "core_testkit:PlainState", aliases=("plain2",)),
    ComponentSpec("secretstores", "mem", "core_testkit:MemSecrets", features=("MULTIPLE_KEY_VALUES_PER_SECRET",)),
    ComponentSpec("pubsub", "mem", "core_testkit:MemPubSub", features=("MESSAGE_TTL",)),
    ComponentSpec(
        "bindings", "echo", "core_testkit:EchoBinding", operations=("create", "get"), direction="input,output"
    ),
    ComponentSpec("state", "broken", "core_testkit_missing_module:Nothing"),
]


def make_registry() -> Registry:
    """A registry with only the test components (no entry points)."""
    registry = Registry(autoload=False)
    for spec in SPECS:
        registry.register(spec)
    return registry


def component(name: str = "statestore", type_: str = "state.mem", metadata: str = "", extra: str = "") -> str:
    """A Component YAML document for the tests."""
    md = textwrap.indent(textwrap.dedent(metadata).strip(), "    ") if metadata.strip() else ""
    return (
        "apiVersion: dapr.io/v1alpha1\nkind: Component\n"
        f"metadata:\n  name: {name}\nspec:\n  type: {type_}\n  version: v1\n"
        + (f"  metadata:\n{md}\n" if md else "")
        + extra
    )


def make_plugin_dists(root: Path) -> Path:
    """Two throwaway distributions with a ``blockyard`` entry point each: one works, one fails to import."""
    (root / "by_good_plugin.py").write_text(
        textwrap.dedent(
            """
            import click
            from blockyard.hookspecs import hookimpl
            from blockyard.registry import ComponentSpec

            @hookimpl
            def blockyard_components():
                return [ComponentSpec("state", "tmpgood", "by_good_impl:TmpStore", features=("ETAG",),
                                      aliases=("tmpgood2",), description="a throwaway store")]

            @click.command("hello")
            def hello():
                "Say hello."
                click.echo("hello from a plugin")

            @hookimpl
            def blockyard_cli_commands():
                import os, pathlib
                if os.environ.get("BY_MARKER"):
                    pathlib.Path(os.environ["BY_MARKER"]).write_text("commands were loaded")
                return [hello]
            """
        )
    )
    (root / "by_good_impl.py").write_text(
        textwrap.dedent(
            """
            from blockyard.metadata import ComponentMetadata, SecretStr, meta
            from blockyard.state import StateFeature, StateItem, StateStore

            class TmpMetadata(ComponentMetadata):
                url: str = meta(description="where it lives", example="tmp://x")
                token: SecretStr | None = meta(None, description="access token")

            class TmpStore(StateStore):
                type = "state.tmpgood"
                Metadata = TmpMetadata
                features = frozenset({StateFeature.ETAG})
                async def _get(self, key, consistency, metadata): return StateItem(key)
                async def _set(self, op): return "1"
                async def _delete(self, op): return None
            """
        )
    )
    (root / "by_broken_plugin.py").write_text("import blockyard_sdk_that_is_not_installed\n")
    for dist, ep in (("by_good", "good = by_good_plugin"), ("by_broken", "broken = by_broken_plugin")):
        info = root / f"{dist}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist.replace('_', '-')}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(f"[blockyard]\n{ep}\n")
    return root

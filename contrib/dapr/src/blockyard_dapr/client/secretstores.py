"""``secretstores.dapr-socket``: a secret store reached over Dapr's pluggable-component protocol."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from blockyard.secretstores import SecretStore, SecretStoreFeature
from blockyard_dapr.client._channel import SocketConnection, SocketMetadata
from blockyard_dapr.protocol import common_pb2, secretstore_pb2, secretstore_pb2_grpc

__all__ = ["SocketSecretStore"]


class SocketSecretStore(SecretStore):
    """A pluggable secret store; its features are the ones the server reports after ``Init``."""

    type: ClassVar[str] = "secretstores.dapr-socket"
    Metadata = SocketMetadata
    features: ClassVar[frozenset[SecretStoreFeature]] = frozenset(SecretStoreFeature)
    meta: SocketMetadata

    async def _init(self) -> None:
        self._conn = SocketConnection(self.meta.socket_path, self.name)
        self._stub = secretstore_pb2_grpc.SecretStoreStub(self._conn.channel)
        init = secretstore_pb2.SecretStoreInitRequest(
            metadata=common_pb2.MetadataRequest(properties=self.meta.init_properties())
        )
        await self._conn.call(self._stub.Init, init)
        reply = await self._conn.call(self._stub.Features, common_pb2.FeaturesRequest())
        self._narrow_features(SecretStoreFeature(f) for f in reply.features if f in SecretStoreFeature.__members__)

    async def _close(self) -> None:
        if hasattr(self, "_conn"):
            await self._conn.close()

    async def _ping(self) -> None:
        await self._conn.call(self._stub.Ping, common_pb2.PingRequest())

    async def _get_secret(self, name: str, metadata: Mapping[str, str]) -> dict[str, str]:
        request = secretstore_pb2.GetSecretRequest(key=name, metadata=dict(metadata))
        return dict((await self._conn.call(self._stub.Get, request)).data)

    async def _bulk_get_secrets(self, metadata: Mapping[str, str]) -> dict[str, dict[str, str]]:
        reply = await self._conn.call(self._stub.BulkGet, secretstore_pb2.BulkGetSecretRequest(metadata=dict(metadata)))
        return {name: dict(secret.secrets) for name, secret in reply.data.items()}

"""``SecretStore`` servicer over a Blockyard :class:`~blockyard.secretstores.SecretStore`.

A missing secret is ``NOT_FOUND``; values never appear in errors or logs.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc

from blockyard.secretstores import SecretStore
from blockyard_dapr.instances import Instances
from blockyard_dapr.protocol import common_pb2, secretstore_pb2
from blockyard_dapr.services._common import features_response, ping, reports_errors

__all__ = ["SecretStoreServicer"]

Ctx: TypeAlias = grpc.aio.ServicerContext[Any, Any]


class SecretStoreServicer:
    """``Get`` and ``BulkGet`` of every served secret store."""

    def __init__(self, instances: Instances[SecretStore]) -> None:
        self.instances = instances

    @reports_errors
    async def Init(
        self, request: secretstore_pb2.SecretStoreInitRequest, context: Ctx
    ) -> secretstore_pb2.SecretStoreInitResponse:
        await self.instances.init(context, dict(request.metadata.properties))
        return secretstore_pb2.SecretStoreInitResponse()

    @reports_errors
    async def Features(self, request: common_pb2.FeaturesRequest, context: Ctx) -> common_pb2.FeaturesResponse:
        return features_response(self.instances.get(context).features)

    @reports_errors
    async def Ping(self, request: common_pb2.PingRequest, context: Ctx) -> common_pb2.PingResponse:
        await ping(self.instances.get(context))
        return common_pb2.PingResponse()

    @reports_errors
    async def Get(self, request: secretstore_pb2.GetSecretRequest, context: Ctx) -> secretstore_pb2.GetSecretResponse:
        data = await self.instances.get(context).get_secret(request.key, metadata=dict(request.metadata))
        return secretstore_pb2.GetSecretResponse(data=data)

    @reports_errors
    async def BulkGet(
        self, request: secretstore_pb2.BulkGetSecretRequest, context: Ctx
    ) -> secretstore_pb2.BulkGetSecretResponse:
        secrets = await self.instances.get(context).bulk_get_secrets(metadata=dict(request.metadata))
        return secretstore_pb2.BulkGetSecretResponse(
            data={name: secretstore_pb2.SecretResponse(secrets=values) for name, values in secrets.items()}
        )

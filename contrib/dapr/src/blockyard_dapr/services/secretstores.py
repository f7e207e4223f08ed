"""``SecretStore`` servicer over a Blockyard :class:`~blockyard.secretstores.SecretStore`.

A missing secret is ``NOT_FOUND``; values never appear in errors or logs.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc

from blockyard.secretstores import SecretStore
from blockyard_dapr.protocol import secretstore_pb2
from blockyard_dapr.services._common import ReportsFeatures, reports_errors

__all__ = ["SecretStoreServicer"]

Ctx: TypeAlias = grpc.aio.ServicerContext[Any, Any]


class SecretStoreServicer(ReportsFeatures[SecretStore]):
    """``Get`` and ``BulkGet`` of every served secret store."""

    init_response = secretstore_pb2.SecretStoreInitResponse

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

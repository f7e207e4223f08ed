"""Metadata of ``secretstores.hashicorp.vault``: Dapr's fields, plus ``timeout``.

Exactly one of ``vaultToken`` and ``vaultTokenMountPath`` must be set (an empty value counts as
not set), as in Dapr. Every other field has Dapr's default.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, Self

from pydantic import field_validator, model_validator

from blockyard.metadata import ComponentMetadata, Duration, SecretStr, meta

__all__ = ["VaultMetadata"]


class VaultMetadata(ComponentMetadata):
    """How to reach Vault, authenticate, and where the secrets live."""

    vault_addr: str = meta(
        "https://127.0.0.1:8200", description="Address of the Vault server.", example="https://127.0.0.1:8200"
    )
    vault_token: SecretStr | None = meta(
        None, description="Token to authenticate with; set this or vaultTokenMountPath, not both."
    )
    vault_token_mount_path: str | None = meta(
        None,
        description="Path of a file holding the token (read at init); set this or vaultToken, not both.",
        example="/var/run/secrets/vault/token",
    )
    vault_kv_prefix: str = meta(
        "dapr", alias="vaultKVPrefix", description="Path prefix of the secrets inside the engine."
    )
    vault_kv_use_prefix: bool = meta(
        True,
        alias="vaultKVUsePrefix",
        description="If false, vaultKVPrefix is ignored and secrets are read from the engine's root.",
    )
    engine_path: str = meta("secret", description="Mount path of the KV secrets engine (KV v1 or v2, detected).")
    vault_value_type: Literal["map", "text"] = meta(
        "map",
        description="map: a secret's keys are returned as they are; text: {name: the secret's data as JSON text}.",
        allowed=("map", "text"),
    )
    ca_pem: str | None = meta(
        None, description="Inline PEM of the CA to trust; takes precedence over caPath and caCert."
    )
    ca_path: str | None = meta(None, description="Folder of CA certificates to trust; takes precedence over caCert.")
    ca_cert: str | None = meta(None, description="File of the CA certificate(s) to trust.")
    skip_verify: bool = meta(False, description="Skip TLS certificate verification (unsafe).")
    tls_server_name: str | None = meta(None, description="Server name expected in Vault's TLS certificate (SNI).")
    timeout: Duration = meta(
        timedelta(seconds=5),
        description="Time allowed to connect to Vault and for each answer (Blockyard's own field).",
        example="5s",
    )

    @field_validator("vault_addr")
    @classmethod
    def _check_addr(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")) or len(value.split("://", 1)[1]) == 0:
            raise ValueError("expected an http:// or https:// URL such as 'https://127.0.0.1:8200'")
        return value

    @field_validator("engine_path", "vault_kv_prefix")
    @classmethod
    def _strip_slashes(cls, value: str) -> str:
        return value.strip().strip("/")

    @field_validator("engine_path")
    @classmethod
    def _check_engine(cls, value: str) -> str:
        if not value:
            raise ValueError("expected the mount path of a KV secrets engine, such as 'secret'")
        return value

    @field_validator("timeout")
    @classmethod
    def _check_timeout(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("expected a positive duration such as '5s'")
        return value

    @model_validator(mode="after")
    def _exactly_one_token(self) -> Self:
        has_token = self.vault_token is not None and self.vault_token.get_secret_value() != ""
        has_path = bool(self.vault_token_mount_path)
        if has_token == has_path:
            which = "both are" if has_token else "neither is"
            raise ValueError(f"exactly one of 'vaultToken' and 'vaultTokenMountPath' must be set ({which})")
        return self

    @property
    def kv_prefix(self) -> str:
        """The prefix in effect: ``vaultKVPrefix`` (``dapr`` if empty), or none if ``vaultKVUsePrefix`` is false."""
        if not self.vault_kv_use_prefix:
            return ""
        return self.vault_kv_prefix or "dapr"

    @property
    def timeout_seconds(self) -> float:
        """``timeout`` in seconds."""
        return self.timeout.total_seconds()

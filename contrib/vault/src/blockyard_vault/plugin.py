"""Entry point of ``blockyard-vault`` (group ``blockyard``). Light: imports neither hvac nor requests."""

from __future__ import annotations

from pathlib import Path

from blockyard.hookspecs import hookimpl
from blockyard.registry import ComponentSpec

__all__ = ["BLOCKYARD_CONTRACT", "blockyard_components", "blockyard_conformance_cases"]

#: The Blockyard plugin contract this plugin implements (see :mod:`blockyard.contract`).
BLOCKYARD_CONTRACT = "1.0"

VAULT_SPEC = ComponentSpec(
    kind="secretstores",
    name="hashicorp.vault",
    target="blockyard_vault.secretstore:VaultSecretStore",
    version="v1",
    status="beta",
    features=("MULTIPLE_KEY_VALUES_PER_SECRET", "SECRET_VERSIONS"),
    description="Secrets from HashiCorp Vault's KV engine (v1 or v2); Vault-compatible, tested on OpenBao",
)


@hookimpl
def blockyard_components() -> list[ComponentSpec]:
    """The Vault secret store."""
    return [VAULT_SPEC]


@hookimpl(optionalhook=True)
def blockyard_conformance_cases() -> list[Path]:
    """The conformance case file of the Vault secret store."""
    return [Path(__file__).parent / "conformance" / "cases.yaml"]

"""Blockyard secret store for HashiCorp Vault (and OpenBao): ``secretstores.hashicorp.vault``.

The component is :class:`blockyard_vault.secretstore.VaultSecretStore`; its module docstring is
the user guide. Importing this package imports no SDK.
"""

__version__ = "0.1.0"

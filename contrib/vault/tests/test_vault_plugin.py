"""The distribution's entry point, spec and case file."""

from __future__ import annotations

import subprocess
import sys

import yaml

from blockyard.registry import Registry
from blockyard_vault import plugin
from blockyard_vault.secretstore import VaultSecretStore


def test_spec_features_match_the_class() -> None:
    [spec] = plugin.blockyard_components()
    assert spec.type == VaultSecretStore.type == "secretstores.hashicorp.vault"
    assert set(spec.features) == {f.value for f in VaultSecretStore.features}


def test_registry_resolves_through_the_entry_point() -> None:
    registry = Registry()
    assert registry.resolve("secretstores.hashicorp.vault") is VaultSecretStore
    assert registry.spec("secretstores.hashicorp.vault").distribution == "blockyard-vault"
    assert not [f for f in registry.failures if f.distribution == "blockyard-vault"]


def test_plugin_module_imports_no_sdk() -> None:
    code = (
        "import sys, blockyard_vault.plugin as p; p.blockyard_components(); p.blockyard_conformance_cases();"
        "bad = [m for m in ('hvac', 'requests') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_case_file() -> None:
    [path] = plugin.blockyard_conformance_cases()
    [case] = yaml.safe_load(path.read_text())["cases"]
    assert (case["id"], case["backend"]) == ("secretstores.hashicorp.vault", "vault")
    component = yaml.safe_load(case["component"])
    assert component["spec"]["type"] == "secretstores.hashicorp.vault"
    fields = {m["name"]: m["value"] for m in component["spec"]["metadata"]}
    assert fields["vaultAddr"] == "${backend.url}"
    assert fields["vaultToken"] == "${backend.params.token}"
    md = VaultSecretStore.Metadata.parse({**fields, "vaultAddr": "http://127.0.0.1:8200", "vaultToken": "t"})
    assert md.timeout_seconds == 10

"""The ``kafka-mtls`` recipe's configuration and its certificate authority, without starting a broker
(the Kafka cases and contrib/kafka's tests start it).

Its only client listener is TLS with client certificates required, topic auto-creation is off,
the authority is made once per working folder with private keys in 0600 files, and no key shows
up in the endpoint's repr.
"""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest

from blockyard_conformance.backends.native import load_recipe
from blockyard_conformance.backends.native.kafka_mtls import KafkaMtlsRecipe
from blockyard_conformance.real_backends import require_client


@pytest.fixture(autouse=True)
def _cryptography() -> None:
    """The authority is made with ``cryptography`` (the ``backends`` extra)."""
    require_client("cryptography", "kafka-mtls")


def properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_the_launcher_knows_the_mtls_variant() -> None:
    assert isinstance(load_recipe("kafka-mtls"), KafkaMtlsRecipe)


def test_only_a_tls_listener_that_requires_client_certificates(tmp_path: Path) -> None:
    props = properties(KafkaMtlsRecipe().server_properties(19095, 19096, tmp_path))
    assert props["listeners"] == "SSL://127.0.0.1:19095,CONTROLLER://127.0.0.1:19096"
    assert props["advertised.listeners"] == "SSL://127.0.0.1:19095"
    assert props["ssl.client.auth"] == "required"
    assert props["auto.create.topics.enable"] == "false"
    assert Path(props["ssl.truststore.location"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    keystore = Path(props["ssl.keystore.location"])
    assert "PRIVATE KEY" in keystore.read_text()
    assert stat.S_IMODE(keystore.stat().st_mode) == 0o600
    assert list(props) == list(dict.fromkeys(props)), "a setting is given twice"


def test_certificates_chain_to_the_authority_and_name_loopback(tmp_path: Path) -> None:
    from cryptography import x509

    ep = KafkaMtlsRecipe().endpoint(19095, tmp_path)
    ca = x509.load_pem_x509_certificate(ep.params["caCert"].encode())
    client = x509.load_pem_x509_certificate(ep.params["clientCert"].encode())
    server = x509.load_pem_x509_certificate((tmp_path / "tls" / "server.pem").read_bytes())
    for leaf in (client, server):
        leaf.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)


def test_the_authority_is_stable_per_folder_and_private(tmp_path: Path) -> None:
    recipe = KafkaMtlsRecipe()
    first, again = recipe.endpoint(19095, tmp_path), recipe.endpoint(19095, tmp_path)
    (tmp_path / "other").mkdir()
    other = recipe.endpoint(19095, tmp_path / "other")
    assert first.params["clientKey"] == again.params["clientKey"]
    assert first.params["caCert"] != other.params["caCert"]
    for key in ("client.key", "server.key"):
        assert stat.S_IMODE((tmp_path / "tls" / key).stat().st_mode) == 0o600
    assert first.params["clientKey"] not in repr(first)

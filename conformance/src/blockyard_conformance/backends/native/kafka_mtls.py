"""Apache Kafka whose only client listener needs a TLS client certificate (``kafka-mtls``).

The same single-node KRaft broker as :class:`~.kafka.KafkaRecipe`, but its client listener is
``SSL`` on ``127.0.0.1:port`` with ``ssl.client.auth=required``. A private certificate authority
is made per working folder (:mod:`._tls`): the broker's certificate names ``127.0.0.1``; the
client certificate is the one the endpoint's ``params`` hand out as PEM text, under Dapr's field
names ``caCert``, ``clientCert`` and ``clientKey`` (``tlsDir``: the folder of the PEM files, keys
0600). A server this launcher did not start is never used: its certificates are unknown.
Topic auto-creation is off: clients create their topics.
"""

from __future__ import annotations

import ssl
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

from ..recipe import LOOPBACK, Endpoint, port_open
from ._kafka_common import kafka_metadata_ok
from ._tls import TestPki, issue_test_pki
from .kafka import KafkaRecipe, _server_properties
from .tools import run_coroutine

__all__ = ["RECIPES", "KafkaMtlsRecipe", "client_ssl_context"]


def _pki(workdir: Path) -> TestPki:
    return issue_test_pki(workdir / "tls")


def client_ssl_context(ca_cert: str, cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """A client context that trusts ``ca_cert`` and presents the given certificate."""
    ctx = ssl.create_default_context(cadata=ca_cert)
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


class KafkaMtlsRecipe(KafkaRecipe):
    """Apache Kafka (KRaft) whose client listener needs a client certificate; see the module docstring."""

    backend: ClassVar[str] = "kafka-mtls"
    default_port: ClassVar[int] = 9095
    pip_packages: ClassVar[tuple[str, ...]] = (*KafkaRecipe.pip_packages, "cryptography")

    def flavour(self) -> str:
        return f"{super().flavour().removesuffix(', native)')}, TLS client certificates, native)"

    def server_properties(self, port: int, controller_port: int, workdir: Path) -> str:
        tls = workdir / "tls"
        pki = _pki(workdir)
        keystore = tls / "broker-keystore.pem"  # Kafka's PEM keystore: the key, then the certificate
        keystore.touch(0o600)
        keystore.write_text(pki.server_key + pki.server_cert)
        settings = {
            "listeners": f"SSL://{LOOPBACK}:{port},CONTROLLER://{LOOPBACK}:{controller_port}",
            "advertised.listeners": f"SSL://{LOOPBACK}:{port}",
            "inter.broker.listener.name": "SSL",
            "listener.security.protocol.map": "SSL:SSL,CONTROLLER:PLAINTEXT",
            "ssl.client.auth": "required",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(keystore),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(tls / "ca.pem"),
            "auto.create.topics.enable": "false",
        }
        base = _server_properties(port, controller_port, workdir / "data")
        kept = [line for line in base.splitlines() if line.split("=", 1)[0] not in settings]
        return "".join(f"{line}\n" for line in kept) + "".join(f"{k}={v}\n" for k, v in settings.items())

    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        ep = super().endpoint(port, workdir)
        pki = _pki(workdir)
        params = {
            **ep.params,
            "caCert": pki.ca_cert,
            "clientCert": pki.client_cert,
            "clientKey": pki.client_key,
            "tlsDir": str(workdir / "tls"),
        }
        return replace(ep, url=f"kafka+ssl://{ep.address}", params=params)

    def ready(self, endpoint: Endpoint) -> bool:
        if not port_open(endpoint.port, endpoint.host) or "tlsDir" not in endpoint.params:
            return False  # a server this launcher did not start: its certificates are unknown
        tls = Path(endpoint.params["tlsDir"])
        try:
            ctx = client_ssl_context(endpoint.params["caCert"], tls / "client.pem", tls / "client.key")
            return run_coroutine(
                kafka_metadata_ok(endpoint.params["brokers"], security_protocol="SSL", ssl_context=ctx)
            )
        except Exception:  # ready() never raises
            return False


RECIPES = {"kafka-mtls": KafkaMtlsRecipe}
"""Read by ``native.load_recipe``."""

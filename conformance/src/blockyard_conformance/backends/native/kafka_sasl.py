"""Apache Kafka with a SASL listener (``kafka-sasl``): PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512.

The same single-node KRaft broker as :class:`~.kafka.KafkaRecipe`, but its only client listener
is ``SASL_PLAINTEXT`` on ``127.0.0.1:port``. One user, ``blockyard``, with a random password per
working folder (kept in a 0600 file, never on a command line): the PLAIN user list lives in the
0600 ``server.properties``, the SCRAM credentials are written into the KRaft metadata at format
time as salted hashes. The endpoint's ``params`` hold ``brokers``, ``username`` and ``password``.

Topic auto-creation is off on this broker: clients create their topics.

A server found on the standard port 9094 is used with the user and password from
``BLOCKYARD_KAFKA_SASL_USERNAME`` / ``BLOCKYARD_KAFKA_SASL_PASSWORD`` (default
``blockyard`` / ``conformance``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

from ..recipe import LOOPBACK, Endpoint, port_open, source_label
from ._kafka_common import kafka_endpoint, kafka_metadata_ok
from .kafka import KafkaRecipe, _server_properties
from .tools import run_coroutine

__all__ = ["RECIPES", "KafkaSaslRecipe"]

USERNAME = "blockyard"
_ITERATIONS = 8192
_SCRAM = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}


def _secret(path: Path) -> str:
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(24))
    return path.read_text().strip()


def _scram_arg(mechanism: str, password: str) -> str:
    """A ``--add-scram`` value holding only a salt and the salted password (RFC 5802 Hi())."""
    digest = _SCRAM[mechanism]
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac(digest, password.encode(), salt, _ITERATIONS)
    b64 = base64.b64encode
    return (
        f"{mechanism}=[name={USERNAME},iterations={_ITERATIONS},"
        f'salt="{b64(salt).decode()}",saltedpassword="{b64(salted).decode()}"]'
    )


class KafkaSaslRecipe(KafkaRecipe):
    """Apache Kafka (KRaft) whose client listener needs SASL; see the module docstring."""

    backend: ClassVar[str] = "kafka-sasl"
    default_port: ClassVar[int] = 9094

    def flavour(self) -> str:
        return f"{super().flavour().removesuffix(', native)')}, SASL PLAIN/SCRAM, native)"

    def server_properties(self, port: int, controller_port: int, workdir: Path) -> str:
        password = _secret(workdir / "password")
        admin = _secret(workdir / "admin-password")
        plain = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="admin" password="{admin}" user_admin="{admin}" user_{USERNAME}="{password}";'
        )
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        settings = {
            "listeners": f"SASL_PLAINTEXT://{LOOPBACK}:{port},CONTROLLER://{LOOPBACK}:{controller_port}",
            "advertised.listeners": f"SASL_PLAINTEXT://{LOOPBACK}:{port}",
            "inter.broker.listener.name": "SASL_PLAINTEXT",
            "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
            "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol": "PLAIN",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": plain,
            "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config": scram,
            "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": scram,
            "auto.create.topics.enable": "false",
        }
        base = _server_properties(port, controller_port, workdir / "data")
        kept = [line for line in base.splitlines() if line.split("=", 1)[0] not in settings]
        return "".join(f"{line}\n" for line in kept) + "".join(f"{k}={v}\n" for k, v in settings.items())

    def format_args(self, workdir: Path) -> list[str]:
        password = _secret(workdir / "password")
        return [arg for mechanism in _SCRAM for arg in ("--add-scram", _scram_arg(mechanism, password))]

    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        return self._with_credentials(super().endpoint(port, workdir), _secret(workdir / "password"))

    def listening_endpoint(self, port: int, source: str = "listening") -> Endpoint:
        label = source_label(source)
        ep = kafka_endpoint(self.backend, f"kafka with SASL ({label})", port, source, None)
        return self._with_credentials(ep, os.environ.get("BLOCKYARD_KAFKA_SASL_PASSWORD", "conformance"))

    def endpoint_from_url(self, url: str) -> Endpoint:
        ep = super().endpoint_from_url(url)
        params = {"username": USERNAME, "password": "conformance", **ep.params}
        return replace(ep, params=params)

    def _with_credentials(self, ep: Endpoint, password: str) -> Endpoint:
        username = os.environ.get("BLOCKYARD_KAFKA_SASL_USERNAME", USERNAME) if ep.source != "native" else USERNAME
        return replace(ep, params={**ep.params, "username": username, "password": password})

    def ready(self, endpoint: Endpoint) -> bool:
        if not port_open(endpoint.port, endpoint.host):
            return False
        try:
            return run_coroutine(
                kafka_metadata_ok(
                    endpoint.params.get("brokers", endpoint.address),
                    security_protocol="SASL_PLAINTEXT",
                    sasl_mechanism="PLAIN",  # the one every flavour (native, docker/kafka-sasl.yml) offers
                    sasl_plain_username=endpoint.params.get("username", USERNAME),
                    sasl_plain_password=endpoint.params.get("password", ""),
                )
            )
        except Exception:  # ready() never raises
            return False


RECIPES = {"kafka-sasl": KafkaSaslRecipe}
"""Read by ``native.load_recipe``."""

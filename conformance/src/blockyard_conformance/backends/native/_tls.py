"""A private certificate authority for loopback test servers: CA, server and client certificates.

Everything is generated on first use into one folder (keys 0600) and read back afterwards, so a
restarted server keeps its certificates. The server certificate names ``127.0.0.1`` and
``localhost``; the client certificate's common name is ``blockyard``. Nothing here is fit for
anything but tests on this machine.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TestPki", "issue_test_pki"]

_VALID = datetime.timedelta(days=30)


@dataclass(frozen=True, slots=True)
class TestPki:
    """PEM texts of the authority and of its server and client certificates (keys are PKCS#8)."""

    ca_cert: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str

    def __repr__(self) -> str:  # keys never in reprs
        return "TestPki(<certificates>)"


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def issue_test_pki(folder: Path) -> TestPki:
    """The authority in ``folder`` (created on first use); the same certificates on every later call."""
    names = ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")
    paths = [folder / n for n in names]
    if not all(p.exists() for p in paths):
        folder.mkdir(parents=True, exist_ok=True)
        for path, text in zip(paths, _generate(), strict=True):
            _write_private(path, text)
    return TestPki(*(p.read_text() for p in paths))


def _generate() -> tuple[str, str, str, str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def pem_key(key: ec.EllipticCurvePrivateKey) -> str:
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def pem_cert(cert: x509.Certificate) -> str:
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("blockyard test CA"))
        .issuer_name(name("blockyard test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALID)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(common: str, usage: x509.ObjectIdentifier, san: x509.SubjectAlternativeName | None) -> tuple[str, str]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(common))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _VALID)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        )
        if san is not None:
            builder = builder.add_extension(san, critical=False)
        return pem_cert(builder.sign(ca_key, hashes.SHA256())), pem_key(key)

    loopback = x509.SubjectAlternativeName(
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    )
    server_cert, server_key = leaf("127.0.0.1", ExtendedKeyUsageOID.SERVER_AUTH, loopback)
    client_cert, client_key = leaf("blockyard", ExtendedKeyUsageOID.CLIENT_AUTH, None)
    return pem_cert(ca), server_cert, server_key, client_cert, client_key

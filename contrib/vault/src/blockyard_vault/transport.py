"""The HTTP session hvac uses: connection pool sized for the worker threads, Dapr's TLS options.

TLS trust follows Dapr: ``caPem`` (inline) wins over ``caPath`` (a folder), which wins over
``caCert`` (a file); none of them means the system's CAs. ``tlsServerName`` sets SNI and the name
checked in the certificate. ``skipVerify`` turns verification off.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from blockyard.errors import ComponentConfigError
from blockyard_vault.metadata import VaultMetadata

__all__ = ["build_session"]


class _TLSAdapter(HTTPAdapter):
    """An adapter whose pools use our SSL context and expected server name."""

    def __init__(self, *, pool_size: int, context: ssl.SSLContext | None, server_name: str | None) -> None:
        self._context = context
        self._server_name = server_name
        super().__init__(pool_connections=2, pool_maxsize=pool_size, max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        if self._context is not None:
            kwargs["ssl_context"] = self._context
        if self._server_name:
            kwargs["server_hostname"] = self._server_name
        super().init_poolmanager(*args, **kwargs)


def _read_folder(folder: str) -> str:
    """Every file under ``folder`` (recursively), concatenated: Dapr's ``caPath`` (no hashed names needed)."""
    root = Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(20, "not a folder")
    return "\n".join(p.read_text() for p in sorted(root.rglob("*")) if p.is_file())


def _ssl_context(md: VaultMetadata, component: str) -> ssl.SSLContext | None:
    if md.skip_verify or not (md.ca_pem or md.ca_path or md.ca_cert or md.tls_server_name):
        return None
    field = "caPem" if md.ca_pem else "caPath" if md.ca_path else "caCert" if md.ca_cert else "tlsServerName"
    try:
        if md.ca_pem:
            return ssl.create_default_context(cadata=md.ca_pem)
        if md.ca_path:
            return ssl.create_default_context(cadata=_read_folder(md.ca_path))
        if md.ca_cert:
            return ssl.create_default_context(cafile=md.ca_cert)
        return ssl.create_default_context()
    except (OSError, ValueError) as exc:
        what = getattr(exc, "strerror", None) or type(exc).__name__
        raise ComponentConfigError(
            f"field {field!r}: cannot load the CA certificate(s) ({what}); expected PEM certificates",
            component=component,
            field=field,
        ) from None


def build_session(md: VaultMetadata, *, pool_size: int, component: str) -> tuple[requests.Session, bool]:
    """Return the session and the ``verify`` flag to give hvac.

    :raises ComponentConfigError: naming the CA field that cannot be loaded.
    """
    session = requests.Session()
    session.trust_env = False  # no proxies or CA bundles from the environment: the metadata decides
    session.verify = not md.skip_verify  # hvac prefers the session's setting to its own
    adapter = _TLSAdapter(
        pool_size=pool_size,
        context=_ssl_context(md, component),
        server_name=None if md.skip_verify else md.tls_server_name,
    )
    session.mount("https://", adapter)
    session.mount("http://", _TLSAdapter(pool_size=pool_size, context=None, server_name=None))
    return session, not md.skip_verify

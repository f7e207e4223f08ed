"""What the Kafka recipes share: the endpoint shape and a real-client (aiokafka) probe."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..recipe import LOOPBACK, Endpoint, generic_endpoint_from_url, port_open
from .tools import run_coroutine

__all__ = ["kafka_endpoint", "kafka_endpoint_from_url", "kafka_metadata_ok", "kafka_ready"]


def _not_the_plaintext_sasl_warning(record: logging.LogRecord) -> bool:
    # aiokafka warns at every SASL PLAIN handshake without TLS: by design on the launcher's loopback
    # backend, and printed on every probe (``blockyard backends status``) where logging is not set up
    return record.getMessage() != "Sending username and password in the clear"


async def kafka_metadata_ok(bootstrap: str, seconds: float = 5.0, **security: Any) -> bool:
    """True when an aiokafka admin client bootstraps and ``describe_cluster`` lists a broker
    within ``seconds``; False on any failure. ``security``: the client's security options."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(seconds * 1000), **security)
    connections = logging.getLogger("aiokafka.conn")
    connections.addFilter(_not_the_plaintext_sasl_warning)
    try:
        async with asyncio.timeout(seconds):
            await admin.start()
            cluster = await admin.describe_cluster()
        return bool(cluster.get("brokers"))
    except Exception:  # a probe answers False on any failure
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
        connections.removeFilter(_not_the_plaintext_sasl_warning)


def kafka_ready(endpoint: Endpoint) -> bool:
    """Real-client readiness for any Kafka-protocol server at ``endpoint``; never raises."""
    if not port_open(endpoint.port, endpoint.host):
        return False  # spare aiokafka's connection-refused error logs while the JVM boots
    try:
        brokers = endpoint.params.get("brokers", endpoint.address)
        return run_coroutine(kafka_metadata_ok(brokers))
    except Exception:  # ready() never raises
        return False


def kafka_endpoint(backend: str, flavour: str, port: int, source: str, log_path: Path | None) -> Endpoint:
    """An endpoint whose ``params["brokers"]`` is the bootstrap list (``127.0.0.1:port``)."""
    brokers = f"{LOOPBACK}:{port}"
    return Endpoint(
        backend=backend,
        flavour=flavour,
        host=LOOPBACK,
        port=port,
        url=f"kafka://{brokers}",
        source=source,
        params={"brokers": brokers},
        log_path=log_path,
    )


def kafka_endpoint_from_url(backend: str, url: str, default_port: int) -> Endpoint:
    """Accept ``kafka://127.0.0.1:9092`` or a bare ``127.0.0.1:9092``; loopback only."""
    if "://" not in url:
        url = f"kafka://{url}"
    ep = generic_endpoint_from_url(backend, url, default_port)
    params = dict(ep.params)
    params.setdefault("brokers", ep.address)
    return replace(
        ep,
        url=f"kafka://{ep.address}" if not urlsplit(url).query else url,
        params=params,
    )

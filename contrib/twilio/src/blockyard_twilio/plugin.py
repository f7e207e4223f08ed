"""Plugin hooks of ``blockyard-twilio`` (imports no Twilio SDK): component spec and conformance case."""

from __future__ import annotations

from pathlib import Path

from blockyard.hookspecs import hookimpl
from blockyard.registry import ComponentSpec

__all__ = ["BLOCKYARD_CONTRACT", "SPECS", "blockyard_components", "blockyard_conformance_cases"]

#: The Blockyard plugin contract this plugin implements (see :mod:`blockyard.contract`).
BLOCKYARD_CONTRACT = "1.0"

SPECS: tuple[ComponentSpec, ...] = (
    ComponentSpec(
        "bindings",
        "twilio.sms",
        "blockyard_twilio.sms:TwilioSmsBinding",
        status="alpha",
        operations=("create",),
        direction="output",
        description="Twilio SMS: create sends a message; 429/5xx retried with backoff",
        distribution="blockyard-twilio",
    ),
)


@hookimpl
def blockyard_components() -> list[ComponentSpec]:
    """The Twilio SMS output binding."""
    return list(SPECS)


@hookimpl
def blockyard_conformance_cases() -> list[Path]:
    """The conformance case of ``bindings.twilio.sms`` (run against the launcher's ``twilio`` capture server)."""
    return [Path(__file__).parent / "conformance" / "cases.yaml"]

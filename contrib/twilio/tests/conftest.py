"""Fixtures: a local Twilio-shaped HTTP server per test and the binding's metadata pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from twilio_fake_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi, serve


@pytest.fixture
def twilio_api() -> Iterator[FakeTwilioApi]:
    yield from serve()


@pytest.fixture
def sms_metadata(twilio_api: FakeTwilioApi) -> dict[str, Any]:
    return {
        "accountSid": ACCOUNT_SID,
        "authToken": AUTH_TOKEN,
        "fromNumber": "+15005550006",
        "toNumber": "+14155550100",
        "apiBaseUrl": twilio_api.url,
        "retryBackoff": "10ms",
        "timeout": "5s",
    }

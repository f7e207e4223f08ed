"""bindings.twilio.sms against the launcher's ``twilio`` backend, the Twilio-shaped capture server of the
conformance case: its answers follow Twilio's, and it records what the binding sent."""

from __future__ import annotations

import json
import urllib.request
import uuid
from typing import Any

import pytest

from blockyard.errors import InvalidRequestError
from blockyard_twilio.sms import TwilioSmsBinding

launcher = pytest.importorskip(
    "blockyard_conformance.backends.launcher", reason="the backend launcher (blockyard-conformance) is not installed"
)
from blockyard_conformance.backends import twilio_capture_server  # noqa: E402


@pytest.fixture(scope="module")
def capture_url() -> str:
    return str(launcher.get_launcher().up("twilio").url)


@pytest.fixture
def metadata(capture_url: str) -> dict[str, Any]:
    return {
        "accountSid": "AC" + uuid.uuid4().hex,
        "authToken": "token-" + uuid.uuid4().hex,
        "fromNumber": "+15005550006",
        "apiBaseUrl": capture_url,
    }


def captured(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(url + twilio_capture_server.CAPTURED_PATH, timeout=10) as resp:
        return list(json.loads(resp.read()))


async def test_the_capture_server_records_the_message(metadata: dict[str, Any], capture_url: str) -> None:
    body = "captured " + uuid.uuid4().hex
    async with TwilioSmsBinding(metadata, name="sms") as sms:
        response = await sms.invoke("create", body, metadata={"toNumber": "+14155550100"})
    (entry,) = [e for e in captured(capture_url) if e["form"].get("Body") == body]
    assert entry["method"] == "POST"
    assert entry["path"] == f"/2010-04-01/Accounts/{metadata['accountSid']}/Messages.json"
    assert entry["form"] == {"To": "+14155550100", "From": "+15005550006", "Body": body}
    assert entry["auth_user"] == metadata["accountSid"]
    assert entry["user_agent"].startswith("twilio-python/")
    assert response.metadata["status"] == "queued"
    assert metadata["authToken"] not in json.dumps(captured(capture_url))


async def test_twilio_magic_invalid_number_is_error_21211(metadata: dict[str, Any]) -> None:
    async with TwilioSmsBinding(metadata, name="sms") as sms:
        with pytest.raises(InvalidRequestError, match="Twilio error 21211"):
            await sms.invoke("create", "hi", metadata={"toNumber": twilio_capture_server.INVALID_TO})


def test_credentials_for_another_account_are_refused_as_twilio_does(capture_url: str) -> None:
    import base64
    import urllib.error

    path = f"/2010-04-01/Accounts/AC{uuid.uuid4().hex}/Messages.json"
    auth = base64.b64encode(f"AC{uuid.uuid4().hex}:token".encode()).decode()
    request = urllib.request.Request(
        capture_url + path,
        data=b"To=%2B14155550100&From=%2B15005550006&Body=hi",
        headers={"Authorization": f"Basic {auth}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 401
    assert json.loads(info.value.read()) == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }

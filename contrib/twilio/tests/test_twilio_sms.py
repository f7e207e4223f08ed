"""bindings.twilio.sms with the real twilio client against a local Twilio-shaped server: the exact
request, Twilio's error bodies replayed, retries, timeouts, and no auth token anywhere."""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
from typing import Any

import pytest
from twilio_fake_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi, Reply, twilio_error

from blockyard.errors import (
    AuthenticationError,
    BackendUnavailableError,
    ComponentConfigError,
    InvalidRequestError,
    NotSupportedError,
)
from blockyard_twilio.sms import TwilioSmsBinding, message_body

MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


async def test_create_sends_the_exact_twilio_request(sms_metadata: dict[str, Any], twilio_api: FakeTwilioApi) -> None:
    async with TwilioSmsBinding(sms_metadata, name="sms") as sms:
        response = await sms.invoke("create", "Your order has shipped")
    (req,) = twilio_api.requests
    assert req.method == "POST"
    assert req.path == MESSAGES_PATH
    assert req.form == {"To": ["+14155550100"], "From": ["+15005550006"], "Body": ["Your order has shipped"]}
    expected_auth = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert req.headers["Authorization"] == f"Basic {expected_auth}"
    assert req.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert req.headers["User-Agent"].startswith("twilio-python/9.")
    assert req.headers["Accept"] == "application/json"
    sid = response.metadata["sid"]
    assert sid.startswith("SM")
    assert response.metadata == {"sid": sid, "status": "queued"}
    assert response.json() == {"sid": sid, "status": "queued"}
    assert response.content_type == "application/json"


@pytest.mark.parametrize(
    ("data", "body"),
    [
        ('"a JSON string, unquoted"', "a JSON string, unquoted"),
        (b'"caf\\u00e9"', "café"),
        ({"id": 1}, '{"id":1}'),
        ('plain text with "quotes"', 'plain text with "quotes"'),
        ('"not closed', '"not closed'),
        ("ünïcödé ✓", "ünïcödé ✓"),
    ],
)
async def test_the_data_is_the_message_body(
    sms_metadata: dict[str, Any], twilio_api: FakeTwilioApi, data: Any, body: str
) -> None:
    async with TwilioSmsBinding(sms_metadata, name="sms") as sms:
        await sms.invoke("create", data)
    assert twilio_api.requests[0].form["Body"] == [body]


async def test_request_metadata_to_number_overrides_the_component(
    sms_metadata: dict[str, Any], twilio_api: FakeTwilioApi
) -> None:
    async with TwilioSmsBinding(sms_metadata, name="sms") as sms:
        await sms.invoke("create", "hi", metadata={"toNumber": "+14155550199"})
    assert twilio_api.requests[0].form["To"] == ["+14155550199"]


async def test_no_recipient_and_empty_body_fail_before_any_request(
    sms_metadata: dict[str, Any], twilio_api: FakeTwilioApi
) -> None:
    del sms_metadata["toNumber"]
    async with TwilioSmsBinding(sms_metadata, name="sms") as sms:
        with pytest.raises(InvalidRequestError) as info:
            await sms.invoke("create", "hi")
        assert "toNumber" in str(info.value)
        assert info.value.component == "sms"
        for empty in (None, "", '""'):
            with pytest.raises(InvalidRequestError, match="body"):
                await sms.invoke("create", empty, metadata={"toNumber": "+14155550100"})
        with pytest.raises(NotSupportedError):
            await sms.invoke("delete")
    assert twilio_api.requests == []


async def test_a_twilio_4xx_names_the_code_and_is_never_retried(
    sms_metadata: dict[str, Any], twilio_api: FakeTwilioApi
) -> None:
    twilio_api.script = [twilio_error(400, 21211, "The 'To' number +15005550001 is not a valid phone number.")]
    async with TwilioSmsBinding(sms_metadata, name="sms") as sms:
        with pytest.raises(InvalidRequestError) as info:
            await sms.invoke("create", "hi", metadata={"toNumber": "+15005550001"})
    text = str(info.value)
    assert "Twilio error 21211 (HTTP 400)" in text
    assert "is not a valid phone number" in text
    assert info.value.component == "sms"
    assert info.value.operation == "create"
    assert len(twilio_api.requests) == 1


async def test_refused_credentials_are_an_authentication_error_without_the_token(
    sms_metadata: dict[str, Any], twilio_api: FakeTwilioApi
) -> None:
    twilio_api.script = [twilio_error(401, 20003, "Authenticate")]
    async with TwilioSmsBinding(sms_metadata, name="sms") as sms:
        with pytest.raises(AuthenticationError) as info:
            await sms.invoke("create", "hi")
    assert "Twilio error 20003 (HTTP 401)" in str(info.value)
    assert AUTH_TOKEN not in str(info.value)
    assert AUTH_TOKEN not in repr(info.value)
    assert len(twilio_api.requests) == 1


async def test_the_rfc9457_error_shape_names_the_code(sms_metadata: dict[str, Any], twilio_api: FakeTwilioApi) -> None:
    problem = {
        "type": "https://www.twilio.com/docs/errors/21610",
        "title": "Attempt to send to unsubscribed recipient",
        "status": 400,
        "code": 21610,
        "detail": "The recipient replied STOP",
    }
    twilio_api.script = [Reply(400, problem)]
    async with TwilioSmsBinding(sms_metadata, name="sms") as sms:
        with pytest.raises(InvalidRequestError, match=r"Twilio error 21610 \(HTTP 400\): The recipient replied STOP"):
            await sms.invoke("create", "hi")


@pytest.mark.parametrize(
    "first", [twilio_error(429, 20429, "Too Many Requests"), twilio_error(503, 20503, "Unavailable")]
)
async def test_429_and_5xx_are_retried(sms_metadata: dict[str, Any], twilio_api: FakeTwilioApi, first: Reply) -> None:
    twilio_api.script = [first, first]
    async with TwilioSmsBinding(sms_metadata, name="sms") as sms:
        response = await sms.invoke("create", "hi")
    assert response.metadata["status"] == "queued"
    assert len(twilio_api.requests) == 3
    assert all(r.body == twilio_api.requests[0].body for r in twilio_api.requests)


async def test_retries_are_bounded_and_the_last_error_names_the_code(
    sms_metadata: dict[str, Any], twilio_api: FakeTwilioApi
) -> None:
    twilio_api.script = [twilio_error(500, 20500, "Internal Server Error")] * 10
    async with TwilioSmsBinding({**sms_metadata, "maxRetries": "2"}, name="sms") as sms:
        with pytest.raises(BackendUnavailableError) as info:
            await sms.invoke("create", "hi")
    assert "Twilio error 20500 (HTTP 500)" in str(info.value)
    assert "after 3 attempts" in str(info.value)
    assert len(twilio_api.requests) == 3


async def test_a_timeout_is_unavailable_and_not_retried(
    sms_metadata: dict[str, Any], twilio_api: FakeTwilioApi
) -> None:
    release = threading.Event()
    twilio_api.script = [Reply(201, {"sid": "SM" + "0" * 32, "status": "queued"}, hold=release)]
    try:
        async with TwilioSmsBinding({**sms_metadata, "timeout": "300ms"}, name="sms") as sms:
            with pytest.raises(BackendUnavailableError) as info:
                await sms.invoke("create", "hi")
    finally:
        release.set()
    assert "Timeout" in str(info.value)
    assert len(twilio_api.requests) == 1  # Twilio may have sent it: a retry could send it twice


async def test_the_sdk_call_does_not_block_the_event_loop(
    sms_metadata: dict[str, Any], twilio_api: FakeTwilioApi
) -> None:
    release = threading.Event()
    twilio_api.script = [Reply(201, {"sid": "SM" + "1" * 32, "status": "queued"}, hold=release)]
    async with TwilioSmsBinding(sms_metadata, name="sms") as sms:
        task = asyncio.create_task(sms.invoke("create", "hi"))
        # the loop keeps serving other awaits while the SDK's request is in flight
        assert await asyncio.to_thread(twilio_api.received.wait, 30)
        await asyncio.sleep(0)
        assert not task.done()
        release.set()
        assert (await task).metadata["sid"] == "SM" + "1" * 32


async def test_concurrent_messages_all_arrive(sms_metadata: dict[str, Any], twilio_api: FakeTwilioApi) -> None:
    async with TwilioSmsBinding(sms_metadata, name="sms") as sms:
        responses = await asyncio.gather(*(sms.invoke("create", f"m{i}") for i in range(20)))
    assert len({r.metadata["sid"] for r in responses}) == 20
    assert sorted(r.form["Body"][0] for r in twilio_api.requests) == sorted(f"m{i}" for i in range(20))


async def test_the_auth_token_is_in_no_log_line_error_or_repr(
    sms_metadata: dict[str, Any], twilio_api: FakeTwilioApi, caplog: pytest.LogCaptureFixture
) -> None:
    twilio_api.script = [twilio_error(401, 20003, "Authenticate"), twilio_error(500, 20500, "oops")]
    errors: list[str] = []
    with caplog.at_level(logging.DEBUG):
        sms = TwilioSmsBinding({**sms_metadata, "maxRetries": "0"}, name="sms")
        errors.append(repr(sms))
        errors.append(repr(sms.meta))
        async with sms:
            for _ in range(2):
                try:
                    await sms.invoke("create", "hi")
                except Exception as exc:
                    errors += [str(exc), repr(exc), str(exc.__cause__)]
            await sms.invoke("create", "hi")
    assert len(errors) == 8
    assert caplog.records, "the SDK's request log was captured"
    assert any("Twilio API Request" in r.getMessage() for r in caplog.records)
    for text in [*errors, caplog.text]:
        assert AUTH_TOKEN not in text
        assert base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode() not in text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"accountSid": None}, "accountSid"),
        ({"authToken": None}, "authToken"),
        ({"fromNumber": None}, "fromNumber"),
        ({"apiBaseUrl": "api.twilio.com"}, "apiBaseUrl"),
        ({"apiBaseUrl": "http://127.0.0.1:1/v1"}, "apiBaseUrl"),
        ({"timeout": "0s"}, "timeout"),
        ({"maxRetries": "99"}, "maxRetries"),
    ],
)
def test_bad_metadata_names_the_field(sms_metadata: dict[str, Any], change: dict[str, Any], field: str) -> None:
    md = {k: v for k, v in {**sms_metadata, **change}.items() if v is not None}
    with pytest.raises(ComponentConfigError) as info:
        TwilioSmsBinding(md, name="sms")
    assert field in str(info.value)
    assert AUTH_TOKEN not in str(info.value)


def test_message_body_rules() -> None:
    assert message_body(b'"x"') == "x"
    assert message_body(b'["x"]') == '["x"]'
    with pytest.raises(InvalidRequestError, match="UTF-8"):
        message_body(b"\xff")

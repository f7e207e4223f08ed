"""``bindings.twilio.sms``: send SMS through Twilio's Messages API (the ``twilio`` SDK).

Operation ``create`` sends one message. The invocation's data is the message body: text, or a JSON
string, which is sent unquoted (``"hello"`` sends ``hello``; any other JSON is sent as its text).
The recipient is the request metadata ``toNumber``, else the component's ``toNumber``; the sender
is ``fromNumber``. The response carries the message ``sid`` and ``status`` (``queued`` when Twilio
accepted it) in its metadata and as its JSON data.

Guarantees and errors:

- Twilio's answer decides: a 4xx becomes an error naming Twilio's error code and message —
  :class:`~blockyard.errors.AuthenticationError` for 401/403 (code 20003),
  :class:`~blockyard.errors.InvalidRequestError` for the others (21211 invalid ``To``, ...) — and is
  never retried. A 429 or 5xx is retried ``maxRetries`` times (default 3) with exponential backoff
  and jitter from ``retryBackoff``; when the last attempt fails too, a
  :class:`~blockyard.errors.BackendUnavailableError` names the code. A request that times out
  (``timeout``, default 30 s) or cannot connect is a ``BackendUnavailableError`` and is not
  retried: Twilio may already have sent the message, and a retry could send it twice.
- A missing recipient or an empty body is an :class:`~blockyard.errors.InvalidRequestError` before
  any request is sent.
- The SDK's HTTP client blocks; every request runs in a worker thread of the binding's own (one
  ``twilio.rest.Client`` per thread), so the event loop never waits on Twilio.
- The auth token is sensitive: it is sent only as the Basic-auth password and never appears in
  reprs, errors or logs (the SDK logs requests without their Authorization header).

``apiBaseUrl`` (Blockyard's own field) replaces ``https://api.twilio.com``: point it at a Twilio-shaped
test server; the conformance case points it at the launcher's ``twilio`` capture server.

Example::

    import asyncio
    from blockyard_twilio.sms import TwilioSmsBinding

    async def main() -> None:
        md = {"accountSid": "AC0123456789abcdef0123456789abcdef", "authToken": "...", "fromNumber": "+15005550006"}
        async with TwilioSmsBinding(md, name="sms") as sms:
            sent = await sms.invoke("create", "Your order has shipped", metadata={"toNumber": "+14155550100"})
            print(sent.metadata["sid"], sent.metadata["status"])

    asyncio.run(main())

Component YAML::

    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata: {name: sms}
    spec:
      type: bindings.twilio.sms
      version: v1
      metadata:
        - {name: accountSid, value: "AC0123456789abcdef0123456789abcdef"}
        - {name: authToken, secretKeyRef: {name: twilio, key: authToken}}
        - {name: fromNumber, value: "+15005550006"}
        - {name: toNumber, value: "+14155550100"}   # optional: request metadata toNumber overrides it
        - {name: timeout, value: 30s}
"""

from __future__ import annotations

import asyncio
import builtins
import importlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import field_validator

from blockyard.bindings import BindingResponse, InvokeRequest, OutputBinding
from blockyard.errors import (
    AuthenticationError,
    BackendUnavailableError,
    BlockyardError,
    InvalidRequestError,
)
from blockyard.metadata import ComponentMetadata, Duration, SecretStr, meta

__all__ = ["TwilioSmsBinding", "TwilioSmsMetadata"]

TWILIO_API = "https://api.twilio.com"
TO_NUMBER = "toNumber"
_WORKERS = 8


class TwilioSmsMetadata(ComponentMetadata):
    """Metadata of ``bindings.twilio.sms`` (Dapr's names, case-insensitive)."""

    account_sid: str = meta(description="Twilio account SID", example="AC0123456789abcdef0123456789abcdef")
    auth_token: SecretStr = meta(description="Twilio auth token (sensitive)")
    from_number: str = meta(description="sender phone number (E.164)", example="+15005550006")
    to_number: str | None = meta(
        None, description="default recipient (E.164); request metadata toNumber overrides it", example="+14155550100"
    )
    timeout: Duration = meta(timedelta(seconds=30), description="timeout of one HTTP request to Twilio", example="30s")
    max_retries: int = meta(3, description="retries of a request Twilio answers with 429 or 5xx (0: none)", example="3")
    retry_backoff: Duration = meta(
        timedelta(milliseconds=500), description="first backoff between retries (doubles each time, with jitter)"
    )
    api_base_url: str = meta(
        TWILIO_API, description="base URL of the Twilio REST API (a Twilio-shaped test server in tests)"
    )

    @field_validator("account_sid", "from_number")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("expected a non-empty string")
        return value

    @field_validator("max_retries")
    @classmethod
    def _check_retries(cls, value: int) -> int:
        if not 0 <= value <= 10:
            raise ValueError("expected an integer from 0 to 10")
        return value

    @field_validator("timeout")
    @classmethod
    def _check_timeout(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("expected a positive duration such as '30s'")
        return value

    @field_validator("api_base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise ValueError("expected an http(s) base URL without a path, such as 'https://api.twilio.com'")
        return f"{parts.scheme}://{parts.netloc}"


class _Retryable(Exception):
    """A 429 or 5xx answer: worth another attempt."""

    def __init__(self, error: BlockyardError) -> None:
        super().__init__(str(error))
        self.error = error


def message_body(data: bytes | None) -> str:
    """The SMS text of an invocation's data: a JSON string unquoted, anything else as UTF-8 text.

    :raises InvalidRequestError: no data, an empty body, or data that is not UTF-8.
    """
    if not data:
        raise InvalidRequestError("the message body (the invocation's data) is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequestError("the message body must be UTF-8 text") from None
    if text.startswith('"'):
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = None
        if isinstance(decoded, str):
            text = decoded
    if not text:
        raise InvalidRequestError("the message body (the invocation's data) is empty")
    return text


class TwilioSmsBinding(OutputBinding):
    """Output binding sending SMS through Twilio; see the module docstring for the contract."""

    type: ClassVar[str] = "bindings.twilio.sms"
    Metadata = TwilioSmsMetadata
    operations: ClassVar[frozenset[str]] = frozenset({"create"})

    def __init__(self, metadata: Any = None, *, name: str | None = None) -> None:
        super().__init__(metadata, name=name)
        self.meta: TwilioSmsMetadata
        self._executor: ThreadPoolExecutor | None = None
        self._local = threading.local()

    async def _init(self) -> None:
        # the SDK's first import takes a while: off the loop, and at init rather than at the first message
        await asyncio.to_thread(importlib.import_module, "twilio.rest")
        self._executor = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix=f"twilio-{self.name}")

    async def _close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True)

    def _translate_error(self, exc: BaseException) -> builtins.type[BlockyardError] | BlockyardError | None:
        from twilio.base.exceptions import TwilioException

        if isinstance(exc, TwilioException):
            return self._twilio_error(exc)
        return None  # requests' timeouts and connection errors are OSError subclasses: unavailable

    # -- the operation -----------------------------------------------------------------------------

    async def _invoke(self, req: InvokeRequest) -> BindingResponse:
        to = (req.metadata.get(TO_NUMBER) or self.meta.to_number or "").strip()
        if not to:
            raise InvalidRequestError(
                f"no recipient: give the request metadata {TO_NUMBER!r} or the component's {TO_NUMBER!r}"
            )
        body = message_body(req.data)
        message = await self._with_retries(to, body)
        sid, status = str(message.sid), str(message.status)
        data = json.dumps({"sid": sid, "status": status}).encode()
        return BindingResponse(data, {"sid": sid, "status": status}, "application/json")

    async def _with_retries(self, to: str, body: str) -> Any:
        from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential, wait_random

        first = self.meta.retry_backoff.total_seconds()
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_Retryable),
            stop=stop_after_attempt(self.meta.max_retries + 1),
            wait=wait_exponential(multiplier=first, max=max(first, 30.0)) + wait_random(0, first),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._send(to, body)
        except _Retryable as exc:
            attempts = self.meta.max_retries + 1
            raise BackendUnavailableError(f"{exc.error.message} (after {attempts} attempts)") from exc.__cause__
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    async def _send(self, to: str, body: str) -> Any:
        if self._executor is None:
            raise BackendUnavailableError("the binding is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._create_message, to, body)
        except Exception as exc:
            from twilio.base.exceptions import TwilioException

            if isinstance(exc, TwilioException):
                error = self._twilio_error(exc)
                if isinstance(error, BackendUnavailableError):
                    raise _Retryable(error) from exc
            raise

    def _create_message(self, to: str, body: str) -> Any:
        """In a worker thread: send one request with this thread's client."""
        client = getattr(self._local, "client", None)
        if client is None:
            from twilio.http.http_client import TwilioHttpClient
            from twilio.rest import Client

            md = self.meta
            http = TwilioHttpClient(timeout=md.timeout.total_seconds())
            client = Client(md.account_sid, md.auth_token.get_secret_value(), http_client=http)
            client.api.base_url = md.api_base_url
            self._local.client = client
        return client.messages.create(to=to, from_=self.meta.from_number, body=body)

    def _twilio_error(self, exc: Any) -> BlockyardError:
        """A Blockyard error naming Twilio's code, status and message (never the auth token)."""
        status = int(getattr(exc, "status", 0) or 0)
        code = getattr(exc, "code", None) or status
        text = getattr(exc, "detail", None) or getattr(exc, "title", None) or getattr(exc, "msg", "") or ""
        text = str(text).removeprefix("Unable to create record: ")
        message = self._scrub(f"Twilio error {code} (HTTP {status}): {text}".rstrip(": "))
        if status in (401, 403):
            return AuthenticationError(message, component=self.name)
        if status == 429 or status >= 500:
            return BackendUnavailableError(message, component=self.name)
        return InvalidRequestError(message, component=self.name)

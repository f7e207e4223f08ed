"""``bindings.http``: an output binding that sends HTTP requests (on ``httpx.AsyncClient``).

Operations: ``create`` (= ``POST``), ``get``, ``post``, ``put``, ``patch``, ``delete``, ``head``,
``options``. The request goes to ``url`` with request metadata ``path`` appended
(``url.rstrip("/") + "/" + path.lstrip("/")``); ``data`` is the body. Every other request metadata
entry becomes a request header, except ``errorIfNot2XX``, which overrides the component's setting
for that call. A body without a ``Content-Type`` header is sent as
``application/json; charset=utf-8``, as Dapr does. With ``securityToken`` set, its value is sent
in the ``securityTokenHeader`` header (then required); it never appears in logs or errors.

The response: ``data`` is the body (``None`` for ``HEAD``), ``content_type`` its ``Content-Type``,
and ``metadata`` holds ``statusCode`` plus every response header (canonical case, repeated
headers joined with ``", "``). With ``errorIfNot2XX`` (default true) a status outside 200-299
raises :class:`~blockyard.errors.BackendError` naming the status. A body larger than
``maxResponseBodySize`` (default ``100Mi``) raises :class:`~blockyard.errors.BackendError` without
being read further. Connection failures and ``responseTimeout`` raise
:class:`~blockyard.errors.BackendUnavailableError`.

Example::

    import asyncio
    from blockyard_local.bindings_http import HttpBinding

    async def main() -> None:
        async with HttpBinding({"url": "https://example.org", "responseTimeout": "5s"}) as http:
            resp = await http.invoke("get", metadata={"path": "/", "Accept": "text/html"})
            print(resp.metadata["statusCode"], len(resp.data or b""))

    asyncio.run(main())
"""

from __future__ import annotations

import builtins
from datetime import timedelta
from typing import Any, ClassVar

import httpx
from pydantic import model_validator

from blockyard.bindings import BindingResponse, InvokeRequest, OutputBinding
from blockyard.errors import BackendError, BackendUnavailableError, BlockyardError, InvalidRequestError
from blockyard.metadata import ByteSize, ComponentMetadata, Duration, SecretStr, meta, parse_bool

__all__ = ["HttpBinding", "HttpBindingMetadata"]

_METHODS = {
    "create": "POST",
    "get": "GET",
    "post": "POST",
    "put": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
    "head": "HEAD",
    "options": "OPTIONS",
}
_CONTROL_METADATA = {"path", "errorif2xx", "errorifnot2xx"}
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class HttpBindingMetadata(ComponentMetadata):
    """Metadata of ``bindings.http``."""

    url: str = meta(description="Base URL the requests are sent to.", example="http://localhost:8080/api")
    response_timeout: Duration | None = meta(
        None, description="Longest wait for a whole response; unset means no limit.", example="10s"
    )
    max_response_body_size: ByteSize = meta(
        100 * 1024 * 1024, description="Largest response body accepted.", example="100Mi"
    )
    security_token: SecretStr | None = meta(None, description="Token sent with every request.")
    security_token_header: str | None = meta(
        None, description="Header carrying securityToken (required with it).", example="Authorization"
    )
    error_if_not_2xx: bool = meta(True, description="Raise when the response status is not 2xx.", alias="errorIfNot2XX")

    unsupported: ClassVar[dict[str, str]] = {
        "MTLSRootCA": "mutual TLS is not implemented",
        "MTLSClientCert": "mutual TLS is not implemented",
        "MTLSClientKey": "mutual TLS is not implemented",
        "MTLSRenegotiation": "mutual TLS is not implemented",
    }

    @model_validator(mode="after")
    def _check(self) -> HttpBindingMetadata:
        if not self.url.lower().startswith(("http://", "https://")):
            raise ValueError("field 'url': expected an http:// or https:// URL")
        if self.security_token is not None and not self.security_token_header:
            raise ValueError("field 'securityTokenHeader' is required when 'securityToken' is set")
        return self


def _canonical(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


class HttpBinding(OutputBinding):
    """The ``bindings.http`` output binding. See the module docstring."""

    type: ClassVar[str] = "bindings.http"
    Metadata = HttpBindingMetadata
    operations: ClassVar[frozenset[str]] = frozenset(_METHODS)

    _client: httpx.AsyncClient | None = None

    async def _init(self) -> None:
        timeout: timedelta | None = self.meta.response_timeout
        self._client = httpx.AsyncClient(
            timeout=timeout.total_seconds() if timeout is not None else None, follow_redirects=False
        )

    async def _close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _translate_error(self, exc: BaseException) -> builtins.type[BlockyardError] | None:
        if isinstance(exc, (httpx.TransportError, httpx.TimeoutException)):
            return BackendUnavailableError
        if isinstance(exc, httpx.HTTPError):
            return BackendError
        return None

    def _request_parts(self, req: InvokeRequest) -> tuple[str, dict[str, str], bool]:
        url: str = self.meta.url
        path = req.metadata.get("path")
        if path:
            url = url.rstrip("/") + "/" + path.lstrip("/")
        error_if_not_2xx: bool = self.meta.error_if_not_2xx
        headers: dict[str, str] = {}
        for key, value in req.metadata.items():
            low = key.lower()
            if low == "errorifnot2xx":
                try:
                    error_if_not_2xx = parse_bool(value)
                except ValueError:
                    raise InvalidRequestError("request metadata 'errorIfNot2XX' must be 'true' or 'false'") from None
            elif low not in _CONTROL_METADATA:
                if not key or not set(key) <= _TOKEN_CHARS:
                    raise InvalidRequestError(f"request metadata {key!r} is not a valid HTTP header name")
                if "\r" in value or "\n" in value:
                    raise InvalidRequestError(f"request metadata {key!r} holds a line break")
                headers[key] = value
        if req.data and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json; charset=utf-8"
        token = self.meta.security_token
        if token is not None:
            headers[self.meta.security_token_header] = token.get_secret_value()
        return url, headers, error_if_not_2xx

    async def _invoke(self, req: InvokeRequest) -> BindingResponse:
        if self._client is None:
            raise BackendUnavailableError("the HTTP client is closed")
        method = _METHODS[req.operation]
        url, headers, error_if_not_2xx = self._request_parts(req)
        limit: int = self.meta.max_response_body_size
        request = self._client.build_request(method, url, content=req.data, headers=headers)
        response = await self._client.send(request, stream=True)
        try:
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise self._too_large(limit)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise self._too_large(limit)
                chunks.append(chunk)
        finally:
            await response.aclose()
        body = b"".join(chunks)
        if error_if_not_2xx and not 200 <= response.status_code < 300:
            raise BackendError(f"{method} returned HTTP status {response.status_code}")
        metadata = self._response_metadata(response)
        return BindingResponse(None if method == "HEAD" else body, metadata, response.headers.get("content-type"))

    @staticmethod
    def _too_large(limit: int) -> BackendError:
        return BackendError(f"the response body is larger than maxResponseBodySize ({limit} bytes)")

    @staticmethod
    def _response_metadata(response: httpx.Response) -> dict[str, str]:
        grouped: dict[str, list[str]] = {}
        for name, value in response.headers.multi_items():
            grouped.setdefault(_canonical(name), []).append(value)
        metadata: dict[str, Any] = {k: ", ".join(v) for k, v in grouped.items()}
        metadata["statusCode"] = str(response.status_code)
        return metadata

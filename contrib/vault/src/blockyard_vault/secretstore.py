"""``secretstores.hashicorp.vault``: secrets from HashiCorp Vault's KV engine (Vault-compatible, tested on OpenBao).

::

    import asyncio
    from blockyard_vault.secretstore import VaultSecretStore

    async def main() -> None:
        meta = {"vaultAddr": "http://127.0.0.1:8200", "vaultToken": "root"}
        async with VaultSecretStore(meta, name="vault") as vault:
            print(await vault.get_secret("conftestsecret"))        # {'conftestsecret': 'abcd'}
            print(await vault.get_secret("versioned", metadata={"version_id": "1"}))
            print(sorted(await vault.bulk_get_secrets()))          # every secret under secret/dapr/

    asyncio.run(main())

Or as a Dapr Component YAML (``blockyard.open(folder)``)::

    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata: {name: vault}
    spec:
      type: secretstores.hashicorp.vault
      version: v1
      metadata:
        - {name: vaultAddr, value: "https://vault.internal:8200"}
        - {name: vaultTokenMountPath, value: /var/run/secrets/vault/token}
        - {name: caCert, value: /etc/ssl/vault-ca.pem}

What it does:

- A secret ``name`` is read from ``<enginePath>/<vaultKVPrefix>/<name>`` (no prefix when
  ``vaultKVUsePrefix`` is false). ``init()`` asks Vault which engine is mounted at ``enginePath``
  (``sys/internal/ui/mounts``) and speaks KV v2 or KV v1 accordingly; any other engine is a
  :class:`~blockyard.errors.ComponentConfigError`.
- ``vaultValueType: map`` (default) returns the secret's keys as they are
  (``MULTIPLE_KEY_VALUES_PER_SECRET``). ``text`` returns ``{name: <the secret's data as JSON text>}``,
  as Dapr does, and declares no features beyond ``SECRET_VERSIONS``.
- Values that are not strings (numbers, booleans, null, lists, objects) are returned as their
  compact JSON text: ``1`` -> ``"1"``, ``true`` -> ``"true"``, ``{"a": [1]}`` -> ``'{"a":[1]}'``.
  (Dapr fails the whole read on such values.)
- ``version_id`` request metadata (a positive integer; ``0`` means the latest) reads an earlier
  version on KV v2 (``SECRET_VERSIONS``). On a KV v1 mount the feature is withdrawn at ``init()``
  and ``version_id`` raises :class:`~blockyard.errors.NotSupportedError`; ``version_stage`` always
  does (Vault has no stages).
- ``bulk_get_secrets()`` lists the prefix recursively (``sub/name`` for nested secrets) and reads
  every secret concurrently; secrets whose latest (or requested) version is deleted are left out.
- Errors: a refused token (HTTP 401/403) is :class:`~blockyard.errors.AuthenticationError`; a
  missing secret, a deleted or missing version is :class:`~blockyard.errors.SecretNotFoundError`;
  a sealed server (503), a refused connection or no answer within ``timeout`` (default 5 s) is
  :class:`~blockyard.errors.BackendUnavailableError`. Tokens and secret values never appear in
  messages, reprs or logs.
- hvac is blocking: every call runs in the component's own small thread pool (8 threads) over one
  pooled ``requests`` session, never on the event loop.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import json
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, TypeVar

import hvac
import hvac.exceptions
import requests

from blockyard.errors import (
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    BlockyardError,
    ComponentConfigError,
    InvalidRequestError,
    NotSupportedError,
    SecretNotFoundError,
)
from blockyard.secretstores import SecretStore, SecretStoreFeature
from blockyard_vault.metadata import VaultMetadata
from blockyard_vault.transport import build_session

__all__ = ["VaultSecretStore"]

_T = TypeVar("_T")
_WORKERS = 8
_MULTI = re.compile(r"\d+ errors? occurred:")
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")
_STATUS = {
    hvac.exceptions.InvalidRequest: 400,
    hvac.exceptions.Unauthorized: 401,
    hvac.exceptions.Forbidden: 403,
    hvac.exceptions.InvalidPath: 404,
    hvac.exceptions.UnsupportedOperation: 405,
    hvac.exceptions.PreconditionFailed: 412,
    hvac.exceptions.RateLimitExceeded: 429,
    hvac.exceptions.InternalServerError: 500,
    hvac.exceptions.VaultNotInitialized: 501,
    hvac.exceptions.BadGateway: 502,
    hvac.exceptions.VaultDown: 503,
}
_ALL_FEATURES = frozenset({SecretStoreFeature.MULTIPLE_KEY_VALUES_PER_SECRET, SecretStoreFeature.SECRET_VERSIONS})


def _as_text(value: Any) -> str:
    """A secret value as a string: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _vault_errors(exc: hvac.exceptions.VaultError) -> str:
    """Vault's own error strings (never values), shortened; or the HTTP status alone."""
    errors = exc.errors if isinstance(exc.errors, list) else [exc.errors] if exc.errors else []
    text = "; ".join(str(e) for e in errors if e)
    text = _MULTI.sub("", text).replace("* ", "")
    return " ".join(text.split())[:300]


class VaultSecretStore(SecretStore):
    """Read-only secret store over Vault's KV v1 or v2 engine.

    Class-level ``features`` are those of the default (``map``, KV v2); an instance narrows them:
    ``text`` drops ``MULTIPLE_KEY_VALUES_PER_SECRET``, a KV v1 mount drops ``SECRET_VERSIONS``.
    """

    type: ClassVar[str] = "secretstores.hashicorp.vault"
    Metadata: ClassVar[builtins.type[VaultMetadata]] = VaultMetadata
    features: ClassVar[frozenset[SecretStoreFeature]] = _ALL_FEATURES

    meta: VaultMetadata

    def __init__(self, metadata: Mapping[str, Any] | VaultMetadata | None = None, *, name: str | None = None) -> None:
        super().__init__(metadata, name=name)
        if self.meta.vault_value_type == "text":
            self._narrow_features(_ALL_FEATURES - {SecretStoreFeature.MULTIPLE_KEY_VALUES_PER_SECRET})
        self._client: hvac.Client | None = None
        self._session: requests.Session | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._kv_version = 2
        self._mount = self.meta.engine_path
        self._base = ""  # path inside the mount under which secret names live

    # -- lifecycle ---------------------------------------------------------------------------

    async def _init(self) -> None:
        md = self.meta
        token = self._read_token()
        session, verify = build_session(md, pool_size=_WORKERS, component=self.name)
        if md.skip_verify:
            self.log.warning("component %r: skipVerify is set; Vault's TLS certificate is not verified", self.name)
        self._session = session
        self._client = hvac.Client(
            url=md.vault_addr, token=token, verify=verify, timeout=md.timeout_seconds, session=session
        )
        self._executor = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="blockyard-vault")
        try:
            await self._run(self._detect_mount, what=f"mount {md.engine_path!r}")
        except BaseException:
            self._release()
            raise
        if self._kv_version == 1:
            self._narrow_features(self.features - {SecretStoreFeature.SECRET_VERSIONS})
        self.log.info(
            "component %r: Vault at %s, KV v%d engine %r, prefix %r",
            self.name,
            md.vault_addr,
            self._kv_version,
            self._mount,
            self._base,
        )

    async def _close(self) -> None:
        self._release()

    def _release(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        if self._session is not None:
            self._session.close()
            self._session = None
        self._client = None

    async def _ping(self) -> None:
        await self._run(self._health, what="health")

    def _read_token(self) -> str:
        md = self.meta
        if md.vault_token is not None and md.vault_token.get_secret_value():
            return md.vault_token.get_secret_value().strip()
        path = md.vault_token_mount_path or ""
        try:
            with open(path, encoding="utf-8") as fh:
                token = fh.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or type(exc).__name__
            raise ComponentConfigError(
                f"field 'vaultTokenMountPath': cannot read the token file {path!r} ({why})",
                component=self.name,
                field="vaultTokenMountPath",
            ) from None
        if not token:
            raise ComponentConfigError(
                f"field 'vaultTokenMountPath': the token file {path!r} is empty",
                component=self.name,
                field="vaultTokenMountPath",
            )
        return token

    # -- blocking calls (run in the thread pool) ---------------------------------------------

    def _detect_mount(self) -> None:
        assert self._client is not None
        engine = self.meta.engine_path
        try:
            info = self._client.adapter.get(f"/v1/sys/internal/ui/mounts/{engine}")
        except hvac.exceptions.Forbidden:
            # Vault answers 403 both for a bad token and for a mount the token cannot see.
            self._client.adapter.get("/v1/auth/token/lookup-self")  # raises Forbidden if the token is bad
            raise ComponentConfigError(
                f"field 'enginePath': no secrets engine the token can access is mounted at {engine!r}",
                component=self.name,
                field="enginePath",
            ) from None
        data = info.get("data") or {}
        kind = data.get("type")
        if kind not in ("kv", "generic"):
            raise ComponentConfigError(
                f"field 'enginePath': {engine!r} is a {kind or 'unknown'!r} engine; expected a KV (v1 or v2) engine",
                component=self.name,
                field="enginePath",
            )
        options = data.get("options") or {}
        self._kv_version = 2 if kind == "kv" and str(options.get("version", "1")) == "2" else 1
        mount = str(data.get("path") or engine).strip("/")
        rest = engine[len(mount) :].strip("/") if engine.startswith(mount) else ""
        self._mount = mount
        self._base = "/".join(p for p in (rest, self.meta.kv_prefix) if p)

    def _health(self) -> None:
        assert self._client is not None
        self._client.adapter.get("/v1/sys/health", params={"standbyok": "true", "perfstandbyok": "true"})

    def _path(self, name: str) -> str:
        return f"{self._base}/{name}" if self._base else name

    def _read(self, name: str, version: int) -> dict[str, Any]:
        """The secret's data; raises :class:`SecretNotFoundError` if absent, deleted or destroyed."""
        assert self._client is not None
        path = self._path(name)
        try:
            if self._kv_version == 2:
                resp = self._client.secrets.kv.v2.read_secret_version(
                    path=path, version=version or None, mount_point=self._mount, raise_on_deleted_version=True
                )
                data = (resp.get("data") or {}).get("data")
            else:
                resp = self._client.secrets.kv.v1.read_secret(path=path, mount_point=self._mount)
                data = resp.get("data")
        except hvac.exceptions.InvalidPath:
            data = None
        if data is None:
            where = f"{self._mount}/{path}"
            raise SecretNotFoundError(
                f"no secret at {where!r}" + (f" with version {version}" if version else "") + " (or it is deleted)",
                key=name,
            )
        return dict(data)

    def _list(self, folder: str) -> list[str]:
        """Every secret name under ``folder`` (relative to the prefix), recursively."""
        assert self._client is not None
        kv = self._client.secrets.kv.v2 if self._kv_version == 2 else self._client.secrets.kv.v1
        try:
            resp = kv.list_secrets(path=self._path(folder).rstrip("/"), mount_point=self._mount)
        except hvac.exceptions.InvalidPath:
            return []
        names: list[str] = []
        for key in (resp.get("data") or {}).get("keys") or []:
            if key.endswith("/"):
                names.extend(self._list(folder + key))
            else:
                names.append(folder + key)
        return names

    # -- the contract ------------------------------------------------------------------------

    async def _get_secret(self, name: str, metadata: Mapping[str, str]) -> dict[str, str]:
        version = self._version(metadata)
        data = await self._run(self._read, name, version, what=f"secret {name!r}")
        return self._shape(name, data)

    async def _bulk_get_secrets(self, metadata: Mapping[str, str]) -> dict[str, dict[str, str]]:
        version = self._version(metadata)
        names = await self._run(self._list, "", what=f"the secrets under {self._mount}/{self._base}")

        async def one(name: str) -> tuple[str, dict[str, str] | None]:
            try:
                data = await self._run(self._read, name, version, what=f"secret {name!r}")
            except SecretNotFoundError:
                return name, None  # deleted, or no such version: left out, as in Dapr
            return name, self._shape(name, data)

        results = await asyncio.gather(*(one(n) for n in names))
        return {name: value for name, value in sorted(results) if value is not None}

    def _shape(self, name: str, data: dict[str, Any]) -> dict[str, str]:
        if self.meta.vault_value_type == "text":
            return {name: _as_text(data)}
        return {k: _as_text(v) for k, v in data.items()}

    def _version(self, metadata: Mapping[str, str]) -> int:
        if "version_stage" in metadata:
            raise NotSupportedError("metadata 'version_stage' is not supported by Vault; use 'version_id'")
        raw = metadata.get("version_id")
        if raw is None or raw == "":
            return 0
        try:
            version = int(str(raw).strip())
        except ValueError:
            version = -1
        if version < 0:
            raise InvalidRequestError("metadata 'version_id' must be a version number (1, 2, ...; 0 = latest)")
        return version

    # -- threading and errors ----------------------------------------------------------------

    async def _run(self, fn: Callable[..., _T], *args: Any, what: str) -> _T:
        if self._executor is None:
            raise BackendUnavailableError("the Vault client is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, functools.partial(fn, *args))
        except BlockyardError:
            raise
        except Exception as exc:
            err = self._describe(exc, what)
            if err is None:
                raise
            raise err from exc

    def _describe(self, exc: BaseException, what: str) -> BlockyardError | None:
        """A clear Blockyard error for an hvac / requests exception; never includes the token."""
        addr = self.meta.vault_addr
        if isinstance(exc, hvac.exceptions.VaultError):
            status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), None)
            detail = _vault_errors(exc)
            label = f"HTTP {status}" if status else type(exc).__name__
            label += f": {detail}" if detail else ""
            if status in (401, 403):
                return AuthenticationError(
                    f"Vault refused the token for {what} ({label}); check vaultToken / vaultTokenMountPath "
                    "and the token's policy"
                )
            if status == 404:
                return SecretNotFoundError(f"{what} not found ({label})")
            if status in (501, 503):
                return BackendUnavailableError(f"Vault at {addr} is sealed or not ready ({label})")
            if status == 400:
                return InvalidRequestError(f"Vault rejected the request for {what} ({label})")
            return BackendError(f"Vault failed on {what} ({label})")
        if isinstance(exc, requests.exceptions.SSLError):
            return BackendUnavailableError(
                f"TLS handshake with Vault at {addr} failed ({self._reason(exc)}); "
                "check caCert / caPath / caPem / tlsServerName / skipVerify"
            )
        if isinstance(exc, requests.exceptions.Timeout):
            return BackendUnavailableError(
                f"Vault at {addr} did not answer within {self.meta.timeout_seconds:g}s (timeout)"
            )
        if isinstance(exc, (requests.exceptions.ConnectionError, OSError)):
            return BackendUnavailableError(f"cannot connect to Vault at {addr} ({self._reason(exc)})")
        return None

    @staticmethod
    def _reason(exc: BaseException) -> str:
        found = _ERRNO.search(str(exc))
        if found:
            return found.group(0).strip()
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            return "certificate verify failed"
        return type(exc).__name__

    def _translate_error(self, exc: BaseException) -> builtins.type[BlockyardError] | None:
        if isinstance(exc, (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized)):
            return AuthenticationError
        if isinstance(exc, hvac.exceptions.InvalidPath):
            return SecretNotFoundError
        if isinstance(exc, (hvac.exceptions.VaultDown, requests.exceptions.RequestException)):
            return BackendUnavailableError
        return None

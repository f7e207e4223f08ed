"""``secretstores.local.file``: secrets from a JSON file, for development and tests.

The file is read once, at ``init()``. Two layouts, as in Dapr:

- default (``multiValued: false``): the whole document is flattened; a nested value becomes the
  secret ``a<sep>b<sep>c`` (``nestedSeparator``, default ``:``; list items are indexed
  ``list:0``), and each secret has one key, its own name: ``{"db:password": "..."}``.
- ``multiValued: true``: each top-level key is one secret; a string gives ``{name: value}``, an
  object gives its (flattened) key/value pairs. The store then declares
  ``MULTIPLE_KEY_VALUES_PER_SECRET`` (the class declares it; an instance without
  ``multiValued`` narrows its ``features`` to none).

Numbers and booleans are returned as their JSON text (``3``, ``true``); ``null`` as ``""``.
A missing secret raises :class:`~blockyard.errors.SecretNotFoundError`. An unreadable file or one
that is not a JSON object raises :class:`~blockyard.errors.ComponentConfigError` at ``init()``,
naming the file but never quoting its content.

Example::

    import asyncio, json, pathlib, tempfile
    from blockyard_local.secretstores_file import LocalFileSecretStore

    async def main() -> None:
        path = pathlib.Path(tempfile.mkdtemp()) / "secrets.json"
        path.write_text(json.dumps({"db": {"password": "s3cret"}}))
        async with LocalFileSecretStore({"secretsFile": str(path)}) as store:
            print(await store.get_secret("db:password"))   # {'db:password': 's3cret'}

    asyncio.run(main())
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from blockyard.errors import ComponentConfigError, SecretNotFoundError
from blockyard.metadata import ComponentMetadata, meta
from blockyard.secretstores import SecretStore, SecretStoreFeature

__all__ = ["LocalFileSecretMetadata", "LocalFileSecretStore"]


class LocalFileSecretMetadata(ComponentMetadata):
    """Metadata of ``secretstores.local.file``."""

    secrets_file: str = meta(description="Path of the JSON file holding the secrets.", example="secrets.json")
    nested_separator: str = meta(":", description="Joins the keys of nested values into secret names.")
    multi_valued: bool = meta(False, description="Each top-level key is one secret with several key/value pairs.")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value)


def _flatten(value: Any, prefix: str, sep: str, out: dict[str, str]) -> dict[str, str]:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(v, f"{prefix}{sep}{k}" if prefix else str(k), sep, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _flatten(v, f"{prefix}{sep}{i}" if prefix else str(i), sep, out)
    else:
        out[prefix] = _text(value)
    return out


class LocalFileSecretStore(SecretStore):
    """The ``secretstores.local.file`` store. See the module docstring."""

    type: ClassVar[str] = "secretstores.local.file"
    Metadata = LocalFileSecretMetadata
    #: The most it can declare; an instance without ``multiValued`` narrows it to none.
    features: ClassVar[frozenset[SecretStoreFeature]] = frozenset({SecretStoreFeature.MULTIPLE_KEY_VALUES_PER_SECRET})

    def __init__(
        self, metadata: Mapping[str, Any] | ComponentMetadata | None = None, *, name: str | None = None
    ) -> None:
        super().__init__(metadata, name=name)
        self._secrets: dict[str, dict[str, str]] = {}
        if not self.meta.multi_valued:
            # Narrowed per instance: multi-valued secrets exist only in the multiValued layout.
            self._narrow_features(())

    async def _init(self) -> None:
        path = Path(self.meta.secrets_file)
        try:
            text = await asyncio.to_thread(lambda: path.expanduser().read_text(encoding="utf-8"))
        except OSError as exc:
            raise self._file_error(f"cannot be read ({type(exc).__name__}: {exc.strerror})")
        except UnicodeDecodeError:
            raise self._file_error("is not UTF-8 text")
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self._file_error(f"is not valid JSON (line {exc.lineno}, column {exc.colno})")
        if not isinstance(doc, dict):
            raise self._file_error(f"must hold a JSON object, not a {type(doc).__name__}")
        sep = self.meta.nested_separator
        if self.meta.multi_valued:
            self._secrets = {
                str(k): ({str(k): _text(v)} if not isinstance(v, (dict, list)) else _flatten(v, "", sep, {}))
                for k, v in doc.items()
            }
        else:
            self._secrets = {k: {k: v} for k, v in _flatten(doc, "", sep, {}).items()}

    def _file_error(self, what: str) -> ComponentConfigError:
        return ComponentConfigError(
            f"field 'secretsFile': the secrets file {self.meta.secrets_file!r} {what}",
            component=self.name,
            field="secretsFile",
        )

    async def _close(self) -> None:
        self._secrets = {}

    async def _get_secret(self, name: str, metadata: Mapping[str, str]) -> dict[str, str]:
        secret = self._secrets.get(name)
        if secret is None:
            raise SecretNotFoundError(f"secret {name!r} not found in the secrets file")
        return dict(secret)

    async def _bulk_get_secrets(self, metadata: Mapping[str, str]) -> dict[str, dict[str, str]]:
        return {k: dict(v) for k, v in self._secrets.items()}

"""The secret store suite: Dapr's cases plus missing secrets, multi-key secrets and versions.

Knobs: ``secret_name`` / ``expected_secret`` (``conftestsecret`` -> ``{conftestsecret: abcd}``),
``bulk_expected`` (secrets bulk get must contain), ``multi_key_secret`` /
``multi_key_expected``, ``versioned_secret`` / ``versions`` (version id -> expected value),
``hidden_secrets`` (names the backend holds but the component must never expose).
"""

from __future__ import annotations

import logging
from typing import ClassVar

import pytest

from blockyard.component import Component
from blockyard.errors import BlockyardError, NotSupportedError, SecretNotFoundError
from blockyard.secretstores import SecretStore
from blockyard_conformance.base_suite import ComponentSuite
from blockyard_conformance.marks import capability
from blockyard_conformance.support import fresh_id

__all__ = ["SecretStoreSuite"]


class SecretStoreSuite(ComponentSuite):
    """Conformance tests of a :class:`~blockyard.secretstores.SecretStore`."""

    kind: ClassVar[str] = "secretstores"
    secret_name: str = "conftestsecret"
    expected_secret: ClassVar[dict[str, str]] = {"conftestsecret": "abcd"}
    bulk_expected: ClassVar[dict[str, dict[str, str]]] = {
        "conftestsecret": {"conftestsecret": "abcd"},
        "secondsecret": {"secondsecret": "efgh"},
    }
    multi_key_secret: str = "multiplekeyvaluessecret"
    multi_key_expected: ClassVar[dict[str, str]] = {"first": "1", "second": "2", "third": "3"}
    versioned_secret: str = "versioned"
    versions: ClassVar[dict[str, dict[str, str]]] = {}
    hidden_secrets: ClassVar[list[str]] = []

    async def exercise(self, component: Component) -> None:
        assert isinstance(component, SecretStore)
        try:
            await component.get_secret(self.secret_name)
        except SecretNotFoundError:
            pass

    @pytest.fixture
    def secrets(self, component: Component) -> SecretStore:
        """The component, checked to be a secret store."""
        assert isinstance(component, SecretStore), f"{type(component).__name__} is not a SecretStore"
        return component

    @capability("core")
    async def test_get_secret(self, secrets: SecretStore) -> None:
        """The seeded secret reads back exactly."""
        assert await secrets.get_secret(self.secret_name) == self.expected_secret

    @capability("core")
    async def test_missing_secret_raises(self, secrets: SecretStore) -> None:
        """A missing secret raises SecretNotFoundError (never an empty value)."""
        with pytest.raises(SecretNotFoundError):
            await secrets.get_secret(fresh_id("blockyard-missing-"))

    @capability("core")
    async def test_bulk_get_contains_seeded_secrets(self, secrets: SecretStore) -> None:
        """bulk_get_secrets contains every seeded secret (others may be there too)."""
        everything = await secrets.bulk_get_secrets()
        for name, value in self.bulk_expected.items():
            assert everything.get(name) == value, f"bulk get lacks or changes secret {name!r}"

    @capability("core")
    async def test_bulk_get_agrees_with_get(self, secrets: SecretStore) -> None:
        """Every secret bulk_get_secrets lists reads back with get_secret under that name, unchanged."""
        everything = await secrets.bulk_get_secrets()
        for name, value in everything.items():
            try:
                got = await secrets.get_secret(name)
            except BlockyardError as exc:
                raise AssertionError(
                    f"bulk get lists {name!r}, which get_secret refuses ({type(exc).__name__})"
                ) from None
            same = got == value  # compared apart from the assert, so a failure prints no secret value
            assert same, f"bulk get and get_secret disagree on the value of {name!r}"

    @capability("core")
    async def test_hidden_secrets_stay_hidden(self, secrets: SecretStore) -> None:
        """Each name in ``hidden_secrets`` is held by the backend, yet get raises SecretNotFoundError and
        bulk get leaves it out."""
        if not self.hidden_secrets:
            pytest.skip("the case names no hidden_secrets")
        everything = await secrets.bulk_get_secrets()
        for name in self.hidden_secrets:
            with pytest.raises(SecretNotFoundError):
                await secrets.get_secret(name)
            assert name not in everything, f"bulk get exposes the hidden secret {name!r}"

    @capability("core")
    async def test_secret_values_stay_out_of_logs(self, secrets: SecretStore, caplog: pytest.LogCaptureFixture) -> None:
        """Reading secrets (and missing ones) logs no secret value; errors and reprs carry none."""
        caplog.set_level(logging.DEBUG)
        values = [v for v in self.expected_secret.values() if len(v) >= 4]
        await secrets.get_secret(self.secret_name)
        await secrets.bulk_get_secrets()
        with pytest.raises(SecretNotFoundError) as raised:
            await secrets.get_secret(fresh_id("blockyard-missing-"))
        for value in values:
            assert value not in caplog.text, "a secret value was logged"
            assert value not in str(raised.value)
            assert value not in repr(secrets)

    @capability("core")
    async def test_features_both_ways(self, secrets: SecretStore) -> None:
        """Version metadata without SECRET_VERSIONS raises NotSupportedError."""
        if "SECRET_VERSIONS" in self.declared(secrets):
            name = self.versioned_secret if self.versions else self.secret_name
            got = await secrets.get_secret(name, metadata={"version_id": self.first_version()})
            if self.versions:
                assert got == self.versions[self.first_version()], f"version {self.first_version()} of {name!r} differs"
            else:
                assert got == self.expected_secret, f"version 1 of {self.secret_name!r} differs from the seeded value"
            return
        with pytest.raises(NotSupportedError):
            await secrets.get_secret(self.secret_name, metadata={"version_id": "1"})

    def first_version(self) -> str:
        """A version id the seeded secrets have (the first in ``versions``, else ``"1"``)."""
        return next(iter(self.versions), "1")

    @capability("multi-key", "MULTIPLE_KEY_VALUES_PER_SECRET")
    async def test_multiple_key_values(self, secrets: SecretStore) -> None:
        """A multi-valued secret returns every key."""
        assert await secrets.get_secret(self.multi_key_secret) == self.multi_key_expected

    @capability("multi-key", "MULTIPLE_KEY_VALUES_PER_SECRET")
    async def test_bulk_get_keeps_multi_key_secrets_whole(self, secrets: SecretStore) -> None:
        """bulk_get_secrets returns a multi-valued secret under its own name with every key, as get does."""
        everything = await secrets.bulk_get_secrets()
        assert everything.get(self.multi_key_secret) == self.multi_key_expected, (
            f"bulk get lacks, splits or changes the multi-valued secret {self.multi_key_secret!r}"
        )
        strays = sorted(set(self.multi_key_expected) & set(everything) - {self.multi_key_secret})
        assert not strays, f"bulk get lists keys of {self.multi_key_secret!r} as secrets of their own: {strays}"

    @capability("versions", "SECRET_VERSIONS")
    async def test_versions(self, secrets: SecretStore) -> None:
        """``version_id`` reads an earlier version; a missing version raises SecretNotFoundError."""
        latest = await secrets.get_secret(self.versioned_secret)
        if self.versions:
            for version, expected in self.versions.items():
                assert await secrets.get_secret(self.versioned_secret, metadata={"version_id": version}) == expected
        else:
            first = await secrets.get_secret(self.versioned_secret, metadata={"version_id": "1"})
            assert first != latest, "version 1 of the versioned secret should differ from the latest"
        with pytest.raises(SecretNotFoundError):
            await secrets.get_secret(self.versioned_secret, metadata={"version_id": "987654"})

"""Dapr ``scopes``: an app loads only the components scoped to it (or not scoped at all)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from core_testkit import EVENTS, component, make_registry

import blockyard
import blockyard.registry
from blockyard.cli import cli
from blockyard.errors import ComponentConfigError, ComponentNotFoundError
from blockyard.registry import Registry
from blockyard.resources import validate_resources

HOST = "- {name: host, value: 'h:1'}"


def write(folder: Path, *docs: str) -> Path:
    (folder / "components.yaml").write_text("---\n".join(docs))
    return folder


def scoped_set(folder: Path) -> Path:
    return write(
        folder,
        component("shared", metadata=HOST),
        component("mine", metadata=HOST, extra="scopes: [checkout, orders]\n"),
        component("theirs", metadata=HOST, extra="scopes: [billing]\n"),
        component("events", "pubsub.mem", extra="scopes: [billing]\n"),
    )


async def test_an_app_loads_only_what_is_scoped_to_it(registry: Registry, tmp_path: Path) -> None:
    scoped_set(tmp_path)
    async with blockyard.open(tmp_path, registry=registry, app_id="orders") as yard:
        assert list(yard) == ["shared", "mine"]
        await yard.state("mine").set("k", b"v")
        assert "theirs" not in yard
    assert ("init", "theirs") not in EVENTS
    assert ("init", "events") not in EVENTS
    assert [name for event, name in EVENTS if event == "init"] == ["shared", "mine"]


async def test_asking_for_a_scoped_out_component_says_so(registry: Registry, tmp_path: Path) -> None:
    scoped_set(tmp_path)
    async with blockyard.open(tmp_path, registry=registry, app_id="orders") as yard:
        with pytest.raises(ComponentNotFoundError) as ei:
            yard.state("theirs")
        assert str(ei.value) == (
            "component 'theirs': component 'theirs' is scoped to other apps (billing), not to 'orders': "
            "it was not loaded; the yard has: mine (state.mem), shared (state.mem)"
        )
        with pytest.raises(ComponentNotFoundError, match="'events' is scoped to other apps"):
            yard.pubsub("events")


async def test_the_scoped_app_gets_its_components(registry: Registry, tmp_path: Path) -> None:
    scoped_set(tmp_path)
    async with blockyard.open(tmp_path, registry=registry, app_id="billing") as yard:
        assert sorted(yard) == ["events", "shared", "theirs"]


async def test_scopes_match_app_ids_exactly(registry: Registry, tmp_path: Path) -> None:
    scoped_set(tmp_path)
    async with blockyard.open(tmp_path, registry=registry, app_id="Billing") as yard:
        assert list(yard) == ["shared"]


async def test_without_app_id_everything_loads_with_a_warning(
    registry: Registry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    scoped_set(tmp_path)
    with caplog.at_level(logging.WARNING, logger="blockyard.yard"):
        async with blockyard.open(tmp_path, registry=registry) as yard:
            assert sorted(yard) == ["events", "mine", "shared", "theirs"]
    assert "component 'theirs' has scopes (billing) but no app_id was given" in caplog.text


async def test_a_secret_store_scoped_out_is_a_clear_error(registry: Registry, tmp_path: Path) -> None:
    write(
        tmp_path,
        component(
            "statestore",
            metadata="- {name: host, secretKeyRef: {name: redis, key: host}}",
            extra="auth: {secretStore: vault}\n",
        ),
        component("vault", "secretstores.mem", extra="scopes: [billing]\n"),
    )
    with pytest.raises(ComponentConfigError) as ei:
        async with blockyard.open(tmp_path, registry=registry, app_id="orders"):
            pass
    assert "auth.secretStore: component 'vault' is scoped to other apps (billing), not to 'orders'" in str(ei.value)
    assert "'statestore' cannot read its secrets from it" in str(ei.value)
    assert EVENTS == []


@pytest.mark.parametrize("bad", ["", 3])
def test_app_id_must_be_a_non_empty_string(bad: object) -> None:
    with pytest.raises(ComponentConfigError, match="app_id must be a non-empty string"):
        blockyard.open("components/", app_id=bad)  # type: ignore[arg-type]


def test_validate_reports_scoped_out_components(tmp_path: Path) -> None:
    scoped_set(tmp_path)
    report = validate_resources(tmp_path, registry=make_registry(), app_id="orders")
    assert report.ok
    assert [r.name for r in report.scoped_out] == ["theirs", "events"]
    assert validate_resources(tmp_path, registry=make_registry()).scoped_out == []


def test_validate_command_shows_scopes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(blockyard.registry, "_default", make_registry())
    scoped_set(tmp_path)
    result = CliRunner().invoke(cli, ["validate", "--app-id", "orders", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "scoped out: component 'theirs' is scoped to other apps (billing), not to 'orders': not loaded" in (
        result.output
    )
    assert "app 'orders' loads 2, 2 scoped to other apps" in result.output
    plain = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert plain.exit_code == 0
    assert "scoped out" not in plain.output


def test_validate_command_fails_on_a_scoped_out_secret_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(blockyard.registry, "_default", make_registry())
    write(
        tmp_path,
        component(
            "statestore",
            metadata="- {name: host, secretKeyRef: {name: redis, key: host}}",
            extra="auth: {secretStore: vault}\n",
        ),
        component("vault", "secretstores.mem", extra="scopes: [billing]\n"),
    )
    result = CliRunner().invoke(cli, ["validate", "--app-id", "orders", str(tmp_path)])
    assert result.exit_code == 1
    assert "auth.secretStore: component 'vault' is scoped to other apps (billing)" in result.output
    assert CliRunner().invoke(cli, ["validate", "--app-id", "billing", str(tmp_path)]).exit_code == 0

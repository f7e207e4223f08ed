"""blockyard.open(): load everything, initialise in dependency order, close together."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from core_testkit import EVENTS, SECRETS, EchoBinding, MemPubSub, MemSecrets, MemState, component

import blockyard
from blockyard.errors import BackendError, BackendUnavailableError, ComponentConfigError, ComponentNotFoundError
from blockyard.registry import Registry

HOST = "- {name: host, value: 'h:1'}"


def write(folder: Path, *docs: str) -> Path:
    (folder / "components.yaml").write_text("---\n".join(docs))
    return folder


async def test_open_gives_components_by_name_and_kind(registry: Registry, tmp_path: Path) -> None:
    write(
        tmp_path,
        component("statestore", metadata=HOST),
        component("pubsub", "pubsub.mem"),
        component("ticker", "bindings.echo"),
        component("vault", "secretstores.mem"),
    )
    async with blockyard.open(tmp_path, registry=registry) as yard:
        assert isinstance(yard.state("statestore"), MemState)
        assert isinstance(yard.pubsub("pubsub"), MemPubSub)
        assert isinstance(yard.binding("ticker"), EchoBinding)
        assert isinstance(yard.output_binding("ticker"), EchoBinding)
        assert isinstance(yard.input_binding("ticker"), EchoBinding)
        assert isinstance(yard.secrets("vault"), MemSecrets)
        assert list(yard.components) == ["statestore", "pubsub", "ticker", "vault"]
        assert all(c.ready for c in yard.components.values())
        await yard.state("statestore").set("k", {"a": 1})
        with pytest.raises(ComponentNotFoundError) as ei:
            yard.state("pubsub")
        assert str(ei.value) == (
            "component 'pubsub': component 'pubsub' is a pubsub.mem component, not a state store; "
            "state stores in the yard: statestore"
        )
        with pytest.raises(
            ComponentNotFoundError, match=r"no component named 'nope'; the yard has: pubsub \(pubsub.mem\)"
        ):
            yard.secrets("nope")
        components = list(yard.components.values())
    assert all(c.closed for c in components)
    assert EVENTS[4:] == [("close", "vault"), ("close", "ticker"), ("close", "pubsub"), ("close", "statestore")]
    with pytest.raises(ComponentConfigError, match="the yard is closed"):
        yard.state("statestore")


async def test_secret_stores_first_including_chains(registry: Registry, tmp_path: Path) -> None:
    SECRETS["outer"] = {"__token__": {"token": "t0k"}, "redis": {"host": "from-outer:1"}}
    SECRETS["inner"] = {"tokens": {"outer": "t0k"}}
    write(
        tmp_path,
        component(
            "statestore",
            metadata="- {name: host, secretKeyRef: {name: redis, key: host}}",
            extra="auth: {secretStore: outer}\n",
        ),
        component("plain", metadata=HOST),
        component(
            "outer",
            "secretstores.mem",
            metadata="- {name: token, secretKeyRef: {name: tokens, key: outer}}",
            extra="auth: {secretStore: inner}\n",
        ),
        component("inner", "secretstores.mem"),
    )
    async with blockyard.open(tmp_path / "components.yaml", registry=registry) as yard:
        assert yard.state("statestore").meta.host == "from-outer:1"
    inits = [name for event, name in EVENTS if event == "init"]
    assert inits == ["inner", "outer", "statestore", "plain"]
    closes = [name for event, name in EVENTS if event == "close"]
    assert closes == list(reversed(inits))


async def test_cycle_and_missing_store_fail_before_anything_opens(registry: Registry, tmp_path: Path) -> None:
    write(
        tmp_path,
        component("a", "secretstores.mem", extra="auth: {secretStore: b}\n"),
        component("b", "secretstores.mem", extra="auth: {secretStore: a}\n"),
        component("c", metadata=HOST, extra="auth: {secretStore: ghost}\n"),
    )
    with pytest.raises(ComponentConfigError) as ei:
        async with blockyard.open(tmp_path, registry=registry):
            pass
    text = "\n".join(ei.value.problems)
    assert "cycle: a -> b -> a" in text
    assert (
        "component 'c': auth.secretStore: no secret store named 'ghost' is defined; secret stores defined: a, b" in text
    )
    assert EVENTS == []


async def test_failure_halfway_closes_what_was_opened(registry: Registry, tmp_path: Path) -> None:
    write(
        tmp_path,
        component("one", metadata=HOST),
        component("two", "pubsub.mem", metadata="- {name: failClose, value: 'true'}"),
        component("three", metadata=HOST + "\n- {name: failInit, value: 'true'}"),
        component("four", metadata=HOST),
    )
    with pytest.raises(BackendUnavailableError, match="component 'three', operation 'init'"):
        async with blockyard.open(tmp_path, registry=registry):
            pytest.fail("the body must not run")
    assert EVENTS == [("init", "one"), ("init", "two"), ("init", "three"), ("close", "two"), ("close", "one")]


async def test_every_close_is_attempted(registry: Registry, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(
        tmp_path,
        component("one", metadata=HOST + "\n- {name: failClose, value: 'true'}"),
        component("two", metadata=HOST),
        component("three", "pubsub.mem", metadata="- {name: failClose, value: 'true'}"),
    )
    yard = blockyard.open(tmp_path, registry=registry)
    with pytest.raises(BackendError) as ei:
        async with yard:
            pass
    assert "closing 2 component(s) failed: three (RuntimeError" in str(ei.value)
    assert [e for e in EVENTS if e[0] == "close"] == [("close", "three"), ("close", "two"), ("close", "one")]
    await yard.close()  # idempotent
    # when the body failed, close failures are logged and the body's error propagates
    EVENTS.clear()
    with pytest.raises(ZeroDivisionError):
        async with blockyard.open(tmp_path, registry=registry):
            1 / 0  # noqa: B018
    assert len([e for e in EVENTS if e[0] == "close"]) == 3
    assert "closing component 'one' failed" in caplog.text


async def test_ignore_errors_leaves_the_component_out(registry: Registry, tmp_path: Path) -> None:
    write(
        tmp_path,
        component("flaky", metadata=HOST + "\n- {name: failInit, value: 'true'}").replace(
            "version: v1", "version: v1\n  ignoreErrors: true"
        ),
        component("solid", metadata=HOST),
    )
    async with blockyard.open(tmp_path, registry=registry) as yard:
        assert list(yard.components) == ["solid"]
        with pytest.raises(ComponentNotFoundError, match="no component named 'flaky'"):
            yard.get("flaky")


async def test_bad_metadata_is_reported_with_file_and_component(registry: Registry, tmp_path: Path) -> None:
    write(tmp_path, component("ok", metadata=HOST), component("bad", metadata="- {name: port, value: x}"))
    with pytest.raises(ComponentConfigError) as ei:
        async with blockyard.open(tmp_path, registry=registry):
            pass
    assert f"{tmp_path / 'components.yaml'}:" in str(ei.value)
    assert "component 'bad': metadata field 'host' is required" in str(ei.value)
    assert EVENTS == [("init", "ok"), ("close", "ok")]


async def test_yard_not_started_and_several_paths(
    registry: Registry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.mkdir()
    b.mkdir()
    write(a, component("one", metadata=HOST))
    write(b, component("two", metadata=HOST))
    yard = blockyard.open([a, b], registry=registry)
    with pytest.raises(ComponentConfigError, match="not open"):
        yard.state("one")
    with caplog.at_level(logging.DEBUG):
        async with yard:
            assert sorted(yard) == ["one", "two"]
            assert len(yard) == 2
            assert "one" in yard
    assert "Yard closed" in repr(yard)
    write(b, component("one", metadata=HOST))
    with pytest.raises(ComponentConfigError, match="the name is already used"):
        async with blockyard.open([a, b], registry=registry):
            pass

"""Dapr Component YAML: parsing, checking, creating, secret and env references."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest
from core_testkit import SECRETS, MemSecrets, MemState, component

from blockyard.errors import ComponentConfigError, ComponentNotFoundError
from blockyard.registry import Registry
from blockyard.resources import (
    SecretKeyRef,
    create_component,
    load_component,
    load_resources,
    parse_resources,
    validate_resources,
)

SECRET = "s3cr3t-Pa55w0rd-do-not-print"


HOST = "- name: host\n  value: localhost:6379\n"


def problems_of(excinfo: pytest.ExceptionInfo[ComponentConfigError]) -> str:
    return "\n".join(excinfo.value.problems)


# -- parsing -------------------------------------------------------------------------------


def test_parse_a_component_keeps_every_field() -> None:
    text = component(
        metadata="""
        - {name: host, value: "localhost:6379"}
        - {name: port, value: 6380}
        - {name: password, secretKeyRef: {name: redis, key: pw}}
        - {name: keyPrefix, secretKeyRef: {name: prefix}}
        - {name: queue, envRef: QUEUE_NAME}
        - {name: hosts, value: [a, b]}
        """,
        extra="auth:\n  secretStore: vault\n",
    )
    [res] = parse_resources(text, source="x.yaml")
    assert (res.name, res.type, res.version, res.kind, res.secret_store) == (
        "statestore",
        "state.mem",
        "v1",
        "state",
        "vault",
    )
    assert res.source == "x.yaml:1"
    items = {i.name: i for i in res.metadata}
    assert items["host"].value == "localhost:6379"
    assert items["port"].value == "6380"  # scalars are kept as text, as Dapr does
    assert items["password"].secret_key_ref == SecretKeyRef("redis", "pw")
    assert items["keyPrefix"].secret_key_ref == SecretKeyRef("prefix", "prefix")  # key defaults to name
    assert items["queue"].env_ref == "QUEUE_NAME"
    assert items["hosts"].value == ("a", "b")
    assert items["host"].line == 9


def test_multi_document_skips_other_kinds(caplog: pytest.LogCaptureFixture) -> None:
    text = "\n---\n".join(
        [
            component("a"),
            "apiVersion: dapr.io/v2alpha1\nkind: Subscription\nmetadata: {name: s}\nspec: {topic: t}",
            "apiVersion: dapr.io/v1alpha1\nkind: Resiliency\nmetadata: {name: r}",
            "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata: {name: c}",
            component("b"),
        ]
    )
    with caplog.at_level(logging.DEBUG, logger="blockyard.resources"):
        resources = parse_resources(text, source="multi.yaml")
    assert [r.name for r in resources] == ["a", "b"]
    assert [r.source for r in resources] == ["multi.yaml:1", "multi.yaml:5"]
    assert "Subscription" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_folder_loads_yaml_and_yml_sorted_not_recursive(tmp_path: Path) -> None:
    (tmp_path / "b.yml").write_text(component("second"))
    (tmp_path / "a.yaml").write_text(component("first") + "---\n" + component("first-b"))
    (tmp_path / "notes.txt").write_text("not yaml: [")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.yaml").write_text(component("nested"))
    assert [r.name for r in load_resources(tmp_path)] == ["first", "first-b", "second"]
    assert [r.name for r in load_resources(tmp_path / "b.yml")] == ["second"]


def test_malformed_yaml_names_file_line_and_column(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: [unclosed\nspec: {}\n")
    with pytest.raises(ComponentConfigError) as ei:
        load_resources(f)
    [problem] = ei.value.problems
    assert problem.startswith(f"{f}:")
    assert "malformed YAML" in problem
    assert "column" in problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            component().replace("dapr.io/v1alpha1", "dapr.io/v2"),
            "apiVersion: expected 'dapr.io/v1alpha1', got 'dapr.io/v2'",
        ),
        (component().replace("kind: Component", "kind: Widget"), "kind: expected 'Component', got 'Widget'"),
        (component().replace("  name: statestore\n", "  namespace: x\n"), "metadata.name: expected a non-empty name"),
        (component().replace("  type: state.mem\n", ""), "spec.type: expected a type such as 'state.redis'"),
        (component(type_="lock.redis"), "building block 'lock' is not supported"),
        (component().replace("version: v1", "version: latest"), "spec.version: expected a version such as 'v1'"),
        (
            component(metadata="- {name: host}"),
            "metadata 'host': expected exactly one of value, secretKeyRef or envRef",
        ),
        (component(metadata="- {name: host, value: a, envRef: B}"), "got value and envRef"),
        (component(metadata="- {value: a}"), "spec.metadata[0].name: expected a non-empty name"),
        (
            component(metadata="- {name: pw, secretKeyRef: {key: k}}", extra="auth: {secretStore: s}\n"),
            "secretKeyRef needs a name",
        ),
        (component(metadata="- {name: pw, secretKeyRef: {name: k}}"), "secretKeyRef needs auth.secretStore"),
        (component(metadata="- {name: a, envRef: DAPR_API_TOKEN}"), "DAPR_* and APP_API_TOKEN are reserved"),
        (component(metadata="- {name: a, envRef: APP_API_TOKEN}"), "DAPR_* and APP_API_TOKEN are reserved"),
        (component(metadata="- {name: host, value: a}\n- {name: HOST, value: b}"), "metadata 'HOST' is given twice"),
        (component().replace("spec:\n", "spec:\n  metadata: {host: a}\n"), "spec.metadata: expected a list"),
        (component(extra="auth: [x]\n"), "auth: expected a mapping"),
        (component().replace("version: v1", "version: v1\n  initTimeout: soon"), "spec.initTimeout"),
        (component().replace("version: v1", "version: v1\n  ignoreErrors: maybe"), "spec.ignoreErrors"),
        ("- just\n- a list\n", "a resource must be a mapping"),
        (component() + "metadata:\n  name: again\n", "key 'metadata' appears twice"),
    ],
)
def test_bad_definitions_are_named(text: str, expected: str) -> None:
    with pytest.raises(ComponentConfigError) as ei:
        parse_resources(text, source="c.yaml")
    assert expected in problems_of(ei)
    assert all(p.startswith("c.yaml:") for p in ei.value.problems)


def test_every_problem_of_every_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(component("dup") + "---\n" + component("x", type_="nope"))
    (tmp_path / "b.yaml").write_text(component("dup").replace("v1alpha1", "v9"))
    (tmp_path / "c.yaml").write_text(component("dup"))
    (tmp_path / "d.yaml").write_text("kind: Component\n  bad: indent\n :")
    with pytest.raises(ComponentConfigError) as ei:
        load_resources(tmp_path)
    text = problems_of(ei)
    assert len(ei.value.problems) == 4
    assert f"{tmp_path / 'a.yaml'}:" in text
    assert "spec.type" in text
    assert f"{tmp_path / 'b.yaml'}:" in text
    assert "apiVersion" in text
    assert f"{tmp_path / 'c.yaml'}:4: component 'dup': metadata.name: the name is already used" in text
    assert f"{tmp_path / 'd.yaml'}:" in text
    assert "malformed YAML" in text
    assert str(ei.value).startswith("4 problems in component definitions")


def test_a_missing_path_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(ComponentConfigError, match="no such file or folder"):
        load_resources(tmp_path / "absent")


def test_values_never_appear_in_reprs_or_errors() -> None:
    text = component(metadata=f"- {{name: password, value: {SECRET}}}\n- {{name: password, value: {SECRET}}}")
    with pytest.raises(ComponentConfigError) as ei:
        parse_resources(text)
    assert SECRET not in str(ei.value)
    assert SECRET not in repr(ei.value.problems)
    [res] = parse_resources(component(metadata=f"- {{name: password, value: {SECRET}}}"))
    assert SECRET not in repr(res)


# -- creating ------------------------------------------------------------------------------


async def test_create_component_parses_metadata_with_the_model(registry: Registry) -> None:
    [res] = parse_resources(
        component(
            metadata="""
            - {name: HOST, value: "db:1"}
            - {name: port, value: "7000"}
            - {name: timeout, value: 1m30s}
            - {name: enabletls, value: "yes"}
            - {name: hosts, value: "a, b"}
            - {name: maxSize, value: 10Mi}
            - {name: prefix, value: app}
            """
        )
    )
    store = await create_component(res, registry=registry)
    assert isinstance(store, MemState)
    assert not store.ready  # constructed, not initialised
    m = store.meta
    assert (m.host, m.port, m.timeout.total_seconds(), m.enable_tls) == ("db:1", 7000, 90.0, True)
    assert (m.hosts, m.max_size, m.key_prefix) == (["a", "b"], 10 * 1024 * 1024, "app")


async def test_unknown_type_names_the_distribution_and_close_matches(registry: Registry) -> None:
    [res] = parse_resources(component(type_="state.redis"), source="r.yaml")
    with pytest.raises(ComponentNotFoundError) as ei:
        await create_component(res, registry=registry)
    msg = str(ei.value)
    assert msg.startswith("r.yaml:6: component 'statestore': spec.type:")
    assert 'pip install "blockyard[redis]"' in msg
    [res] = parse_resources(component(type_="state.mme"))
    with pytest.raises(ComponentNotFoundError, match=r"did you mean state\.mem"):
        await create_component(res, registry=registry)


async def test_missing_required_and_wrong_types_are_all_reported(registry: Registry) -> None:
    [res] = parse_resources(
        component(
            metadata="- {name: port, value: many}\n- {name: timeout, value: soon}\n- {name: redisType, value: x}"
        ),
        source="m.yaml",
    )
    with pytest.raises(ComponentConfigError) as ei:
        await create_component(res, registry=registry)
    text = problems_of(ei)
    assert "field 'redisType' is not supported by this component: cluster mode is not implemented" in text
    # unsupported fields stop validation; without it every type problem is listed
    [res] = parse_resources(
        component(metadata="- {name: port, value: many}\n- {name: timeout, value: soon}"), source="m.yaml"
    )
    with pytest.raises(ComponentConfigError) as ei:
        await create_component(res, registry=registry)
    text = problems_of(ei)
    assert "m.yaml:8: component 'statestore': metadata field 'host' is required" in text
    assert "m.yaml:9: component 'statestore': metadata field 'port'" in text
    assert "integer" in text
    assert "m.yaml:10: component 'statestore': metadata field 'timeout': expected a duration" in text
    assert len(ei.value.problems) == 3


async def test_envref_and_uuid_template(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_HOST", "envhost:1")
    [res] = parse_resources(
        component(metadata="- {name: host, envRef: TEST_HOST}\n- {name: queue, value: 'q-{uuid}-{uuid}'}")
    )
    a = await create_component(res, registry=registry)
    b = await create_component(res, registry=registry)
    assert a.meta.host == "envhost:1"
    first, second = a.meta.queue[2:38], a.meta.queue[39:]
    assert first == second
    assert str(uuid.UUID(first)) == first
    assert a.meta.queue != b.meta.queue  # fresh per created component
    monkeypatch.delenv("TEST_HOST")
    with pytest.raises(ComponentConfigError, match="environment variable 'TEST_HOST' \\(envRef\\) is not set"):
        await create_component(res, registry=registry)


async def _vault(name: str = "vault") -> MemSecrets:
    store = MemSecrets(name=name)
    await store.init()
    return store


async def test_secret_key_ref_resolves_through_the_named_store(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    SECRETS["vault"] = {"redis": {"pw": SECRET, "host": "h:1"}}
    vault = await _vault()
    [res] = parse_resources(
        component(
            metadata="- {name: host, secretKeyRef: {name: redis, key: host}}\n"
            "- {name: password, secretKeyRef: {name: redis, key: pw}}",
            extra="auth:\n  secretStore: vault\n",
        )
    )
    with caplog.at_level(logging.DEBUG):
        store = await create_component(res, secret_stores={"vault": vault}, registry=registry)
        await store.init()
        await store.close()
    assert store.meta.host == "h:1"
    assert store.meta.password.get_secret_value() == SECRET
    assert SECRET not in repr(store)
    assert SECRET not in repr(store.meta)
    assert SECRET not in str(store.meta)
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("ref", "stores", "expected"),
    [
        ("{name: redis, key: pw}", {}, "needs secret store 'vault' (auth.secretStore), which is not loaded"),
        ("{name: nope, key: pw}", {"vault"}, "secret 'nope' (secretKeyRef) does not exist in secret store 'vault'"),
        (
            "{name: redis, key: nokey}",
            {"vault"},
            "secret 'redis' in secret store 'vault' has no key 'nokey'; its keys: pw",
        ),
    ],
)
async def test_bad_secret_references(
    registry: Registry, caplog: pytest.LogCaptureFixture, ref: str, stores: set[str], expected: str
) -> None:
    SECRETS["vault"] = {"redis": {"pw": SECRET}}
    loaded = {"vault": await _vault()} if stores else {}
    [res] = parse_resources(
        component(metadata=f"{HOST}- {{name: password, secretKeyRef: {ref}}}", extra="auth: {secretStore: vault}\n"),
        source="s.yaml",
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(ComponentConfigError) as ei:
        await create_component(res, secret_stores=loaded, registry=registry)
    assert expected in str(ei.value)
    assert "s.yaml:11: component 'statestore': metadata 'password'" in str(ei.value)
    assert SECRET not in str(ei.value)
    assert SECRET not in caplog.text


async def test_sensitive_value_never_in_metadata_errors(registry: Registry, caplog: pytest.LogCaptureFixture) -> None:
    SECRETS["vault"] = {"redis": {"port": SECRET}}
    [res] = parse_resources(
        component(
            metadata=f"{HOST}- {{name: port, secretKeyRef: {{name: redis, key: port}}}}",
            extra="auth: {secretStore: vault}\n",
        )
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(ComponentConfigError) as ei:
        await create_component(res, secret_stores={"vault": await _vault()}, registry=registry)
    assert "metadata field 'port'" in str(ei.value)
    assert SECRET not in str(ei.value)
    assert SECRET not in repr(ei.value)
    assert SECRET not in caplog.text


async def test_load_component_opens_the_referenced_store_only_while_resolving(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import blockyard.registry

    monkeypatch.setattr(blockyard.registry, "_default", registry)
    SECRETS["vault"] = {"redis": {"host": "h:2"}}
    (tmp_path / "all.yaml").write_text(
        component("vault", "secretstores.mem")
        + "---\n"
        + component(
            metadata="- {name: host, secretKeyRef: {name: redis, key: host}}", extra="auth: {secretStore: vault}\n"
        )
        + "---\n"
        + component("other")
    )
    store = await load_component(tmp_path, name="statestore")
    try:
        assert store.ready
        assert store.meta.host == "h:2"
    finally:
        await store.close()
    from core_testkit import EVENTS

    assert EVENTS == [("init", "vault"), ("close", "vault"), ("init", "statestore"), ("close", "statestore")]
    with pytest.raises(ComponentConfigError, match="defines 3 components"):
        await load_component(tmp_path / "all.yaml")
    with pytest.raises(ComponentConfigError, match="no component named 'x'; defined: other, statestore, vault"):
        await load_component(tmp_path, name="x")


async def test_load_component_from_text_and_init_failure_closes(registry: Registry) -> None:
    store = await load_component(component(metadata=HOST), registry=registry)
    assert store.ready
    await store.close()
    from blockyard.errors import BackendUnavailableError

    with pytest.raises(BackendUnavailableError, match="component 'statestore', operation 'init'"):
        await load_component(component(metadata=HOST + "- {name: failInit, value: 'true'}"), registry=registry)
    from core_testkit import EVENTS

    assert EVENTS[-1] == ("init", "statestore")  # a failed init has nothing to close


# -- offline validation ----------------------------------------------------------------------


def test_validate_reports_everything_without_connecting(registry: Registry, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        component(
            metadata="- {name: password, secretKeyRef: {name: r}}\n- {name: colour, value: red}",
            extra="auth: {secretStore: vault}\n",
        )
        + "---\n"
        + component("b", metadata="- {name: host, value: h}\n- {name: port, value: x}")
        + "---\n"
        + component("c", type_="state.nope", metadata=HOST)
        + "---\n"
        + component(
            "d",
            metadata=HOST + "- {name: port, secretKeyRef: {name: p}}\n- {name: redisType, secretKeyRef: {name: t}}",
            extra="auth: {secretStore: b}\n",
        )
    )
    report = validate_resources(tmp_path, registry=registry)
    text = "\n".join(report.problems)
    assert not report.ok
    assert "component 'statestore': auth.secretStore: no secret store named 'vault' is defined" in text
    assert "component 'statestore': metadata field 'host' is required" in text
    assert "component 'b': metadata field 'port'" in text
    assert "component 'c': spec.type: unknown component type 'state.nope'" in text
    assert "component 'd': auth.secretStore: 'b' is a state.mem component, not a secret store" in text
    assert "component 'd': metadata field 'redisType' is not supported" in text
    assert "field 'port'" not in text.split("component 'd'")[-1]  # a secret's value is unknown offline
    assert len(report.problems) == 6
    assert any("metadata 'colour' is not a field of state.mem" in w for w in report.warnings)


def test_validate_secret_store_cycle(registry: Registry, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        component("s1", "secretstores.mem", extra="auth: {secretStore: s2}\n")
        + "---\n"
        + component("s2", "secretstores.mem", extra="auth: {secretStore: s1}\n")
    )
    report = validate_resources(tmp_path, registry=registry)
    assert len(report.problems) == 1
    assert "secret stores reference each other in a cycle: s1 -> s2 -> s1" in report.problems[0]


# -- problems as data --------------------------------------------------------------------------


async def test_problems_are_structured_from_the_model_to_the_error(registry: Registry) -> None:
    from blockyard.problems import Problem, Severity

    [res] = parse_resources(component(metadata="- {name: port, value: many}"), source="p.yaml")
    with pytest.raises(ComponentConfigError) as ei:
        await create_component(res, registry=registry)
    by_field = {p.field: p for p in ei.value.details}
    assert by_field["host"] == Problem(
        "metadata field 'host' is required", "p.yaml", 8, "statestore", "host", Severity.ERROR, "required"
    )
    assert (by_field["port"].file, by_field["port"].line, by_field["port"].component) == ("p.yaml", 9, "statestore")
    assert ei.value.problems == [str(p) for p in ei.value.details]


def test_validation_details_carry_severity(registry: Registry, tmp_path: Path) -> None:
    from blockyard.problems import Severity

    text = component(metadata=HOST + "- {name: colour, value: red}\n- {name: port, value: x}")
    (tmp_path / "a.yaml").write_text(text)
    report = validate_resources(tmp_path, registry=registry)
    [warning] = [p for p in report.details if p.severity is Severity.WARNING]
    [error] = [p for p in report.details if p.severity is Severity.ERROR]
    assert (warning.field, warning.code, warning.line) == ("colour", "unknown-field", 11)
    assert (error.field, error.component, error.line) == ("port", "statestore", 12)
    assert report.warnings == [str(warning)]
    assert report.problems == [str(error)]


@pytest.mark.parametrize(("text", "value"), [("TRUE", True), ("y", True), ("on", True), ("0", False), ("No", False)])
def test_booleans_are_parsed_by_one_rule(text: str, value: bool) -> None:
    from blockyard.metadata import parse_bool

    assert parse_bool(text) is value
    [res] = parse_resources(component().replace("version: v1", f"version: v1\n  ignoreErrors: {text}"))
    assert res.ignore_errors is value

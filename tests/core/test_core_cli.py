"""The blockyard command: list, describe, validate, schema, and plugin subcommands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from core_testkit import component, make_plugin_dists, make_registry

import blockyard.registry
from blockyard.cli import cli


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(blockyard.registry, "_default", make_registry())
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), env={"COLUMNS": "250", "NO_COLOR": "1"})

    return invoke


def test_list_shows_types_and_failures(run) -> None:  # type: ignore[no-untyped-def]
    result = run("list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    row = next(line for line in lines if "state.mem " in line)
    assert "v1" in row
    assert "alpha" in row
    assert "ETAG, FIRST_WRITE, TRANSACTIONAL, TTL" in row
    assert any("bindings.echo" in line and "input,output" in line and "ops: create get" in line for line in lines)
    assert "state.plain (plain2)" in result.output
    data = json.loads(run("list", "--format", "json").output)
    assert {c["type"] for c in data["components"]} >= {"state.mem", "pubsub.mem", "secretstores.mem"}
    assert data["failures"] == []


def test_describe_shows_the_model(run) -> None:  # type: ignore[no-untyped-def]
    result = run("describe", "state.mem")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "state.mem v1 (alpha)  core_testkit:MemState" in out
    row = next(line for line in out.splitlines() if line.startswith("│ password"))
    assert "yes" in row
    assert "the password" in row
    row = next(line for line in out.splitlines() if line.startswith("│ host "))
    assert "string" in row
    assert "yes" in row
    row = next(line for line in out.splitlines() if line.startswith("│ keyPrefix"))
    assert "prefix" in row
    assert "redisType: cluster mode is not implemented" in out
    bad = run("describe", "state.mme")
    assert bad.exit_code == 1
    assert "error: unknown component type 'state.mme'" in bad.stderr
    assert "did you mean state.mem" in bad.stderr


def test_validate_reports_every_problem_and_fails(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.yaml").write_text(component("one", metadata="- {name: host, value: h}\n- {name: colour, value: x}"))
    assert run("validate", str(tmp_path)).exit_code == 0
    ok = run("validate", str(tmp_path))
    assert "ok: 1 component(s) in 1 file(s)" in ok.output
    assert "colour" in ok.output
    (tmp_path / "b.yaml").write_text(
        component("two", type_="state.nope") + "---\n" + component("one", metadata="- {name: port, value: x}")
    )
    (tmp_path / "c.yaml").write_text("a: [")
    result = run("validate", str(tmp_path), str(tmp_path / "missing.yaml"))
    assert result.exit_code == 1
    out = result.output
    assert "unknown component type 'state.nope'" in out
    assert "the name is already used" in out
    assert "malformed YAML" in out
    assert "no such file or folder" in out
    assert "6 problem(s); 3 component(s) in 2 file(s)" in out
    lines = [line for line in out.splitlines() if line.startswith("error:")]
    assert lines[0].startswith(f"error: {tmp_path / 'b.yaml'}:6: component 'two': spec.type")  # sorted by file, line


def test_schema_formats(run) -> None:  # type: ignore[no-untyped-def]
    schema = json.loads(run("schema", "state.mem").output)
    assert schema["properties"]["password"]["sensitive"] is True
    assert schema["required"] == ["host"]
    assert yaml.safe_load(run("schema", "state.mem", "--format", "yaml").output) == schema
    dapr = yaml.safe_load(run("schema", "bindings.echo", "--format", "dapr").output)
    assert dapr["type"] == "bindings"
    assert dapr["name"] == "echo"
    assert dapr["binding"] == {
        "input": True,
        "output": True,
        "operations": [{"name": "create", "description": ""}, {"name": "get", "description": ""}],
    }
    state = yaml.safe_load(run("schema", "state.mem", "--format", "dapr").output)
    assert state["capabilities"] == ["etag", "first_write", "transactional", "ttl"]
    assert {m["name"] for m in state["metadata"]} >= {"host", "password", "enableTLS"}
    assert run("schema", "nope.x").exit_code == 1


def _blockyard(tmp_path: Path, *args: str, marker: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "COLUMNS": "250", "NO_COLOR": "1"}
    env.pop("BLOCKYARD_DISABLE_PLUGIN_AUTOLOAD", None)
    if marker is not None:
        env["BY_MARKER"] = str(marker)
    return subprocess.run([sys.executable, "-m", "blockyard", *args], capture_output=True, text=True, env=env)


def test_plugin_commands_load_lazily(tmp_path: Path) -> None:
    make_plugin_dists(tmp_path)
    marker = tmp_path / "marker"
    listing = _blockyard(tmp_path, "list", marker=marker)
    assert listing.returncode == 0, listing.stderr
    assert "state.tmpgood" in listing.stdout
    assert "by-good" in listing.stdout
    assert "Plugins that failed to load" in listing.stdout
    assert "blockyard_sdk_that_is_not_installed" in listing.stdout
    assert not marker.exists()  # listing never asked plugins for commands
    hello = _blockyard(tmp_path, "hello", marker=marker)
    assert hello.returncode == 0
    assert hello.stdout.strip() == "hello from a plugin"
    assert marker.exists()
    helptext = _blockyard(tmp_path, "--help").stdout
    assert "hello" in helptext
    assert "validate" in helptext
    describe = _blockyard(tmp_path, "describe", "state.tmpgood")
    assert "a throwaway store" in describe.stdout
    assert "tmp://x" not in describe.stderr


def test_list_imports_no_sdk_no_pydantic_no_component(tmp_path: Path) -> None:
    """`blockyard list` with every installed plugin: no backend SDK, no pydantic, no component module."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "blockyard", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    top = {m.split(".")[0] for m in imported}
    for sdk in ("boto3", "botocore", "azure", "cassandra", "aiokafka", "pika", "hvac", "twilio", "redis", "pydantic"):
        assert sdk not in top, f"blockyard list imported {sdk}"
    targets = {c["target"].partition(":")[0] for c in json.loads(result.stdout)["components"]}
    assert not (targets & imported), f"blockyard list imported component modules {targets & imported}"

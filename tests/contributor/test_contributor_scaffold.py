"""``blockyard new component``: each kind, generated in a temporary folder, passes the kit.

The generated distributions are installed (with their entry points) into a folder of their own
that only the subprocesses see, so the project's environment is left as it was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from blockyard.cli import cli as blockyard_cli
from blockyard_conformance.scaffold import KINDS, ScaffoldError, template_context

BIN = Path(sys.executable).parent


def subprocess_env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    env["PYTHONPATH"] = str(site)
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)


@pytest.mark.timeout(1200)
def test_every_kind_as_generated_passes_the_kit(tmp_path: Path) -> None:
    projects = []
    for kind in KINDS:
        result = CliRunner().invoke(
            blockyard_cli, ["new", "component", f"gen-{kind}", "--kind", kind, "--output-dir", str(tmp_path)]
        )
        assert result.exit_code == 0, result.output
        project = tmp_path / f"blockyard-gen-{kind}"
        assert {p.name for p in project.iterdir()} >= {"pyproject.toml", "README.md", "src", "tests", ".github"}
        assert (project / ".github" / "workflows" / "conformance.yml").is_file()
        projects.append(project)
    site = tmp_path / "site"
    pip = run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), *map(str, projects)],
        tmp_path,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    env = subprocess_env(site)
    listed = run([str(BIN / "blockyard"), "conformance", "list", "--json"], tmp_path, env)
    assert listed.returncode == 0, listed.stderr
    ids = sorted(c["id"] for c in json.loads(listed.stdout) if c["id"].split(".", 1)[1].startswith("gen-"))
    assert ids == sorted(f"{kind}.gen-{kind}" for kind in KINDS)
    reports = tmp_path / "reports"
    kit = run(
        [str(BIN / "blockyard"), "conformance", "run", *ids, "--strict", "--no-progress", "--report-dir", str(reports)],
        tmp_path,
        env,
    )
    assert kit.returncode == 0, kit.stdout + kit.stderr
    cases = json.loads((reports / "report.json").read_text())["cases"]
    assert {c["case"]: c["status"] for c in cases} == dict.fromkeys(ids, "passed")
    assert all(c["passed"] >= 5 and c["failed"] == 0 for c in cases)
    suites = run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *(str(p / "tests") for p in projects)],
        tmp_path,
        env,
    )
    assert suites.returncode == 0, suites.stdout + suites.stderr
    assert "failed" not in suites.stdout.splitlines()[-1]


def test_names_and_targets_are_checked(tmp_path: Path) -> None:
    assert template_context("my-store", "state")["class_name"] == "MyStoreStateStore"
    assert template_context("kv2", "secretstores")["package"] == "blockyard_kv2"
    for bad in ("MyStore", "my_store", "1store", "my--store", ""):
        with pytest.raises(ScaffoldError, match="must be lower-case letters and digits"):
            template_context(bad, "state")
    with pytest.raises(ScaffoldError, match="unknown kind 'actors'"):
        template_context("x", "actors")
    (tmp_path / "blockyard-taken").mkdir()
    result = CliRunner().invoke(
        blockyard_cli, ["new", "component", "taken", "--kind", "state", "--output-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "already exists" in result.output

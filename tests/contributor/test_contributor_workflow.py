"""The reusable workflow for plugin repositories, and the workflows that call it."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from blockyard.cli import cli as blockyard_cli

ROOT = Path(__file__).resolve().parents[2]
REUSABLE = ROOT / ".github" / "workflows" / "plugin-conformance.yml"


def load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def declared_inputs() -> dict[str, Any]:
    data = load(REUSABLE)
    on = data.get("on", data.get(True))  # YAML 1.1 reads the key `on` as true
    assert isinstance(on, dict), f"{REUSABLE} has no `on:` section"
    return dict(on["workflow_call"]["inputs"])


def step(name: str) -> dict[str, Any]:
    steps = load(REUSABLE)["jobs"]["conformance"]["steps"]
    return next(s for s in steps if s.get("name") == name)


def test_every_input_used_is_declared() -> None:
    inputs = declared_inputs()
    used = set(re.findall(r"inputs\.([A-Za-z0-9_-]+)", REUSABLE.read_text(encoding="utf-8")))
    assert used <= set(inputs), f"undeclared inputs: {sorted(used - set(inputs))}"
    assert all(spec.get("type") and "default" in spec for spec in inputs.values())
    run_step = step("Run the conformance kit")["run"]
    assert "--strict" in run_step
    assert "--report-dir reports" in run_step
    assert "GITHUB_STEP_SUMMARY" in step("Step summary")["run"]


def calls(workflow: Path) -> dict[str, Any]:
    job = load(workflow)["jobs"]["conformance"]
    assert str(job["uses"]).split("@")[0].endswith("/.github/workflows/plugin-conformance.yml")
    return dict(job.get("with") or {})


def test_the_example_and_the_scaffold_call_it_with_declared_inputs(tmp_path: Path) -> None:
    inputs = declared_inputs()
    example = calls(ROOT / "examples" / "blockyard-dbm" / ".github" / "workflows" / "conformance.yml")
    assert set(example) <= set(inputs)
    assert (ROOT / "examples" / "blockyard-dbm" / example["components"]).is_file()
    result = CliRunner().invoke(
        blockyard_cli, ["new", "component", "wf", "--kind", "state", "--output-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert set(calls(tmp_path / "blockyard-wf" / ".github" / "workflows" / "conformance.yml")) <= set(inputs)


def test_the_run_step_passes_cases_components_and_knobs(tmp_path: Path) -> None:
    """The step's shell turns the inputs into ``conformance run`` arguments (a recording stand-in
    for the ``blockyard`` command prints what it was given)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "blockyard"
    stub.write_text("#!/usr/bin/env python3\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "CASES": "state.dbm pubsub.*",
        "COMPONENTS": "a.yaml b.yaml",
        "KNOBS": "bad_etag=9999999\n\nttl_timeout=2.5\n",
    }
    script = step("Run the conformance kit")["run"]
    out = subprocess.run(["bash", "-e", "-c", script], env=env, capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(out.stdout) == [
        "conformance",
        "run",
        "state.dbm",
        "pubsub.*",
        "--component",
        "a.yaml",
        "--component",
        "b.yaml",
        "--knob",
        "bad_etag=9999999",
        "--knob",
        "ttl_timeout=2.5",
        "--strict",
        "--no-progress",
        "--report-dir",
        "reports",
    ]
    empty = subprocess.run(
        ["bash", "-e", "-c", script],
        env={**env, "CASES": "", "COMPONENTS": "", "KNOBS": ""},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(empty.stdout) == ["conformance", "run", "--strict", "--no-progress", "--report-dir", "reports"]

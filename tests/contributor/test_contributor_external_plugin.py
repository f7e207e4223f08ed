"""What a contributor does in their own repository, with Blockyard from wheels.

Wheels of every distribution are built; ``blockyard`` and ``blockyard-conformance`` are installed
(not editable) into a fresh virtual environment outside the checkout, then the example plugin
``examples/blockyard-dbm`` from its wheel; its case, its Component file and its pytest module run
there, from a copy of the plugin's files outside the checkout.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "blockyard-dbm"
DISTRIBUTIONS = [
    ROOT / "interfaces",
    ROOT / "conformance",
    *sorted(p.parent for p in ROOT.glob("contrib/*/pyproject.toml")),
]


def clean_env() -> dict[str, str]:
    """The environment without this checkout's virtualenv or pytest settings."""
    drop = ("PYTEST_", "PYTHONPATH", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT)))
    return env


def run(cmd: list[str | Path], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=1200, check=False
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    return result


def one(folder: Path, prefix: str) -> Path:
    [wheel] = folder.glob(f"{prefix}-*.whl")
    return wheel


@pytest.mark.timeout(1800)
def test_the_example_plugin_passes_the_kit_installed_from_wheels(tmp_path: Path) -> None:
    env = clean_env()
    wheels = tmp_path / "wheels"
    isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-build-isolation"]  # faster, same wheels
    run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation, "-w", wheels, *DISTRIBUTIONS, EXAMPLE],
        tmp_path,
        env,
    )
    built = sorted(w.name.split("-")[0] for w in wheels.glob("*.whl"))
    expected = sorted(
        ["blockyard", "blockyard_conformance", "blockyard_dbm", *(f"blockyard_{p.name}" for p in DISTRIBUTIONS[2:])]
    )
    assert built == expected
    kit = zipfile_names(one(wheels, "blockyard_conformance"))
    assert any(n.endswith("templates/component/cookiecutter.json") for n in kit)
    assert any(n.endswith("/.github/workflows/conformance.yml") for n in kit)

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv], tmp_path, env)
    python, blockyard = venv / "bin" / "python", venv / "bin" / "blockyard"
    run(
        [
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-compile",
            "--disable-pip-version-check",
            one(wheels, "blockyard"),
            one(wheels, "blockyard_conformance"),
        ],
        tmp_path,
        env,
    )
    run(
        [
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-compile",
            "--no-deps",
            "--disable-pip-version-check",
            one(wheels, "blockyard_dbm"),
        ],
        tmp_path,
        env,
    )
    imports = (
        "import blockyard as a, blockyard_conformance as b, blockyard_dbm as c; "
        "print(a.__file__, b.__file__, c.__file__)"
    )
    where = run([python, "-c", imports], tmp_path, env)
    assert all(path.startswith(str(venv)) for path in where.stdout.split())

    project = tmp_path / "my-plugin"
    shutil.copytree(EXAMPLE / "tests", project / "tests")
    shutil.copy(EXAMPLE / "component.yaml", project / "component.yaml")
    env["BLOCKYARD_STATE_DIR"] = str(tmp_path / "launcher-state")

    listed = json.loads(run([blockyard, "conformance", "list", "--json"], project, env).stdout)
    assert [c["id"] for c in listed] == ["state.dbm"]
    case = run([blockyard, "conformance", "run", "--strict", "--no-progress", "--report-dir", "reports"], project, env)
    assert "1 case(s): 1 passed, 0 failed, 0 not run" in case.stdout
    report = json.loads((project / "reports" / "report.json").read_text())["cases"][0]
    assert report["case"] == "state.dbm"
    assert report["passed"] >= 20
    assert report["failed"] == 0

    component = run(
        [blockyard, "conformance", "run", "--component", "component.yaml", "--strict", "--no-progress"], project, env
    )
    assert "1 case(s): 1 passed, 0 failed, 0 not run" in component.stdout
    assert "ETagInvalidError" in component.stdout  # the note: the default bad_etag refused as malformed

    suite = run([python, "-m", "pytest", "tests", "-p", "no:cacheprovider"], project, env)
    last = suite.stdout.strip().splitlines()[-1]
    assert " passed" in last
    assert "failed" not in last
    assert "error" not in last


def zipfile_names(wheel: Path) -> list[str]:
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()

"""`make typecheck` (scripts/typecheck.py): one strict mypy run over test folders that each have a
conftest.py, with every conftest checked and its errors reported by file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TYPECHECK = ROOT / "scripts" / "typecheck.py"
FOLDERS = ("one/tests", "two/tests")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Two test folders laid out as pytest imports them: a conftest.py each, a helper, a test module."""
    (tmp_path / "mypy.ini").write_text("[mypy]\nstrict = True\n")
    for n, folder in enumerate(FOLDERS):
        where = tmp_path / folder
        where.mkdir(parents=True)
        (where / "conftest.py").write_text(f"from helper_{n} import VALUE\n\nDOUBLED: int = VALUE * 2\n")
        (where / f"helper_{n}.py").write_text("VALUE: int = 21\n")
        test = f"from helper_{n} import VALUE\n\n\ndef test() -> None:\n    assert VALUE\n"
        (where / f"test_{n}.py").write_text(test)
    return tmp_path


def _mypy(project: Path, *command: str) -> subprocess.CompletedProcess[str]:
    args = ["--config-file", "mypy.ini", "--cache-dir", ".cache", "--no-color-output", *FOLDERS]
    return subprocess.run([*command, *args], cwd=project, capture_output=True, text=True, timeout=300)


def test_every_conftest_is_checked_under_a_name_of_its_own(project: Path) -> None:
    plain = _mypy(project, sys.executable, "-m", "mypy")
    assert plain.returncode == 2
    assert 'Duplicate module named "conftest"' in plain.stdout

    clean = _mypy(project, sys.executable, str(TYPECHECK))
    assert (clean.returncode, clean.stdout.strip()) == (0, "Success: no issues found in 6 source files"), clean

    conftest = project / "two/tests/conftest.py"
    conftest.write_text(conftest.read_text().replace("DOUBLED: int", "DOUBLED: str"))
    planted = _mypy(project, sys.executable, str(TYPECHECK))
    assert planted.returncode == 1, planted
    assert planted.stdout.splitlines() == [
        'two/tests/conftest.py:3: error: Incompatible types in assignment (expression has type "int", '
        'variable has type "str")  [assignment]',
        "Found 1 error in 1 file (checked 6 source files)",
    ]


def test_a_module_importing_a_conftest_is_reported(project: Path) -> None:
    (project / "one/tests/test_0.py").write_text("from conftest import DOUBLED\n\nassert DOUBLED\n")
    result = _mypy(project, sys.executable, str(TYPECHECK))
    assert result.returncode == 2, result
    # which folder's conftest the import finds depends on the search path: the name is ambiguous
    assert "conftest.py: error: Source file found twice under different module names" in result.stdout

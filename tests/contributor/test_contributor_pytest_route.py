"""A suite subclass runs under plain pytest in a project with no configuration at all."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

MODULE = textwrap.dedent("""
    from blockyard_conformance import StateStoreSuite
    from blockyard_local.state_memory import InMemoryStateStore


    class TestMyStore(StateStoreSuite):
        component_class = InMemoryStateStore
""")


def run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in ``project`` (no ini, no conftest, no pyproject), as a contributor runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-p", "no:cacheprovider", "-k", "etag or ping or close", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_suite_tests_are_async_without_configuration(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_my_store.py").write_text(MODULE)
    result = run_pytest(tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert f"rootdir: {tmp_path}" in out
    assert "configfile" not in out
    assert " passed" in out
    assert "not natively supported" not in out


def test_suite_notes_are_printed_after_the_run(tmp_path: Path) -> None:
    """A store refusing the default ``bad_etag`` as malformed passes, and pytest's summary says so."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_numeric.py").write_text(
        f"import sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from contributor_fakes import NumericEtagStore\n"
        + MODULE.replace("= InMemoryStateStore", "= NumericEtagStore")
    )
    result = run_pytest(tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "blockyard conformance notes" in out
    assert "TestMyStore: bad_etag 'bad-etag' is refused as malformed (ETagInvalidError)" in out


def test_without_the_kit_plugin_the_same_module_fails(tmp_path: Path) -> None:
    """The planted defect: with the kit's pytest plugin disabled, pytest cannot run the suite."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_my_store.py").write_text(MODULE)
    result = run_pytest(tmp_path, "-p", "no:blockyard")
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "async def functions are not natively supported" in out

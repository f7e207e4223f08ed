"""A case's ``setup`` function creates its fixtures before the tests and removes them afterwards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blockyard_conformance.cases import CaseError, parse_cases, substitute_knobs

pytest_plugins = ["pytester"]

KIT_DIR = Path(__file__).parent
COMPONENT = """
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: statestore}
spec:
  type: state.kitref
  version: v1
  metadata:
    - {name: namespace, value: "ns-${run_id}"}
"""
SEED = """
from pathlib import Path

LOG = Path(__file__).with_name("seed.log")


def make(endpoint, run_id):
    with LOG.open("a") as f:
        f.write(f"setup {endpoint} {run_id}\\n")
    return lambda: LOG.open("a").write(f"cleanup {run_id}\\n")
"""


def test_setup_runs_once_before_the_tests_and_cleans_up_after(pytester: pytest.Pytester, tmp_path: Path) -> None:
    (tmp_path / "kit_seed_module.py").write_text(SEED)
    case_file = tmp_path / "cases.yaml"
    case_file.write_text(
        json.dumps({"cases": [{"id": "state.kitref", "component": COMPONENT, "setup": "kit_seed_module:make"}]})
    )
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        test_gen=f"""
import sys
sys.path.insert(0, {str(KIT_DIR)!r})
sys.path.insert(0, {str(tmp_path)!r})
from blockyard.registry import ComponentSpec, register
try:
    register(ComponentSpec("state", "kitref", "reference_fakes:RefStateStore"))
except ValueError:
    pass
from blockyard_conformance.cases import discover_cases
from blockyard_conformance.generate import install_case_classes
install_case_classes(globals(), discover_cases([{str(case_file)!r}]))
"""
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-k", "test_last_write_wins or test_missing_key_reads_as_no_item"
    )
    result.assert_outcomes(passed=2)
    lines = (tmp_path / "seed.log").read_text().splitlines()
    assert len(lines) == 2, lines
    setup, cleanup = lines
    run_id = cleanup.split()[1]
    assert setup == f"setup None {run_id}"


def test_setup_must_name_module_and_function() -> None:
    with pytest.raises(CaseError) as raised:
        parse_cases({"cases": [{"id": "x", "component": COMPONENT, "setup": "no function here"}]})
    assert "setup" in str(raised.value)
    (case,) = parse_cases({"cases": [{"id": "x", "component": COMPONENT, "setup": "pkg.mod:fn"}]})
    assert parse_cases({"cases": [case.to_json()]})[0].setup == "pkg.mod:fn"


def test_knob_mapping_keys_are_substituted() -> None:
    knobs = substitute_knobs(
        {"expected": {"secret-${run_id}": "v-${run_id}"}}, run_id="r1", tmpdir="/t", endpoint=None, source="s"
    )
    assert knobs == {"expected": {"secret-r1": "v-r1"}}

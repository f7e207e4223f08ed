"""Cases, limits, the override check, the runner's reports and the CLI."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from blockyard.registry import ComponentSpec, register
from blockyard_conformance.cases import CaseError, component_file_case, parse_cases, substitute
from blockyard_conformance.cli import conformance, github_matrix

pytest_plugins = ["pytester"]

KIT_DIR = Path(__file__).parent
INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
COMPONENT = """
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: statestore}
spec:
  type: state.kitref
  version: v1
  metadata:
    - {name: namespace, value: "ns-${run_id}"}
    - {name: password, value: "sup3r-s3cret"}
"""


@pytest.fixture(scope="module", autouse=True)
def _registered() -> None:
    import sys

    sys.path.insert(0, str(KIT_DIR))
    try:
        register(ComponentSpec("state", "kitref", "reference_fakes:RefStateStore", features=()))
    except ValueError:
        pass


def test_case_parsing_and_errors() -> None:
    cases = parse_cases(
        {
            "cases": [
                {
                    "id": "x",
                    "backend": "redis",
                    "component": COMPONENT,
                    "knobs": {"bad_etag": "1"},
                    "limits": [{"test": "test_ttl*", "skip": "no TTL"}],
                }
            ]
        }
    )
    assert cases[0].type == "state.kitref"
    assert cases[0].limits[0].matches("test_ttl_expire_time")
    with pytest.raises(CaseError, match="exactly one of 'skip' or 'xfail'"):
        parse_cases({"cases": [{"id": "x", "component": COMPONENT, "limits": [{"test": "t"}]}]})
    with pytest.raises(CaseError, match="unknown field"):
        parse_cases({"cases": [{"id": "x", "component": COMPONENT, "nobs": {}}]})
    with pytest.raises(CaseError, match=r"unknown placeholder \$\{nope\}"):
        substitute("${nope}", run_id="r", tmpdir="/t", endpoint=None)
    with pytest.raises(CaseError, match="needs a backend"):
        substitute("${backend.host}", run_id="r", tmpdir="/t", endpoint=None)


def test_github_matrix() -> None:
    cases = parse_cases(
        {
            "cases": [
                {"id": "state.redis", "backend": "redis", "component": COMPONENT},
                {"id": "state.kitref", "component": COMPONENT},
            ]
        }
    )
    data = github_matrix(cases)
    (row,) = data["include"]
    assert (row["case"], row["backend"]) == ("state.redis", "redis")
    assert row["compose"].endswith("blockyard_conformance/backends/compose/redis.yml")
    with_embedded = github_matrix(cases, include_embedded=True)["include"]
    assert with_embedded[1] == {"case": "state.kitref", "backend": "embedded"}
    result = CliRunner().invoke(conformance, ["matrix", "--format", "github"])
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.output)
    assert all({"case", "backend"} <= set(e) for e in parsed["include"])
    assert all(e["backend"] != "embedded" for e in parsed["include"])


def test_run_component_file_writes_reports(tmp_path: Path) -> None:
    comp = tmp_path / "store.yaml"
    comp.write_text(COMPONENT)
    missing = tmp_path / "missing.yaml"
    missing.write_text(COMPONENT.replace("state.kitref", "state.not-installed-anywhere"))
    reports = tmp_path / "reports"
    result = CliRunner().invoke(
        conformance,
        [
            "run",
            "--component",
            str(comp),
            "--component",
            str(missing),
            "--report-dir",
            str(reports),
            "--no-progress",
            "-k",
            "not model and not ttl_expires",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads((reports / "report.json").read_text())
    by_case = {c["case"]: c for c in data["cases"]}
    ok = by_case["state.kitref@store"]
    assert ok["status"] == "passed"
    assert ok["passed"] > 20
    assert ok["failed"] == 0
    assert ok["backend"] == "embedded"
    gone = by_case["state.not-installed-anywhere@missing"]
    assert gone["status"] == "not-run"
    assert gone["reason"]
    assert gone["enable_command"]
    for name in ("junit.xml", "report.md", "report.html"):
        text = (reports / name).read_text()
        assert "embedded" in text
        assert "state.kitref@store" in text
    assert "sup3r-s3cret" not in "".join(p.read_text() for p in reports.iterdir())


def test_backend_url_that_does_not_answer_fails_the_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    comp = tmp_path / "http.yaml"
    comp.write_text(
        textwrap.dedent("""
        apiVersion: dapr.io/v1alpha1
        kind: Component
        metadata: {name: http}
        spec:
          type: bindings.http
          version: v1
          metadata:
            - {name: url, value: "${backend.url}/x"}
        """)
    )
    monkeypatch.setenv("BLOCKYARD_HTTP_ECHO_URL", "http://127.0.0.1:1")
    reports = tmp_path / "reports"
    result = CliRunner().invoke(
        conformance, ["run", "--component", str(comp), "--backend", "http-echo", "--report-dir", str(reports)]
    )
    # a backend given in the environment should work here: its silence is a failure, not "not run"
    assert result.exit_code == 1, result.output
    (case,) = json.loads((reports / "report.json").read_text())["cases"]
    assert case["status"] == "failed"
    assert case["passed"] == 0
    assert "127.0.0.1:1 does not answer" in case["reason"]
    assert "BLOCKYARD_HTTP_ECHO_URL" in case["enable_command"]


def test_run_exits_non_zero_on_failure(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(KIT_DIR))
    (tmp_path / "broken_kit_store.py").write_text(
        textwrap.dedent("""
        from reference_fakes import RefStateStore
        class Broken(RefStateStore):
            type = "state.kitbroken"
            async def _delete(self, op):
                self.data.pop(op.key, None)
    """)
    )
    sys.path.insert(0, str(tmp_path))
    register(ComponentSpec("state", "kitbroken", "broken_kit_store:Broken"), replace_existing=True)
    comp = tmp_path / "broken.yaml"
    comp.write_text(COMPONENT.replace("state.kitref", "state.kitbroken"))
    result = CliRunner().invoke(
        conformance,
        ["run", "--component", str(comp), "--no-progress", "-k", "etag_sequence", "--report-dir", str(tmp_path / "r")],
    )
    assert result.exit_code == 1, result.output
    case = json.loads((tmp_path / "r" / "report.json").read_text())["cases"][0]
    assert case["status"] == "failed"
    assert case["failed"] == 1


def _suite_file(pytester: pytest.Pytester, body: str) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        test_case=f"import sys\nsys.path.insert(0, {str(KIT_DIR)!r})\n"
        "import pytest\nfrom reference_fakes import RefStateStore\n"
        "from blockyard_conformance import StateStoreSuite\n" + textwrap.dedent(body)
    )


def test_override_without_marker_is_refused(pytester: pytest.Pytester) -> None:
    _suite_file(
        pytester,
        """
        class TestMine(StateStoreSuite):
            component_class = RefStateStore
            metadata = {"namespace": "n"}
            async def test_etag_sequence(self):
                pass
    """,
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret != 0
    assert "overrides a conformance test without" in result.stderr.str() + result.stdout.str()


def test_override_with_strict_xfail_or_skip_is_accepted(pytester: pytest.Pytester) -> None:
    _suite_file(
        pytester,
        """
        class TestMine(StateStoreSuite):
            component_class = RefStateStore
            metadata = {"namespace": "n"}
            @pytest.mark.xfail(strict=True, reason="known defect")
            async def test_etag_sequence(self):
                raise AssertionError("defect")
            @pytest.mark.skip(reason="emulator limit")
            async def test_large_value(self):
                pass
    """,
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-k", "etag_sequence or large_value")
    result.assert_outcomes(xfailed=1, skipped=1)


def _case_module(pytester: pytest.Pytester, name: str, case_file: Path, extra: str = "") -> None:
    """A test module with the suite classes of ``case_file`` (component ``state.kitref``), then ``extra``."""
    pytester.makeini(INI)
    pytester.makepyfile(
        **{
            name: f"""
import sys
sys.path.insert(0, {str(KIT_DIR)!r})
from blockyard.registry import ComponentSpec, register
try:
    register(ComponentSpec("state", "kitref", "reference_fakes:RefStateStore"))
except ValueError:
    pass
from blockyard_conformance.cases import discover_cases
from blockyard_conformance.generate import install_case_classes
install_case_classes(globals(), discover_cases([{str(case_file)!r}]))
"""
            + extra
        }
    )


def test_case_limits_skip_and_strict_xfail(pytester: pytest.Pytester, tmp_path: Path) -> None:
    case_file = tmp_path / "cases.yaml"
    case_file.write_text(
        json.dumps(
            {
                "cases": [
                    {
                        "id": "state.kitref",
                        "component": COMPONENT,
                        "limits": [
                            {"test": "test_large_value", "skip": "emulator caps values"},
                            {"test": "test_last_write_wins", "xfail": "pretend defect"},
                        ],
                    }
                ]
            }
        )
    )
    _case_module(pytester, "test_gen", case_file)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-k", "large_value or last_write_wins", "-rsxX")
    # the limit's xfail is strict: a passing test becomes a failure (XPASS(strict))
    result.assert_outcomes(skipped=1, failed=1)
    assert "emulator caps values" in result.stdout.str()


def test_plugin_module_is_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, blockyard_conformance.plugin as p; "
        "print(any(m in sys.modules for m in ('pytest', 'rich', 'hypothesis')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    from blockyard_conformance.plugin import blockyard_cli_commands

    names = [c.name for c in blockyard_cli_commands()]
    assert names[0] == "conformance"
    assert "backends" in names


def test_component_file_case(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(COMPONENT)
    case = component_file_case(path)
    assert case.type == "state.kitref"
    assert case.backend is None
    assert case.id == "state.kitref@c"


def test_case_env_is_put_back_after_its_suite(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """A case's ``env`` (placeholders filled in) holds while its suite runs and is gone for whatever runs next."""
    case_file = tmp_path / "cases.yaml"
    env = {"BLOCKYARD_KIT_ENV_PROBE": "set", "BLOCKYARD_KIT_ENV_RUN": "run-${run_id}"}
    case = {"id": "state.kitref", "component": COMPONENT, "env": env}
    case_file.write_text(json.dumps({"cases": [case]}))
    _case_module(
        pytester,
        "test_env",
        case_file,
        """
import os

def _probe_is_set(self, suite_env):
    assert os.environ.get("BLOCKYARD_KIT_ENV_PROBE") == "set"
    assert os.environ.get("BLOCKYARD_KIT_ENV_RUN") == f"run-{suite_env.run_id}"

for cls in [c for c in list(globals().values()) if isinstance(c, type) and c.__name__.startswith("TestCase_")]:
    cls.test_probe_is_set = _probe_is_set

def test_zz_probe_is_gone_afterwards():
    assert "BLOCKYARD_KIT_ENV_PROBE" not in os.environ
    assert "BLOCKYARD_KIT_ENV_RUN" not in os.environ
""",
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-k", "probe")
    result.assert_outcomes(passed=2)
    assert "BLOCKYARD_KIT_ENV_PROBE" not in os.environ  # nor in the running test-suite


def test_failure_text_is_printed_verbatim(tmp_path: Path) -> None:
    """Square brackets in test names and failure text are not taken for Rich markup."""
    import sys

    sys.path.insert(0, str(KIT_DIR))
    (tmp_path / "broken_first_write_store.py").write_text(
        textwrap.dedent("""
        from reference_fakes import RefStateStore
        class Broken(RefStateStore):
            type = "state.kitfirstwrite"
            async def _set(self, op):
                self._check(op.key, op.etag, False)
                return self._apply_set(op)
    """)
    )
    sys.path.insert(0, str(tmp_path))
    register(ComponentSpec("state", "kitfirstwrite", "broken_first_write_store:Broken"), replace_existing=True)
    comp = tmp_path / "broken.yaml"
    comp.write_text(COMPONENT.replace("state.kitref", "state.kitfirstwrite"))
    result = CliRunner().invoke(
        conformance, ["run", "--component", str(comp), "--no-progress", "-k", "first_write_without_etag"]
    )
    assert result.exit_code == 1, result.output
    assert "test_first_write_without_etag[etag-none]" in result.output
    assert "test_first_write_without_etag[etag-empty]" in result.output


def test_summary_escapes_markup_in_every_text() -> None:
    """Names, reasons, details and errors reach the console as written."""
    import io

    from rich.console import Console

    from blockyard_conformance.cli import _print_summary
    from blockyard_conformance.results import CaseResult, TestOutcome
    from blockyard_conformance.runner import RunOutcome

    failed = TestOutcome("c[x]", "test_a[etag-none]", "core", "failed", details="ks = [1, 2]\n[bold]raw[/bold] [/]")
    not_run = CaseResult("n[red]", "state.x", "redis", "not-run", reason="down [port]", enable_command="up [redis]")
    result = CaseResult("c[x]", "state.x", "embedded", "failed", failed=1, tests=[failed])
    out = io.StringIO()
    _print_summary(Console(file=out, width=200, highlight=False), RunOutcome([result, not_run], 1, ["err [mod]"]))
    text = out.getvalue()
    for shown in ("test_a[etag-none]", "ks = [1, 2]", "[bold]raw[/bold] [/]", "down [port]", "up [redis]", "err [mod]"):
        assert shown in text, f"{shown!r} is missing from:\n{text}"

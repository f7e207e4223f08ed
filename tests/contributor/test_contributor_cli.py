"""``conformance run --knob`` (typed, unknown names refused), ``--strict``, and the two honest
answers to the default ``bad_etag``."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from blockyard.registry import ComponentSpec, register
from blockyard_conformance.bindings_suite import BindingSuite
from blockyard_conformance.cli import conformance
from blockyard_conformance.knobs import KnobError, known_knobs, parse_knob_options
from blockyard_conformance.pubsub_suite import PubSubSuite
from blockyard_conformance.state_suite import StateStoreSuite

HERE = Path(__file__).parent
STATE_FEATURES = ("DELETE_WITH_PREFIX", "ETAG", "FIRST_WRITE", "KEYS_LIKE", "TRANSACTIONAL", "TTL", "TTL_EXPIRE_TIME")
NOTE = "refused as malformed (ETagInvalidError), accepted as honest"


@pytest.fixture(scope="module", autouse=True)
def _registered() -> None:
    sys.path.insert(0, str(HERE))
    for name, cls in (
        ("numeric-etag", "NumericEtagStore"),
        ("invalid-for-every-etag", "InvalidForEveryWrongEtagStore"),
    ):
        try:
            register(ComponentSpec("state", name, f"contributor_fakes:{cls}", features=STATE_FEATURES))
        except ValueError:
            pass


def component_file(tmp_path: Path, type_: str) -> Path:
    path = tmp_path / f"{type_.replace('.', '-')}.yaml"
    path.write_text(
        textwrap.dedent(f"""
        apiVersion: dapr.io/v1alpha1
        kind: Component
        metadata: {{name: statestore}}
        spec: {{type: {type_}, version: v1}}
        """)
    )
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(conformance, ["run", "--no-progress", *args])


def test_knob_values_are_typed_by_the_suite_declaration() -> None:
    knobs = parse_knob_options(StateStoreSuite, ["ttl_timeout=2.5", "bad_etag=9999999", "concurrent_writers=7"])
    assert knobs == {"ttl_timeout": 2.5, "bad_etag": "9999999", "concurrent_writers": 7}
    assert isinstance(knobs["bad_etag"], str)
    assert parse_knob_options(StateStoreSuite, ["restart_backend=true"]) == {"restart_backend": True}
    assert parse_knob_options(PubSubSuite, ["delivery_timeout=5"]) == {"delivery_timeout": 5.0}
    assert parse_knob_options(BindingSuite, ["operations=[create, get]", "output_metadata={key: k1}"]) == {
        "operations": ["create", "get"],
        "output_metadata": {"key": "k1"},
    }
    assert {"bad_etag", "bad_etag_error", "ttl_timeout", "restart_backend"} <= set(known_knobs(StateStoreSuite))
    assert not {"component_class", "metadata", "backend", "kind", "case"} & set(known_knobs(StateStoreSuite))


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("ttl_timout=3", "unknown knob 'ttl_timout' for StateStoreSuite; known: advertised_address, bad_etag, "),
        ("ttl_timeout=soon", "knob 'ttl_timeout' of StateStoreSuite expects float, got 'soon'"),
        ("concurrent_writers=2.5", "knob 'concurrent_writers' of StateStoreSuite expects int"),
        ("restart_backend=maybe", "knob 'restart_backend' of StateStoreSuite expects bool"),
        ("bad_etag_error=sometimes", "knob 'bad_etag_error' of StateStoreSuite expects"),
        ("bad_etag", "--knob 'bad_etag': expected NAME=VALUE"),
    ],
)
def test_bad_knob_options_are_refused(option: str, message: str) -> None:
    with pytest.raises(KnobError, match=message.replace("[", r"\[")):
        parse_knob_options(StateStoreSuite, [option])


def test_cli_refuses_an_unknown_knob_naming_the_known_ones(tmp_path: Path) -> None:
    result = run("--component", str(component_file(tmp_path, "state.in-memory")), "--knob", "nope=1")
    assert result.exit_code == 1
    assert "unknown knob 'nope' for StateStoreSuite; known: advertised_address, bad_etag, " in result.output
    assert "Traceback" not in result.output


def test_strict_counts_a_case_not_run_as_a_failure(tmp_path: Path) -> None:
    missing = component_file(tmp_path, "state.not-installed-anywhere")
    lenient = run("--component", str(missing))
    assert lenient.exit_code == 0, lenient.output
    assert "not run" in lenient.output
    strict = run("--component", str(missing), "--strict")
    assert strict.exit_code == 1, strict.output
    assert "--strict: 1 case(s) not run count as failures: state.not-installed-anywhere@" in strict.output


ETAG_TESTS = ("-k", "etag_sequence or etag_on_missing_key or transaction_with_failing_etag or model")
FAST = ("--knob", "model_examples=3", "--knob", "model_steps=6")


def test_invalid_etag_error_for_the_default_bad_etag_is_accepted_and_noted(tmp_path: Path) -> None:
    result = run("--component", str(component_file(tmp_path, "state.numeric-etag")), "--strict", *FAST, *ETAG_TESTS)
    assert result.exit_code == 0, result.output
    assert "1 case(s): 1 passed, 0 failed, 0 not run" in result.output
    assert f"bad_etag 'bad-etag' is {NOTE}" in " ".join(result.output.split())


def test_bad_etag_error_knob_requires_a_mismatch(tmp_path: Path) -> None:
    comp = str(component_file(tmp_path, "state.numeric-etag"))
    result = run("--component", comp, "--knob", "bad_etag_error=mismatch", *FAST, *ETAG_TESTS)
    assert result.exit_code == 1, result.output
    assert "raised ETagInvalidError, expected ETagMismatchError" in result.output
    well_formed = run("--component", comp, "--knob", "bad_etag=99999999", "--strict", *FAST, *ETAG_TESTS)
    assert well_formed.exit_code == 0, well_formed.output
    assert NOTE not in " ".join(well_formed.output.split())


def test_a_store_calling_a_well_formed_wrong_etag_invalid_fails(tmp_path: Path) -> None:
    comp = str(component_file(tmp_path, "state.invalid-for-every-etag"))
    result = run("--component", comp, "--knob", "bad_etag=99999999", *FAST, *ETAG_TESTS)
    assert result.exit_code == 1, result.output
    assert "FAILED" in result.output
    assert "raised ETagInvalidError, expected ETagMismatchError" in result.output

"""The fault tests run on a private server when the suite's backend is not the launcher's own.

The real ``state.redis`` case, its backend given through ``BLOCKYARD_REDIS_URL`` (a Redis another
launcher started): the restart test passes against a private Redis of its own, which is gone
afterwards, and the given server keeps running untouched.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from kit_selftest import INI

from blockyard_conformance.backends.launcher import Launcher
from blockyard_conformance.backends.recipe import port_open

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.backend("redis", own=True)

CASE_MODULE = """
from blockyard_conformance.cases import discover_cases
from blockyard_conformance.generate import install_case_classes

install_case_classes(globals(), [c for c in discover_cases() if c.id == "state.redis"])
"""


def test_restart_test_uses_a_private_redis_when_the_given_one_is_not_the_launchers(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    owner = Launcher(tmp_path / "owner-state", use_docker=False)
    inner_state = tmp_path / "inner-state"
    try:
        served = owner.up("redis")
        (before,) = owner.status("redis")
        monkeypatch.setenv("BLOCKYARD_REDIS_URL", served.url)
        monkeypatch.setenv("BLOCKYARD_STATE_DIR", str(inner_state))
        monkeypatch.setenv("BLOCKYARD_USE_DOCKER", "0")
        pytester.makeini(INI)
        pytester.makepyfile(test_redis_case=CASE_MODULE)
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "backend_restart", "-rfEs")
        result.assert_outcomes(passed=1)
        private = re.search(r"restarted a private redis at 127\.0\.0\.1:(\d+)", result.stdout.str())
        assert private is not None, result.stdout.str()
        assert int(private.group(1)) != served.port
        assert not port_open(int(private.group(1))), "the private Redis outlived the test"
        (after,) = owner.status("redis")
        assert (after.state, after.pid) == ("ready", before.pid), "the given Redis was restarted or stopped"
        assert not list(inner_state.glob("*/state.json")), "the inner run left a server recorded as running"
    finally:
        owner.down()
        Launcher(inner_state, use_docker=False).down()

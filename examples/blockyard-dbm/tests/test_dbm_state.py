"""The conformance kit on ``state.dbm``: the state suite, subclassed (``pytest tests/``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from blockyard_conformance import StateStoreSuite
from blockyard_conformance.base_suite import SuiteEnv
from blockyard_dbm.state import DbmStateStore


class TestDbmStateStore(StateStoreSuite):
    component_class = DbmStateStore
    bad_etag = "999999999999"  # ETags are write sequence numbers: well-formed, never reached

    def component_metadata(self, env: SuiteEnv) -> Mapping[str, Any]:
        return {"path": str(env.tmpdir / "state")}

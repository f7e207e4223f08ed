"""The actor demo (``make demo-actors``, examples/dapr/actors) runs end to end and its client gets
back, through an actor proxy and over plain HTTP on daprd's port, what it saved — state kept by
daprd in Blockyard's ``state.redis`` served as a pluggable component."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.backend("redis"),
    pytest.mark.backend("daprd", own=True),
    pytest.mark.backend("placement"),
    pytest.mark.backend("scheduler"),
]
DEMO = Path(__file__).parents[3] / "examples" / "dapr" / "actors" / "run.py"


def test_the_actor_demo_saves_and_reads_through_proxy_and_http() -> None:
    run = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=540, check=False, env=dict(os.environ)
    )
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got == {
        "proxy": {"got": {"from": "proxy", "n": 1}},
        "http": {"save_status": 200, "got": {"from": "http", "n": 2}},
        "crossed": {"demo-1 over http": {"from": "proxy", "n": 1}, "demo-2 through proxy": {"from": "http", "n": 2}},
    }

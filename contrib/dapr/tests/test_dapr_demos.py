"""The Dapr demos of ``examples/dapr`` run end to end and each app gets exactly what it should."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DEMOS = ROOT / "examples" / "dapr"
pytestmark = pytest.mark.timeout(900)


def _demo(path: Path, *args: str) -> object:
    done = subprocess.run(
        [sys.executable, str(path), *args, "--json"], capture_output=True, text=True, timeout=800, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.backend("kafka")
@pytest.mark.backend("rabbitmq")
def test_bindings_demo_python_sends_node_receives_on_kafka_then_rabbitmq() -> None:
    results = _demo(DEMOS / "bindings" / "demo.py", "kafka", "rabbitmq", "--orders", "4")
    assert isinstance(results, list)
    assert [r["component"] for r in results] == ["bindings.kafka", "bindings.rabbitmq"]
    for r in results:
        run = r["sent"][0]["run"]
        expected = [{"run": run, "order": n} for n in range(1, 5)]
        assert r["sent"] == expected
        assert sorted(r["received"], key=lambda o: o["order"]) == expected


@pytest.mark.backend("redis")
def test_pubsub_demo_each_subscriber_gets_exactly_its_topics() -> None:
    result = _demo(DEMOS / "pubsub" / "demo.py")
    assert result == {
        "published": ["A", "B", "C"],
        "received": {"node-subscriber": ["A", "B"], "python-subscriber": ["A", "C"]},
    }

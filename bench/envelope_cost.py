"""The CloudEvents envelope's cost per message, printed by every pub/sub benchmark.

Measures, in one process and one run, the median over rounds of:

- ``wrap``: what ``publish`` adds per message (building and serialising the envelope);
- ``unwrap``: what delivery adds per message (parsing it, re-serialising a JSON payload);
- the same two steps with the ``cloudevents`` library (``to_json`` / ``from_json``), when it is
  installed, side by side: the measurement behind writing the envelope with a small typed model.

Run alone: ``python bench/envelope_cost.py``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from blockyard.envelope import unwrap, wrap
from blockyard.values import encode_value

PAYLOAD: dict[str, Any] = {"order": 1234, "qty": 3, "sku": "A-1", "note": "x" * 64, "tags": ["a", "b"]}
METADATA = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}


def _median_us(fn: Callable[[], Any], n: int, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(samples)


def measure(rounds: int = 7, n: int = 5000) -> dict[str, float]:
    """Microseconds per message: ``wrap``, ``unwrap`` and, when installed, ``lib_wrap``, ``lib_unwrap``."""

    def ours_wrap() -> bytes:
        return wrap(
            encode_value(PAYLOAD),
            topic="orders",
            pubsubname="pubsub",
            source="app",
            content_type=None,
            is_json=True,
            metadata=METADATA,
        )

    wire = ours_wrap()
    result = {
        "encode_only": _median_us(lambda: encode_value(PAYLOAD), n, rounds),
        "wrap": _median_us(ours_wrap, n, rounds),
        "unwrap": _median_us(lambda: unwrap(wire, "orders", "pubsub", {}), n, rounds),
    }
    result["wrap"] -= result["encode_only"]  # what the envelope adds to the plain encoding
    try:
        from cloudevents.v1.http import CloudEvent, from_json, to_json
    except ImportError:
        return result

    attrs = {"type": "com.dapr.event.sent", "source": "app", "datacontenttype": "application/json"}

    def lib_wrap() -> bytes:
        event = CloudEvent({**attrs, "topic": "orders", "pubsubname": "pubsub", **METADATA}, PAYLOAD)
        return bytes(to_json(event))

    result["lib_wrap"] = _median_us(lib_wrap, n, rounds) - result["encode_only"]
    result["lib_unwrap"] = _median_us(lambda: from_json(wire), n, rounds)
    return result


def report(indent: str = "  ") -> dict[str, float]:
    """Measure and print the envelope's cost; returns the figures."""
    cost = measure()
    print(
        f"{indent}CloudEvents envelope (medians): publish +{cost['wrap']:.2f} µs/msg, "
        f"delivery +{cost['unwrap']:.2f} µs/msg (payload encoding alone {cost['encode_only']:.2f} µs)"
    )
    if "lib_wrap" in cost:
        print(
            f"{indent}  cloudevents library for the same: publish +{cost['lib_wrap']:.2f} µs/msg, "
            f"delivery +{cost['lib_unwrap']:.2f} µs/msg"
        )
    return cost


if __name__ == "__main__":
    report("")

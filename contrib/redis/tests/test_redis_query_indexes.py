"""Dapr Component files that configure the Redis query API (``queryIndexes``) are refused, naming the
stores that implement queries."""

from __future__ import annotations

import pytest

from blockyard.errors import ComponentConfigError
from blockyard.resources import create_component, parse_resources

# As in Dapr's documentation of the Redis query API.
COMPONENT = """
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: querystatestore
spec:
  type: state.redis
  version: v1
  metadata:
  - name: redisHost
    value: "localhost:6379"
  - name: queryIndexes
    value: |
      [
        {
          "name": "orgIndx",
          "indexes": [
            {"key": "person.org", "type": "TEXT"},
            {"key": "person.id", "type": "NUMERIC"}
          ]
        }
      ]
"""


async def test_query_indexes_are_refused_naming_the_query_stores() -> None:
    (resource,) = parse_resources(COMPONENT, source="querystatestore.yaml")
    with pytest.raises(ComponentConfigError) as raised:
        await create_component(resource)
    text = str(raised.value)
    assert "queryIndexes" in text
    for store in ("state.in-memory", "state.sqlite", "state.azure.cosmosdb"):
        assert store in text

"""blockyard.open() over the embedded components of blockyard-local, with a real secret file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import blockyard
from blockyard.errors import ComponentConfigError

pytest.importorskip("blockyard_local", reason="needs blockyard-local: pip install -e contrib/local")

PASSWORD = "e2e-Secret-Value-Never-Logged"


def test_registry_resolves_the_embedded_components() -> None:
    from blockyard.registry import get_registry

    registry = get_registry()
    for type_ in ("state.in-memory", "pubsub.in-memory", "secretstores.local.file"):
        spec = registry.spec(type_)
        cls = registry.resolve(type_)
        assert {f.value for f in cls.features} == set(spec.features), type_


async def test_open_a_folder_with_secret_refs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"app": {"prefix": "orders", "password": PASSWORD}}))
    folder = tmp_path / "components"
    folder.mkdir()
    (folder / "secrets.yaml").write_text(
        f"""
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {{name: localsecrets}}
spec:
  type: secretstores.local.file
  version: v1
  metadata:
    - {{name: secretsFile, value: "{secrets}"}}
    - {{name: multiValued, value: "true"}}
"""
    )
    (folder / "app.yaml").write_text(
        """
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: statestore}
spec:
  type: state.in-memory
  version: v1
auth: {secretStore: localsecrets}
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: pubsub}
spec:
  type: pubsub.in-memory
  version: v1
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata: {name: ignored}
spec: {topic: orders, routes: {default: /orders}, pubsubname: pubsub}
"""
    )
    with caplog.at_level(logging.DEBUG):
        async with blockyard.open(folder) as yard:
            # files are read in name order (app.yaml first); the store statestore reads from comes before it
            assert list(yard.components) == ["localsecrets", "statestore", "pubsub"]
            store = yard.state("statestore")
            etag = await store.set("k", {"qty": 3})
            item = await store.get("k")
            assert item.json() == {"qty": 3}
            assert item.etag == etag
            assert (await yard.secrets("localsecrets").get_secret("app"))["password"] == PASSWORD
    assert PASSWORD not in caplog.text
    # the same folder with a reference to a secret that does not exist
    (folder / "bad.yaml").write_text(
        """
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: other}
spec:
  type: state.in-memory
  version: v1
  metadata:
    - {name: keyPrefix, secretKeyRef: {name: nothere, key: x}}
auth: {secretStore: localsecrets}
"""
    )
    with pytest.raises(ComponentConfigError) as ei:
        async with blockyard.open(folder):
            pass
    assert "bad.yaml:9: component 'other': metadata 'keyPrefix': secret 'nothere' (secretKeyRef) does not exist" in str(
        ei.value
    )


def test_the_library_path_imports_no_cli_dependency(tmp_path: Path) -> None:
    """Opening a yard and using its components never imports click or rich (they serve the CLI only)."""
    import subprocess
    import sys
    import textwrap

    (tmp_path / "store.yaml").write_text(
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: store}\nspec: {type: state.in-memory}\n"
    )
    code = textwrap.dedent(
        f"""
        import asyncio, json, sys
        import blockyard

        async def main():
            async with blockyard.open({str(tmp_path)!r}) as yard:
                await yard.state("store").set("k", {{"v": 1}})
                assert (await yard.state("store").get("k")).json() == {{"v": 1}}

        asyncio.run(main())
        print(json.dumps(sorted(sys.modules)))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = {m.split(".")[0] for m in json.loads(result.stdout)}
    assert "blockyard_local" in modules  # the component really ran
    assert not modules & {"click", "rich"}

"""Demo: a Dapr actor whose state lives in Blockyard's ``state.redis``, served to daprd.

One command (``make demo-actors``) brings up Redis and Dapr's placement and scheduler through
Blockyard's launcher, serves ``state.redis`` on a Unix socket (``blockyard serve``), starts daprd and
the actor app (app.py), then runs the client (client.py): ``DemoActor.SaveData`` / ``GetData`` through
an actor proxy and over plain HTTP on daprd's port. The client's JSON line is printed last; the exit
code is the client's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from blockyard_conformance.backends.launcher import get_launcher
from blockyard_dapr.daprd import Daprd, build
from blockyard_dapr.testing import AppProcess, ServeProcess

HERE = Path(__file__).parent
APP_ID = "demo-actors"


def main() -> int:
    launcher = get_launcher()
    redis = launcher.up("redis")
    placement = launcher.up("placement").address
    scheduler = launcher.up("scheduler").address
    work = Path(tempfile.mkdtemp(prefix="by-demo-actors-"))
    resources, sockets = work / "components", work / "sockets"
    resources.mkdir()
    sockets.mkdir()
    component = (HERE / "components" / "actorstore.yaml").read_text()
    (resources / "actorstore.yaml").write_text(component.replace("127.0.0.1:6379", f"{redis.host}:{redis.port}"))
    serve = ServeProcess(["--type", "state.redis"], sockets, ["blockyard-redis"], work / "serve.log")
    app = AppProcess(HERE / "app.py", work / "app.log")
    daprd = Daprd(
        APP_ID,
        resources,
        sockets,
        work / "daprd.log",
        app_port=app.port,
        binary=build(),
        placement=placement,
        scheduler=scheduler,
    )
    sidecar_env = {"DAPR_RUNTIME_HOST": "127.0.0.1", "DAPR_HTTP_PORT": str(daprd.http_port)}
    app.env |= sidecar_env
    try:
        serve.start()
        app.spawn()  # the app waits for its daprd, and daprd for its app
        daprd.start(timeout=120)
        app.wait_healthy(120)
        print(f"daprd {APP_ID} on {daprd.http_url}; logs in {work}", file=sys.stderr)
        client = subprocess.run(
            [sys.executable, str(HERE / "client.py")], env={**os.environ, **sidecar_env}, check=False, timeout=300
        )
        return client.returncode
    finally:
        daprd.stop()
        app.stop()
        serve.stop()
        shutil.rmtree(sockets, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

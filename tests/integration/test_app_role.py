# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``berth.engine.app`` role on localhost: volumes, an imported image and containers started in order, each
healthy before the next starts (read from the engine's health log and start times: events, not durations); a
second run changes nothing; a container that never gets healthy fails the role with its last health check's
output, and the containers after it are not started; ``absent`` removes them, last first."""
from __future__ import annotations

import json
import typing as t

import pytest

from tests.support.cli import Berth

pytestmark = [pytest.mark.integration]

IMAGE = "app/box:1"


@pytest.fixture(autouse=True)
def _remove_containers(berth_defaults: dict[str, str]) -> t.Iterator[None]:
    """A failed test leaves no container running."""
    yield
    berth = Berth(berth_defaults["data_root"], berth_defaults["config_path"])
    names = berth("ps", "-aq", rc=None).out.split()
    if names:
        berth("rm", "-f", *names, rc=None)


def role(name: str, **variables: t.Any) -> dict[str, t.Any]:
    return {"name": name, "ansible.builtin.include_role": {"name": "berth.engine.app"},
            "vars": dict({"berth_app_name": "shop"}, **variables)}


def containers(*extra: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    db = {"name": "db", "image": IMAGE, "stop_timeout": 1, "volumes": ["shop-data:/data"],
          "command": ["sh", "-c", "sleep 1; touch /data/ready; exec sleep 3600"],
          "healthcheck": {"test": ["CMD", "test", "-f", "/data/ready"], "interval": "300ms", "retries": 50}}
    web = {"name": "web", "image": IMAGE, "stop_timeout": 1, "command": "sleep 3600", "labels": {"tier": "web"},
           "healthcheck": {"test": "true", "interval": "300ms"}}
    return [db, web, *extra]


def test_order_health_idempotence_failure_and_absent(run_playbook: t.Any, berth_defaults: dict[str, str],
                                                     berth_root: str, rootfs_tar: str) -> None:
    app = {"berth_app_volumes": [{"name": "shop-data"}],
           "berth_app_images": [{"name": IMAGE, "source": "import", "load_path": rootfs_tar}],
           "berth_app_containers": containers()}
    out = run_playbook([role("deploy", **app)], defaults=berth_defaults)
    assert out.stats["localhost"]["failures"] == 0 and out.stats["localhost"]["changed"] > 0, out.stdout[-3000:]
    berth = Berth(berth_root, berth_defaults["config_path"])
    db, web = json.loads(berth("inspect", "db", "web").out)
    assert db["State"]["Health"]["Status"] == "healthy" and web["State"]["Health"]["Status"] == "healthy"
    first_pass = min(e["End"] for e in db["State"]["Health"]["Log"] if e["ExitCode"] == 0)
    assert first_pass < web["State"]["StartedAt"]  # web started once db had passed its check
    assert db["Config"]["Labels"]["berth.app"] == "shop"
    assert web["Config"]["Labels"] == {"tier": "web", "berth.app": "shop"}

    again = run_playbook([role("deploy again", **app)], defaults=berth_defaults)
    assert again.stats["localhost"]["changed"] == 0 and again.stats["localhost"]["failures"] == 0, again.stdout

    bad = {"name": "worker", "image": IMAGE, "command": "sleep 3600", "stop_timeout": 1, "healthy_wait_timeout": 3,
           "healthcheck": {"test": "echo queue-unreachable-42; exit 3", "interval": "200ms", "retries": 1}}
    late = {"name": "late", "image": IMAGE, "command": "sleep 3600"}
    failed_run = run_playbook([role("deploy bad", **{**app, "berth_app_containers": containers(bad, late)})],
                              defaults=berth_defaults)
    failed = [r for r in failed_run.by_host["localhost"].values() if r.get("failed") and "msg" in r
              and "did not become healthy" in r["msg"]]
    assert failed_run.stats["localhost"]["failures"] == 1 and len(failed) == 1, failed_run.stdout[-5000:]
    msg = failed[0]["msg"]
    assert "container worker on localhost did not become healthy" in msg, msg
    assert "exit code 3" in msg and "queue-unreachable-42" in msg, msg
    assert berth("inspect", "late", rc=None).returncode != 0  # after the unhealthy one: never started

    bad_desc = run_playbook([role("no image", berth_app_containers=[{"name": "x"}])], defaults=berth_defaults)
    msgs = [r["msg"] for r in bad_desc.by_host["localhost"].values() if r.get("failed")]
    assert len(msgs) == 1 and "berth_app_containers needs a name (unique) and an" in msgs[0], msgs

    gone = run_playbook([role("remove", berth_app_state="absent",
                              berth_app_containers=containers(bad, late))], defaults=berth_defaults)
    assert gone.stats["localhost"]["failures"] == 0 and gone.stats["localhost"]["changed"] > 0
    assert berth("ps", "-aq").out.split() == []
    assert "shop-data" in berth("volume", "ls", "-q").out  # the data stays

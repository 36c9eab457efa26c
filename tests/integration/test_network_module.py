# SPDX-License-Identifier: GPL-3.0-or-later
"""berth.engine.network and network_info through ansible-playbook on localhost: create (changed), again (not
changed), check mode (predicts, writes nothing, same diff as the applied run), ``connected`` with
``appends``, a network in use is neither removed nor recreated without ``force`` (the error names the
containers), with ``force`` it is (its containers disconnected), absent."""
from __future__ import annotations

import os
import typing as t

import pytest

from tests.support import images as test_images

pytestmark = [pytest.mark.integration, pytest.mark.registry]

NETWORK = "berth.engine.network"
INFO = "berth.engine.network_info"
CONTAINER = "berth.engine.container"


def ok(result: dict[str, t.Any]) -> dict[str, t.Any]:
    assert not result.get("failed"), result.get("msg") or result
    return result


def failed(result: dict[str, t.Any], *words: str) -> None:
    assert result.get("failed") is True, result
    for word in words:
        assert word in result["msg"], (word, result["msg"])
    assert "Traceback" not in result["msg"] and "module_stderr" not in result, result


def diff_of(result: dict[str, t.Any]) -> dict[str, t.Any]:
    diff = result["diff"][0] if isinstance(result.get("diff"), list) else result["diff"]
    return {"before": diff.get("before", {}), "after": diff.get("after", {})}


@pytest.fixture
def engine_defaults(registry: t.Any, berth_config: t.Callable[..., str], berth_root: str) -> dict[str, str]:
    return {"data_root": berth_root, "config_path": berth_config()}


@pytest.fixture
def image_ref(registry: t.Any, busybox_layout: test_images.OciLayout) -> str:
    test_images.push(busybox_layout, "latest", registry.host, "berth-it/box:latest")
    return f"{registry.host}/berth-it/box:latest"


def test_network_lifecycle_connected_force(run_playbook: t.Callable[..., t.Any], engine_defaults: dict[str, str],
                                           image_ref: str) -> None:
    root = engine_defaults["data_root"]
    base = {"name": "itnet", "subnet": "10.247.13.0/24", "gateway": "10.247.13.1", "mtu": 1450,
            "labels": {"tier": "web"}}
    check = run_playbook([{"name": "create", NETWORK: base}], check=True, diff=True, defaults=engine_defaults)
    assert ok(check["create"])["changed"] is True
    assert not os.path.exists(os.path.join(root, "networks", "itnet.json")), "check mode wrote a network"

    box = {"image": image_ref, "command": "sleep 3600", "stop_timeout": 1}
    res = run_playbook([
        {"name": "create", NETWORK: base},
        {"name": "again", NETWORK: dict(base, ipam_config=[{"subnet": "10.247.13.0/24"}])},
        {"name": "again, check", NETWORK: base, "check_mode": True},
        {"name": "info", INFO: {"name": "itnet"}},
        {"name": "info of none", INFO: {"name": "nothing"}},
        {"name": "c1", CONTAINER: dict(box, name="berth-it-n1", network_mode="itnet")},
        {"name": "c2", CONTAINER: dict(box, name="berth-it-n2", network_mode="none")},
        {"name": "c3", CONTAINER: dict(box, name="berth-it-n3")},
        {"name": "connect c3, check", NETWORK: dict(base, connected=["berth-it-n3"], appends=True),
         "check_mode": True},
        {"name": "connect c3", NETWORK: dict(base, connected=["berth-it-n3"], appends=True)},
        {"name": "connect c3 again", NETWORK: dict(base, connected=["berth-it-n3"], appends=True)},
        {"name": "connect a missing container", NETWORK: dict(base, connected=["nosuch"]), "ignore_errors": True},
        {"name": "info with users", INFO: {"name": "itnet"}},
        {"name": "remove refused", NETWORK: {"name": "itnet", "state": "absent"}, "ignore_errors": True},
        {"name": "recreate refused", NETWORK: dict(base, labels={"tier": "db"}), "ignore_errors": True},
        {"name": "bad subnet", NETWORK: dict(base, subnet="10.247.13.0/40"), "ignore_errors": True},
    ], diff=True, defaults=engine_defaults)
    assert ok(res["create"])["changed"] is True
    assert diff_of(res["create"]) == diff_of(check["create"])
    assert diff_of(res["create"])["after"]["subnet"] == "10.247.13.0/24"
    assert ok(res["again"])["changed"] is False
    assert ok(res["again, check"])["changed"] is False
    info = ok(res["info"])
    assert info["exists"] is True and info["network"]["Labels"] == {"tier": "web"} and info["network"]["MTU"] == 1450
    assert info["network"]["IPAM"]["Config"][0]["Subnet"] == "10.247.13.0/24"
    assert ok(res["info of none"])["exists"] is False and res["info of none"]["network"] is None
    assert ok(res["connect c3, check"])["changed"] is True
    assert res["connect c3, check"]["actions"] == ["Connected container berth-it-n3"]
    assert ok(res["connect c3"])["changed"] is True
    assert diff_of(res["connect c3"]) == diff_of(res["connect c3, check"])
    assert diff_of(res["connect c3"])["after"]["connected"] == ["berth-it-n1", "berth-it-n3"]
    assert ok(res["connect c3 again"])["changed"] is False
    failed(res["connect a missing container"], "nosuch")
    users = sorted(c["Name"] for c in ok(res["info with users"])["network"]["Containers"].values())
    assert users == ["berth-it-n1", "berth-it-n3"]
    failed(res["remove refused"], "berth-it-n1", "berth-it-n3", "force")
    failed(res["recreate refused"], "berth-it-n1", "labels.tier", "force")
    failed(res["bad subnet"], "subnet", "10.247.13.0/40")

    # without appends, connected is the whole list; force recreates a changed network in use
    changed = dict(base, labels={"tier": "db"}, connected=["berth-it-n3"], force=True)
    res = run_playbook([
        {"name": "only c3", NETWORK: dict(base, connected=["berth-it-n3"])},
        {"name": "recreate, check", NETWORK: changed, "check_mode": True},
        {"name": "recreate", NETWORK: changed},
        {"name": "recreate again", NETWORK: changed},
        {"name": "info", INFO: {"name": "itnet"}},
        {"name": "remove, check", NETWORK: {"name": "itnet", "state": "absent", "force": True}, "check_mode": True},
        {"name": "remove", NETWORK: {"name": "itnet", "state": "absent", "force": True}},
        {"name": "remove again", NETWORK: {"name": "itnet", "state": "absent"}},
        {"name": "info after", INFO: {"name": "itnet"}},
        {"name": "c1 gone", CONTAINER: {"name": "berth-it-n1", "state": "absent"}},
        {"name": "c2 gone", CONTAINER: {"name": "berth-it-n2", "state": "absent"}},
        {"name": "c3 gone", CONTAINER: {"name": "berth-it-n3", "state": "absent"}},
    ], diff=True, defaults=engine_defaults)
    assert ok(res["only c3"])["actions"] == ["Disconnected container berth-it-n1"]
    assert ok(res["recreate, check"])["changed"] is True
    assert ok(res["recreate"])["actions"] == ["Disconnected container berth-it-n3",
                                              "Removed network itnet (labels.tier differ)", "Created network itnet",
                                              "Connected container berth-it-n3"]
    assert res["recreate"]["actions"] == res["recreate, check"]["actions"]
    assert diff_of(res["recreate"])["after"]["labels"] == {"tier": "db"}
    assert ok(res["recreate again"])["changed"] is False
    assert [c["Name"] for c in ok(res["info"])["network"]["Containers"].values()] == ["berth-it-n3"]
    assert ok(res["remove, check"])["actions"] == ["Disconnected container berth-it-n3", "Removed network itnet"]
    assert ok(res["remove"])["actions"] == res["remove, check"]["actions"]
    assert diff_of(res["remove"])["after"]["exists"] is False
    assert ok(res["remove again"])["changed"] is False
    assert ok(res["info after"])["exists"] is False
    for name in ("c1 gone", "c2 gone", "c3 gone"):
        ok(res[name])


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_container_networks_change_in_place(run_playbook: t.Callable[..., t.Any], engine_defaults: dict[str, str],
                                            image_ref: str) -> None:
    """A container on a user network joins a second one by connect (same ID, not restarted), check mode
    predicting it with the same diff; published_ports stay idempotent; comparisons strict disconnects."""
    port = _free_port()
    box = {"name": "berth-it-nm", "image": image_ref, "command": "sleep 3600", "stop_timeout": 1,
           "network_mode": "itfront", "published_ports": [f"127.0.0.1:{port}:80"]}
    second = dict(box, networks=[{"name": "itback", "aliases": ["db"]}])
    res = run_playbook([
        {"name": "front", NETWORK: {"name": "itfront", "subnet": "10.247.14.0/24"}},
        {"name": "back", NETWORK: {"name": "itback", "subnet": "10.247.15.0/24"}},
        {"name": "create", CONTAINER: box},
        {"name": "again", CONTAINER: box},
        {"name": "info", "berth.engine.container_info": {"name": "berth-it-nm"}},
        {"name": "second, check", CONTAINER: second, "check_mode": True},
        {"name": "second", CONTAINER: second},
        {"name": "second again", CONTAINER: second},
        {"name": "info after", "berth.engine.container_info": {"name": "berth-it-nm"}},
        {"name": "back users", INFO: {"name": "itback"}},
        {"name": "strict, check", CONTAINER: dict(box, networks=[], comparisons={"networks": "strict"}),
         "check_mode": True},
        {"name": "strict", CONTAINER: dict(box, networks=[], comparisons={"networks": "strict"})},
        {"name": "back users after", INFO: {"name": "itback"}},
        {"name": "gone", CONTAINER: {"name": "berth-it-nm", "state": "absent"}},
        {"name": "front gone", NETWORK: {"name": "itfront", "state": "absent"}},
        {"name": "back gone", NETWORK: {"name": "itback", "state": "absent"}},
    ], diff=True, defaults=engine_defaults)
    assert ok(res["create"])["changed"] is True
    assert ok(res["again"])["changed"] is False, res["again"].get("actions")
    before = ok(res["info"])["container"]
    assert ok(res["second, check"])["changed"] is True
    assert ok(res["second"])["changed"] is True
    assert res["second"]["actions"] == res["second, check"]["actions"] == [
        f"Connected container berth-it-nm ({before['Id'][:12]}) to network itback"]
    assert diff_of(res["second"]) == diff_of(res["second, check"])
    assert "networks" in diff_of(res["second"])["after"]
    assert ok(res["second again"])["changed"] is False, res["second again"].get("actions")
    after = ok(res["info after"])["container"]
    assert after["Id"] == before["Id"]
    assert after["State"]["Running"] and after["State"]["Pid"] == before["State"]["Pid"]
    assert after["State"]["StartedAt"] == before["State"]["StartedAt"]
    assert set(after["NetworkSettings"]["Networks"]) == {"itfront", "itback"}
    users = [c["Name"] for c in ok(res["back users"])["network"]["Containers"].values()]
    assert users == ["berth-it-nm"]
    assert ok(res["strict"])["actions"] == res["strict, check"]["actions"] == [
        f"Disconnected container berth-it-nm ({before['Id'][:12]}) from network itback"]
    assert ok(res["back users after"])["network"]["Containers"] == {}
    for name in ("gone", "front gone", "back gone"):
        ok(res[name])

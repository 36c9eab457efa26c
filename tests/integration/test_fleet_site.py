# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/site.yml (host + registry + app) on four hosts of the simulated fleet at forks 4, then again with
nothing changed; and a rolling update of the app under ``serial: 1`` while a client polls every host: each
host passes its health gate, and no request fails on a host outside the current batch.

The rollout and the poller meet through events, not timing: the play appends ``begin <host>`` / ``end <host>``
to an events file, and the poller, once it has read a marker and polled every host once more, creates
``<marks>/<kind>-<host>``, which the play waits for. So each batch is polled at least once while it runs,
and a host is replaced only after the poller knows it is in the batch."""
from __future__ import annotations

import http.client
import json
import os
import subprocess
import threading
import typing as t

import pytest
import yaml

from tests.integration.test_fleet import ENGINE_DEFAULTS
from tests.integration.test_host_role import ROLE_VARS as HOST_VARS
from tests.support import REPO, require_tools

pytestmark = [pytest.mark.integration, pytest.mark.slow]

IMAGE = "fleet/web:1"
PORT = 8080


def web(version: str) -> dict[str, t.Any]:
    """The app: busybox httpd on the fleet host's own network, serving its version."""
    return {"name": "web", "image": IMAGE, "network_mode": "host", "stop_timeout": 1, "env": {"VERSION": version},
            "command": ["sh", "-c", f"mkdir -p /www && echo $VERSION > /www/index.html && "
                                    f"exec httpd -f -p {PORT} -h /www"],
            "healthcheck": {"test": f"wget -q -O- http://127.0.0.1:{PORT}/ | grep -qx $VERSION",
                            "interval": "300ms", "retries": 100}}


def app_vars(rootfs_tar: str, version: str) -> dict[str, t.Any]:
    return {"berth_app_name": "web",
            "berth_app_images": [{"name": IMAGE, "source": "import", "load_path": rootfs_tar}],
            "berth_app_containers": [web(version)]}


def playbook(run_playbook: t.Any, path: str, inventory: str, variables: dict[str, t.Any],
             *args: str) -> dict[str, t.Any]:
    """ansible-playbook *path* with the json callback; returns its stats and per-host task results."""
    work = run_playbook.work
    (work / "site.ini").write_text(inventory)
    (work / "vars.yml").write_text(yaml.safe_dump(variables))
    proc = subprocess.run([run_playbook.command(), "-i", str(work / "site.ini"), path, "-e", f"@{work / 'vars.yml'}",
                           *args], cwd=str(work), env=run_playbook.env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=600, check=False)
    try:
        data = json.loads(proc.stdout[proc.stdout.find("{"):])
    except ValueError:
        raise AssertionError(f"no JSON (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}") from None
    failed = [(task["task"]["name"], h, r.get("msg")) for play in data["plays"] for task in play["tasks"]
              for h, r in task["hosts"].items() if r.get("failed") or r.get("unreachable")]
    return {"stats": data["stats"], "failed": failed, "rc": proc.returncode, "out": proc.stdout[-4000:] + proc.stderr}


def test_site_converges_on_four_hosts_then_changes_nothing(run_playbook: t.Any, fleet: t.Any,
                                                           rootfs_tar: str) -> None:
    require_tools("docker-registry", why="the offline registry image")
    fl = fleet(4)
    registry_host = fl.hosts[0]
    subprocess.run([os.path.join(REPO, "scripts", "registry-image.sh")], check=True, stdout=subprocess.DEVNULL,
                   env=dict(os.environ, BERTH_ROOT=registry_host.data_root, BERTH_CONFIG=registry_host.config_path))
    inventory = fl.inventory() + f"\n[berth_registries]\n{registry_host.name}\n"
    variables = dict(HOST_VARS, **app_vars(rootfs_tar, "1"), berth_site_hosts="fleet", berth_site_become=False,
                     berth_registry_image="localhost/berth/registry:2", berth_registry_port=5000)
    site = os.path.join(REPO, "playbooks", "site.yml")
    first = playbook(run_playbook, site, inventory, variables, "-f", "4")
    assert first["rc"] == 0 and not first["failed"], first
    assert all(first["stats"][h.name]["changed"] > 0 for h in fl.hosts), first["stats"]
    for h in fl.hosts:
        assert get(h.address, PORT) == (200, "1"), h.name
    assert get(registry_host.address, 5000, "/v2/")[0] == 200

    again = playbook(run_playbook, site, inventory, variables, "-f", "4")
    assert again["rc"] == 0 and not again["failed"], again
    assert {h: (s["changed"], s["failures"]) for h, s in again["stats"].items()} == {
        h.name: (0, 0) for h in fl.hosts}


def get(address: str, port: int, path: str = "/") -> tuple[int, str]:
    conn = http.client.HTTPConnection(address, port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode().strip()
    finally:
        conn.close()


class Poller(threading.Thread):
    """Polls every host in rounds; records ``("poll", host, answer)`` and the play's markers, in order."""

    def __init__(self, addresses: dict[str, str], events_file: str, marks: str) -> None:
        super().__init__(daemon=True)
        self.addresses, self.events_file, self.marks = addresses, events_file, marks
        self.events: list[tuple[str, str, str]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        offset = 0
        while not self.stop.is_set():
            with open(self.events_file, encoding="utf-8") as fh:
                fh.seek(offset)
                lines = fh.read()
            complete = lines[:lines.rfind("\n") + 1]
            offset += len(complete.encode())
            markers = [tuple(line.split()) for line in complete.splitlines()]
            self.events += [(kind, host, "") for kind, host in markers]
            for host, address in self.addresses.items():  # one full round after reading the markers
                try:
                    status, body = get(address, PORT)
                    answer = body if status == 200 else f"HTTP {status}"
                except OSError as exc:
                    answer = f"error {exc}"
                self.events.append(("poll", host, answer))
            for kind, host in markers:
                with open(os.path.join(self.marks, f"{kind}-{host}"), "w", encoding="utf-8"):
                    pass


def test_rolling_update_serial_one_keeps_other_hosts_serving(run_playbook: t.Any, fleet: t.Any,
                                                             rootfs_tar: str, tmp_path: t.Any) -> None:
    fl = fleet(4)
    inventory = fl.inventory()
    deploy = [{"name": "deploy", "ansible.builtin.include_role": {"name": "berth.engine.app"},
               "vars": app_vars(rootfs_tar, "1")}]
    out = run_playbook(deploy, inventory=inventory, hosts="fleet", defaults=ENGINE_DEFAULTS, extra_args=["-f", "4"])
    assert all(s["failures"] == 0 for s in out.stats.values()), out.stdout[-3000:]

    events_file, marks = str(tmp_path / "events"), str(tmp_path / "marks")
    os.mkdir(marks)
    open(events_file, "w", encoding="utf-8").close()
    poller = Poller({h.name: h.address for h in fl.hosts}, events_file, marks)
    poller.start()

    def marker(kind: str) -> list[dict[str, t.Any]]:
        return [{"name": f"{kind} marker", "delegate_to": "localhost",
                 "ansible.builtin.shell": f"echo '{kind} {{{{ inventory_hostname }}}}' >> {events_file}"},
                {"name": f"{kind} seen by the poller", "delegate_to": "localhost",
                 "ansible.builtin.wait_for": {"path": f"{marks}/{kind}-{{{{ inventory_hostname }}}}",
                                              "timeout": 120}}]

    play = [{"hosts": "fleet", "gather_facts": False, "serial": 1, "max_fail_percentage": 0,
             "module_defaults": {"group/berth.engine.berth": ENGINE_DEFAULTS},
             "tasks": [*marker("begin"),
                       {"name": "update", "ansible.builtin.include_role": {"name": "berth.engine.app"},
                        "vars": app_vars(rootfs_tar, "2")},
                       *marker("end")]}]
    path = tmp_path / "rolling.yml"
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    try:
        result = playbook(run_playbook, str(path), inventory, {}, "-f", "4")
    finally:
        poller.stop.set()
        poller.join(60)
    assert result["rc"] == 0 and not result["failed"], result
    assert all(result["stats"][h.name]["changed"] > 0 for h in fl.hosts), result["stats"]

    batch: str | None = None
    order, outside, failures_inside = [], 0, []
    for kind, host, answer in poller.events:
        if kind == "begin":
            batch = host
            order.append(host)
        elif kind == "end":
            assert batch == host, poller.events
            batch = None
        elif host == batch:
            if answer not in ("1", "2"):
                failures_inside.append(answer)
        else:
            assert answer in ("1", "2"), f"{host} failed outside its batch ({batch}): {answer}\n{poller.events}"
            outside += 1
            if batch is not None:
                before = [h.name for h in fl.hosts][:order.index(batch)] if batch in order else []
                assert answer == ("2" if host in before else "1"), (host, batch, answer)
    assert order == [h.name for h in fl.hosts]  # one host per batch, in inventory order
    assert outside >= 3 * 4  # every batch saw at least one full round of the other hosts
    for h in fl.hosts:
        assert get(h.address, PORT) == (200, "2"), h.name

# SPDX-License-Identifier: GPL-3.0-or-later
"""The simulated fleet (tests/support/fleet.py) under Ansible: 4 hosts booted, ``ansible -m ping`` to all of
them at forks 4, a container deployed on each through the modules (module_defaults from the fleet's host
variables), the containers reached through the ``berth`` connection's ssh hop and listed by the
``berth_containers`` inventory through ssh, a host restarted, and a
teardown that leaves no bridge, veth, process, cgroup or directory behind."""
from __future__ import annotations

import glob
import json
import os
import shlex
import subprocess
import typing as t

import pytest
import yaml

from tests.support import REPO, unwrap_unsafe

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ENGINE_DEFAULTS = {"data_root": "{{ berth_data_root }}", "config_path": "{{ berth_config_path }}"}


def ok(result: dict[str, t.Any]) -> dict[str, t.Any]:
    assert not result.get("failed") and not result.get("unreachable"), result
    return result


def container_inventory(fleet: t.Any, container: str) -> str:
    """Group ``apps``: the container *container* of every fleet host, through the connection's ssh hop."""
    ssh_args = " ".join(shlex.quote(o) for o in fleet.ssh_options())
    lines = ["[apps]"]
    for h in fleet.hosts:
        lines.append(f"{container}-{h.name} ansible_berth_container={container} "
                     f"ansible_berth_ssh_host=root@{h.address}")
    lines += ["", "[apps:vars]", "ansible_connection=berth.engine.berth",
              f"ansible_berth_ssh_args='{ssh_args} -o ControlMaster=no'",
              f"ansible_berth_command={os.path.join(REPO, 'bin', 'berth')}", ""]
    return "\n".join(lines)


def test_four_hosts_ping_deploy_hop_restart_teardown(run_playbook: t.Any, fleet: t.Any, rootfs_tar: str) -> None:
    fl = fleet(4)
    inventory = fl.inventory()
    hostnames = {fl.ssh(h, "hostname").stdout.strip() for h in fl.hosts}
    assert hostnames == {"fleet0", "fleet1", "fleet2", "fleet3"}  # own UTS namespaces

    path = run_playbook.work / "fleet.ini"
    path.write_text(inventory)
    ping = subprocess.run([run_playbook.command("ansible"), "-i", str(path), "fleet", "-f", "4", "-m", "ping"],
                          env=run_playbook.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=300, check=False)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert ping.stdout.count("SUCCESS") == 4 and '"ping": "pong"' in ping.stdout

    tasks = [
        {"name": "image", "berth.engine.image": {"name": "fleet/box:1", "source": "import", "load_path": rootfs_tar}},
        {"name": "container",
         "berth.engine.container": {"name": "web", "image": "fleet/box:1", "command": "sleep 3600", "stop_timeout": 1}},
        {"name": "exec", "berth.engine.container_exec": {"container": "web", "command": "cat /etc/hostname"}},
    ]
    out = run_playbook(tasks, inventory=inventory, hosts="fleet", defaults=ENGINE_DEFAULTS, extra_args=["-f", "4"])
    assert sorted(out.by_host) == ["fleet0", "fleet1", "fleet2", "fleet3"]
    ids = {}
    for host, results in out.by_host.items():
        assert ok(results["container"])["changed"] is True, host
        ids[host] = results["container"]["container"]["Id"]
        assert ok(results["exec"])["stdout"].strip() == ids[host][:12], host
    again = run_playbook(tasks[:2], inventory=inventory, hosts="fleet", defaults=ENGINE_DEFAULTS,
                         extra_args=["-f", "4"])
    assert all(not ok(r["container"])["changed"] for r in again.by_host.values())
    for h in fl.hosts:  # each host's engine has its own data root: one container each, its own
        ps = fl.ssh(h, f"{os.path.join(REPO, 'bin', 'berth')} ps -q --no-trunc").stdout.split()
        assert ps == [ids[h.name]], h.name

    # the containers as inventory hosts, reached through the connection plugin's ssh hop (raw: no Python in
    # the image), with the engine settings the hosts' sshd gives their sessions (BERTH_ROOT/BERTH_CONFIG):
    # as a play's hosts, and from each fleet host's play through delegate_to
    both = inventory + "\n" + container_inventory(fl, "web")
    raw = {"ansible.builtin.raw": "cat /etc/hostname; cat /proc/1/cmdline"}
    hop = run_playbook([dict(raw, name="raw")], inventory=both, hosts="apps", extra_args=["-f", "4"])
    delegated = run_playbook([dict(raw, name="delegated", delegate_to="web-{{ inventory_hostname }}")],
                             inventory=both, hosts="fleet", extra_args=["-f", "4"])
    for h in fl.hosts:
        for stdout in (ok(hop.by_host[f"web-{h.name}"]["raw"])["stdout"],
                       ok(delegated.by_host[h.name]["delegated"])["stdout"]):
            assert stdout.startswith(ids[h.name][:12]) and "sleep" in stdout, stdout

    # the berth_containers inventory lists a host's containers through ssh, ready for the same hop
    config = {"plugin": "berth.engine.berth_containers", "ssh_host": f"root@{fl.hosts[2].address}",
              "ssh_args": " ".join(shlex.quote(o) for o in fl.ssh_options()),
              "berth_command": os.path.join(REPO, "bin", "berth")}
    (run_playbook.work / "node2.berth.yml").write_text(yaml.safe_dump(config))
    listed = subprocess.run([run_playbook.command("ansible-inventory"), "-i",
                             str(run_playbook.work / "node2.berth.yml"), "--list"],
                            env=run_playbook.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            timeout=120, check=False)
    assert listed.returncode == 0, listed.stderr
    web = unwrap_unsafe(json.loads(listed.stdout))["_meta"]["hostvars"]["web"]
    assert web["berth_id"] == ids["fleet2"] and web["ansible_berth_ssh_host"] == f"root@{fl.hosts[2].address}"

    # a restart: the host's processes and containers die, its disk stays, sshd answers again
    victim = fl.hosts[1]
    fl.restart(victim)
    assert fl.ssh(victim, "hostname").stdout.strip() == "fleet1"
    state = fl.ssh(victim, f"{os.path.join(REPO, 'bin', 'berth')} inspect --format '{{{{.State.Running}}}}' web")
    assert state.stdout.strip() == "false"

    # teardown
    directory = fl.directory
    bridge = fl.bridge
    fl.close()
    assert not os.path.exists(directory)
    assert not os.path.exists(f"/sys/class/net/{bridge}")
    assert glob.glob(f"/sys/class/net/{bridge}h*") == []
    assert [p for cid in ids.values() for p in glob.glob(f"/sys/fs/cgroup/*/berth/{cid}")] == []
    left = []
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(cmdline, "rb") as fh:
                if directory.encode() in fh.read():
                    left.append(cmdline)
        except OSError:
            pass
    assert left == []


def test_a_host_that_dies_mid_play_fails_alone(run_playbook: t.Any, fleet: t.Any, rootfs_tar: str) -> None:
    """fleet1 is powered off between two tasks (its namespaces SIGKILLed from the controller): it alone is
    unreachable, the others converge; once it is back, a rerun converges it and changes nothing elsewhere."""
    fl = fleet(4)
    victim = fl.hosts[1]
    inventory = fl.inventory() + f"\n[victim]\n{victim.name} fleet_pid={victim.pid}\n"
    tasks = [
        {"name": "image", "berth.engine.image": {"name": "fleet/box:1", "source": "import", "load_path": rootfs_tar}},
        {"name": "power off", "ansible.builtin.command": "kill -KILL {{ fleet_pid }}", "delegate_to": "localhost",
         "when": "fleet_pid is defined"},
        {"name": "container",
         "berth.engine.container": {"name": "web", "image": "fleet/box:1", "command": "sleep 3600", "stop_timeout": 1}},
    ]
    out = run_playbook(tasks, inventory=inventory, hosts="fleet", defaults=ENGINE_DEFAULTS, extra_args=["-f", "4"])
    assert out.stats[victim.name]["unreachable"] == 1, out.stats
    for h in fl.hosts:
        if h is not victim:
            assert out.stats[h.name]["failures"] == 0 and out.stats[h.name]["unreachable"] == 0, out.stats
            assert ok(out.by_host[h.name]["container"])["changed"] is True
    assert not victim.up

    fl.restart(victim)  # power on again: its disk (data root, image) is as it was
    rerun = run_playbook([tasks[0], tasks[2]], inventory=fl.inventory(), hosts="fleet", defaults=ENGINE_DEFAULTS,
                         extra_args=["-f", "4"])
    assert ok(rerun.by_host[victim.name]["container"])["changed"] is True
    assert [h.name for h in fl.hosts if rerun.by_host[h.name]["container"]["changed"]] == [victim.name]
    assert all(s["failures"] == 0 and s["unreachable"] == 0 for s in rerun.stats.values()), rerun.stats

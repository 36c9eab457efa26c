# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``berth.engine.host`` role on two hosts of the simulated fleet: packages (present already: nothing
changes on this machine), kernel modules, sysctls (per network namespace: the fleet host's, not this
machine's), the prerequisite checks, the CLI on the PATH, the restore unit; a second run changes nothing;
an unmet prerequisite fails with its reason.  Paths are moved into each host's directory (the fleet hosts
share this machine's filesystem)."""
from __future__ import annotations

import json
import os
import typing as t

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HOST_DIR = "{{ berth_data_root | dirname }}"
ROLE_VARS = {
    "berth_host_kernel_modules": ["overlay"],
    "berth_host_sysctls": {"net.ipv4.conf.all.route_localnet": "1", "net.ipv4.ip_forward": "1"},
    "berth_host_sysctl_file": HOST_DIR + "/sysctl.conf",
    "berth_host_install_dir": HOST_DIR + "/opt",
    "berth_host_bin_dir": HOST_DIR + "/bin",
    "berth_host_systemd_dir": HOST_DIR,
    "berth_host_data_root": "{{ berth_data_root }}",
    "berth_host_config_path": HOST_DIR + "/daemon.json",
    "berth_host_registry_mirrors": ["https://mirror.example.test"],
    "berth_host_dns": ["10.0.0.53"],
    "berth_host_log_opts": {"max-size": "10m"},
}


def role(name: str, **overrides: t.Any) -> dict[str, t.Any]:
    return {"name": name, "ansible.builtin.include_role": {"name": "berth.engine.host"},
            "vars": dict(ROLE_VARS, **overrides)}


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def test_host_role_converges_then_changes_nothing(run_playbook: t.Any, fleet: t.Any) -> None:
    fl = fleet(2)
    machine_localnet = _read("/proc/sys/net/ipv4/conf/all/route_localnet")
    first = run_playbook([role("host")], inventory=fl.inventory(), hosts="fleet", extra_args=["-f", "2"])
    for h in fl.hosts:
        failed = {n: r for n, r in first.by_host[h.name].items() if r.get("failed")}
        assert first.stats[h.name]["failures"] == 0 and first.stats[h.name]["changed"] > 0, failed
        directory = h.directory
        out = fl.ssh(h, f"PATH={directory}/bin:$PATH; berth version; sysctl -n net.ipv4.conf.all.route_localnet"
                        " net.ipv4.ip_forward").stdout.split("\n")
        assert "Version" in "\n".join(out) and out[-3:-1] == ["1", "1"], out
        link = os.readlink(os.path.join(directory, "bin", "berth"))
        assert link == os.path.join(directory, "opt", "bin", "berth")
        unit = _read(os.path.join(directory, "berth-restore.service"))
        assert (f"ExecStart={directory}/bin/berth --root {h.data_root} --config {directory}/daemon.json "
                "system restore") in unit
        assert "net.ipv4.ip_forward = 1" in _read(os.path.join(directory, "sysctl.conf"))
        assert json.loads(_read(os.path.join(directory, "daemon.json"))) == {
            "registry-mirrors": ["https://mirror.example.test"], "dns": ["10.0.0.53"], "log-opts": {"max-size": "10m"}}
    assert _read("/proc/sys/net/ipv4/conf/all/route_localnet") == machine_localnet  # the hosts' own netns

    again = run_playbook([role("host")], inventory=fl.inventory(), hosts="fleet", extra_args=["-f", "2"])
    assert {h: (s["changed"], s["failures"]) for h, s in again.stats.items()} == {
        h.name: (0, 0) for h in fl.hosts}


def test_an_unmet_prerequisite_fails_with_its_reason(run_playbook: t.Any, fleet: t.Any) -> None:
    fl = fleet(1)
    out = run_playbook([role("host", berth_host_min_kernel="99.0")], inventory=fl.inventory(), hosts="fleet")
    failed = [r for r in out.by_host["fleet0"].values() if r.get("failed")]
    assert len(failed) == 1, f"{out.by_host}\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
    assert "fleet0 cannot run Berth: kernel" in failed[0]["msg"] and "is older than 99.0" in failed[0]["msg"]
    assert "overlayfs" not in failed[0]["msg"]  # only what is missing

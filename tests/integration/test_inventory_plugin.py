# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``berth.engine.berth_containers`` inventory: ``ansible-inventory --list`` over a scratch data root's
containers (groups by image and label, keyed_groups, compose, stopped containers with ``all``), and an ad-hoc
``ansible`` run that reaches the listed containers through the connection plugin it sets up."""
from __future__ import annotations

import json
import subprocess
import typing as t

import pytest
import yaml

from tests.support import unwrap_unsafe
from tests.support.cli import Berth, scratch

pytestmark = [pytest.mark.integration]

NAMES = ("inv-web1", "inv-web2", "inv-db", "inv-old")


@pytest.fixture
def engine(tmp_path: t.Any, python_rootfs_tar: str) -> t.Iterator[Berth]:
    """web1, web2 (py:1, tier=web), db (py:2, tier=db, a label without value), old (stopped)."""
    berth = scratch(tmp_path / "engine")
    berth("import", "-c", 'CMD ["sh"]', python_rootfs_tar, "berth-it/py:1")
    berth("tag", "berth-it/py:1", "berth-it/py:2")
    try:
        for name in ("inv-web1", "inv-web2"):
            berth("run", "-d", "--name", name, "--label", "tier=web", "berth-it/py:1", "sleep", "3600")
        berth("run", "-d", "--name", "inv-db", "--label", "tier=db", "--label", "backup", "berth-it/py:2",
              "sleep", "3600")
        berth("create", "--name", "inv-old", "--label", "tier={{ lookup('pipe', 'id') }}", "berth-it/py:1")
        yield berth
    finally:
        berth("rm", "-f", *NAMES, rc=None)


def inventory_list(run_playbook: t.Any, config: dict[str, t.Any], name: str = "berth.yml") -> dict[str, t.Any]:
    path = run_playbook.work / name
    path.write_text(yaml.safe_dump(config))
    proc = subprocess.run([run_playbook.command("ansible-inventory"), "-i", str(path), "--list"],
                          env=run_playbook.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return unwrap_unsafe(json.loads(proc.stdout))


def hosts_of(data: dict[str, t.Any], group: str) -> list[str]:
    return sorted(data.get(group, {}).get("hosts", []))


def test_groups_hostvars_keyed_groups_compose(run_playbook: t.Any, engine: Berth) -> None:
    config = {"plugin": "berth.engine.berth_containers", "data_root": engine.root, "config_path": engine.config,
              "keyed_groups": [{"key": "berth_labels['tier'] | default('none')", "prefix": "tier"}],
              "compose": {"ansible_python_interpreter": "'/usr/bin/python3'"}}
    data = inventory_list(run_playbook, config)
    hostvars = data["_meta"]["hostvars"]
    assert sorted(hostvars) == ["inv-db", "inv-web1", "inv-web2"]  # running only
    assert hosts_of(data, "image_berth-it_py_1") == [] and hosts_of(data, "image_berth_it_py_1") == [
        "inv-web1", "inv-web2"]
    assert hosts_of(data, "image_berth_it_py_2") == ["inv-db"]
    assert hosts_of(data, "label_tier_web") == ["inv-web1", "inv-web2"]
    assert hosts_of(data, "label_backup") == ["inv-db"]
    assert hosts_of(data, "tier_db") == ["inv-db"] and hosts_of(data, "tier_web") == ["inv-web1", "inv-web2"]
    web1 = hostvars["inv-web1"]
    assert web1["berth_labels"] == {"tier": "web"} and web1["berth_running"] is True
    assert web1["berth_status"] == "running" and web1["berth_image"] == "docker.io/berth-it/py:1"
    assert web1["berth_id"] == engine("inspect", "--format", "{{.Id}}", "inv-web1").out.strip()
    assert web1["ansible_connection"] == "berth.engine.berth" and web1["ansible_berth_container"] == "inv-web1"
    assert web1["ansible_berth_data_root"] == engine.root and web1["ansible_berth_config_path"] == engine.config
    assert web1["ansible_python_interpreter"] == "/usr/bin/python3"  # compose

    # every container, the stopped one too; its label is text, not a template run on the controller
    data = inventory_list(run_playbook, dict(config, all=True, connection_vars=False, verbose_output=True))
    old = data["_meta"]["hostvars"]["inv-old"]
    assert old["berth_status"] == "created" and old["berth_running"] is False
    assert old["berth_labels"] == {"tier": "{{ lookup('pipe', 'id') }}"}
    assert "ansible_connection" not in old and old["berth_inspect"]["Name"] == "/inv-old"


def test_ad_hoc_tasks_reach_the_listed_containers(run_playbook: t.Any, engine: Berth) -> None:
    config = {"plugin": "berth.engine.berth_containers", "data_root": engine.root, "config_path": engine.config,
              "compose": {"ansible_python_interpreter": "'/usr/bin/python3'"}}
    path = run_playbook.work / "fleet.berth.yml"
    path.write_text(yaml.safe_dump(config))
    proc = subprocess.run([run_playbook.command("ansible"), "-i", str(path), "label_tier_web", "-o",
                           "-m", "ansible.builtin.command", "-a", "cat /proc/1/cmdline"],
                          env=run_playbook.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = sorted(line for line in proc.stdout.splitlines() if "CHANGED" in line)
    assert [line.split()[0] for line in lines] == ["inv-web1", "inv-web2"], proc.stdout
    assert all("sleep" in line for line in lines), proc.stdout


def test_a_bad_setting_is_named(run_playbook: t.Any, engine: Berth) -> None:
    path = run_playbook.work / "bad.berth.yml"
    path.write_text(yaml.safe_dump({"plugin": "berth.engine.berth_containers", "ssh_host": "-oProxyCommand=x"}))
    proc = subprocess.run([run_playbook.command("ansible-inventory"), "-i", str(path), "--list"],
                          env=run_playbook.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=120, check=False)
    assert "ssh_host: '-oProxyCommand=x' is not a [user@]host" in proc.stderr, proc.stderr

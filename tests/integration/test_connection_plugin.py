# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``berth.engine.berth`` connection: ansible-playbook runs tasks inside a running Berth container.

The container is a busybox image with the host's Python (tests.support.images.python_rootfs), imported into a
scratch data root; what the tasks did is checked with ``berth exec``/``berth cp`` from outside, not through
Ansible.  Commands, copy (put_file), fetch (fetch_file), remote_user, become (su) with and without pipelining.
"""
from __future__ import annotations

import os
import typing as t

import pytest

from tests.support.cli import Berth, scratch

pytestmark = [pytest.mark.integration]

CONTAINER = "berth-conn-app"


@pytest.fixture
def engine(tmp_path: t.Any, python_rootfs_tar: str) -> t.Iterator[Berth]:
    """A scratch engine with the Python image and a running container ``berth-conn-app``."""
    berth = scratch(tmp_path / "engine")
    berth("import", "-c", 'CMD ["sh"]', python_rootfs_tar, "berth-it/python:1")
    berth("run", "-d", "--name", CONTAINER, "berth-it/python:1", "sleep", "3600")
    yield berth
    berth("rm", "-f", CONTAINER, rc=None)


def inventory(berth: Berth, **hostvars: t.Any) -> str:
    """An inventory whose one host is the container, reached through the connection plugin."""
    values = {"ansible_connection": "berth.engine.berth", "ansible_python_interpreter": "/usr/bin/python3",
              "ansible_berth_data_root": berth.root, "ansible_berth_config_path": berth.config, **hostvars}
    return CONTAINER + " " + " ".join(f"{k}={v}" for k, v in values.items()) + "\n"


def ok(result: dict[str, t.Any]) -> dict[str, t.Any]:
    assert not result.get("failed") and not result.get("unreachable"), result
    return result


def test_command_copy_fetch_in_the_container(run_playbook: t.Callable[..., t.Any], engine: Berth,
                                             tmp_path: t.Any) -> None:
    fetched = tmp_path / "fetched"
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 << 20))
    out = run_playbook([
        {"name": "pid 1", "ansible.builtin.command": "cat /proc/1/cmdline"},
        {"name": "who", "ansible.builtin.command": "id -un"},
        {"name": "copy", "ansible.builtin.copy": {"content": "listen 8080\n", "dest": "/etc/app.conf",
                                                  "mode": "0640"}},
        {"name": "copy again", "ansible.builtin.copy": {"content": "listen 8080\n", "dest": "/etc/app.conf",
                                                        "mode": "0640"}},
        {"name": "copy a big file", "ansible.builtin.copy": {"src": str(big), "dest": "/root/big.bin"}},
        {"name": "fetch", "ansible.builtin.fetch": {"src": "/etc/passwd", "dest": f"{fetched}/", "flat": True}},
        {"name": "fetch a missing file", "ansible.builtin.fetch": {"src": "/nonexistent", "dest": f"{fetched}/x",
                                                                   "flat": True, "fail_on_missing": False}},
    ], inventory=inventory(engine), hosts=CONTAINER)
    assert ok(out["pid 1"])["stdout"].replace("\0", " ").strip() == "sleep 3600"  # inside the container
    assert ok(out["who"])["stdout"] == "root"
    assert ok(out["copy"])["changed"] is True
    assert ok(out["copy again"])["changed"] is False
    assert ok(out["copy a big file"])["changed"] is True
    assert ok(out["fetch"])["changed"] is True
    assert out["fetch a missing file"].get("failed") is not True

    assert engine("exec", CONTAINER, "cat", "/etc/app.conf").out == "listen 8080\n"
    assert engine("exec", CONTAINER, "stat", "-c", "%a %u", "/etc/app.conf").out.split() == ["640", "0"]
    got = engine("exec", CONTAINER, "md5sum", "/root/big.bin").out.split()[0]
    import hashlib

    assert got == hashlib.md5(big.read_bytes()).hexdigest()
    passwd = engine("exec", CONTAINER, "cat", "/etc/passwd").out
    assert (fetched / "passwd").read_text() == passwd and "app:x:1000" in passwd


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "files"])
def test_remote_user_and_become(run_playbook: t.Callable[..., t.Any], engine: Berth, pipelining: bool) -> None:
    inv = inventory(engine, ansible_pipelining=pipelining)
    tasks = [
        {"name": "as app", "ansible.builtin.command": "id -un", "remote_user": "app"},
        {"name": "copy as app", "remote_user": "app",
         "ansible.builtin.copy": {"content": "mine\n", "dest": "/home/app/note"}},
        {"name": "become app", "ansible.builtin.command": "id -un", "become": True, "become_method": "su",
         "become_user": "app"},
        {"name": "copy becoming app", "become": True, "become_method": "su", "become_user": "app",
         "ansible.builtin.copy": {"content": "also mine\n", "dest": "/home/app/other"}},
    ]
    out = run_playbook(tasks, inventory=inv, hosts=CONTAINER)
    assert ok(out["as app"])["stdout"] == "app"
    assert ok(out["copy as app"])["changed"] is True
    assert ok(out["become app"])["stdout"] == "app"
    assert ok(out["copy becoming app"])["changed"] is True
    for name in ("note", "other"):
        owner = engine("exec", CONTAINER, "stat", "-c", "%U", f"/home/app/{name}").out.strip()
        assert owner == "app", name
    # pipelining sends the module on the exec's stdin: no file is put; without it, the module is put as a file
    out = run_playbook([{"name": "once more", "ansible.builtin.command": "id -un", "remote_user": "app"}],
                       inventory=inv, hosts=CONTAINER, verbosity=3)
    assert ok(out["once more"])["stdout"] == "app"
    puts = out.stdout.count("> PUT ") + out.stderr.count("> PUT ")
    assert puts == (0 if pipelining else 1), out.stdout


def test_exec_settings(run_playbook: t.Callable[..., t.Any], engine: Berth) -> None:
    exec_vars = {"ansible_berth_working_dir": "/home", "ansible_berth_extra_env": {"MODE": "blue", "N": "1"}}
    out = run_playbook([
        {"name": "raw", "ansible.builtin.raw": "pwd; echo $MODE$N", "vars": exec_vars},
        {"name": "caps", "ansible.builtin.raw": "grep CapEff /proc/self/status"},
        {"name": "privileged caps", "ansible.builtin.raw": "grep CapEff /proc/self/status",
         "vars": {"ansible_berth_privileged": True}},
        {"name": "a number in extra_env", "ansible.builtin.raw": "true",
         "vars": {"ansible_berth_extra_env": {"N": 1}}},
    ], inventory=inventory(engine), hosts=CONTAINER)
    assert ok(out["raw"])["stdout_lines"] == ["/home", "blue1"]
    default, privileged = (int(ok(out[n])["stdout"].split()[1], 16) for n in ("caps", "privileged caps"))
    assert privileged & default == default and privileged != default  # more than Docker's default set
    msg = out["a number in extra_env"].get("msg", "")
    assert "extra_env: 'N': 1 is not a string" in msg, out["a number in extra_env"]


def test_a_bad_setting_or_a_missing_container_fails_clearly(
        run_playbook: t.Callable[..., t.Any], engine: Berth) -> None:
    out = run_playbook([{"name": "an option as host", "ansible.builtin.command": "true"}],
                       inventory=inventory(engine, ansible_berth_ssh_host="-oProxyCommand=touch"), hosts=CONTAINER)
    msg = out["an option as host"].get("msg", "")
    assert out["an option as host"].get("unreachable") and "ssh_host: '-oProxyCommand=touch'" in msg, msg

    inv = inventory(engine, ansible_berth_container="no-such-container")
    out = run_playbook([{"name": "missing", "ansible.builtin.command": "true"}], inventory=inv, hosts=CONTAINER)
    result = out["missing"]
    assert result.get("unreachable") or result.get("failed"), result
    assert "no-such-container" in str(result), result

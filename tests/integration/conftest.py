# SPDX-License-Identifier: GPL-3.0-or-later
"""Run real ansible-playbook against localhost and hand back per-task results.

``run_playbook(tasks, check=False, diff=False, verbosity=0)`` writes an inventory (localhost, local connection,
the *system* Python: the engine must work with it and the standard library only) and a one-play
playbook whose ``module_defaults`` for ``group/berth.engine.berth`` point at the test's data root
and daemon.json, runs ``.venv/bin/ansible-playbook`` with the ``json`` stdout callback
(callback_plugins/json.py: ansible-core 2.19 no longer ships one) and returns
``{task name: result}``.  Task names must be unique.  ``inventory=`` (the text of an INI inventory) and
``hosts=`` (the play's pattern) run elsewhere than localhost: the result of the host named *hosts* (else the
first) is the task's, ``.by_host`` holds every host's; ``extra_args`` go to ansible-playbook as they are.
``run_playbook.env`` is the environment it runs in (this checkout as the collection) and ``run_playbook.work``
its directory, for ``ansible``/``ansible-inventory`` (``run_playbook.command(name)`` is the path of one).

``fleet(n)`` boots a simulated fleet of *n* ssh hosts (tests/support/fleet.py), torn down after the test.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEM_PYTHON = "/usr/bin/python3"


class PlaybookResult(dict):  # type: ignore[type-arg]
    """``{task name: host result}`` plus ``by_host`` ({host: {task name: result}}), ``stats``, ``argv``,
    ``seconds`` and what ansible-playbook printed (``stdout``, ``stderr``)."""

    by_host: dict[str, dict[str, t.Any]]
    stats: dict[str, t.Any]
    argv: list[str]
    seconds: float
    stdout: str
    stderr: str


def ansible_command(name: str = "ansible-playbook") -> str:
    path = os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.exists(path):
        path = os.path.join(ROOT, ".venv", "bin", name)
    if not os.path.exists(path):
        pytest.skip(f"{name} not found; run `make setup`")
    return path


@pytest.fixture
def berth_defaults(berth_config: t.Callable[..., str], berth_root: str) -> dict[str, str]:
    """``module_defaults`` for ``group/berth.engine.berth``: the test's data root and its
    ``<tmp>/etc/berth/daemon.json`` (``{"data-root": berth_root}``; auth.json goes beside it)."""
    return {"data_root": berth_root, "config_path": berth_config()}


@pytest.fixture
def run_playbook(tmp_path: t.Any, berth_root: str) -> t.Callable[..., PlaybookResult]:
    if not os.path.exists(SYSTEM_PYTHON):
        pytest.skip(f"{SYSTEM_PYTHON} is missing")
    work = tmp_path / "ansible"
    work.mkdir()
    colls = work / "collections" / "ansible_collections" / "berth"
    colls.mkdir(parents=True)
    os.symlink(ROOT, colls / "engine")  # this checkout, whatever else is installed
    default_inventory = work / "inventory.ini"
    default_inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={SYSTEM_PYTHON}\n")
    env = dict(os.environ)
    env.update(
        ANSIBLE_STDOUT_CALLBACK="json",
        ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, "callback_plugins"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_COLLECTIONS_PATH=str(work / "collections"),
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="0",
        ANSIBLE_HOME=str(work / "home"),
        ANSIBLE_LOCAL_TEMP=str(work / "tmp"),
        ANSIBLE_REMOTE_TEMP=str(work / "tmp"),
        ANSIBLE_DEPRECATION_WARNINGS="0",
    )
    env.pop("ANSIBLE_CONFIG", None)
    counter = {"n": 0}

    def run(
        tasks: list[dict[str, t.Any]],
        check: bool = False,
        diff: bool = False,
        defaults: dict[str, t.Any] | None = None,
        verbosity: int = 0,
        inventory: str | None = None,
        hosts: str = "localhost",
        extra_args: t.Sequence[str] = (),
    ) -> PlaybookResult:
        import time

        names = [task["name"] for task in tasks]
        assert len(names) == len(set(names)), "task names must be unique"
        counter["n"] += 1
        play = {
            "hosts": hosts,
            "gather_facts": False,
            "module_defaults": {"group/berth.engine.berth": dict(defaults or {"data_root": berth_root})},
            "tasks": tasks,
        }
        playbook = work / f"play{counter['n']}.yml"
        playbook.write_text(yaml.safe_dump([play], sort_keys=False))
        inventory_path = default_inventory
        if inventory is not None:
            inventory_path = work / f"inventory{counter['n']}.ini"
            inventory_path.write_text(inventory)
        argv = [ansible_command(), "-i", str(inventory_path), str(playbook), *extra_args]
        if check:
            argv.append("--check")
        if diff:
            argv.append("--diff")
        if verbosity:
            argv.append("-" + "v" * verbosity)
        start = time.monotonic()
        proc = subprocess.run(argv, cwd=str(work), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=300, check=False)
        seconds = time.monotonic() - start
        try:
            # -v prints "No config file found; using defaults" before the callback's JSON
            data = json.loads(proc.stdout[proc.stdout.find("\n{") + 1:] if not proc.stdout.startswith("{")
                              else proc.stdout)
        except ValueError:
            raise AssertionError(f"ansible-playbook printed no JSON (rc={proc.returncode}):\n"
                                 f"{proc.stdout}\n{proc.stderr}") from None
        out = PlaybookResult()
        out.by_host = {}
        for play_data in data["plays"]:
            for task in play_data["tasks"]:
                for host, result in task["hosts"].items():
                    out.by_host.setdefault(host, {})[task["task"]["name"]] = result
                if task["hosts"]:
                    out[task["task"]["name"]] = task["hosts"].get(hosts, next(iter(task["hosts"].values())))
        out.stats = data["stats"]
        out.argv = argv
        out.seconds = seconds
        out.stdout, out.stderr = proc.stdout, proc.stderr
        missing = [n for n in names if n not in out]
        assert not missing, f"tasks did not run: {missing}\n{proc.stderr}\n{json.dumps(out, indent=1)[:4000]}"
        return out

    run.env = env  # type: ignore[attr-defined]  # for the other ansible commands (ansible, ansible-inventory)
    run.work = work  # type: ignore[attr-defined]
    run.command = ansible_command  # type: ignore[attr-defined]
    return run


@pytest.fixture
def fleet(tmp_path: t.Any) -> t.Iterator[t.Callable[[int], t.Any]]:
    """``fleet(n)`` boots a :class:`tests.support.fleet.Fleet` of *n* hosts (ssh, own namespaces and data
    roots) and returns it; every fleet booted is torn down after the test, leaving nothing behind."""
    from tests.support.fleet import Fleet

    booted: list[Fleet] = []

    def boot(n: int) -> Fleet:
        fl = Fleet(n, tmp_path / f"fleet{len(booted)}")
        booted.append(fl)  # before start(): a boot that fails half-way is torn down too
        fl.start()
        return fl

    try:
        yield boot
    finally:
        for fl in booted:
            fl.close()

# SPDX-License-Identifier: GPL-3.0-or-later
"""``molecule test`` for every role's Berth-backed scenario (roles/<role>/molecule/<scenario>/), twice in a row:
destroy, create (Berth containers from the busybox + host Python image), prepare, converge, idempotence, verify,
destroy, with the instances reached through the ``berth.engine.berth`` connection. Nothing is left behind: no
container, mount or process of the test's engine."""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import typing as t

import pytest

from tests.support import REPO
from tests.support.cli import Berth

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCENARIOS = sorted(os.path.relpath(p, REPO) for p in glob.glob(os.path.join(REPO, "roles", "*", "molecule", "*"))
                   if os.path.exists(os.path.join(p, "molecule.yml")))


def molecule_command() -> str:
    from tests.integration.conftest import ansible_command

    return ansible_command("molecule")


def test_every_role_has_a_scenario() -> None:
    roles = sorted(os.listdir(os.path.join(REPO, "roles")))
    with_scenario = sorted({s.split(os.sep)[1] for s in SCENARIOS})
    assert with_scenario == roles, (roles, with_scenario)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario_passes_twice_and_leaves_nothing(scenario: str, berth_root: str,
                                                           berth_config: t.Callable[..., str],
                                                           python_rootfs_tar: str, tmp_path: t.Any) -> None:
    molecule = molecule_command()
    colls = tmp_path / "collections" / "ansible_collections" / "berth"
    colls.mkdir(parents=True)
    os.symlink(REPO, colls / "engine")
    config = berth_config()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "MOLECULE_")) and k != "PYTHONPATH"}
    env.update(PATH=os.path.dirname(molecule) + os.pathsep + env.get("PATH", "/usr/bin:/bin"),
               HOME=str(tmp_path / "home"), ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "collections"),
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="0", ANSIBLE_NOCOLOR="1", NO_COLOR="1",
               BERTH_ROOT=berth_root, BERTH_CONFIG=config, MOLECULE_BERTH_IMAGE_ARCHIVE=python_rootfs_tar,
               MOLECULE_BERTH_COMMAND=os.path.join(REPO, "bin", "berth"))
    role_dir = os.path.join(REPO, *scenario.split(os.sep)[:2])
    name = scenario.split(os.sep)[-1]
    berth = Berth(berth_root, config)
    try:
        for attempt in (1, 2):
            proc = subprocess.run([molecule, "test", "-s", name], cwd=role_dir, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, timeout=900, check=False)
            assert proc.returncode == 0, f"attempt {attempt}:\n{proc.stdout[-6000:]}"
            assert "idempotence: Executed: Successful" in proc.stdout and "verify: Executed: Successful" in proc.stdout
            assert berth("ps", "-aq").out.split() == [], f"attempt {attempt} left containers"
            assert berth("volume", "ls", "-q").out.split() == [], f"attempt {attempt} left volumes"
    finally:
        names = berth("ps", "-aq", rc=None).out.split()
        if names:
            berth("rm", "-f", *names, rc=None)
        shutil.rmtree(tmp_path / "home", ignore_errors=True)
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        assert berth_root not in fh.read()
    with open(os.path.join(berth_root, "events.log"), encoding="utf-8") as fh:
        events = [json.loads(line) for line in fh]
    created = [e["Actor"]["ID"] for e in events if e["Action"] == "create" and e.get("Type") == "container"]
    assert created and [p for cid in created for p in glob.glob(f"/sys/fs/cgroup/*/berth/{cid}")] == []

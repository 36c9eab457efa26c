# SPDX-License-Identifier: GPL-3.0-or-later
"""The package ``engine.services.containers``: one module per container verb group behind a thin
``ContainerService`` (issue 8), as youki keeps one file per lifecycle verb.

The modules are the expected ones and each stays small, the package's front door re-exports the names its
callers import, ``ContainerService`` keeps its public methods, importing the package (and the create and
start verbs ``berth run`` uses) loads neither the start path's forbidden stdlib modules nor the other verbs,
and each verb refuses a container in the wrong state with its guard's error before it touches anything.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.config.daemon import DaemonConfig
from ansible_collections.berth.engine.plugins.module_utils.engine.core.layout import Layout
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import Conflict, InvalidState
from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor import lifecycle
from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor.lifecycle import (
    ContainerState,
    ContainerStatus,
)
from ansible_collections.berth.engine.plugins.module_utils.engine.services import containers
from ansible_collections.berth.engine.plugins.module_utils.engine.services.containers import records, service

PACKAGE_DIR = os.path.dirname(containers.__file__)
MODULE_UTILS = os.path.dirname(os.path.dirname(os.path.dirname(PACKAGE_DIR)))
#: The verb modules and what they share; ``berth run`` loads RUN_PATH only.
MODULES = ("service", "records", "_common", "create", "start", "stop", "remove", "update", "exec_", "query",
           "export", "copy", "mounts", "commit", "connect")
RUN_PATH = ("service", "records", "_common", "create", "start")
#: The issue's limit for a file under plugins/ (issue 8: no god files).
MAX_LINES = 600
#: What api.py, the glue, the CLI and the tests call (the class was one 1300-line body before the split).
PUBLIC_METHODS = {
    "lookup", "require", "desired", "users_of_image", "remapped_layers_in_use", "local_image", "runtimes",
    "volumes", "volume_users",
    "create", "check", "host_warnings", "start", "run", "wait_attached", "restore", "stop", "restart", "kill", "pause",
    "unpause", "wait", "remove", "prune", "sweep_locks", "rename", "update", "exec", "attach", "inspect", "list",
    "logs", "top", "stats", "disk_usage", "diff", "export", "export_file", "cp_from", "cp_to",
    "store", "images", "commit", "commit_if_changed", "export_file_if_changed", "networks", "network_users", "connect",
    "disconnect",
}


def test_the_modules_are_the_verb_groups() -> None:
    files = {f[:-3] for f in os.listdir(PACKAGE_DIR) if f.endswith(".py")}
    assert files == set(MODULES) | {"__init__"}


@pytest.mark.parametrize("module", ("__init__",) + MODULES)
def test_each_module_stays_small(module: str) -> None:
    with open(os.path.join(PACKAGE_DIR, module + ".py"), encoding="utf-8") as fh:
        lines = fh.read().count("\n")
    assert lines <= MAX_LINES, f"{module}.py has {lines} lines"


def test_the_front_door_reexports_the_names_callers_import() -> None:
    for name in ("ContainerService", "ContainerRecord", "RunResult", "Stdio"):
        assert name in containers.__all__
    assert containers.ContainerService is service.ContainerService
    for name in ("ContainerRecord", "RunResult", "Stdio"):
        assert getattr(containers, name) is getattr(records, name)


def test_the_service_keeps_its_public_methods() -> None:
    public = {n for n in dir(containers.ContainerService) if not n.startswith("_")}
    assert public == PUBLIC_METHODS


def test_importing_the_run_path_loads_no_other_verb_and_no_heavy_stdlib() -> None:
    """What ``bin/berth run`` does (``berth_engine`` is module_utils), in a fresh ``python3 -S``."""
    pkg = "berth_engine.engine.services.containers"
    code = (
        "import sys\n"
        "pkg = type(sys)('berth_engine')\n"
        f"pkg.__path__ = [{MODULE_UTILS!r}]\n"
        "sys.modules['berth_engine'] = pkg\n"
        f"import {pkg} as c\n"
        f"from {pkg} import create, start\n"
        "assert c.ContainerService.run\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('berth_engine.engine.services.') or m in "
        "('typing', 're', 'json', 'dataclasses', 'enum', 'inspect'))))\n"
    )
    proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert set(proc.stdout.split()) == {pkg} | {f"{pkg}.{m}" for m in RUN_PATH}


# ------------------------------------------------------------------ each verb's guard comes first
@pytest.fixture
def exited(tmp_path: str) -> tuple[containers.ContainerService, str]:
    """A service on a data root with one exited container ``box`` (no process, no monitor, no mount)."""
    layout = Layout(str(tmp_path))
    svc = containers.ContainerService(layout, lambda: None, lambda: None, DaemonConfig.from_dict({}), 5.0)
    cid = "c" * 64
    for d in (layout.containers_dir, layout.names_dir, layout.container_dir(cid)):
        os.makedirs(d, exist_ok=True)
    os.symlink(os.path.join("..", "containers", cid), layout.name_link("box"))
    record = containers.ContainerRecord(id=cid, name="box", created="2026-01-01T00:00:00Z", image="i" * 64,
                                        image_name="busybox", options={"image": "busybox"}, runtime="berth")
    lifecycle.save(layout, cid, ContainerState(status=ContainerStatus.EXITED, exit_code=3))
    with open(layout.container_config(cid), "w") as fh:
        json.dump(record.to_json(), fh)
    return svc, cid


@pytest.mark.parametrize("verb, call, error, message", [
    ("exec", lambda s: s.exec("box", ["true"]), Conflict, "Container {cid} is not running"),
    ("attach", lambda s: s.attach("box", containers.Stdio(None, 1, 2)), Conflict,
     "You cannot attach to a exited container, start it first"),
    ("top", lambda s: s.top("box"), Conflict, "Container {cid} is not running"),
    ("kill", lambda s: s.kill("box"), InvalidState, "container box is not running"),
    ("pause", lambda s: s.pause("box"), InvalidState, "container box is not running"),
    ("unpause", lambda s: s.unpause("box"), InvalidState, "container box is not paused"),
])
def test_a_verb_refuses_the_wrong_state_first_and_changes_nothing(
        exited: tuple[containers.ContainerService, str], verb: str, call: object, error: type, message: str) -> None:
    svc, cid = exited
    before = lifecycle.load(svc.layout, cid)
    with pytest.raises(error) as info:
        call(svc)  # type: ignore[operator]
    assert str(info.value) == message.format(cid=cid)
    assert lifecycle.load(svc.layout, cid) == before
    assert not os.path.exists(svc.layout.runtime_state_dir)  # no runtime was asked


def test_stop_of_a_stopped_container_says_so_and_signals_nothing(
        exited: tuple[containers.ContainerService, str]) -> None:
    svc, cid = exited
    assert svc.stop("box") is False
    assert lifecycle.load(svc.layout, cid).status is ContainerStatus.EXITED
    assert not os.path.exists(svc.layout.runtime_state_dir)

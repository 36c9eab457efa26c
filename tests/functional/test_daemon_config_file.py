# SPDX-License-Identifier: GPL-3.0-or-later
"""daemon.json writes under failure: a writer killed between its temporary file and the rename, a rename
that fails, a full file system. Each time the old file is intact (and still loads), and the engine loads
what the module wrote. Real processes, signals and a real (tiny) tmpfs."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine import api
from ansible_collections.berth.engine.plugins.module_utils.engine.config.daemon import DaemonConfig
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import ConfigError

pytestmark = [pytest.mark.functional]

if os.geteuid() != 0:
    pytest.skip("needs root", allow_module_level=True)

OLD = {"dns": ["192.0.2.1"], "registry-mirrors": ["https://old.example"]}


def no_containers(_before: object) -> list:
    return []


def configure(path: str, **kwargs: object) -> object:
    from ansible_collections.berth.engine.plugins.module_utils.engine.services.daemon_config import (
        DaemonConfigService,
    )

    return DaemonConfigService(path, no_containers).configure(**kwargs)  # type: ignore[arg-type]


@pytest.fixture
def path(tmp_path) -> str:
    p = tmp_path / "etc" / "berth" / "daemon.json"
    p.parent.mkdir(parents=True)
    p.write_text(json.dumps(OLD, indent=2) + "\n")
    os.chmod(p, 0o640)
    return str(p)


def test_killed_between_the_temporary_file_and_the_rename(path) -> None:
    """SIGKILL at the worst moment: the new content is complete in the temporary file, not yet renamed."""
    old_text = open(path).read()
    script = textwrap.dedent(f"""
        import os, sys, time
        from ansible_collections.berth.engine.plugins.module_utils.engine import api
        real_rename = os.rename
        def stuck_rename(src, dst):
            with open(src) as fh:
                assert "new.example" in fh.read()
            sys.stdout.write("renaming\\n"); sys.stdout.flush()
            time.sleep(3600)
        os.rename = stuck_rename
        api.daemon_config({path!r}, data_root={os.path.dirname(path)!r}).configure(
            {{"registry-mirrors": ["https://new.example"]}})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "renaming\n"  # an event, not a delay
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert open(path).read() == old_text
    assert DaemonConfig.load(path).registry_mirrors == ["https://old.example"]
    leftovers = [n for n in os.listdir(os.path.dirname(path)) if n.endswith(".tmp")]
    assert len(leftovers) == 1  # what a SIGKILL leaves: a hidden temporary file, never a half-written daemon.json
    res = configure(path, config={"registry-mirrors": ["https://new.example"]})
    assert res.changed and DaemonConfig.load(path).registry_mirrors == ["https://new.example"]


def test_a_failed_rename_leaves_the_old_file_and_no_temporary(path, monkeypatch) -> None:
    old_text = open(path).read()

    def failing_rename(src: str, dst: str) -> None:
        raise OSError(5, "Input/output error", dst)

    monkeypatch.setattr(os, "rename", failing_rename)
    with pytest.raises(ConfigError, match="cannot write: Input/output error; the file was left as it was"):
        configure(path, config={"dns": ["192.0.2.9"]})
    monkeypatch.undo()
    assert open(path).read() == old_text
    assert os.listdir(os.path.dirname(path)) == ["daemon.json"]


def test_a_full_file_system_leaves_the_old_file(tmp_path) -> None:
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mnt)], check=True)
    try:
        path = str(mnt / "daemon.json")
        with open(path, "w") as fh:
            json.dump(OLD, fh)
        old_text = open(path).read()
        big = {"labels": [f"label{i}=" + "x" * 100 for i in range(400)]}  # ~40 kB, more than the 16 kB
        with pytest.raises(ConfigError, match="No space left on device"):
            configure(path, config=big)
        assert open(path).read() == old_text
        assert os.listdir(mnt) == ["daemon.json"]
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_the_engine_loads_what_the_module_writes(path, tmp_path) -> None:
    root = str(tmp_path / "root")
    svc = api.daemon_config(path, data_root=root)
    res = svc.configure({"insecure-registries": ["10.0.0.0/8"], "log-opts": {"max-size": "10m"},
                         "default-address-pools": [{"base": "10.200.0.0/16", "size": 24}]})
    assert res.changed and res.pending_changes == ()  # no container in the data root
    st = os.stat(path)
    assert st.st_mode & 0o777 == 0o640 and st.st_uid == 0
    engine = api.Engine.open(data_root=root, config_path=path)
    assert engine.config.insecure_registries.matches("10.1.2.3:5000")
    assert engine.config.get("log-opts") == {"max-size": "10m"}


def test_pending_changes_name_real_containers(busybox_rootfs, tmp_path) -> None:
    """The containers of the data root the file named before the change (a created one counts: it keeps the
    resolv.conf written at create)."""
    from tests.support.cli import scratch_with_busybox

    b = scratch_with_busybox(tmp_path / "engine", busybox_rootfs, "bb:latest")
    b("create", "--name", "web", "bb:latest", "true")
    try:
        svc = api.daemon_config(b.config, data_root=b.root)
        res = svc.configure({"dns": ["192.0.2.53"], "registry-mirrors": ["https://m.example"]}, check_mode=True)
        assert [(p["key"], p["containers"]) for p in res.pending_changes] == [("dns", ["web"])]
        assert "recreate" in res.pending_changes[0]["how"]
    finally:
        b("rm", "-f", "web")
    assert api.daemon_config(b.config, data_root=b.root).configure({"dns": ["192.0.2.53"]}).pending_changes == ()

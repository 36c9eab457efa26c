# SPDX-License-Identifier: GPL-3.0-or-later
"""One lifecycle, four runtimes behind the same OciRuntime interface.

``BerthRuntime`` in-process, ``ExternalRuntime`` over ``bin/berth-runtime``, over ``runc`` and over
``crun`` (which needs the hybrid-cgroup workaround on these hosts) run the same tests: if runc and
crun pass them, the interface means what runc means.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import typing as t
import uuid

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.errors import EngineError, NotFound
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime import external, oci
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime.syscalls import (
    PR_GET_CHILD_SUBREAPER,
    PR_SET_CHILD_SUBREAPER,
    LinuxSyscalls,
)
from tests.support import images

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(REPO, "bin", "berth-runtime")

pytestmark = [
    pytest.mark.functional,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc makes the reference bundles (runc spec)"),
]

RUNTIMES = ["berth", "berth-runtime", "runc", "crun"]


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> str:
    return images.busybox_rootfs(tmp_path_factory.mktemp("lc-busybox") / "rootfs")


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest, tmp_path: t.Any) -> t.Iterator[t.Any]:
    name = request.param
    root = str(tmp_path / "state")
    if name == "berth":
        rt: t.Any = oci.BerthRuntime(root)
    elif name == "berth-runtime":
        rt = external.ExternalRuntime(BIN, root)
    else:
        if shutil.which(name) is None:
            pytest.skip(f"{name} is not installed")
        rt = external.ExternalRuntime(name, root)
    rt.test_name = name
    sys_ = LinuxSyscalls()
    was_subreaper = _subreaper(sys_)
    yield rt
    for st in rt.list():
        try:
            rt.delete(st["id"], force=True)
        except EngineError:
            pass
    # BerthRuntime.exec makes the caller a subreaper (documented); undo it for the rest of the session
    sys_.prctl(PR_SET_CHILD_SUBREAPER, int(was_subreaper))
    _reap_all()


def _subreaper(sys_: LinuxSyscalls) -> bool:
    import ctypes

    flag = ctypes.c_int(0)
    sys_.prctl(PR_GET_CHILD_SUBREAPER, ctypes.addressof(flag))
    return bool(flag.value)


def _reap_all() -> None:
    while True:
        try:
            pid, dummy = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def make_bundle(tmp_path: t.Any, rootfs: str, args: list[str]) -> str:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)
    with open(bundle / "config.json") as fh:
        spec = json.load(fh)
    spec["root"]["path"] = rootfs
    spec["process"]["terminal"] = False
    spec["process"]["args"] = args
    with open(bundle / "config.json", "w") as fh:
        json.dump(spec, fh)
    return str(bundle)


def wait_status(rt: t.Any, cid: str, status: str, timeout: float = 5.0) -> str:
    end = time.monotonic() + timeout
    while True:
        got = rt.state(cid)["status"]
        if got == status or time.monotonic() > end:
            return got
        time.sleep(0.02)


def read_all(fd: int, timeout: float = 5.0, until: bytes | None = None) -> bytes:
    import select

    out = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end and (until is None or until not in out):
        if select.select([fd], [], [], 0.1)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            out += chunk
    return out


def new_id() -> str:
    return "lc-" + uuid.uuid4().hex[:10]


def test_lifecycle_and_state(runtime: t.Any, tmp_path: t.Any, rootfs: str) -> None:
    rt, cid = runtime, new_id()
    bundle = make_bundle(tmp_path, rootfs, ["sh", "-c", "echo started; exec sleep 60"])
    r, w = os.pipe()
    try:
        pid = rt.create(cid, bundle, stdio=(0, w, w))
    finally:
        os.close(w)
    st = rt.state(cid)
    assert st["status"] == "created"
    assert st["id"] == cid and st["pid"] == pid and st["bundle"] == bundle
    assert st["ociVersion"]
    assert os.path.exists(f"/proc/{pid}")
    assert cid in [s["id"] for s in rt.list()]
    rt.start(cid)
    assert wait_status(rt, cid, "running") == "running"
    assert read_all(r, until=b"started\n") == b"started\n"
    with pytest.raises(EngineError):
        rt.start(cid)  # only a created container starts
    with pytest.raises(EngineError):
        rt.delete(cid)  # running: needs force
    rt.pause(cid)
    assert rt.state(cid)["status"] == "paused"
    rt.resume(cid)
    assert rt.state(cid)["status"] == "running"
    rt.kill(cid, 9)  # PID 1 of a PID namespace ignores SIGTERM without a handler
    assert wait_status(rt, cid, "stopped") == "stopped"
    with pytest.raises(EngineError):
        rt.kill(cid, 9)  # not running any more
    rt.delete(cid)
    with pytest.raises(NotFound):
        rt.state(cid)
    assert cid not in [s["id"] for s in rt.list()]
    assert read_all(r) == b""  # EOF: the container is gone
    os.close(r)


def test_exec_joins_the_container(runtime: t.Any, tmp_path: t.Any, rootfs: str) -> None:
    rt, cid = runtime, new_id()
    bundle = make_bundle(tmp_path, rootfs, ["sleep", "60"])
    rt.create(cid, bundle, stdio=(0, 1, 2))
    rt.start(cid)
    r, w = os.pipe()
    process = {"args": ["sh", "-c", "cat /proc/1/cmdline; echo; hostname; id -u"], "cwd": "/",
               "env": ["PATH=/bin"], "user": {"uid": 65534, "gid": 65534}}
    try:
        pid = rt.exec(cid, process, stdio=(0, w, w))
    finally:
        os.close(w)
    assert pid > 0
    out = read_all(r).decode().split()
    os.close(r)
    assert out == ["sleep\x0060\x00", "runc", "65534"]
    try:
        os.waitpid(pid, 0)  # ours when this process is a subreaper (an earlier test made it one)
    except ChildProcessError:
        pass
    rt.delete(cid, force=True)
    with pytest.raises(NotFound):
        rt.state(cid)


def test_kill_all_and_force_delete(runtime: t.Any, tmp_path: t.Any, rootfs: str) -> None:
    rt, cid = runtime, new_id()
    bundle = make_bundle(tmp_path, rootfs, ["sh", "-c", "sleep 60 & sleep 61 & wait"])
    rt.create(cid, bundle, stdio=(0, 1, 2))
    rt.start(cid)
    rt.kill(cid, 9, all=True)
    assert wait_status(rt, cid, "stopped") == "stopped"
    rt.delete(cid)
    cid2 = new_id()
    rt.create(cid2, bundle, stdio=(0, 1, 2))
    rt.delete(cid2, force=True)  # a created container goes too
    with pytest.raises(NotFound):
        rt.state(cid2)


def test_update_changes_the_memory_limit(runtime: t.Any, tmp_path: t.Any, rootfs: str) -> None:
    """``update`` (runc's ``update --resources``; ``bin/berth-runtime update`` too) changes a running
    container's limits in its cgroup, and leaves the rest alone."""
    from ansible_collections.berth.engine.plugins.module_utils.engine.runtime import cgroup_manager

    rt, cid = runtime, new_id()
    bundle = make_bundle(tmp_path, rootfs, ["sleep", "60"])
    path = f"/berth-lc/{cid}"
    with open(os.path.join(bundle, "config.json")) as fh:
        spec = json.load(fh)
    spec["linux"]["cgroupsPath"] = path
    spec["linux"]["resources"] = {"memory": {"limit": 64 << 20, "swap": 128 << 20}, "pids": {"limit": 50}}
    with open(os.path.join(bundle, "config.json"), "w") as fh:
        json.dump(spec, fh)
    rt.create(cid, bundle, stdio=(0, 1, 2))
    rt.start(cid)
    mgr = cgroup_manager(path)
    assert mgr.stats()["memory_stats"]["limit"] == 64 << 20
    rt.update(cid, {"memory": {"limit": 96 << 20, "swap": 192 << 20}})
    assert mgr.stats()["memory_stats"]["limit"] == 96 << 20
    assert mgr.stats()["pids_stats"]["limit"] == 50
    rt.kill(cid, 9)
    assert wait_status(rt, cid, "stopped") == "stopped"
    rt.delete(cid)


def test_an_id_is_taken_until_delete(runtime: t.Any, tmp_path: t.Any, rootfs: str) -> None:
    rt, cid = runtime, new_id()
    bundle = make_bundle(tmp_path, rootfs, ["true"])
    rt.create(cid, bundle, stdio=(0, 1, 2))
    with pytest.raises(EngineError):
        rt.create(cid, bundle, stdio=(0, 1, 2))
    assert rt.state(cid)["status"] == "created"  # the first one is untouched
    rt.delete(cid)
    rt.create(cid, bundle, stdio=(0, 1, 2))
    rt.delete(cid, force=True)


def test_create_failure_is_an_engine_error_and_leaves_no_state(runtime: t.Any, tmp_path: t.Any,
                                                               rootfs: str) -> None:
    rt, cid = runtime, new_id()
    bundle = make_bundle(tmp_path, rootfs, ["/no/such/binary"])
    with pytest.raises(EngineError) as info:
        rt.create(cid, bundle, stdio=(0, 1, 2))
    assert "no/such/binary" in str(info.value) or "no such file" in str(info.value).lower()
    assert cid not in [s["id"] for s in rt.list()]

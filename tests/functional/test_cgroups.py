# SPDX-License-Identifier: GPL-3.0-or-later
"""Container cgroups on the real kernel: limits enforced, freezer, stats, device rules, teardown.

The manager is the one ``detect.manager`` picks for this host (v1 controllers on v1/hybrid hosts,
the unified hierarchy on v2 hosts).  On v1/hybrid the cgroup is ``berth-test-<random>`` *relative*
to the test process's own cgroups, so memory stays accounted under whatever cgroup runs the tests.
On hybrid hosts the cgroup2 mount (``/sys/fs/cgroup/unified``) is also used for the v2-only parts
that need no controller: the v2 freezer, ``cgroup.kill`` and the eBPF device program.
"""
from __future__ import annotations

import errno
import json
import os
import select
import signal
import time
import typing as t
import uuid

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.runtime.cgroups import detect
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime.cgroups.base import CgroupManager
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime.cgroups.v1 import V1Manager
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime.cgroups.v2 import V2Manager

ROOT = "/sys/fs/cgroup"


def _layout() -> str | None:
    try:
        return detect.layout(ROOT)
    except Exception:  # noqa: BLE001 - no cgroupfs at all
        return None


LAYOUT = _layout()
pytestmark = [
    pytest.mark.functional,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(LAYOUT is None, reason="no cgroup filesystem"),
]


@pytest.fixture
def mgr() -> t.Iterator[CgroupManager]:
    name = "berth-test-" + uuid.uuid4().hex[:10]
    m = detect.manager(name if LAYOUT != "v2" else "/" + name, ROOT, LAYOUT)
    m.create()
    try:
        yield m
    finally:
        m.destroy(kill=True)
        for d in _dirs(m):
            assert not os.path.exists(d), f"{d} left behind"


def _dirs(m: CgroupManager) -> list[str]:
    if isinstance(m, V1Manager):
        return [d for d in (m.dir(c) for c in m.hierarchies) if d]
    assert isinstance(m, V2Manager)
    return [m.dir]


class Child:
    """A forked child that waits on a pipe until the parent has put it into the cgroup."""

    def __init__(self, mgr: CgroupManager, work: t.Callable[[int], None]) -> None:
        go_r, go_w = os.pipe()
        self.out_r, out_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - child
            code = 0
            try:
                os.close(go_w)
                os.close(self.out_r)
                os.read(go_r, 1)
                work(out_w)
            except BaseException:  # noqa: BLE001
                code = 1
            os._exit(code)
        os.close(go_r)
        os.close(out_w)
        mgr.add_pid(self.pid)
        os.write(go_w, b"g")
        os.close(go_w)
        self.status: int | None = None

    def read(self, timeout: float = 10.0) -> bytes:
        ready, dummy, dummy = select.select([self.out_r], [], [], timeout)
        return os.read(self.out_r, 65536) if ready else b""

    def wait(self) -> int:
        if self.status is None:
            self.status = os.waitpid(self.pid, 0)[1]
            os.close(self.out_r)
        return self.status

    def kill(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.wait()


def send(fd: int, obj: t.Any) -> None:
    os.write(fd, (json.dumps(obj) + "\n").encode())


def test_memory_limit_is_enforced_by_the_oom_killer(mgr: CgroupManager) -> None:
    limit = 32 << 20
    mgr.apply({"memory": {"limit": limit, "swap": limit}})  # no swap to escape into

    def hog(out: int) -> None:
        send(out, "start")
        block = bytearray(256 << 20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        send(out, "survived")

    child = Child(mgr, hog)
    assert child.read() == b'"start"\n'
    status = child.wait()
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
    assert mgr.oom_killed() is True
    mem = mgr.stats()["memory_stats"]
    assert mem["limit"] == limit
    assert limit * 0.9 <= mem["max_usage"] <= limit or isinstance(mgr, V2Manager)


def test_no_oom_kill_reported_for_a_clean_exit(mgr: CgroupManager) -> None:
    mgr.apply({"memory": {"limit": 64 << 20}})
    child = Child(mgr, lambda out: send(out, bytearray(1 << 20)[0]))
    assert child.read() == b"0\n"
    assert os.WEXITSTATUS(child.wait()) == 0
    assert mgr.oom_killed() is False


def test_pids_limit_stops_a_fork_loop(mgr: CgroupManager) -> None:
    mgr.apply({"pids": {"limit": 5}})

    def fork_loop(out: int) -> None:
        kids, err = [], 0
        for dummy in range(20):
            try:
                pid = os.fork()
            except OSError as exc:
                err = exc.errno or 0
                break
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            kids.append(pid)
        send(out, {"forked": len(kids), "errno": err})
        for pid in kids:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)

    child = Child(mgr, fork_loop)
    report = json.loads(child.read())
    assert report == {"forked": 4, "errno": errno.EAGAIN}  # the child itself is the fifth
    assert os.WEXITSTATUS(child.wait()) == 0
    assert mgr.stats()["pids_stats"]["limit"] == 5


def test_freeze_and_thaw_a_running_child(mgr: CgroupManager) -> None:
    def ticker(out: int) -> None:
        while True:
            os.write(out, b".")
            time.sleep(0.005)

    child = Child(mgr, ticker)
    try:
        assert child.read()
        assert mgr.frozen() is False
        mgr.freeze()
        assert mgr.frozen() is True
        while child.read(timeout=0.05):  # what was written before the freeze
            pass
        assert child.read(timeout=0.3) == b""  # nothing while frozen
        assert mgr.pids() == [child.pid]
        mgr.thaw()
        assert mgr.frozen() is False
        assert child.read(timeout=5)  # ticking again
    finally:
        child.kill()


def test_stats_are_not_zero(mgr: CgroupManager) -> None:
    mgr.apply({"memory": {"limit": 256 << 20}, "pids": {"limit": 50}, "cpu": {"shares": 512}})

    def busy(out: int) -> None:
        keep = bytearray(24 << 20)
        for i in range(0, len(keep), 4096):
            keep[i] = 1
        n = 0
        while time.process_time() < 0.2:  # 0.2 s of CPU, however busy the host (not 0.2 s of wall time)
            n += 1
        send(out, "ready")
        time.sleep(30)
        del keep

    child = Child(mgr, busy)
    try:
        assert child.read() == b'"ready"\n'
        s = mgr.stats()
        assert s["memory_stats"]["usage"] >= 20 << 20
        assert s["memory_stats"]["limit"] == 256 << 20
        assert s["memory_stats"]["stats"]
        assert s["cpu_stats"]["cpu_usage"]["total_usage"] >= 100_000_000  # >= 0.1 s of CPU in ns
        assert s["cpu_stats"]["system_cpu_usage"] > 0
        assert s["pids_stats"] == {"current": 1, "limit": 50}
        assert mgr.pids() == [child.pid]
    finally:
        child.kill()


def test_update_in_place(mgr: CgroupManager) -> None:
    mgr.apply({"memory": {"limit": 64 << 20}, "pids": {"limit": 10}})
    mgr.update({"memory": {"limit": 128 << 20}, "pids": {"limit": 20}})
    s = mgr.stats()
    assert s["memory_stats"]["limit"] == 128 << 20
    assert s["pids_stats"]["limit"] == 20


def test_device_rules(mgr: CgroupManager) -> None:
    mgr.apply({"devices": [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},  # /dev/null
        {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "r"},  # /dev/zero, read only
    ]})
    child = Child(mgr, lambda out: send(out, _try_devices()))
    assert json.loads(child.read()) == {"/dev/null:wb": 0, "/dev/zero:rb": 0, "/dev/zero:wb": errno.EPERM,
                                        "/dev/full:rb": errno.EPERM}
    child.wait()


def _try_devices() -> dict:
    out = {}
    for path, mode in (("/dev/null", "wb"), ("/dev/zero", "rb"), ("/dev/zero", "wb"), ("/dev/full", "rb")):
        try:
            open(path, mode).close()
            out[f"{path}:{mode}"] = 0
        except OSError as exc:
            out[f"{path}:{mode}"] = exc.errno
    return out


def test_destroy_kills_and_leaves_nothing() -> None:
    name = "berth-test-" + uuid.uuid4().hex[:10]
    m = detect.manager(name if LAYOUT != "v2" else "/" + name, ROOT, LAYOUT)
    m.create()
    m.apply({"pids": {"limit": 10}})
    child = Child(m, lambda out: time.sleep(60))
    m.freeze()  # a frozen child must die too
    m.destroy(kill=True)
    status = child.wait()
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    for d in _dirs(m):
        assert not os.path.exists(d)
    m.destroy()  # idempotent


# -- v2 on a hybrid host: the parts that need no controller ------------------------------------------

UNIFIED = os.path.join(ROOT, "unified")


@pytest.mark.skipif(LAYOUT != "hybrid" or not os.path.isfile(os.path.join(UNIFIED, "cgroup.controllers")),
                    reason="needs a hybrid host with a cgroup2 mount at /sys/fs/cgroup/unified")
def test_v2_freezer_devices_and_kill_on_the_unified_mount() -> None:
    # The directory is made by hand: create() would enable controllers in the host's root
    # cgroup.subtree_control, which is not the test's to change.
    name = "/berth-test-" + uuid.uuid4().hex[:10]
    m = V2Manager(name, UNIFIED)
    os.mkdir(m.dir)
    try:
        m.apply({"devices": [{"allow": False, "access": "rwm"},
                             {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                             {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "r"}]})

        def work(out: int) -> None:
            send(out, _try_devices())
            while True:
                os.write(out, b".")
                time.sleep(0.005)

        child = Child(m, work)
        first = child.read()
        assert json.loads(first.split(b"\n")[0]) == {"/dev/null:wb": 0, "/dev/zero:rb": 0,
                                                     "/dev/zero:wb": errno.EPERM, "/dev/full:rb": errno.EPERM}
        assert m.pids() == [child.pid]
        m.freeze()
        assert m.frozen() is True
        while child.read(timeout=0.05):
            pass
        assert child.read(timeout=0.3) == b""
        m.thaw()
        assert m.frozen() is False
        assert child.read(timeout=5)
        m.destroy(kill=True)  # cgroup.kill on 5.14+, SIGKILL per pid before
        status = child.wait()
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        assert not os.path.exists(m.dir)
    finally:
        if os.path.isdir(m.dir):
            m.destroy(kill=True)

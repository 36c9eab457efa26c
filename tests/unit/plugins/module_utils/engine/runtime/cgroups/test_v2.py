# SPDX-License-Identifier: GPL-3.0-or-later
"""cgroup v2 manager on a fake unified hierarchy (plain files in tmp), the v1->v2 conversions,
layout detection, and the eBPF device program encoding.

The fake ``mkdir`` behaves like the kernel's: a new cgroup gets the core files plus the interface
files of the controllers its parent enabled in ``cgroup.subtree_control``.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import signal
import struct
import tempfile
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.errors import InvalidOption
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime.cgroups import base, detect, devices
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime.cgroups import resources
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime.cgroups.base import CgroupError, Host
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime.cgroups.v1 import V1Manager
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime.cgroups.v2 import V2Manager

ALL = "cpuset cpu io memory hugetlb pids rdma misc"
CONTROLLER_FILES = {
    "memory": {"memory.max": "max", "memory.low": "0", "memory.high": "max", "memory.swap.max": "max",
               "memory.current": "0", "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
               "memory.stat": "anon 0\nfile 0\n"},
    "cpu": {"cpu.weight": "100", "cpu.max": "max 100000", "cpu.idle": "0", "cpu.max.burst": "0"},
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
    "io": {"io.weight": "default 100", "io.max": "", "io.stat": ""},
    "pids": {"pids.max": "max", "pids.current": "0"},
    "hugetlb": {"hugetlb.2MB.max": "max"},
}


@pytest.fixture
def scratch(tmp_path) -> t.Iterator[pathlib.Path]:
    """A scratch directory on tmpfs when there is one: fake trees are many tiny files, and creating
    them on the ext4 test disk costs seconds."""
    shm = "/dev/shm"
    if not (os.path.isdir(shm) and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    d = tempfile.mkdtemp(prefix="berth-cgtest-", dir=shm)
    try:
        yield pathlib.Path(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def enabled(d: str) -> list[str]:
    with open(os.path.join(d, "cgroup.subtree_control")) as fh:
        return [tok.lstrip("+") for tok in fh.read().split() if not tok.startswith("-")]


def fake_mkdir(path: str) -> None:
    os.mkdir(path)
    ctrls = enabled(os.path.dirname(path))
    files = {
        "cgroup.procs": "", "cgroup.controllers": " ".join(ctrls), "cgroup.subtree_control": "",
        "cgroup.events": "populated 0\nfrozen 0\n", "cgroup.freeze": "0", "cpu.stat": "usage_usec 0\n",
    }
    for c in ctrls:
        files.update(CONTROLLER_FILES.get(c, {}))
    for name, content in files.items():
        with open(os.path.join(path, name), "w") as fh:
            fh.write(content)


@pytest.fixture
def root(scratch) -> str:
    r = scratch / "cgroup"
    r.mkdir()
    (r / "cgroup.controllers").write_text(ALL + "\n")
    (r / "cgroup.subtree_control").write_text("")
    (r / "cgroup.procs").write_text("1\n")
    return str(r)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.on_sleep: t.Callable[[], None] | None = None

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s
        if self.on_sleep:
            self.on_sleep()

    def __call__(self) -> float:
        return self.now


def host(clock: Clock | None = None, kill: t.Callable[[int, int], None] | None = None,
         self_cgroup: str = "0::/\n") -> Host:
    c = clock or Clock()
    return Host(proc_self_cgroup=self_cgroup, kill=kill or (lambda p, s: None), sleep=c.sleep, clock=c,
                mkdir=fake_mkdir, rmdir=shutil.rmtree, proc="/nonexistent-proc")


def content(path: str) -> str:
    with open(path) as fh:
        return fh.read()


def write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


@pytest.fixture
def mgr(root) -> V2Manager:
    m = V2Manager("/berth/abc", root, host())
    m.create()
    return m


# -- create ------------------------------------------------------------------------------------------


def test_create_enables_controllers_down_the_tree(root) -> None:
    m = V2Manager("/berth/abc", root, host())
    m.create()
    assert m.dir == os.path.join(root, "berth", "abc")
    assert content(os.path.join(root, "cgroup.subtree_control")) == \
        "+cpuset +cpu +io +memory +hugetlb +pids +rdma +misc"
    assert content(os.path.join(root, "berth", "cgroup.subtree_control")) == \
        "+cpuset +cpu +io +memory +hugetlb +pids +rdma +misc"
    assert content(os.path.join(root, "berth", "abc", "cgroup.subtree_control")) == ""  # the leaf keeps none
    assert os.path.exists(os.path.join(m.dir, "memory.max"))
    m.create()  # idempotent


def test_create_enables_only_what_is_available_and_missing(root) -> None:
    write(os.path.join(root, "cgroup.controllers"), "cpu memory pids\n")
    write(os.path.join(root, "cgroup.subtree_control"), "memory\n")
    V2Manager("/c1", root, host()).create()
    assert content(os.path.join(root, "cgroup.subtree_control")) == "+cpu +pids"


def test_relative_path_lives_under_the_callers_cgroup(root) -> None:
    os.makedirs(os.path.join(root, "user.slice", "me"))
    for d in ("user.slice", "user.slice/me"):
        write(os.path.join(root, d, "cgroup.controllers"), "memory pids")
        write(os.path.join(root, d, "cgroup.subtree_control"), "")
    m = V2Manager("berth-x", root, host(self_cgroup="0::/user.slice/me\n"))
    assert m.path == "berth-x"
    assert m.dir == os.path.join(root, "user.slice", "me", "berth-x")
    m.create()
    assert os.path.isfile(os.path.join(m.dir, "pids.max"))


def test_enable_failure_is_reported_when_the_controller_is_needed(root) -> None:
    os.remove(os.path.join(root, "cgroup.subtree_control"))
    os.mkdir(os.path.join(root, "cgroup.subtree_control"))  # every write fails (EISDIR)
    m = V2Manager("/x", root, Host(proc_self_cgroup="", mkdir=os.mkdir))
    m.create()
    assert set(m.enable_errors) == set(ALL.split())
    with pytest.raises(CgroupError) as exc:
        m.apply({"memory": {"limit": 1 << 20}})
    assert "memory controller could not be enabled" in str(exc.value)


def test_missing_controller_file_is_a_clear_error(root) -> None:
    write(os.path.join(root, "cgroup.controllers"), "cpu pids\n")
    m = V2Manager("/x", root, host())
    m.create()
    with pytest.raises(CgroupError) as exc:
        m.apply({"memory": {"limit": 1 << 20}})
    assert exc.value.path == os.path.join(m.dir, "memory.max")
    assert "controller is not available" in str(exc.value) and "1048576" in str(exc.value)


@pytest.mark.parametrize("path", ["", "/", "system.slice:berth:abc", "/berth/../etc", "a/./b"])
def test_bad_cgroups_paths(root, path: str) -> None:
    with pytest.raises(InvalidOption) as exc:
        V2Manager(path, root, host())
    assert exc.value.field == "linux.cgroupsPath"


# -- apply: exact files and values -------------------------------------------------------------------


@pytest.mark.parametrize("resources, expected", [
    ({"memory": {"limit": 268435456}}, {"memory.max": "268435456", "memory.swap.max": "max"}),
    ({"memory": {"limit": -1}}, {"memory.max": "max", "memory.swap.max": "max"}),
    ({"memory": {"limit": 268435456, "swap": 536870912}}, {"memory.max": "268435456", "memory.swap.max": "268435456"}),
    ({"memory": {"limit": 268435456, "swap": 268435456}}, {"memory.swap.max": "0"}),
    ({"memory": {"limit": 268435456, "swap": -1}}, {"memory.swap.max": "max"}),
    ({"memory": {"limit": 268435456, "reservation": 134217728}}, {"memory.low": "134217728"}),
    ({"memory": {"reservation": -1}}, {"memory.low": "max", "memory.max": "max"}),
    ({"memory": {"limit": 1 << 30, "swappiness": 60, "disableOOMKiller": True}}, {"memory.max": "1073741824"}),
    ({"cpu": {"shares": 1024}}, {"cpu.weight": "39", "cpu.max": "max 100000"}),
    ({"cpu": {"shares": 2}}, {"cpu.weight": "1"}),
    ({"cpu": {"shares": 262144}}, {"cpu.weight": "10000"}),
    ({"cpu": {"shares": 512}}, {"cpu.weight": "20"}),
    ({"cpu": {"quota": 50000, "period": 100000}}, {"cpu.max": "50000 100000"}),
    ({"cpu": {"quota": 150000}}, {"cpu.max": "150000"}),
    ({"cpu": {"quota": -1, "period": 250000}}, {"cpu.max": "max 250000"}),
    ({"cpu": {"period": 50000}}, {"cpu.max": "max 50000"}),
    ({"cpu": {"idle": 1, "burst": 1000}}, {"cpu.idle": "1", "cpu.max.burst": "1000"}),
    ({"cpu": {"cpus": "0-1", "mems": "0"}}, {"cpuset.cpus": "0-1", "cpuset.mems": "0"}),
    ({"pids": {"limit": 100}}, {"pids.max": "100"}),
    ({"pids": {"limit": -1}}, {"pids.max": "max"}),
    ({"pids": {"limit": 0}}, {"pids.max": "max"}),
    ({"blockIO": {"weight": 10}}, {"io.weight": "1"}),
    ({"blockIO": {"weight": 500}}, {"io.weight": "4950"}),
    ({"blockIO": {"weight": 1000}}, {"io.weight": "10000"}),
    ({"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]}},
     {"io.max": "8:0 rbps=1048576"}),
    ({"blockIO": {"throttleWriteIOPSDevice": [{"major": 253, "minor": 1, "rate": 100}]}},
     {"io.max": "253:1 wiops=100"}),
    ({"blockIO": {"weightDevice": [{"major": 8, "minor": 16, "weight": 200}]}}, {"io.weight": "8:16 1920"}),
    ({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}, {"hugetlb.2MB.max": "4194304"}),
    ({"unified": {"memory.high": "1000000"}}, {"memory.high": "1000000"}),
])
def test_apply_writes(mgr: V2Manager, resources: dict, expected: dict) -> None:
    mgr.apply(resources)
    for name, value in expected.items():
        assert content(os.path.join(mgr.dir, name)) == value, name


def test_bfq_weight_is_used_as_is_when_present(mgr: V2Manager) -> None:
    write(os.path.join(mgr.dir, "io.bfq.weight"), "default 100")
    mgr.apply({"blockIO": {"weight": 500}})
    assert content(os.path.join(mgr.dir, "io.bfq.weight")) == "500"
    assert content(os.path.join(mgr.dir, "io.weight")) == "default 100"


def test_swap_without_swap_accounting(mgr: V2Manager) -> None:
    os.remove(os.path.join(mgr.dir, "memory.swap.max"))
    mgr.apply({"memory": {"limit": 1 << 20, "swap": 1 << 20}})  # "0": nothing to disable
    mgr.apply({"memory": {"limit": 1 << 20, "swap": -1}})  # "max": nothing to allow
    with pytest.raises(CgroupError) as exc:
        mgr.apply({"memory": {"limit": 1 << 20, "swap": 2 << 20}})
    assert "memory.swap.max" in str(exc.value)


@pytest.mark.parametrize("resources, field", [
    ({"memory": {"swap": 1 << 20}}, "memory_swap"),
    ({"memory": {"limit": 2 << 20, "swap": 1 << 20}}, "memory_swap"),
    ({"cpu": {"shares": 1}}, "cpu_shares"),
    ({"cpu": {"realtimeRuntime": 950000}}, "cpu_rt_runtime"),
    ({"network": {"classID": 1048577}}, "linux.resources.network"),
    ({"unified": {"../escape": "1"}}, "linux.resources.unified"),
    ({"unified": {"cgroup.procs": "1"}}, "linux.resources.unified"),
])
def test_apply_refuses(mgr: V2Manager, resources: dict, field: str) -> None:
    with pytest.raises(InvalidOption) as exc:
        mgr.apply(resources)
    assert exc.value.field == field


def test_devices_become_one_attached_program_and_update_leaves_them(root) -> None:
    attached = []
    m = V2Manager("/c", root, host(), attach_devices=lambda d, prog: attached.append((d, prog)))
    m.create()
    rules = [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]
    m.apply({"devices": rules, "pids": {"limit": 10}})
    assert attached == [(m.dir, devices.program(rules))]
    m.update({"devices": rules, "pids": {"limit": 20}})
    assert len(attached) == 1
    assert content(os.path.join(m.dir, "pids.max")) == "20"


# -- conversions -------------------------------------------------------------------------------------


@pytest.mark.parametrize("shares, weight", [(0, 0), (2, 1), (1024, 39), (512, 20), (262144, 10000), (100, 4)])
def test_shares_to_weight(shares: int, weight: int) -> None:
    assert base.shares_to_weight(shares) == weight


@pytest.mark.parametrize("blkio, io", [(0, 0), (10, 1), (100, 910), (500, 4950), (1000, 10000)])
def test_blkio_weight_to_io_weight(blkio: int, io: int) -> None:
    assert base.blkio_weight_to_io_weight(blkio) == io


@pytest.mark.parametrize("quota, period, value", [
    (None, None, None), (0, 0, None), (50000, 100000, "50000 100000"), (-1, 100000, "max 100000"),
    (0, 100000, "max 100000"), (20000, None, "20000"), (-1, None, "max"),
])
def test_cpu_max(quota, period, value) -> None:
    assert base.cpu_max(quota, period) == value


@pytest.mark.parametrize("swap, memory, value", [
    (0, 0, None), (None, 1 << 20, None), (0, -1, -1), (-1, 1 << 20, -1), (-1, -1, -1),
    (3 << 20, 1 << 20, 2 << 20), (1 << 20, 1 << 20, 0),
])
def test_swap_v2(swap, memory, value) -> None:
    assert resources.swap_v2(swap, memory) == value


@pytest.mark.parametrize("memory, memory_swap, total, v2", [
    (100 << 20, 0, 200 << 20, 100 << 20),  # Docker's default: as much swap as memory
    (100 << 20, None, 200 << 20, 100 << 20),
    (100 << 20, 150 << 20, 150 << 20, 50 << 20),
    (100 << 20, 100 << 20, 100 << 20, 0),  # no swap at all
    (100 << 20, -1, -1, -1),  # unlimited swap: "max"
    (0, 0, None, None),  # no limits: nothing to write
    (None, -1, -1, -1),
])
def test_memory_and_swap_from_docker_options_to_v1_and_v2(memory, memory_swap, total, v2) -> None:
    """One function makes the OCI memory+swap total (the spec, and cgroup v1 as it is); swap_v2 alone takes
    the memory back out for memory.swap.max."""
    assert resources.memory_swap_total(memory, memory_swap) == total
    assert resources.swap_v2(total, memory) == v2


@pytest.mark.parametrize("limit, value", [(-1, "max"), (0, "max"), (1, "1"), (4096, "4096")])
def test_pids_max(limit: int, value: str) -> None:
    assert base.pids_max(limit) == value


# -- freezer -----------------------------------------------------------------------------------------


def test_freeze_waits_for_cgroup_events(root) -> None:
    clock = Clock()
    m = V2Manager("/c", root, host(clock))
    m.create()
    events = os.path.join(m.dir, "cgroup.events")
    polls = []

    def kernel_catches_up() -> None:
        polls.append(clock.now)
        if len(polls) == 3:
            write(events, "populated 1\nfrozen 1\n")

    clock.on_sleep = kernel_catches_up
    assert m.frozen() is False
    m.freeze()
    assert content(os.path.join(m.dir, "cgroup.freeze")) == "1"
    assert m.frozen() is True
    assert len(polls) == 3

    polls.clear()
    clock.on_sleep = lambda: write(events, "populated 1\nfrozen 0\n")
    m.thaw()
    assert content(os.path.join(m.dir, "cgroup.freeze")) == "0"
    assert m.frozen() is False


def test_freeze_timeout_thaws_again(root) -> None:
    clock = Clock()
    m = V2Manager("/c", root, host(clock))
    m.create()
    with pytest.raises(CgroupError) as exc:
        m.freeze(timeout=0.5)
    assert "frozen 1" in str(exc.value) and "thawed it again" in str(exc.value)
    assert content(os.path.join(m.dir, "cgroup.freeze")) == "0"
    assert 0.5 <= clock.now < 0.6


def test_freeze_needs_cgroup_freeze(mgr: V2Manager) -> None:
    os.remove(os.path.join(mgr.dir, "cgroup.freeze"))
    with pytest.raises(CgroupError) as exc:
        mgr.freeze()
    assert "Linux 5.2" in str(exc.value)


# -- pids, oom, stats --------------------------------------------------------------------------------


def test_add_pid_and_pids_include_sub_cgroups(mgr: V2Manager) -> None:
    mgr.add_pid(4242)
    assert content(os.path.join(mgr.dir, "cgroup.procs")) == "4242"
    write(os.path.join(mgr.dir, "cgroup.procs"), "12\n13\n")
    os.mkdir(os.path.join(mgr.dir, "sub"))
    write(os.path.join(mgr.dir, "sub", "cgroup.procs"), "14\n")
    assert mgr.pids() == [12, 13, 14]


@pytest.mark.parametrize("events, killed", [
    ("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n", True),
    ("low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n", False),
    ("", False),
])
def test_oom_killed(mgr: V2Manager, events: str, killed: bool) -> None:
    write(os.path.join(mgr.dir, "memory.events"), events)
    assert mgr.oom_killed() is killed


def test_stats(root, scratch) -> None:
    proc = scratch / "proc"
    proc.mkdir()
    (proc / "meminfo").write_text("MemTotal:       1000 kB\nMemFree: 10 kB\n")
    (proc / "stat").write_text("cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1 1 1 1\n")
    m = V2Manager("/c", root, Host(proc_self_cgroup="", mkdir=fake_mkdir, proc=str(proc)))
    m.create()
    files = {
        "memory.current": "4096", "memory.max": "max", "memory.peak": "8192",
        "memory.events": "low 0\nhigh 0\nmax 2\noom 0\noom_kill 0\n", "memory.stat": "anon 1024\nfile 2048\n",
        "cpu.stat": "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 2\n"
                    "throttled_usec 300\n",
        "pids.current": "3", "pids.max": "max",
        "io.stat": "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
    }
    for name, text in files.items():
        write(os.path.join(m.dir, name), text)
    s = m.stats()
    assert s["memory_stats"] == {"usage": 4096, "max_usage": 8192, "failcnt": 2, "limit": 1024000,
                                 "stats": {"anon": 1024, "file": 2048}}
    assert s["cpu_stats"]["cpu_usage"] == {"total_usage": 1500000, "percpu_usage": [],
                                           "usage_in_kernelmode": 500000, "usage_in_usermode": 1000000}
    assert s["cpu_stats"]["throttling_data"] == {"periods": 10, "throttled_periods": 2, "throttled_time": 300000}
    assert s["cpu_stats"]["system_cpu_usage"] == 1000 * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    assert s["pids_stats"] == {"current": 3, "limit": 0}
    assert s["blkio_stats"]["io_service_bytes_recursive"] == [
        {"major": 8, "minor": 0, "op": "read", "value": 4096}, {"major": 8, "minor": 0, "op": "write", "value": 8192}]
    write(os.path.join(m.dir, "memory.max"), "512")
    write(os.path.join(m.dir, "pids.max"), "50")
    s = m.stats()
    assert s["memory_stats"]["limit"] == 512 and s["pids_stats"]["limit"] == 50


# -- destroy -----------------------------------------------------------------------------------------


def test_destroy_with_cgroup_kill(root) -> None:
    clock = Clock()
    m = V2Manager("/berth/c", root, host(clock))
    m.create()
    write(os.path.join(m.dir, "cgroup.procs"), "100\n101\n")
    write(os.path.join(m.dir, "cgroup.kill"), "")
    clock.on_sleep = lambda: write(os.path.join(m.dir, "cgroup.procs"), "")
    m.destroy(kill=True)
    assert not os.path.exists(m.dir)
    assert os.path.isdir(os.path.join(root, "berth"))  # the parent stays
    m.destroy()  # already gone: fine


def test_destroy_without_cgroup_kill_signals_each_pid(root) -> None:
    killed = []
    m = V2Manager("/c", root, host(kill=lambda pid, sig: killed.append((pid, sig))))
    m.create()
    procs = os.path.join(m.dir, "cgroup.procs")
    write(procs, "100\n101\n")
    m.host.kill = lambda pid, sig: (killed.append((pid, sig)), write(procs, ""))  # type: ignore[assignment]
    m.destroy(kill=True)
    assert killed == [(100, signal.SIGKILL), (101, signal.SIGKILL)]
    assert not os.path.exists(m.dir)


def test_destroy_gives_up_naming_the_survivors(root) -> None:
    clock = Clock()
    m = V2Manager("/c", root, host(clock))
    m.create()
    write(os.path.join(m.dir, "cgroup.procs"), "100\n")
    with pytest.raises(CgroupError) as exc:
        m.destroy(kill=True, timeout=0.1)
    assert "[100]" in str(exc.value)


def test_remove_tree_retries_ebusy(scratch) -> None:
    d = scratch / "cg"
    (d / "child").mkdir(parents=True)
    attempts: list[str] = []

    def busy_once(path: str) -> None:
        attempts.append(os.path.basename(path))
        if attempts.count(os.path.basename(path)) == 1:
            raise OSError(16, "Device or resource busy")
        os.rmdir(path)

    sleeps: list[float] = []
    base.remove_tree(str(d), busy_once, sleeps.append)
    assert attempts == ["child", "child", "cg", "cg"]
    assert sleeps == [0.005, 0.005]
    assert not d.exists()


def test_remove_tree_waits_out_a_slow_release_then_gives_up(scratch) -> None:
    d = scratch / "cg"
    d.mkdir()
    calls = []

    def busy(path: str) -> None:
        calls.append(path)
        raise OSError(16, "Device or resource busy")

    sleeps: list[float] = []
    with pytest.raises(CgroupError, match="cannot remove: Device or resource busy"):
        base.remove_tree(str(d), busy, sleeps.append)
    assert sleeps[:6] == [0.005, 0.01, 0.02, 0.04, 0.08, 0.1] and set(sleeps[5:]) == {0.1}
    assert 3.0 <= sum(sleeps) < 3.2 and len(calls) == len(sleeps) + 1


# -- layout detection --------------------------------------------------------------------------------


def test_layout_detection(scratch) -> None:
    v2 = scratch / "v2"
    v2.mkdir()
    (v2 / "cgroup.controllers").write_text(ALL)
    assert detect.layout(str(v2)) == "v2"
    assert isinstance(detect.manager("/berth/x", str(v2), host=host()), V2Manager)

    hybrid = scratch / "hybrid"
    for c in ("memory", "cpu", "pids", "unified"):
        (hybrid / c).mkdir(parents=True)
    (hybrid / "unified" / "cgroup.controllers").write_text("hugetlb")
    assert detect.layout(str(hybrid)) == "hybrid"
    m = detect.manager("/berth/x", str(hybrid), host=host())
    assert isinstance(m, V1Manager)
    assert sorted(m.hierarchies) == ["cpu", "memory", "pids"]  # the unified mount is ignored

    v1 = scratch / "v1"
    (v1 / "memory").mkdir(parents=True)
    assert detect.layout(str(v1)) == "v1"

    empty = scratch / "empty"
    empty.mkdir()
    with pytest.raises(CgroupError):
        detect.layout(str(empty))
    assert isinstance(detect.manager("/x", str(empty), layout="v2", host=host()), V2Manager)
    with pytest.raises(CgroupError):
        detect.manager("/x", str(empty), layout="v3")


def test_io_weight_supported(scratch) -> None:
    """Docker's SysInfo.BlkioWeight: v2 needs the io controller, v1 a blkio.weight or blkio.bfq.weight."""
    v2 = scratch / "v2"
    v2.mkdir()
    (v2 / "cgroup.controllers").write_text("cpu memory pids")
    assert not detect.io_weight_supported(str(v2))
    (v2 / "cgroup.controllers").write_text(ALL)
    assert detect.io_weight_supported(str(v2))

    v1 = scratch / "v1"
    (v1 / "blkio").mkdir(parents=True)
    (v1 / "memory").mkdir()
    assert not detect.io_weight_supported(str(v1))  # no scheduler with weights (CFQ or BFQ)
    (v1 / "blkio" / "blkio.bfq.weight").write_text("100")
    assert detect.io_weight_supported(str(v1))
    (v1 / "blkio" / "blkio.bfq.weight").unlink()
    (v1 / "blkio" / "blkio.weight").write_text("500")
    assert detect.io_weight_supported(str(v1))

    assert not detect.io_weight_supported(str(scratch / "nothing"))


def test_this_host_layout() -> None:
    assert detect.layout() in detect.LAYOUTS


# -- eBPF device program ------------------------------------------------------------------------------


def insns(prog: bytes) -> list[tuple[int, int, int, int, int]]:
    """(code, dst, src, off, imm) per instruction."""
    out = []
    for i in range(0, len(prog), 8):
        code, regs, off, imm = struct.unpack("<BBhi", prog[i:i + 8])
        out.append((code, regs & 0xF, regs >> 4, off, imm))
    return out


PROLOGUE = [
    (0x61, 2, 1, 0, 0), (0x54, 2, 0, 0, 0xFFFF),  # r2 = type
    (0x61, 3, 1, 0, 0), (0x74, 3, 0, 0, 16),      # r3 = access
    (0x61, 4, 1, 4, 0),                           # r4 = major
    (0x61, 5, 1, 8, 0),                           # r5 = minor
]


def test_program_default_deny_with_two_exceptions() -> None:
    prog = devices.program([
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": True, "type": "c", "major": 136, "access": "rw"},
    ])
    assert insns(prog) == PROLOGUE + [
        # c 1:3 rwm -> allow
        (0x55, 2, 0, 4, 2), (0x55, 4, 0, 3, 1), (0x55, 5, 0, 2, 3), (0xB4, 0, 0, 0, 1), (0x95, 0, 0, 0, 0),
        # c 136:* rw -> allow, if the request asks for no more than rw
        (0x55, 2, 0, 6, 2), (0xBC, 1, 3, 0, 0), (0x54, 1, 0, 0, 6), (0x5D, 1, 3, 3, 0), (0x55, 4, 0, 2, 136),
        (0xB4, 0, 0, 0, 1), (0x95, 0, 0, 0, 0),
        # default: deny
        (0xB4, 0, 0, 0, 0), (0x95, 0, 0, 0, 0),
    ]


def test_program_without_rules_allows_everything() -> None:
    assert insns(devices.program([])) == PROLOGUE + [(0xB4, 0, 0, 0, 1), (0x95, 0, 0, 0, 0)]


def rules_of(rules: list[dict]) -> tuple[bool, list[tuple]]:
    emu = devices.emulate(rules)
    return emu.default_allow, [(r.type, r.major, r.minor, r.access, r.allow) for r in emu.exceptions]


@pytest.mark.parametrize("rules, expected", [
    ([], (True, [])),
    ([{"allow": False, "access": "rwm"}], (False, [])),
    ([{"allow": False}, {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "r"},
      {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "w"}],
     (False, [("c", 1, 5, "rw", True)])),
    # a rule that agrees with the default removes access from the exception
    ([{"allow": False}, {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
      {"allow": False, "type": "c", "major": 1, "minor": 5, "access": "m"}],
     (False, [("c", 1, 5, "rw", True)])),
    ([{"allow": False}, {"allow": True, "type": "b", "major": 8, "minor": 0, "access": "r"},
      {"allow": False, "type": "b", "major": 8, "minor": 0, "access": "r"}],
     (False, [])),
    # allow-all default with a deny exception, then a wildcard resets everything
    ([{"allow": False, "type": "c", "major": 10, "minor": 200, "access": "rwm"}],
     (True, [("c", 10, 200, "rwm", False)])),
    ([{"allow": False, "type": "c", "major": 10, "minor": 200}, {"allow": False, "type": "a"}], (False, [])),
    ([{"allow": True, "type": "c", "major": 1, "minor": 3}], (True, [])),
])
def test_emulator_v1_semantics(rules: list[dict], expected: tuple) -> None:
    assert rules_of(rules) == expected


@pytest.mark.parametrize("rule, field", [
    ({"type": "x"}, "linux.resources.devices.type"),
    ({"type": "c", "access": "rwx"}, "linux.resources.devices.access"),
    ({"type": "c", "major": -7}, "linux.resources.devices.major"),
])
def test_bad_device_rules(rule: dict, field: str) -> None:
    with pytest.raises(InvalidOption) as exc:
        devices.program([rule])
    assert exc.value.field == field

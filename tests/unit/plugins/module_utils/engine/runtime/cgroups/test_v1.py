# SPDX-License-Identifier: GPL-3.0-or-later
"""cgroup v1 manager on a fake tree of controller hierarchies (plain files in tmp): exact files,
values and write order, cpuset inheritance, co-mounted controllers, freezer polling, teardown."""
from __future__ import annotations

import os
import pathlib
import shutil
import signal
import tempfile
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.errors import InvalidOption
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime.cgroups import base, v1
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime.cgroups.base import CgroupError, Host
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime.cgroups.v1 import V1Manager

FILES = {
    "memory": {"memory.limit_in_bytes": "9223372036854771712", "memory.soft_limit_in_bytes": "9223372036854771712",
               "memory.memsw.limit_in_bytes": "9223372036854771712", "memory.swappiness": "60",
               "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n", "memory.usage_in_bytes": "0",
               "memory.max_usage_in_bytes": "0", "memory.failcnt": "0", "memory.stat": "cache 0\nrss 0\n"},
    "cpu": {"cpu.shares": "1024", "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "-1",
            "cpu.rt_period_us": "1000000", "cpu.rt_runtime_us": "0", "cpu.stat": "nr_periods 0\n"},
    "cpuacct": {"cpuacct.usage": "0", "cpuacct.usage_percpu": "0 0", "cpuacct.stat": "user 0\nsystem 0\n"},
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
    "pids": {"pids.max": "max", "pids.current": "0"},
    "freezer": {"freezer.state": "THAWED"},
    "devices": {"devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm"},
    "blkio": {"blkio.weight": "500", "blkio.leaf_weight": "500", "blkio.weight_device": "",
              "blkio.throttle.read_bps_device": "", "blkio.throttle.write_bps_device": "",
              "blkio.throttle.read_iops_device": "", "blkio.throttle.write_iops_device": "",
              "blkio.throttle.io_service_bytes_recursive": "", "blkio.throttle.io_serviced_recursive": ""},
}
CONTROLLERS = tuple(FILES)


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


class FakeV1:
    """A fake /sys/fs/cgroup with one hierarchy per controller; mkdir creates the controller's files."""

    def __init__(self, root: str, controllers: t.Iterable[str] = CONTROLLERS) -> None:
        self.root = root
        for c in controllers:
            os.makedirs(os.path.join(root, c))
            self._files(os.path.join(root, c), c)
        cpuset = os.path.join(root, "cpuset")
        if os.path.isdir(cpuset):
            write(os.path.join(cpuset, "cpuset.cpus"), "0-1")
            write(os.path.join(cpuset, "cpuset.mems"), "0")

    def _files(self, d: str, hierarchy: str) -> None:
        write(os.path.join(d, "cgroup.procs"), "")
        write(os.path.join(d, "tasks"), "")
        for c in hierarchy.split(","):
            for name, text in FILES.get(c, {}).items():
                write(os.path.join(d, name), text)

    def mkdir(self, path: str) -> None:
        os.mkdir(path)
        rel = os.path.relpath(path, self.root)
        self._files(path, rel.split(os.sep)[0])


def write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def content(path: str) -> str:
    with open(path) as fh:
        return fh.read()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.on_sleep: t.Callable[[], None] | None = None

    def sleep(self, s: float) -> None:
        self.now += s
        if self.on_sleep:
            self.on_sleep()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake(scratch) -> FakeV1:
    return FakeV1(str(scratch / "cgroup"))


def make(fake: FakeV1, path: str = "/berth/abc", clock: Clock | None = None, self_cgroup: str = "",
         kill: t.Callable[[int, int], None] | None = None) -> V1Manager:
    c = clock or Clock()
    m = V1Manager(path, fake.root, Host(proc_self_cgroup=self_cgroup, mkdir=fake.mkdir, rmdir=shutil.rmtree,
                                        sleep=c.sleep, clock=c, kill=kill or (lambda p, s: None),
                                        proc="/nonexistent-proc"))
    m.create()
    return m


@pytest.fixture
def recorder(monkeypatch) -> list[tuple[str, str, str]]:
    """Every base.write as (controller dir basename path, file, value), in order."""
    calls: list[tuple[str, str, str]] = []
    real = base.write

    def record(directory: str, name: str, value: t.Any) -> None:
        calls.append((directory, name, str(value)))
        real(directory, name, value)

    monkeypatch.setattr(base, "write", record)
    return calls


# -- layout and create --------------------------------------------------------------------------------


def test_mounts_and_create(fake: FakeV1) -> None:
    m = make(fake)
    assert sorted(m.hierarchies) == sorted(CONTROLLERS)
    for c in CONTROLLERS:
        d = m.dir(c)
        assert d == os.path.join(fake.root, c, "berth", "abc")
        assert os.path.isdir(d)
    # a new cpuset cgroup inherits cpus and mems at every level
    for d in (os.path.join(fake.root, "cpuset", "berth"), m.dir("cpuset")):
        assert content(os.path.join(d, "cpuset.cpus")) == "0-1"
        assert content(os.path.join(d, "cpuset.mems")) == "0"
    m.create()  # idempotent


def test_co_mounted_controllers_share_one_directory(scratch) -> None:
    root = str(scratch / "cgroup")
    fake = FakeV1(root, ["cpu,cpuacct", "memory"])
    os.symlink("cpu,cpuacct", os.path.join(root, "cpu"))
    os.symlink("cpu,cpuacct", os.path.join(root, "cpuacct"))
    assert v1.mounts(root) == {"cpu": os.path.join(root, "cpu,cpuacct"), "cpuacct": os.path.join(root, "cpu,cpuacct"),
                               "memory": os.path.join(root, "memory")}
    m = make(fake)
    m.apply({"cpu": {"shares": 512}})
    assert content(os.path.join(root, "cpu,cpuacct", "berth", "abc", "cpu.shares")) == "512"
    assert sorted(m._dirs()) == [os.path.join(root, "cpu,cpuacct", "berth", "abc"),
                                 os.path.join(root, "memory", "berth", "abc")]
    m.add_pid(77)
    assert content(os.path.join(root, "cpu,cpuacct", "berth", "abc", "cgroup.procs")) == "77"


def test_relative_path_follows_each_hierarchy(fake: FakeV1) -> None:
    os.makedirs(os.path.join(fake.root, "memory", "job", "7"))
    self_cgroup = "8:pids:/\n4:memory:/job/7\n1:name=systemd:/\n0::/\n"
    m = make(fake, "berth-test", self_cgroup=self_cgroup)
    assert m.path == "berth-test"
    assert m.dir("memory") == os.path.join(fake.root, "memory", "job", "7", "berth-test")
    assert m.dir("pids") == os.path.join(fake.root, "pids", "berth-test")
    assert os.path.isdir(m.dir("memory"))


def test_missing_controller(scratch) -> None:
    fake = FakeV1(str(scratch / "cgroup"), ["memory", "cpu"])
    m = make(fake)
    with pytest.raises(CgroupError) as exc:
        m.apply({"pids": {"limit": 10}})
    assert "pids controller is not mounted" in str(exc.value)
    with pytest.raises(CgroupError) as exc:
        m.apply({"hugepageLimits": [{"pageSize": "2MB", "limit": 1 << 21}]})
    assert "hugetlb controller is not mounted" in str(exc.value)
    with pytest.raises(CgroupError) as exc:
        m.apply({"network": {"classID": 0x100001}})
    assert "net_cls controller is not mounted" in str(exc.value)
    with pytest.raises(CgroupError) as exc:
        m.apply({"unified": {"memory.high": "1"}})
    assert "needs cgroup v2" in str(exc.value)


# -- apply: exact files and values -------------------------------------------------------------------


@pytest.mark.parametrize("resources, expected", [
    ({"memory": {"limit": 268435456}}, {"memory/memory.limit_in_bytes": "268435456"}),
    ({"memory": {"limit": 268435456, "swap": 536870912}},
     {"memory/memory.limit_in_bytes": "268435456", "memory/memory.memsw.limit_in_bytes": "536870912"}),
    ({"memory": {"limit": -1}}, {"memory/memory.limit_in_bytes": "-1", "memory/memory.memsw.limit_in_bytes": "-1"}),
    ({"memory": {"reservation": 134217728}}, {"memory/memory.soft_limit_in_bytes": "134217728"}),
    ({"memory": {"swappiness": 0}}, {"memory/memory.swappiness": "0"}),
    ({"memory": {"disableOOMKiller": True}}, {"memory/memory.oom_control": "1"}),
    ({"cpu": {"shares": 512}}, {"cpu/cpu.shares": "512"}),
    ({"cpu": {"quota": 50000, "period": 100000}}, {"cpu/cpu.cfs_quota_us": "50000", "cpu/cpu.cfs_period_us": "100000"}),
    ({"cpu": {"quota": -1}}, {"cpu/cpu.cfs_quota_us": "-1"}),
    ({"cpu": {"realtimeRuntime": 950000, "realtimePeriod": 1000000}},
     {"cpu/cpu.rt_runtime_us": "950000", "cpu/cpu.rt_period_us": "1000000"}),
    ({"cpu": {"cpus": "1", "mems": "0"}}, {"cpuset/cpuset.cpus": "1", "cpuset/cpuset.mems": "0"}),
    ({"pids": {"limit": 64}}, {"pids/pids.max": "64"}),
    ({"pids": {"limit": -1}}, {"pids/pids.max": "max"}),
    ({"pids": {"limit": 0}}, {"pids/pids.max": "max"}),
    ({"blockIO": {"weight": 300, "leafWeight": 200}}, {"blkio/blkio.weight": "300", "blkio/blkio.leaf_weight": "200"}),
    ({"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 700}]}},
     {"blkio/blkio.weight_device": "8:0 700"}),
    ({"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                  "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 50}]}},
     {"blkio/blkio.throttle.read_bps_device": "8:0 1048576", "blkio/blkio.throttle.write_iops_device": "8:16 50"}),
])
def test_apply_writes(fake: FakeV1, resources: dict, expected: dict) -> None:
    m = make(fake)
    m.apply(resources)
    for key, value in expected.items():
        controller, name = key.split("/")
        assert content(os.path.join(m.dir(controller), name)) == value, key


def test_memory_and_swap_write_order(fake: FakeV1, recorder) -> None:
    # the kernel wants memory <= memory+swap after every single write (runc's order)
    m = make(fake)
    recorder.clear()
    m.apply({"memory": {"limit": 64 << 20, "swap": 128 << 20}})  # from unlimited: memory first
    assert [c[1] for c in recorder] == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
    recorder.clear()
    m.apply({"memory": {"limit": 256 << 20, "swap": 512 << 20}})  # growing past the current limit: swap first
    assert [c[1] for c in recorder] == ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]
    recorder.clear()
    m.apply({"memory": {"limit": 64 << 20, "swap": -1}})
    assert [(c[1], c[2]) for c in recorder] == [("memory.memsw.limit_in_bytes", "-1"),
                                                ("memory.limit_in_bytes", str(64 << 20))]


def test_swap_without_swap_accounting(fake: FakeV1) -> None:
    m = make(fake)
    os.remove(os.path.join(m.dir("memory"), "memory.memsw.limit_in_bytes"))
    m.apply({"memory": {"limit": -1}})  # no implied swap write
    m.apply({"memory": {"limit": 1 << 20, "swap": -1}})
    with pytest.raises(CgroupError) as exc:
        m.apply({"memory": {"limit": 1 << 20, "swap": 2 << 20}})
    assert "swap accounting is off" in str(exc.value)


def test_cpu_period_is_retried_after_the_quota(fake: FakeV1, recorder, monkeypatch) -> None:
    m = make(fake)
    real = base.write
    refused = []

    def kernel(directory: str, name: str, value: t.Any) -> None:
        if name == "cpu.cfs_period_us" and not refused:
            refused.append(value)
            raise CgroupError(os.path.join(directory, name), "Invalid argument", str(value))
        real(directory, name, value)

    monkeypatch.setattr(base, "write", kernel)
    m.apply({"cpu": {"quota": 10000, "period": 20000}})
    assert content(os.path.join(m.dir("cpu"), "cpu.cfs_period_us")) == "20000"
    assert content(os.path.join(m.dir("cpu"), "cpu.cfs_quota_us")) == "10000"
    refused.clear()
    with pytest.raises(CgroupError):
        m.apply({"cpu": {"period": 20000}})  # no quota to retry after


def test_blkio_weight_files(fake: FakeV1) -> None:
    m = make(fake)
    d = m.dir("blkio")
    write(os.path.join(d, "blkio.bfq.weight"), "100")
    m.apply({"blockIO": {"weight": 250}})
    assert content(os.path.join(d, "blkio.bfq.weight")) == "250"
    os.remove(os.path.join(d, "blkio.bfq.weight"))
    os.remove(os.path.join(d, "blkio.weight"))
    with pytest.raises(CgroupError) as exc:
        m.apply({"blockIO": {"weight": 250}})
    assert "blkio weight is not supported" in str(exc.value)


def test_device_rules_are_written_in_order(fake: FakeV1, recorder) -> None:
    m = make(fake)
    recorder.clear()
    m.apply({"devices": [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": True, "type": "c", "major": 136, "access": "rwm"},
        {"allow": True, "type": "b", "major": 8, "minor": None, "access": "r"},
        {"allow": False, "type": "c", "major": 10, "minor": 200, "access": "rwm"},
    ]})
    assert [(c[1], c[2]) for c in recorder] == [
        ("devices.deny", "a"),
        ("devices.allow", "c 1:3 rwm"),
        ("devices.allow", "c 136:* rwm"),
        ("devices.allow", "b 8:* r"),
        ("devices.deny", "c 10:200 rwm"),
    ]
    assert {c[0] for c in recorder} == {m.dir("devices")}


@pytest.mark.parametrize("rule, expected", [
    ({"allow": True}, ("devices.allow", "a")),
    ({"allow": False, "type": "a", "major": 1, "access": "r"}, ("devices.deny", "a")),
    ({"allow": True, "type": "c", "major": -1, "minor": -1, "access": "m"}, ("devices.allow", "c *:* m")),
    ({"allow": True, "type": "b", "major": 7, "minor": 0}, ("devices.allow", "b 7:0 rwm")),
])
def test_device_rule_v1(rule: dict, expected: tuple) -> None:
    assert base.device_rule_v1(rule) == expected


def test_device_rule_v1_refuses() -> None:
    with pytest.raises(InvalidOption):
        base.device_rule_v1({"type": "z"})
    with pytest.raises(InvalidOption):
        base.device_rule_v1({"type": "c", "access": "x"})


def test_update_leaves_devices_alone(fake: FakeV1, recorder) -> None:
    m = make(fake)
    recorder.clear()
    m.update({"devices": [{"allow": False}], "memory": {"limit": 1 << 26}, "pids": {"limit": 5}})
    assert [c[1] for c in recorder] == ["memory.limit_in_bytes", "pids.max"]


def test_swappiness_range(fake: FakeV1) -> None:
    m = make(fake)
    with pytest.raises(InvalidOption):
        m.apply({"memory": {"swappiness": 101}})
    m.apply({"memory": {"swappiness": -1}})  # unset
    assert content(os.path.join(m.dir("memory"), "memory.swappiness")) == "60"


# -- freezer -----------------------------------------------------------------------------------------


def test_freeze_polls_through_freezing(fake: FakeV1) -> None:
    clock = Clock()
    m = make(fake, clock=clock)
    state = os.path.join(m.dir("freezer"), "freezer.state")
    reads = []
    real_read = base.read

    def kernel_read(directory: str, name: str) -> str:
        value = real_read(directory, name)
        if name == "freezer.state" and value == "FROZEN":
            reads.append(value)
            if len(reads) < 3:
                return "FREEZING"
        return value

    base_read = base.read
    try:
        base.read = kernel_read  # type: ignore[assignment]
        assert m.frozen() is False
        m.freeze()
    finally:
        base.read = base_read  # type: ignore[assignment]
    assert content(state) == "FROZEN"
    assert len(reads) == 3
    assert m.frozen() is True
    m.thaw()
    assert content(state) == "THAWED" and m.frozen() is False


def test_freeze_gives_up_and_thaws(fake: FakeV1, monkeypatch) -> None:
    clock = Clock()
    m = make(fake, clock=clock)
    real_read = base.read
    monkeypatch.setattr(base, "read", lambda d, n: "FREEZING" if n == "freezer.state" else real_read(d, n))
    with pytest.raises(CgroupError) as exc:
        m.freeze(timeout=1.0)
    assert "still FREEZING" in str(exc.value)
    assert content(os.path.join(m.dir("freezer"), "freezer.state")) == "THAWED"


def test_unexpected_freezer_state(fake: FakeV1, monkeypatch) -> None:
    m = make(fake)
    real_read = base.read
    monkeypatch.setattr(base, "read", lambda d, n: "SLEEPY" if n == "freezer.state" else real_read(d, n))
    with pytest.raises(CgroupError) as exc:
        m.freeze()
    assert "SLEEPY" in str(exc.value)


# -- pids, oom, stats --------------------------------------------------------------------------------


def test_add_pid_joins_every_hierarchy_and_pids_reads_one(fake: FakeV1) -> None:
    m = make(fake)
    m.add_pid(31337)
    for c in CONTROLLERS:
        assert content(os.path.join(m.dir(c), "cgroup.procs")) == "31337"
    write(os.path.join(m.dir("pids"), "cgroup.procs"), "5\n6\n")
    assert m.pids() == [5, 6]


@pytest.mark.parametrize("text, killed", [
    ("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", True),
    ("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n", False),
    ("oom_kill_disable 0\nunder_oom 1\n", False),  # kernels before 4.13 have no counter
])
def test_oom_killed(fake: FakeV1, text: str, killed: bool) -> None:
    m = make(fake)
    write(os.path.join(m.dir("memory"), "memory.oom_control"), text)
    assert m.oom_killed() is killed


def test_stats(fake: FakeV1, scratch) -> None:
    proc = scratch / "proc"
    proc.mkdir()
    (proc / "meminfo").write_text("MemTotal:       2048 kB\n")
    (proc / "stat").write_text("cpu  10 0 10 80 0 0 0 0 0 0\n")
    m = V1Manager("/berth/s", fake.root, Host(proc_self_cgroup="", mkdir=fake.mkdir, proc=str(proc)))
    m.create()
    values = {
        "memory": {"memory.usage_in_bytes": "1000", "memory.max_usage_in_bytes": "2000", "memory.failcnt": "3",
                   "memory.stat": "cache 10\nrss 20\ntotal_rss 20\n"},
        "cpuacct": {"cpuacct.usage": "5000", "cpuacct.usage_percpu": "2000 3000",
                    "cpuacct.stat": "user 3\nsystem 2\n"},
        "cpu": {"cpu.stat": "nr_periods 7\nnr_throttled 1\nthrottled_time 999\n"},
        "pids": {"pids.current": "4", "pids.max": "max"},
        "blkio": {"blkio.throttle.io_service_bytes_recursive": "8:0 Read 512\n8:0 Write 1024\nTotal 1536\n"},
    }
    for c, files in values.items():
        for name, text in files.items():
            write(os.path.join(m.dir(c), name), text)
    s = m.stats()
    tick = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    assert s["memory_stats"] == {"usage": 1000, "max_usage": 2000, "failcnt": 3, "limit": 2048 * 1024,
                                 "stats": {"cache": 10, "rss": 20, "total_rss": 20}}
    assert s["cpu_stats"]["cpu_usage"] == {"total_usage": 5000, "percpu_usage": [2000, 3000],
                                           "usage_in_kernelmode": 2 * tick, "usage_in_usermode": 3 * tick}
    assert s["cpu_stats"]["online_cpus"] == 2
    assert s["cpu_stats"]["throttling_data"] == {"periods": 7, "throttled_periods": 1, "throttled_time": 999}
    assert s["cpu_stats"]["system_cpu_usage"] == 100 * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    assert s["pids_stats"] == {"current": 4, "limit": 0}
    assert s["blkio_stats"]["io_service_bytes_recursive"] == [
        {"major": 8, "minor": 0, "op": "Read", "value": 512}, {"major": 8, "minor": 0, "op": "Write", "value": 1024}]
    write(os.path.join(m.dir("memory"), "memory.limit_in_bytes"), "4096")
    assert m.stats()["memory_stats"]["limit"] == 4096


# -- destroy -----------------------------------------------------------------------------------------


def test_destroy_kills_thaws_and_removes_every_hierarchy(fake: FakeV1) -> None:
    clock = Clock()
    killed: list[tuple[int, int]] = []
    m = make(fake, clock=clock, kill=lambda pid, sig: killed.append((pid, sig)))
    write(os.path.join(m.dir("pids"), "cgroup.procs"), "10\n11\n")
    write(os.path.join(m.dir("freezer"), "freezer.state"), "FROZEN")

    def reaped() -> None:
        write(os.path.join(m.dir("pids"), "cgroup.procs"), "")

    clock.on_sleep = reaped
    m.destroy(kill=True)
    assert killed == [(10, signal.SIGKILL), (11, signal.SIGKILL)]
    for c in CONTROLLERS:
        assert not os.path.exists(m.dir(c))
        assert os.path.isdir(os.path.join(fake.root, c, "berth"))
    m.destroy()  # nothing left: fine


def test_destroy_names_survivors(fake: FakeV1) -> None:
    m = make(fake)
    write(os.path.join(m.dir("pids"), "cgroup.procs"), "10\n")
    with pytest.raises(CgroupError) as exc:
        m.destroy(kill=True, timeout=0.05)
    assert "[10]" in str(exc.value)

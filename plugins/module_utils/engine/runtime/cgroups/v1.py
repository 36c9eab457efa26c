# SPDX-License-Identifier: GPL-3.0-or-later
"""cgroup v1: one directory per controller hierarchy (``<root>/<controller>/<path>``).

Used on v1 and hybrid hosts (on hybrid hosts the cgroup2 mount at ``<root>/unified`` is ignored,
as runc does).  Each controller function takes the controller's cgroup directory, so the unit tests
check the exact files and values on a fake tree.

Files written (runc ``libcontainer/cgroups/fs``):

    memory   memory.limit_in_bytes, memory.soft_limit_in_bytes, memory.memsw.limit_in_bytes,
             memory.swappiness, memory.oom_control (disableOOMKiller)
    cpu      cpu.shares, cpu.cfs_period_us, cpu.cfs_quota_us, cpu.rt_period_us, cpu.rt_runtime_us
    cpuset   cpuset.cpus, cpuset.mems (created cgroups first inherit the parent's)
    pids     pids.max
    blkio    blkio.weight or blkio.bfq.weight, blkio.leaf_weight, blkio.weight_device,
             blkio.throttle.{read,write}_{bps,iops}_device
    hugetlb  hugetlb.<size>.limit_in_bytes
    net_cls  net_cls.classid ; net_prio net_prio.ifpriomap
    devices  devices.allow / devices.deny, in the order of the rules
    freezer  freezer.state
"""
from __future__ import annotations

import os

from ...errors import InvalidOption
from . import base
from .base import CgroupError, Host

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time (see base.py)
    import typing as t

    from .protocol import Resources


#: v1 controllers a container joins (named hierarchies such as name=systemd are left alone).
CONTROLLERS = (
    "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "hugetlb",
    "net_cls", "net_prio", "perf_event", "rdma", "misc",
)


def mounts(root: str) -> dict[str, str]:
    """{controller: hierarchy directory} for the v1 controllers found under *root*.

    Handles co-mounted hierarchies (``cpu,cpuacct`` with ``cpu``/``cpuacct`` symlinks).
    """
    out: dict[str, str] = {}
    try:
        entries = sorted(os.listdir(root))
    except OSError:
        return out
    # real directories first, so "cpu,cpuacct" wins over the "cpu" symlink pointing at it
    entries.sort(key=lambda e: os.path.islink(os.path.join(root, e)))
    for entry in entries:
        path = os.path.join(root, entry)
        if not os.path.isdir(path):
            continue
        for name in entry.split(","):
            if name in CONTROLLERS and name not in out:
                out[name] = path
    return out


# --------------------------------------------------------------------------------------------------
# controllers: each takes its cgroup directory
# --------------------------------------------------------------------------------------------------


def set_memory(d: str, mem: t.Mapping[str, t.Any]) -> None:
    limit = mem.get("limit") or 0
    swap = mem.get("swap") or 0
    has_memsw = base.exists(d, "memory.memsw.limit_in_bytes")
    if limit == -1 and swap == 0 and has_memsw:
        swap = -1  # unlimited memory means unlimited swap too (runc)
    if swap and not has_memsw:
        if swap != -1:
            raise CgroupError(os.path.join(d, "memory.memsw.limit_in_bytes"),
                              "swap limits are not supported by this kernel (swap accounting is off)", str(swap))
        swap = 0

    def write_mem() -> None:
        if limit:
            base.write(d, "memory.limit_in_bytes", limit)

    def write_swap() -> None:
        if swap:
            base.write(d, "memory.memsw.limit_in_bytes", swap)

    # the kernel wants memory <= memory+swap at every step: raise swap first when growing
    if limit and swap:
        current = base.parse_int(base.read_or(d, "memory.limit_in_bytes"))
        if swap == -1 or (current is not None and current < swap):
            write_swap()
            write_mem()
        else:
            write_mem()
            write_swap()
    else:
        write_mem()
        write_swap()
    if mem.get("reservation"):
        base.write(d, "memory.soft_limit_in_bytes", mem["reservation"])
    swappiness = mem.get("swappiness")
    if swappiness is not None and swappiness != -1:
        if not 0 <= int(swappiness) <= 100:
            raise InvalidOption("memory_swappiness", swappiness, "must be between 0 and 100")
        base.write(d, "memory.swappiness", int(swappiness))
    if mem.get("disableOOMKiller"):
        base.write(d, "memory.oom_control", 1)


def set_cpu(d: str, cpu: t.Mapping[str, t.Any]) -> None:
    if cpu.get("shares"):
        base.write(d, "cpu.shares", cpu["shares"])
    period = cpu.get("period") or 0
    quota = cpu.get("quota") or 0
    retry_period = False
    if period:
        try:
            base.write(d, "cpu.cfs_period_us", period)
        except CgroupError:
            # a smaller period can be refused until the quota shrinks too: retry after the quota
            if not quota:
                raise
            retry_period = True
    if quota:
        base.write(d, "cpu.cfs_quota_us", quota)
        if retry_period:
            base.write(d, "cpu.cfs_period_us", period)
    if cpu.get("realtimePeriod"):
        base.write(d, "cpu.rt_period_us", cpu["realtimePeriod"])
    if cpu.get("realtimeRuntime"):
        base.write(d, "cpu.rt_runtime_us", cpu["realtimeRuntime"])


def set_cpuset(d: str, cpu: t.Mapping[str, t.Any]) -> None:
    if cpu.get("cpus"):
        base.write(d, "cpuset.cpus", cpu["cpus"])
    if cpu.get("mems"):
        base.write(d, "cpuset.mems", cpu["mems"])


def set_pids(d: str, pids: t.Mapping[str, t.Any]) -> None:
    if "limit" in pids and pids["limit"] is not None:
        base.write(d, "pids.max", base.pids_max(int(pids["limit"])))


def _device_lines(entries: t.Iterable[t.Mapping[str, t.Any]], field: str) -> list[str]:
    return [f"{e['major']}:{e['minor']} {e[field]}" for e in entries or ()]


def set_blkio(d: str, blkio: t.Mapping[str, t.Any]) -> None:
    weight = blkio.get("weight")
    if weight:
        if base.exists(d, "blkio.bfq.weight"):
            base.write(d, "blkio.bfq.weight", weight)
        elif base.exists(d, "blkio.weight"):
            base.write(d, "blkio.weight", weight)
        else:
            raise CgroupError(d, "blkio weight is not supported here (no blkio.bfq.weight or blkio.weight: "
                                 "the I/O scheduler has no weights)", str(weight))
    if blkio.get("leafWeight"):
        base.write(d, "blkio.leaf_weight", blkio["leafWeight"])
    for e in blkio.get("weightDevice") or ():
        if e.get("weight"):
            base.write(d, "blkio.weight_device", f"{e['major']}:{e['minor']} {e['weight']}")
        if e.get("leafWeight"):
            base.write(d, "blkio.leaf_weight_device", f"{e['major']}:{e['minor']} {e['leafWeight']}")
    for key, name in (
        ("throttleReadBpsDevice", "blkio.throttle.read_bps_device"),
        ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device"),
        ("throttleReadIOPSDevice", "blkio.throttle.read_iops_device"),
        ("throttleWriteIOPSDevice", "blkio.throttle.write_iops_device"),
    ):
        for line in _device_lines(blkio.get(key) or (), "rate"):
            base.write(d, name, line)


def set_hugetlb(d: str, limits: t.Iterable[t.Mapping[str, t.Any]]) -> None:
    for e in limits:
        base.write(d, f"hugetlb.{e['pageSize']}.limit_in_bytes", e["limit"])


def set_devices(d: str, rules: t.Iterable[t.Mapping[str, t.Any]]) -> None:
    for rule in rules:
        name, line = base.device_rule_v1(rule)
        base.write(d, name, line)


def set_network(cls_dir: str | None, prio_dir: str | None, net: t.Mapping[str, t.Any], where: str) -> None:
    if net.get("classID") is not None:
        if cls_dir is None:
            raise CgroupError(where, "the net_cls controller is not mounted", str(net["classID"]))
        base.write(cls_dir, "net_cls.classid", net["classID"])
    for p in net.get("priorities") or ():
        if prio_dir is None:
            raise CgroupError(where, "the net_prio controller is not mounted", f"{p['name']} {p['priority']}")
        base.write(prio_dir, "net_prio.ifpriomap", f"{p['name']} {p['priority']}")


def freezer_state(d: str) -> str:
    return base.read(d, "freezer.state")


# --------------------------------------------------------------------------------------------------
# manager
# --------------------------------------------------------------------------------------------------


class V1Manager:
    """A container cgroup on a v1 (or hybrid) host."""

    def __init__(
        self,
        cgroups_path: str,
        root: str = "/sys/fs/cgroup",
        host: Host | None = None,
        controllers: t.Mapping[str, str] | None = None,
    ) -> None:
        self.root = root
        self.host = host or Host()
        self.hierarchies = dict(controllers) if controllers is not None else mounts(root)
        rel = base.check_cgroups_path(cgroups_path)
        own = base.parse_proc_cgroup(self.host.self_cgroup()) if not rel.startswith("/") else {}
        #: per controller: the absolute cgroup path inside its hierarchy
        self.paths = {c: base.join_cgroup(own.get(c, "/"), rel) for c in self.hierarchies}
        #: the cgroups path as given (normalised); relative ones live under the caller's cgroups
        self.path = rel

    # directories ---------------------------------------------------------------------------------

    def dir(self, controller: str) -> str | None:
        """The container's directory in *controller*'s hierarchy (None when not mounted)."""
        top = self.hierarchies.get(controller)
        if top is None:
            return None
        return os.path.join(top, self.paths[controller].lstrip("/"))

    def _need(self, controller: str) -> str:
        d = self.dir(controller)
        if d is None:
            raise CgroupError(os.path.join(self.root, controller),
                              f"the {controller} controller is not mounted (needed for this setting)")
        return d

    def _dirs(self) -> list[str]:
        """Unique cgroup directories (co-mounted controllers share one)."""
        seen: dict[str, str] = {}
        for c in self.hierarchies:
            d = self.dir(c)
            if d is not None:
                seen.setdefault(os.path.realpath(self.hierarchies[c]) + "//" + self.paths[c], d)
        return list(seen.values())

    # lifecycle -----------------------------------------------------------------------------------

    def create(self) -> None:
        for c in self.hierarchies:
            top = self.hierarchies[c]
            parts = [p for p in self.paths[c].split("/") if p]
            cur = top
            for part in parts:
                parent, cur = cur, os.path.join(cur, part)
                if not os.path.isdir(cur):
                    try:
                        self.host.mkdir(cur)
                    except FileExistsError:
                        pass
                    except OSError as exc:
                        raise CgroupError(cur, f"mkdir: {os.strerror(exc.errno or 0)}") from None
                if c == "cpuset":
                    # a new cpuset is empty; tasks cannot join it until cpus and mems are set
                    for name in ("cpuset.cpus", "cpuset.mems"):
                        if not base.read_or(cur, name, ""):
                            base.write(cur, name, base.read(parent, name))

    def apply(self, resources: Resources) -> None:
        r = resources or {}
        if r.get("memory"):
            set_memory(self._need("memory"), r["memory"])
        cpu = r.get("cpu") or {}
        if any(cpu.get(k) for k in ("shares", "quota", "period", "realtimePeriod", "realtimeRuntime")):
            set_cpu(self._need("cpu"), cpu)
        if cpu.get("cpus") or cpu.get("mems"):
            set_cpuset(self._need("cpuset"), cpu)
        if r.get("pids") and r["pids"].get("limit") is not None:
            set_pids(self._need("pids"), r["pids"])
        if r.get("blockIO"):
            set_blkio(self._need("blkio"), r["blockIO"])
        if r.get("hugepageLimits"):
            set_hugetlb(self._need("hugetlb"), r["hugepageLimits"])
        if r.get("network"):
            set_network(self.dir("net_cls"), self.dir("net_prio"), r["network"], self.root)
        if r.get("devices"):
            set_devices(self._need("devices"), r["devices"])
        if r.get("unified"):
            raise CgroupError(self.root, "linux.resources.unified needs cgroup v2; this host uses cgroup v1")

    def update(self, resources: Resources) -> None:
        """In-place update (``docker update``): like apply, without touching device rules."""
        self.apply({k: v for k, v in (resources or {}).items() if k != "devices"})

    def add_pid(self, pid: int) -> None:
        for d in self._dirs():
            base.write(d, "cgroup.procs", pid)

    # freezer -------------------------------------------------------------------------------------

    def freeze(self, timeout: float = 10.0) -> None:
        d = self._need("freezer")
        h = self.host
        deadline = h.clock() + timeout
        i = 0
        while True:
            if i % 50 == 49:
                # new tasks keep arriving: thaw briefly, then try again (runc)
                base.write(d, "freezer.state", "THAWED")
                h.sleep(0.01)
            base.write(d, "freezer.state", "FROZEN")
            state = freezer_state(d)
            if state == "FROZEN":
                return
            if state != "FREEZING":
                raise CgroupError(os.path.join(d, "freezer.state"), f"unexpected state {state!r} while freezing")
            if h.clock() >= deadline:
                base.write(d, "freezer.state", "THAWED")
                raise CgroupError(d, f"could not freeze within {timeout:g}s (still FREEZING); thawed it again")
            h.sleep(0.001 if i < 10 else 0.01)
            i += 1

    def thaw(self, timeout: float = 10.0) -> None:
        d = self._need("freezer")
        base.write(d, "freezer.state", "THAWED")
        h = self.host
        if not base.wait_until(lambda: freezer_state(d) == "THAWED", timeout, h.sleep, h.clock):
            raise CgroupError(d, f"still {freezer_state(d)} {timeout:g}s after thawing")

    def frozen(self) -> bool:
        d = self.dir("freezer")
        return d is not None and base.read_or(d, "freezer.state") == "FROZEN"

    # observation ---------------------------------------------------------------------------------

    def _procs_dir(self) -> str | None:
        for c in ("pids", "memory", "freezer", "cpu", "devices"):
            d = self.dir(c)
            if d is not None and os.path.isdir(d):
                return d
        dirs = [d for d in self._dirs() if os.path.isdir(d)]
        return dirs[0] if dirs else None

    def pids(self) -> list[int]:
        d = self._procs_dir()
        return base.read_pids(d) if d else []

    def dirs(self) -> list[str]:
        """The container's cgroup directories, one per hierarchy (what :meth:`destroy` removes)."""
        return self._dirs()

    def oom_source(self) -> tuple[str, str] | None:
        """(file, key) whose counter is the number of OOM kills, for readers without this class."""
        d = self.dir("memory")
        return (os.path.join(d, "memory.oom_control"), "oom_kill") if d is not None else None

    def oom_killed(self) -> bool:
        d = self.dir("memory")
        if d is None:
            return False
        return base.parse_keyed(base.read_or(d, "memory.oom_control")).get("oom_kill", 0) > 0

    def stats(self) -> dict:
        out: dict[str, t.Any] = {}
        d = self.dir("memory")
        if d is not None and os.path.isdir(d):
            host_mem = base.host_memory(self.host.read_proc("meminfo"))
            limit = base.parse_int(base.read_or(d, "memory.limit_in_bytes")) or 0
            if host_mem and limit > host_mem:
                limit = host_mem
            out["memory_stats"] = {
                "usage": base.parse_int(base.read_or(d, "memory.usage_in_bytes")) or 0,
                "max_usage": base.parse_int(base.read_or(d, "memory.max_usage_in_bytes")) or 0,
                "failcnt": base.parse_int(base.read_or(d, "memory.failcnt")) or 0,
                "limit": limit,
                "stats": base.parse_keyed(base.read_or(d, "memory.stat")),
            }
        cpu: dict[str, t.Any] = {}
        acct = self.dir("cpuacct")
        if acct is not None and os.path.isdir(acct):
            percpu = [int(x) for x in (base.read_or(acct, "cpuacct.usage_percpu", "") or "").split()]
            times = base.parse_keyed(base.read_or(acct, "cpuacct.stat"))
            tick_ns = 1_000_000_000 // base._clock_ticks()
            cpu["cpu_usage"] = {
                "total_usage": base.parse_int(base.read_or(acct, "cpuacct.usage")) or 0,
                "percpu_usage": percpu,
                "usage_in_kernelmode": times.get("system", 0) * tick_ns,
                "usage_in_usermode": times.get("user", 0) * tick_ns,
            }
            cpu["online_cpus"] = len(percpu) or (os.cpu_count() or 1)
        cpu["system_cpu_usage"] = base.system_cpu_usage(self.host.read_proc("stat"))
        cd = self.dir("cpu")
        if cd is not None and os.path.isdir(cd):
            st = base.parse_keyed(base.read_or(cd, "cpu.stat"))
            cpu["throttling_data"] = {
                "periods": st.get("nr_periods", 0),
                "throttled_periods": st.get("nr_throttled", 0),
                "throttled_time": st.get("throttled_time", 0),
            }
        out["cpu_stats"] = cpu
        pd = self.dir("pids")
        if pd is not None and os.path.isdir(pd):
            out["pids_stats"] = {
                "current": base.parse_int(base.read_or(pd, "pids.current")) or 0,
                "limit": base.parse_int(base.read_or(pd, "pids.max"), max_value=0) or 0,
            }
        bd = self.dir("blkio")
        if bd is not None and os.path.isdir(bd):
            out["blkio_stats"] = {
                "io_service_bytes_recursive": _blkio_entries(
                    base.read_or(bd, "blkio.throttle.io_service_bytes_recursive")),
                "io_serviced_recursive": _blkio_entries(base.read_or(bd, "blkio.throttle.io_serviced_recursive")),
            }
        return out

    # teardown ------------------------------------------------------------------------------------

    def destroy(self, kill: bool = False, timeout: float = 5.0) -> None:
        """Remove the cgroup from every hierarchy; with *kill*, SIGKILL what still runs in it first."""
        h = self.host
        if kill:
            def thaw() -> None:
                if self.frozen():
                    self.thaw()  # frozen tasks cannot die

            base.kill_until_empty(self.pids, h, timeout, self._procs_dir() or self.root, thaw)
        for d in self._dirs():
            try:
                base.remove_tree(d, h.rmdir, h.sleep)
            except CgroupError:
                if self.pids():
                    raise CgroupError(d, f"still has processes {self.pids()}; destroy(kill=True) stops them") \
                        from None
                raise


def _blkio_entries(text: str | None) -> list[dict]:
    out = []
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) != 3 or ":" not in parts[0]:
            continue
        major, dummy, minor = parts[0].partition(":")
        try:
            out.append({"major": int(major), "minor": int(minor), "op": parts[1], "value": int(parts[2])})
        except ValueError:
            continue
    return out

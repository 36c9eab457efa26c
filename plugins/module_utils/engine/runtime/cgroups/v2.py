# SPDX-License-Identifier: GPL-3.0-or-later
"""cgroup v2 (the unified hierarchy): one directory ``<root>/<path>`` for every controller.

``create()`` enables the controllers in every ancestor's ``cgroup.subtree_control`` (from the root
down), then makes the directory.  Files written (Documentation/admin-guide/cgroup-v2.rst, with
runc's conversions from the v1-shaped OCI values):

    memory.max          linux.resources.memory.limit ("max" for -1)
    memory.low          memory.reservation
    memory.swap.max     memory.swap - memory.limit (OCI/Docker give memory+swap)
    cpu.weight          1 + ((cpu.shares - 2) * 9999) / 262142
    cpu.max             "<quota> <period>" | "max <period>" | "max"
    cpu.idle, cpu.max.burst
    cpuset.cpus, cpuset.mems
    pids.max            "max" for -1 / 0
    io.bfq.weight       blockIO.weight as is, when BFQ is the scheduler; otherwise
    io.weight           1 + (weight - 10) * 9999 / 990
    io.max              "<maj>:<min> rbps=<n>" (wbps, riops, wiops)
    hugetlb.<size>.max
    <key>               linux.resources.unified entries, verbatim

Device rules become an eBPF program attached to the directory (see ``devices.py``).  Not supported
on v2 (refused with an error naming the setting): realtime CPU scheduling and net_cls/net_prio.
``memory.swappiness`` and ``memory.disableOOMKiller`` do not exist on v2 and are ignored, as Docker
does with a warning.
"""
from __future__ import annotations

import os

from ...errors import InvalidOption
from . import base, devices
from .base import CgroupError, Host
from .resources import swap_v2

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time (see base.py)
    import typing as t

    from .protocol import Resources


#: controllers enabled for container cgroups, when the parent offers them
CONTROLLERS = ("cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc")


# --------------------------------------------------------------------------------------------------
# controllers: each takes the cgroup directory
# --------------------------------------------------------------------------------------------------


def set_memory(d: str, mem: t.Mapping[str, t.Any]) -> None:
    limit = mem.get("limit") or 0
    swap = swap_v2(mem.get("swap"), limit)
    if swap is not None:
        value = base.max_or(swap)
        if base.exists(d, "memory.swap.max"):
            base.write(d, "memory.swap.max", value)
        elif value not in ("max", "0"):
            raise CgroupError(os.path.join(d, "memory.swap.max"),
                              "swap limits are not supported here (no swap accounting)", value)
    if limit:
        base.write(d, "memory.max", base.max_or(limit))
    if mem.get("reservation"):
        base.write(d, "memory.low", base.max_or(mem["reservation"]))


def set_cpu(d: str, cpu: t.Mapping[str, t.Any]) -> None:
    if cpu.get("realtimeRuntime") or cpu.get("realtimePeriod"):
        raise InvalidOption("cpu_rt_runtime", cpu.get("realtimeRuntime") or cpu.get("realtimePeriod"),
                            "realtime CPU scheduling is not supported with cgroup v2")
    if cpu.get("shares"):
        shares = int(cpu["shares"])
        if not 2 <= shares <= 262144:
            raise InvalidOption("cpu_shares", shares, "must be between 2 and 262144")
        base.write(d, "cpu.weight", base.shares_to_weight(shares))
    if cpu.get("idle") is not None:
        base.write(d, "cpu.idle", int(cpu["idle"]))
    value = base.cpu_max(cpu.get("quota"), cpu.get("period"))
    if value is not None:
        base.write(d, "cpu.max", value)
    if cpu.get("burst") is not None:
        base.write(d, "cpu.max.burst", int(cpu["burst"]))


def set_cpuset(d: str, cpu: t.Mapping[str, t.Any]) -> None:
    if cpu.get("cpus"):
        base.write(d, "cpuset.cpus", cpu["cpus"])
    if cpu.get("mems"):
        base.write(d, "cpuset.mems", cpu["mems"])


def set_pids(d: str, pids: t.Mapping[str, t.Any]) -> None:
    if pids.get("limit") is not None:
        base.write(d, "pids.max", base.pids_max(int(pids["limit"])))


def set_io(d: str, blkio: t.Mapping[str, t.Any]) -> None:
    bfq = base.exists(d, "io.bfq.weight")
    weight = blkio.get("weight")
    if weight:
        if bfq:
            base.write(d, "io.bfq.weight", weight)
        else:
            base.write(d, "io.weight", base.blkio_weight_to_io_weight(int(weight)))
    for e in blkio.get("weightDevice") or ():
        if e.get("weight"):
            if bfq:
                base.write(d, "io.bfq.weight", f"{e['major']}:{e['minor']} {e['weight']}")
            else:
                base.write(d, "io.weight",
                           f"{e['major']}:{e['minor']} {base.blkio_weight_to_io_weight(int(e['weight']))}")
    for key, name in (
        ("throttleReadBpsDevice", "rbps"),
        ("throttleWriteBpsDevice", "wbps"),
        ("throttleReadIOPSDevice", "riops"),
        ("throttleWriteIOPSDevice", "wiops"),
    ):
        for e in blkio.get(key) or ():
            base.write(d, "io.max", f"{e['major']}:{e['minor']} {name}={e['rate']}")


def set_hugetlb(d: str, limits: t.Iterable[t.Mapping[str, t.Any]]) -> None:
    for e in limits:
        base.write(d, f"hugetlb.{e['pageSize']}.max", base.max_or(int(e["limit"])))


def set_unified(d: str, unified: t.Mapping[str, str]) -> None:
    for key, value in unified.items():
        if "/" in key or key in (".", "..") or key.startswith("cgroup."):
            raise InvalidOption("linux.resources.unified", key, "must name a controller file of the cgroup itself")
        base.write(d, key, value)


def events(d: str) -> dict[str, int]:
    return base.parse_keyed(base.read_or(d, "cgroup.events"))


# --------------------------------------------------------------------------------------------------
# manager
# --------------------------------------------------------------------------------------------------


class V2Manager:
    """A container cgroup on the unified hierarchy mounted at *root*."""

    def __init__(
        self,
        cgroups_path: str,
        root: str = "/sys/fs/cgroup",
        host: Host | None = None,
        attach_devices: t.Callable[[str, bytes], None] = devices.attach,
    ) -> None:
        self.root = root
        self.host = host or Host()
        self._attach_devices = attach_devices
        rel = base.check_cgroups_path(cgroups_path)
        own = base.parse_proc_cgroup(self.host.self_cgroup()).get("", "/") if not rel.startswith("/") else "/"
        #: the cgroups path as given (normalised); relative ones live under the caller's cgroup
        self.path = rel
        self.abs_path = base.join_cgroup(own, rel)
        self.dir = os.path.join(root, self.abs_path.lstrip("/"))
        #: controller -> why enabling it in an ancestor failed (reported when a setting needs it)
        self.enable_errors: dict[str, str] = {}

    # lifecycle -----------------------------------------------------------------------------------

    def _enable_controllers(self, d: str) -> None:
        available = (base.read_or(d, "cgroup.controllers", "") or "").split()
        enabled = set((base.read_or(d, "cgroup.subtree_control", "") or "").split())
        want = [c for c in CONTROLLERS if c in available and c not in enabled]
        if not want:
            return
        try:
            base.write(d, "cgroup.subtree_control", " ".join("+" + c for c in want))
            return
        except CgroupError:
            pass
        for c in want:  # one at a time, so one refusal (e.g. cpuset) does not cost the others
            try:
                base.write(d, "cgroup.subtree_control", "+" + c)
            except CgroupError as exc:
                self.enable_errors[c] = exc.message

    def create(self) -> None:
        cur = self.root
        for part in [p for p in self.abs_path.split("/") if p]:
            self._enable_controllers(cur)
            cur = os.path.join(cur, part)
            if not os.path.isdir(cur):
                try:
                    self.host.mkdir(cur)
                except FileExistsError:
                    pass
                except OSError as exc:
                    raise CgroupError(cur, f"mkdir: {os.strerror(exc.errno or 0)}") from None

    def _check(self, controller: str) -> None:
        if controller in self.enable_errors:
            raise CgroupError(self.dir, f"the {controller} controller could not be enabled: "
                                        f"{self.enable_errors[controller]}")

    def apply(self, resources: Resources) -> None:
        r = resources or {}
        d = self.dir
        if r.get("memory"):
            self._check("memory")
            set_memory(d, r["memory"])
        cpu = r.get("cpu") or {}
        if any(cpu.get(k) is not None for k in ("shares", "quota", "period", "idle", "burst",
                                                "realtimePeriod", "realtimeRuntime")):
            self._check("cpu")
            set_cpu(d, cpu)
        if cpu.get("cpus") or cpu.get("mems"):
            self._check("cpuset")
            set_cpuset(d, cpu)
        if r.get("pids") and r["pids"].get("limit") is not None:
            self._check("pids")
            set_pids(d, r["pids"])
        if r.get("blockIO"):
            self._check("io")
            set_io(d, r["blockIO"])
        if r.get("hugepageLimits"):
            self._check("hugetlb")
            set_hugetlb(d, r["hugepageLimits"])
        net = r.get("network") or {}
        if net.get("classID") is not None or net.get("priorities"):
            raise InvalidOption("linux.resources.network", net, "net_cls/net_prio do not exist in cgroup v2")
        if r.get("devices"):
            # one program per apply(): attached programs all have to allow an access, so a second
            # apply() with device rules can only narrow them (update() leaves devices alone)
            self._attach_devices(d, devices.program(r["devices"]))
        if r.get("unified"):
            set_unified(d, r["unified"])

    def update(self, resources: Resources) -> None:
        """In-place update (``docker update``): like apply, without touching device rules."""
        self.apply({k: v for k, v in (resources or {}).items() if k != "devices"})

    def add_pid(self, pid: int) -> None:
        base.write(self.dir, "cgroup.procs", pid)

    # freezer -------------------------------------------------------------------------------------

    def _set_frozen(self, want: bool, timeout: float) -> None:
        d = self.dir
        if not base.exists(d, "cgroup.freeze"):
            raise CgroupError(d, "no cgroup.freeze: the cgroup v2 freezer needs Linux 5.2 or newer")
        base.write(d, "cgroup.freeze", "1" if want else "0")
        h = self.host
        flag = 1 if want else 0
        if not base.wait_until(lambda: events(d).get("frozen") == flag, timeout, h.sleep, h.clock):
            if want:
                base.write(d, "cgroup.freeze", "0")
            raise CgroupError(d, f"cgroup.events did not report 'frozen {flag}' within {timeout:g}s"
                                 + ("; thawed it again" if want else ""))

    def freeze(self, timeout: float = 10.0) -> None:
        self._set_frozen(True, timeout)

    def thaw(self, timeout: float = 10.0) -> None:
        self._set_frozen(False, timeout)

    def frozen(self) -> bool:
        return events(self.dir).get("frozen") == 1

    # observation ---------------------------------------------------------------------------------

    def pids(self) -> list[int]:
        return base.read_pids(self.dir) if os.path.isdir(self.dir) else []

    def dirs(self) -> list[str]:
        """The container's cgroup directory (what :meth:`destroy` removes)."""
        return [self.dir]

    def oom_source(self) -> tuple[str, str] | None:
        """(file, key) whose counter is the number of OOM kills, for readers without this class."""
        return (os.path.join(self.dir, "memory.events"), "oom_kill")

    def oom_killed(self) -> bool:
        return base.parse_keyed(base.read_or(self.dir, "memory.events")).get("oom_kill", 0) > 0

    def stats(self) -> dict:
        d = self.dir
        out: dict[str, t.Any] = {}
        if base.exists(d, "memory.current"):
            host_mem = base.host_memory(self.host.read_proc("meminfo"))
            limit = base.parse_int(base.read_or(d, "memory.max"), max_value=host_mem) or 0
            if host_mem and limit > host_mem:
                limit = host_mem
            mem_events = base.parse_keyed(base.read_or(d, "memory.events"))
            out["memory_stats"] = {
                "usage": base.parse_int(base.read_or(d, "memory.current")) or 0,
                "max_usage": base.parse_int(base.read_or(d, "memory.peak")) or 0,
                "failcnt": mem_events.get("max", 0),
                "limit": limit,
                "stats": base.parse_keyed(base.read_or(d, "memory.stat")),
            }
        st = base.parse_keyed(base.read_or(d, "cpu.stat"))
        out["cpu_stats"] = {
            "cpu_usage": {
                "total_usage": st.get("usage_usec", 0) * 1000,
                "percpu_usage": [],
                "usage_in_kernelmode": st.get("system_usec", 0) * 1000,
                "usage_in_usermode": st.get("user_usec", 0) * 1000,
            },
            "system_cpu_usage": base.system_cpu_usage(self.host.read_proc("stat")),
            "online_cpus": os.cpu_count() or 1,
            "throttling_data": {
                "periods": st.get("nr_periods", 0),
                "throttled_periods": st.get("nr_throttled", 0),
                "throttled_time": st.get("throttled_usec", 0) * 1000,
            },
        }
        if base.exists(d, "pids.current"):
            out["pids_stats"] = {
                "current": base.parse_int(base.read_or(d, "pids.current")) or 0,
                "limit": base.parse_int(base.read_or(d, "pids.max"), max_value=0) or 0,
            }
        if base.exists(d, "io.stat"):
            out["blkio_stats"] = {"io_service_bytes_recursive": _io_entries(base.read_or(d, "io.stat"))}
        return out

    # teardown ------------------------------------------------------------------------------------

    def destroy(self, kill: bool = False, timeout: float = 5.0) -> None:
        """Remove the cgroup (and sub-cgroups); with *kill*, SIGKILL what still runs in it first."""
        h = self.host
        d = self.dir
        if not os.path.isdir(d):
            return
        if kill and self.pids():
            if base.exists(d, "cgroup.kill"):
                base.write(d, "cgroup.kill", "1")
            base.kill_until_empty(self.pids, h, timeout, d)
        try:
            base.remove_tree(d, h.rmdir, h.sleep)
        except CgroupError:
            if self.pids():
                raise CgroupError(d, f"still has processes {self.pids()}; destroy(kill=True) stops them") from None
            raise


def _io_entries(text: str | None) -> list[dict]:
    """io.stat lines ``8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...`` -> Docker's blkio entries."""
    out = []
    for line in (text or "").splitlines():
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        major, dummy, minor = parts[0].partition(":")
        fields = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        for key, op in (("rbytes", "read"), ("wbytes", "write")):
            if key in fields:
                try:
                    out.append({"major": int(major), "minor": int(minor), "op": op, "value": int(fields[key])})
                except ValueError:
                    continue
    return out

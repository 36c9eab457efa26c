# SPDX-License-Identifier: GPL-3.0-or-later
"""The queries: ``inspect``, ``list`` (ps), ``logs``, ``top``, ``stats`` and the disk usage of containers.

Read-only: they take no lock. ``top`` needs a running (or paused) container and says so first.
"""
from __future__ import annotations

import os
import time
import typing as t

from ...core import fs
from ...errors import Conflict, EngineError, InvalidOption, NotFound
from ...options import container as copts
from ...supervisor import ContainerState, ContainerStatus, lifecycle
from . import _common, records

if t.TYPE_CHECKING:
    from ..images import ImageService
    from .records import ContainerRecord
    from .service import ContainerService

CONTAINER_FILTERS = ("id", "name", "label", "status", "ancestor", "exited", "before", "since")


def inspect(svc: ContainerService, name: str) -> dict[str, t.Any]:
    return _inspect(svc, records.require(svc, name))


def _inspect(svc: ContainerService, cid: str) -> dict[str, t.Any]:
    record = records.load(svc, cid)
    state = records.state(svc, cid)
    spec = fs.read_json(os.path.join(svc.layout.bundle(cid), "config.json")) or {}
    process = spec.get("process") or {}
    args = list(process.get("args") or [])
    opts = record.options
    image_cfg: dict[str, t.Any] = {}
    if svc.store.has(record.image):
        image_cfg = svc.store.config(record.image).get("config") or {}
    eff = copts.effective(opts, image_cfg)
    return {
        "Id": cid,
        "Created": record.created,
        "Path": args[0] if args else "",
        "Args": args[1:],
        "State": lifecycle.docker_state(state),
        "Image": record.image,
        "ResolvConfPath": svc.layout.container_file(cid, "resolv.conf"),
        "HostnamePath": svc.layout.container_file(cid, "hostname"),
        "HostsPath": svc.layout.container_file(cid, "hosts"),
        "LogPath": svc.layout.container_log(cid) if record.logging["Type"] != "none" else "",
        "Name": "/" + record.name,
        "RestartCount": state.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "HostConfig": _host_config(record, spec),
        "GraphDriver": {
            "Name": "overlay",
            "Data": {
                "MergedDir": svc.layout.rootfs(cid),
                "UpperDir": svc.layout.upper(cid),
                "WorkDir": svc.layout.work(cid),
            },
        },
        "Config": {
            "Hostname": opts.get("hostname") or cid[:12],
            "Domainname": opts.get("domainname", ""),
            "User": eff.get("user") or "",
            "Tty": bool(opts.get("tty")),
            "OpenStdin": bool(opts.get("interactive")),
            "Env": [f"{k}={v}" for k, v in {
                **(eff.get("env") or {}), **copts.mask_secrets(opts.get("secret_env"))}.items()],
            "Cmd": eff.get("command"),
            "Entrypoint": eff.get("entrypoint"),
            "Image": record.image_name,
            "WorkingDir": eff.get("working_dir") or "",
            "Labels": eff.get("labels") or {},
            "StopSignal": eff.get("stop_signal") or copts.DEFAULT_STOP_SIGNAL,
            "StopTimeout": opts.get("stop_timeout"),
            "Healthcheck": eff.get("healthcheck"),
        },
        "Mounts": [_mount_json(m) for m in record.mounts],
        "NetworkSettings": _network_settings(opts.get("network_mode") or "bridge", state,
                                             _endpoints(svc, record.id), opts),
        "Berth": {"Desired": _common.shown(opts), "Runtime": record.runtime, "IdMappings": record.userns},
    }


def _mount_json(m: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """A record mount in ``docker inspect``'s ``Mounts`` shape."""
    out = {"Type": m["Type"], "Source": m.get("Source", ""), "Destination": m["Destination"],
           "Mode": "" if m["Type"] == "tmpfs" else ("rw" if m.get("RW", True) else "ro"),
           "RW": bool(m.get("RW", True)), "Propagation": m.get("Propagation", "")}
    if m["Type"] == "volume":
        out = {"Type": "volume", "Name": m["Name"], **{k: v for k, v in out.items() if k != "Type"},
               "Driver": "local"}
    return out


def _binds(volumes: t.Any) -> list[str] | None:
    """``HostConfig.Binds``: the ``-v`` entries as Docker keeps them."""
    out = []
    for m in volumes or ():
        mode = ",".join((["ro"] if m["read_only"] else []) + (["nocopy"] if m.get("nocopy") else [])
                        + ([m["propagation"]] if m.get("propagation", "rprivate") != "rprivate" else []))
        out.append(":".join(p for p in (m["source"], m["target"], mode) if p))
    return out or None


def _host_config(record: ContainerRecord, spec: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """``HostConfig`` with every key Docker's has (its defaults where Berth has no such setting), so a
    ``--format`` template or a Jinja expression never meets an undefined key."""
    opts = record.options
    linux = spec.get("linux") or {}
    cgroupns = "private" if any(ns.get("type") == "cgroup" for ns in linux.get("namespaces") or []) else "host"
    logging = record.logging
    return {
        "Binds": _binds(opts.get("volumes")),
        "ContainerIDFile": "",
        "LogConfig": {"Type": logging["Type"], "Config": {k: str(v) for k, v in logging["Config"].items()}},
        "NetworkMode": opts.get("network_mode") or "bridge",
        "PortBindings": _port_bindings(opts.get("published_ports") or ()),
        "PublishAllPorts": bool(opts.get("publish_all_ports")),
        "RestartPolicy": {"Name": opts.get("restart_policy", "no") or "no",
                          "MaximumRetryCount": opts.get("restart_retries", 0)},
        "AutoRemove": bool(opts.get("auto_remove")),
        "VolumeDriver": "",
        "VolumesFrom": [v[:-3] if v.endswith(":rw") else v for v in opts.get("volumes_from") or ()] or None,
        "ConsoleSize": [0, 0],
        "CapAdd": opts.get("capabilities"),
        "CapDrop": opts.get("cap_drop"),
        "CgroupnsMode": cgroupns,
        "Dns": list(opts.get("dns_servers") or ()),
        "DnsOptions": list(opts.get("dns_opts") or ()),
        "DnsSearch": list(opts.get("dns_search_domains") or ()),
        "ExtraHosts": [f"{k}:{v}" for k, v in (opts.get("etc_hosts") or {}).items()] or None,
        "GroupAdd": opts.get("groups") or None,
        "IpcMode": opts.get("ipc_mode") or copts.DEFAULT_IPC_MODE,
        "Cgroup": "",
        "Links": None,
        "OomScoreAdj": opts.get("oom_score_adj", 0),
        "PidMode": opts.get("pid_mode", ""),
        "Privileged": bool(opts.get("privileged")),
        "ReadonlyRootfs": bool(opts.get("read_only")),
        "SecurityOpt": _security_opt_list(opts.get("security_opts")),
        "Tmpfs": opts.get("tmpfs") or None,
        "UTSMode": opts.get("uts", ""),
        "UsernsMode": opts.get("userns_mode", ""),
        "ShmSize": opts.get("shm_size", copts.DEFAULT_SHM_SIZE),
        "Sysctls": opts.get("sysctls"),
        "Runtime": record.runtime,
        "Isolation": "",
        "CpuShares": opts.get("cpu_shares", 0),
        "Memory": opts.get("memory", 0),
        "NanoCpus": opts.get("cpus", 0),
        "CgroupParent": opts.get("cgroup_parent") or "",
        "BlkioWeight": opts.get("blkio_weight", 0),
        "BlkioWeightDevice": [],
        "BlkioDeviceReadBps": [],
        "BlkioDeviceWriteBps": [],
        "BlkioDeviceReadIOps": [],
        "BlkioDeviceWriteIOps": [],
        "CpuPeriod": opts.get("cpu_period", 0),
        "CpuQuota": opts.get("cpu_quota", 0),
        "CpuRealtimePeriod": 0,
        "CpuRealtimeRuntime": 0,
        "CpusetCpus": opts.get("cpuset_cpus", ""),
        "CpusetMems": opts.get("cpuset_mems", ""),
        "Devices": [{"PathOnHost": d["path_on_host"], "PathInContainer": d["path_in_container"],
                     "CgroupPermissions": d["cgroup_permissions"]} for d in opts.get("devices") or []],
        "DeviceCgroupRules": None,
        "DeviceRequests": None,
        "MemoryReservation": opts.get("memory_reservation", 0),
        "MemorySwap": opts.get("memory_swap", 0),
        "MemorySwappiness": None,
        "OomKillDisable": bool(opts.get("oom_killer")),
        "PidsLimit": opts.get("pids_limit"),
        "Ulimits": [{"Name": u["name"], "Soft": u["soft"], "Hard": u["hard"]} for u in opts.get("ulimits") or []],
        "CpuCount": 0,
        "CpuPercent": 0,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
        "MaskedPaths": linux.get("maskedPaths"),
        "ReadonlyPaths": linux.get("readonlyPaths"),
        "Init": opts.get("init"),
    }


def _endpoints(svc: ContainerService, cid: str) -> dict[str, t.Any]:
    """The container's ``network.json`` (services/networks.py), {} before its first start or without a bridge."""
    return fs.read_json(svc.layout.container_file(cid, "network.json")) or {}


def _port_bindings(published: t.Iterable[t.Mapping[str, t.Any]]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for p in published:
        host = "" if not p.get("host_port") else str(p["host_port"])
        if p.get("host_port_end") and p["host_port_end"] != p.get("host_port"):
            host += f"-{p['host_port_end']}"
        out.setdefault(f"{p['container_port']}/{p['protocol']}", []).append(
            {"HostIp": p.get("host_ip") or "", "HostPort": host})
    return out


def _network_settings(mode: str, state: ContainerState, endpoints: t.Mapping[str, t.Any] | None = None,
                      opts: t.Mapping[str, t.Any] | None = None) -> dict[str, t.Any]:
    """Docker's ``NetworkSettings``: per network its endpoint (address, gateway, MAC, aliases) once the
    container was started on a bridge (``network.json``), the published ``Ports``, and the first network's
    address at the top level as Docker shows the default bridge's. ``container:`` modes name no network."""
    endpoints = endpoints or {}
    opts = opts or {}

    def blank() -> dict[str, t.Any]:
        return {"IPAMConfig": None, "Links": None, "Aliases": None, "MacAddress": "", "NetworkID": "",
                "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
                "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DriverOpts": None, "DNSNames": None}

    active = state.status in (ContainerStatus.RUNNING, ContainerStatus.PAUSED) and state.pid
    networks: dict[str, t.Any] = {}
    for name, ep in (endpoints.get("networks") or {}).items():
        entry = blank()
        entry.update({"Aliases": list(ep.get("aliases") or ()) or None, "MacAddress": ep.get("mac") or "",
                      "NetworkID": ep.get("network_id") or "", "EndpointID": ep.get("endpoint") or "",
                      "Gateway": ep.get("gateway") or "", "IPAddress": ep.get("ip") or "",
                      "IPPrefixLen": ep.get("prefixlen") or 0,
                      "IPAMConfig": {"IPv4Address": ep["ipv4_address"]} if ep.get("ipv4_address") else None,
                      "DNSNames": [n for n in [endpoints.get("name")] + list(ep.get("aliases") or ()) if n]})
        networks[name] = entry
    if not networks and not mode.startswith("container:"):
        networks[mode] = blank()
    ports: dict[str, t.Any] = {}
    for spec in opts.get("exposed_ports") or ():
        ports.setdefault(spec, None)
    for p in endpoints.get("ports") or ():
        ports.setdefault(f"{p['container_port']}/{p['protocol']}", None)
        key = f"{p['container_port']}/{p['protocol']}"
        ports[key] = (ports[key] or []) + [{"HostIp": p["host_ip"], "HostPort": str(p["host_port"])}]
    first = next(iter(networks.values())) if networks else blank()
    return {
        "Bridge": "", "SandboxID": "", "SandboxKey": f"/proc/{state.pid}/ns/net" if active else "",
        "Ports": ports, "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
        "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None, "EndpointID": first["EndpointID"],
        "Gateway": first["Gateway"], "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
        "IPAddress": first["IPAddress"], "IPPrefixLen": first["IPPrefixLen"], "IPv6Gateway": "",
        "MacAddress": first["MacAddress"],
        "Networks": networks,
    }


def _args(svc: ContainerService, record: ContainerRecord) -> list[str]:
    """ENTRYPOINT + CMD as the container runs them (from the options and the image)."""
    image_cfg: dict[str, t.Any] = {}
    if svc.store.has(record.image):
        image_cfg = svc.store.config(record.image).get("config") or {}
    eff = copts.effective(record.options, image_cfg)
    return list(eff.get("entrypoint") or []) + list(eff.get("command") or [])


def list_(svc: ContainerService, all: bool = False,
          filters: t.Mapping[str, t.Any] | None = None) -> list[dict[str, t.Any]]:
    from ...core import timefmt
    from .. import filters as filters_

    flt = filters_.normalise(filters, CONTAINER_FILTERS)
    out = []
    for cid, record, state in records.each(svc):
        if not all and not state.status.active and "status" not in flt:
            continue
        if not _match(flt, record, state, svc.images):
            continue
        eff_cmd = _command_text(_args(svc, record))
        out.append(
            {
                "Id": cid,
                "Names": ["/" + record.name],
                "Image": record.image_name,
                "ImageID": record.image,
                "Command": eff_cmd,
                "Created": int(timefmt.parse_rfc3339(record.created) or 0),
                "State": state.status.value,
                "Status": _status_text(state),
                "Labels": record.options.get("labels") or {},
                "HostConfig": {"NetworkMode": record.options.get("network_mode") or "bridge"},
                "Ports": _list_ports(svc, cid, record.options, state),
            }
        )
    out.sort(key=lambda x: -x["Created"])
    return out


def _list_ports(svc: ContainerService, cid: str, opts: t.Mapping[str, t.Any],
                state: ContainerState) -> list[dict[str, t.Any]]:
    """Docker's ``/containers/json`` ``Ports``: ``{IP, PrivatePort, PublicPort, Type}`` per published port of
    a running container, ``{PrivatePort, Type}`` per exposed port that is not published."""
    out: list[dict[str, t.Any]] = []
    active = state.status in (ContainerStatus.RUNNING, ContainerStatus.PAUSED)
    if active and os.path.exists(svc.layout.container_file(cid, "network.json")):
        for p in svc.networks.endpoints(cid).get("ports") or ():
            out.append({"IP": p["host_ip"], "PrivatePort": int(p["container_port"]), "PublicPort": int(p["host_port"]),
                        "Type": p["protocol"]})
    published = {(p["PrivatePort"], p["Type"]) for p in out}
    for spec in opts.get("exposed_ports") or ():
        port, _slash, proto = str(spec).partition("/")
        if port.isdigit() and (int(port), proto or "tcp") not in published:
            out.append({"PrivatePort": int(port), "Type": proto or "tcp"})
    return out


def logs(
    svc: ContainerService,
    name: str,
    follow: bool = False,
    tail: int | None = None,
    since: float | None = None,
    until: float | None = None,
    stdout: bool = True,
    stderr: bool = True,
) -> t.Iterator[t.Any]:
    from ...supervisor import logs as logmod

    cid = records.require(svc, name)
    record = records.load(svc, cid)
    if record.logging["Type"] == "none":
        raise EngineError(f'configured logging driver does not support reading (container {record.name}: "none")')

    def running() -> bool:
        try:
            return records.state(svc, cid).status.active
        except NotFound:
            return False

    return logmod.read_logs(
        svc.layout.container_log(cid),
        follow=follow,
        tail=tail,
        since=since,
        until=until,
        stdout=stdout,
        stderr=stderr,
        still_running=running,
    )


def can_top(state: ContainerState, cid: str) -> None:
    """Conflict unless the container has processes to show (running or paused)."""
    if state.status not in (ContainerStatus.RUNNING, ContainerStatus.PAUSED):
        raise Conflict(f"Container {cid} is not running")


def top(svc: ContainerService, name: str, ps_args: str | None = None) -> dict[str, t.Any]:
    from ...runtime import cgroup_manager
    from ...supervisor import spec as specmod

    cid = records.require(svc, name)
    record = records.load(svc, cid)
    can_top(records.state(svc, cid), cid)
    pids = cgroup_manager(specmod.cgroups_path(record.options, cid)).pids()
    if ps_args and ps_args.strip() != "-ef":
        return _ps_top(ps_args, set(pids))
    rows = []
    for pid in sorted(pids):
        info = _proc_info(pid)
        if info:
            rows.append(info)
    return {"Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"], "Processes": rows}


def stats(svc: ContainerService, name: str) -> dict[str, t.Any]:
    from ...core import timefmt

    from ...runtime import cgroup_manager
    from ...supervisor import spec as specmod

    cid = records.require(svc, name)
    record = records.load(svc, cid)
    state = records.state(svc, cid)
    base = {"id": cid, "name": "/" + record.name, "read": timefmt.now_rfc3339()}
    if state.status not in (ContainerStatus.RUNNING, ContainerStatus.PAUSED):
        return dict(base, memory_stats={}, cpu_stats={}, pids_stats={})
    usage = cgroup_manager(specmod.cgroups_path(record.options, cid)).stats()
    return dict(base, **usage)


def disk_usage(svc: ContainerService) -> list[dict[str, t.Any]]:
    out = []
    for item in list_(svc, all=True):
        item = dict(item)
        item["SizeRw"] = fs.dir_size(svc.layout.upper(item["Id"]))
        out.append(item)
    return out


# ==================================================================== helpers
def _ps_top(ps_args: str, pids: set[int]) -> dict[str, t.Any]:
    """``docker top NAME ARGS``: the host's ``ps ARGS``, the rows of the container's processes (moby's
    parsePSOutput: the PID column found by its title, the last column keeps its spaces)."""
    import shlex
    import subprocess

    try:
        argv = shlex.split(ps_args)
    except ValueError as exc:
        raise InvalidOption("ps_args", ps_args, f"cannot be split into arguments: {exc}") from None
    ps = fs.which("ps")
    if not ps:
        raise EngineError("ps options need the host's ps command, which is not installed")
    res = subprocess.run([ps, *argv], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise InvalidOption("ps_args", ps_args, f"ps failed: {res.stderr.strip() or res.returncode}")
    lines = res.stdout.splitlines()
    titles = lines[0].split() if lines else []
    if "PID" not in titles:
        raise InvalidOption("ps_args", ps_args, "the ps output has no PID column")
    col = titles.index("PID")
    rows = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in pids:
            rows.append(fields)
    return {"Titles": titles, "Processes": rows}


def _command_text(args: t.Sequence[str]) -> str:
    """docker ps's COMMAND: arguments joined, those with spaces single-quoted."""
    return " ".join(f"'{a}'" if (" " in a or not a) else a for a in args)


def _security_opt_list(sec: t.Mapping[str, t.Any] | None) -> list[str] | None:
    if not sec:
        return None
    out = []
    for key, value in sec.items():
        if key == "seccomp" and isinstance(value, dict):
            out.append("seccomp=<profile>")
        elif value is True:
            out.append(key)
        else:
            out.append(f"{key}={value}")
    return sorted(out)


def _status_text(state: ContainerState) -> str:
    """``Up 3 minutes``, ``Exited (0) 2 hours ago``, ``Created`` like docker ps."""
    from ...core import timefmt

    now = time.time()
    s = state.status
    if s is ContainerStatus.CREATED:
        return "Created"
    if s in (ContainerStatus.RUNNING, ContainerStatus.PAUSED):
        started = timefmt.parse_rfc3339(state.started_at) or now
        text = "Up " + timefmt.human_duration(now - started)
        if state.health:
            status = state.health.get("Status", "starting")
            text += " (health: starting)" if status == "starting" else f" ({status})"
        if state.error.startswith(lifecycle.UNSUPERVISED_ERROR):
            text += " (monitor lost)"
        return text + (" (Paused)" if s is ContainerStatus.PAUSED else "")
    if s is ContainerStatus.RESTARTING:
        finished = timefmt.parse_rfc3339(state.finished_at) or now
        return f"Restarting ({state.exit_code}) {timefmt.human_duration(now - finished)} ago"
    if s is ContainerStatus.EXITED:
        finished = timefmt.parse_rfc3339(state.finished_at) or now
        return f"Exited ({state.exit_code}) {timefmt.human_duration(now - finished)} ago"
    return s.value.capitalize()


def _match(flt: dict[str, list[str]], record: ContainerRecord, state: ContainerState, images: "ImageService") -> bool:
    from .. import filters as filters_

    if "id" in flt and not any(record.id.startswith(v) for v in flt["id"]):
        return False
    if "name" in flt and not any(v.lstrip("/") in record.name for v in flt["name"]):
        return False
    if "status" in flt:
        statuses = {ContainerStatus.EXITED.value, ContainerStatus.CREATED.value, ContainerStatus.RUNNING.value,
                    ContainerStatus.PAUSED.value, ContainerStatus.RESTARTING.value, ContainerStatus.DEAD.value,
                    ContainerStatus.REMOVING.value}
        for v in flt["status"]:
            if v not in statuses:
                raise InvalidOption("filters.status", v, f"expected one of {', '.join(sorted(statuses))}")
        if state.status.value not in flt["status"]:
            return False
    if "exited" in flt:
        if state.status is not ContainerStatus.EXITED or str(state.exit_code) not in flt["exited"]:
            return False
    if "label" in flt and not filters_.labels_match(flt["label"], record.options.get("labels") or {}):
        return False
    if "ancestor" in flt:
        ok = False
        for v in flt["ancestor"]:
            try:
                image_id = images.resolve(v)
            except EngineError:
                image_id = None
            if image_id == record.image or v == record.image_name:
                ok = True
        if not ok:
            return False
    return True


def _proc_info(pid: int) -> list[str] | None:
    """A ``ps -ef``-like row from /proc (no ps binary needed)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read().replace(b"\0", b" ").strip().decode(errors="replace")
        uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None
    rest = stat[stat.rindex(")") + 2 :].split()
    ppid = rest[1]
    utime, stime = int(rest[11]), int(rest[12])
    ticks = os.sysconf("SC_CLK_TCK")
    total = (utime + stime) // ticks
    tty = "?"
    comm = stat[stat.index("(") + 1 : stat.rindex(")")]
    return [
        str(uid),
        str(pid),
        ppid,
        "0",
        time.strftime("%H:%M", time.localtime(time.time())),
        tty,
        f"{total // 3600:02d}:{total // 60 % 60:02d}:{total % 60:02d}",
        cmdline or f"[{comm}]",
    ]

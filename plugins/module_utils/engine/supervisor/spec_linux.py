# SPDX-License-Identifier: GPL-3.0-or-later
"""The OCI ``linux`` section of a container (part of ``spec.py``'s pure translation): namespaces, the
cgroup path and ``linux.resources`` (also what ``update`` hands the runtime), devices and the device
cgroup, rlimits and seccomp. ``spec.py`` re-exports the public names.

On the start path: no typing at import time (see ``spec.py``).
"""
from __future__ import annotations

import posixpath
from _collections_abc import Mapping  # what typing.Mapping checks, without importing typing or collections

from ..errors import InvalidOption
from ..runtime import (
    RLIM_INFINITY, SECCOMP_ARCHITECTURES, default_seccomp_profile, kernel_version, memory_swap_total, native_arch,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

DEFAULT_CGROUP_PARENT = "/berth"
CPU_PERIOD = 100_000  # microseconds, Docker's period for --cpus

#: Docker's default device cgroup: deny everything, then allow mknod of any node and the usual devices.
DEFAULT_DEVICE_RULES: tuple[dict[str, t.Any], ...] = (
    {"allow": False, "access": "rwm"},
    {"allow": True, "type": "c", "access": "m"},
    {"allow": True, "type": "b", "access": "m"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},  # /dev/null
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},  # /dev/zero
    {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"},  # /dev/full
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},  # /dev/random
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},  # /dev/urandom
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},  # /dev/tty
    {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},  # /dev/console
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},  # /dev/ptmx
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},  # /dev/pts/*
    {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"},  # /dev/net/tun
)


# ====================================================================== namespaces, resources, devices
def user_namespace(
    opts: t.Mapping[str, t.Any], id_mappings: t.Mapping[str, t.Sequence[t.Mapping[str, int]]] | None
) -> bool:
    """Whether the container gets a user namespace: maps were given and ``userns_mode`` is not ``host``.
    ``userns_mode: private`` without maps is an error naming the option."""
    mode = opts.get("userns_mode") or ""
    if mode == "host":
        return False
    has_maps = bool(id_mappings and id_mappings.get("uidMappings") and id_mappings.get("gidMappings"))
    if mode == "private" and not has_maps:
        raise InvalidOption("userns_mode", "private", "no subordinate user and group ID ranges are configured")
    return has_maps


def namespaces(
    opts: t.Mapping[str, t.Any], paths: t.Mapping[str, str] | None = None, cgroupns: str = "private",
    user: bool | None = None,
) -> list[dict[str, str]]:
    """pid, network, ipc, uts, mount, cgroup (+ user): new, joined by path, or the host's (left out).
    *user*: a new user namespace (default: ``userns_mode`` is ``private``)."""
    paths = paths or {}
    out: list[dict[str, str]] = []

    def add(kind: str, mode: str, field: str) -> None:
        if mode == "host":
            return
        if mode.startswith("container:"):
            if not paths.get(kind):
                raise InvalidOption(
                    field, mode, f"the {kind} namespace of {mode[10:]} is not available (is it running?)"
                )
            out.append({"type": kind, "path": paths[kind]})
            return
        if paths.get(kind):  # a namespace the engine made (a bridge network's: services/networks.py)
            out.append({"type": kind, "path": paths[kind]})
            return
        out.append({"type": kind})

    add("pid", opts.get("pid_mode") or "", "pid_mode")
    add("network", opts.get("network_mode") or "none", "network_mode")
    add("ipc", opts.get("ipc_mode") or "private", "ipc_mode")
    add("uts", opts.get("uts") or "", "uts")
    out.append({"type": "mount"})
    if cgroupns != "host":
        out.append({"type": "cgroup"})
    if user if user is not None else opts.get("userns_mode") == "private":
        out.append({"type": "user"})
    return out


def cgroups_path(parent: str | t.Mapping[str, t.Any] | None, container_id: str) -> str:
    """``<cgroup_parent or /berth>/<id>``; *parent* is the option's value or the options mapping."""
    if isinstance(parent, Mapping):
        parent = parent.get("cgroup_parent")
    return posixpath.join(parent or DEFAULT_CGROUP_PARENT, container_id)


def resources(
    opts: t.Mapping[str, t.Any], device_rules: list[dict[str, t.Any]] | None = None
) -> dict[str, t.Any]:
    """``linux.resources`` from the resource options (only what is set).

    Without *device_rules* the result has no ``devices`` key: what ``ContainerService.update`` applies
    to a running container (an update never changes device access).
    """
    res: dict[str, t.Any] = {} if device_rules is None else {"devices": device_rules}
    memory: dict[str, t.Any] = {}
    limit = opts.get("memory") or 0
    if limit:
        memory["limit"] = limit
    if opts.get("memory_reservation"):
        memory["reservation"] = opts["memory_reservation"]
    swap = memory_swap_total(limit, opts.get("memory_swap"))
    if swap:
        memory["swap"] = swap
    if opts.get("oom_killer"):
        memory["disableOOMKiller"] = True
    if memory:
        res["memory"] = memory
    cpu: dict[str, t.Any] = {}
    if opts.get("cpu_shares"):
        cpu["shares"] = opts["cpu_shares"]
    if opts.get("cpus"):
        cpu["period"] = CPU_PERIOD
        cpu["quota"] = opts["cpus"] * CPU_PERIOD // 10**9
    else:
        if opts.get("cpu_period"):
            cpu["period"] = opts["cpu_period"]
        if opts.get("cpu_quota"):
            cpu["quota"] = opts["cpu_quota"]
    if opts.get("cpuset_cpus"):
        cpu["cpus"] = opts["cpuset_cpus"]
    if opts.get("cpuset_mems"):
        cpu["mems"] = opts["cpuset_mems"]
    if cpu:
        res["cpu"] = cpu
    if (opts.get("pids_limit") or 0) > 0:
        res["pids"] = {"limit": opts["pids_limit"]}
    if opts.get("blkio_weight"):
        res["blockIO"] = {"weight": opts["blkio_weight"]}
    return res


def _device_rules(opts: t.Mapping[str, t.Any], privileged: bool) -> list[dict[str, t.Any]]:
    if privileged:
        return [{"allow": True, "access": "rwm"}]
    return [dict(r) for r in DEFAULT_DEVICE_RULES]


def linux_devices(
    opts: t.Mapping[str, t.Any],
    privileged: bool,
    host_devices: t.Mapping[str, t.Sequence[t.Mapping[str, t.Any]]] | None,
) -> list[dict[str, t.Any]]:
    """``linux.devices`` for the task's devices (all host devices when privileged)."""
    host_devices = host_devices or {}
    out: dict[str, dict[str, t.Any]] = {}
    if privileged:
        for dev in host_devices.get("/dev", ()):
            out[dev["path"]] = _device(dev, dev["path"])
    for item in opts.get("devices") or ():
        src, dst = item["path_on_host"], item["path_in_container"]
        found = host_devices.get(src)
        if not found:
            raise InvalidOption("devices", f"{src}:{dst}", "no such device on the host")
        for dev in found:
            rel = posixpath.relpath(dev["path"], src)
            path = dst if rel == "." else posixpath.join(dst, rel)
            out[path] = _device(dev, path)
    return [out[k] for k in sorted(out)]


def _device(dev: t.Mapping[str, t.Any], path: str) -> dict[str, t.Any]:
    if dev.get("type") not in ("c", "b", "u", "p"):
        raise InvalidOption("devices", dev.get("path"), "not a character or block device")
    entry = {"path": path, "type": dev["type"], "major": int(dev["major"]), "minor": int(dev["minor"])}
    for key in ("fileMode", "uid", "gid"):
        if dev.get(key) is not None:
            entry[key] = int(dev[key])
    return entry


def device_cgroup_rules(
    opts: t.Mapping[str, t.Any], privileged: bool, devices: t.Sequence[t.Mapping[str, t.Any]]
) -> list[dict[str, t.Any]]:
    """The device cgroup list: defaults (or allow-all) plus an allow rule per task device."""
    rules = _device_rules(opts, privileged)
    if privileged:
        return rules
    perms = {d["path_in_container"]: d["cgroup_permissions"] for d in opts.get("devices") or ()}
    for dev in devices:
        access = next((p for base, p in perms.items() if dev["path"] == base or dev["path"].startswith(base + "/")),
                      "rwm")
        rules.append({"allow": True, "type": dev["type"], "major": dev["major"], "minor": dev["minor"],
                      "access": access})
    return rules


# ====================================================================== rlimits and seccomp
def rlimits(
    ulimits: t.Sequence[t.Mapping[str, t.Any]] | None,
    base: t.Sequence[t.Mapping[str, t.Any]] | None,
    daemon_defaults: t.Mapping[str, t.Any] | None = None,
) -> list[dict[str, t.Any]]:
    """The caller's limits, overridden by daemon.json ``default-ulimits``, overridden by ``ulimits``."""
    out: dict[str, dict[str, t.Any]] = {}
    for rl in base or ():
        out[rl["type"]] = {"type": rl["type"], "soft": int(rl["soft"]), "hard": int(rl["hard"])}

    def put(name: str, soft: int, hard: int) -> None:
        kind = "RLIMIT_" + name.upper()
        out[kind] = {"type": kind, "soft": _oci_limit(soft), "hard": _oci_limit(hard)}

    for name, value in (daemon_defaults or {}).items():
        if isinstance(value, Mapping):
            put(str(value.get("Name") or name), int(value.get("Soft", 0)), int(value.get("Hard", 0)))
    for ul in ulimits or ():
        put(ul["name"], ul["soft"], ul["hard"])
    return [out[k] for k in sorted(out)]


def _oci_limit(value: int) -> int:
    return RLIM_INFINITY if value < 0 else value


def seccomp(
    setting: t.Any,
    caps: t.Sequence[str],
    privileged: bool,
    *,
    arch: str | None = None,
    kernel: tuple[int, int] | None = None,
) -> dict[str, t.Any] | None:
    """``linux.seccomp``: None when privileged or unconfined, Docker's default, or the user's profile."""
    if privileged or setting == "unconfined":
        return None
    if setting is None:
        return default_seccomp_profile(caps, arch, kernel=kernel)
    if not isinstance(setting, Mapping):
        raise InvalidOption("security_opts", f"seccomp={setting}", "the seccomp profile was not loaded")
    return user_profile(setting, caps, arch=arch, kernel=kernel)


def user_profile(
    profile: t.Mapping[str, t.Any],
    caps: t.Sequence[str],
    *,
    arch: str | None = None,
    kernel: tuple[int, int] | None = None,
) -> dict[str, t.Any]:
    """A user seccomp profile -> OCI ``linux.seccomp``.

    Accepts Docker's format (``archMap``, ``syscalls[].name|names``, ``includes``/``excludes`` on
    ``caps``, ``arches`` and ``minKernel``), evaluated like Docker's ``setupSeccomp``, and the OCI format.
    """
    goarch = native_arch(arch)
    held = {c.upper() for c in caps}
    kver = kernel if kernel is not None else kernel_version()
    out: dict[str, t.Any] = {"defaultAction": profile["defaultAction"]}
    for key in ("defaultErrnoRet", "listenerPath", "listenerMetadata", "flags"):
        if profile.get(key) is not None:
            out[key] = profile[key]
    if profile.get("archMap"):
        native = SECCOMP_ARCHITECTURES.get(goarch, ())
        arches: list[str] = []
        for entry in profile["archMap"]:
            if native and entry.get("architecture") == native[0]:
                arches = [entry["architecture"]] + list(entry.get("subArchitectures") or [])
        out["architectures"] = arches
    elif profile.get("architectures"):
        out["architectures"] = list(profile["architectures"])
    syscalls = []
    for i, rule in enumerate(profile.get("syscalls") or []):
        if not _conditions_hold(rule.get("includes") or {}, held, goarch, kver, include=True):
            continue
        if rule.get("excludes") and _conditions_hold(rule["excludes"], held, goarch, kver, include=False):
            continue
        names = list(rule.get("names") or ([rule["name"]] if rule.get("name") else []))
        if not names or not rule.get("action"):
            raise InvalidOption("security_opts", f"syscalls[{i}]", "a seccomp rule needs names and an action")
        entry: dict[str, t.Any] = {"names": names, "action": rule["action"]}
        for key in ("errnoRet", "args"):
            if rule.get(key) is not None:
                entry[key] = rule[key]
        syscalls.append(entry)
    out["syscalls"] = syscalls
    return out


def _conditions_hold(
    cond: t.Mapping[str, t.Any], held: set[str], goarch: str, kver: tuple[int, int], *, include: bool
) -> bool:
    """includes: every condition holds; excludes: any condition holds (Docker's semantics)."""
    checks = []
    if cond.get("caps"):
        caps = [c.upper() if c.upper().startswith("CAP_") else "CAP_" + c.upper() for c in cond["caps"]]
        checks.append(all(c in held for c in caps) if include else any(c in held for c in caps))
    if cond.get("arches"):
        checks.append(goarch in cond["arches"])
    if cond.get("minKernel"):
        major, _dot, minor = str(cond["minKernel"]).partition(".")
        want = (int(major or 0), int((minor.split(".")[0] or 0)))
        checks.append(kver >= want)
    if not checks:
        return include
    return all(checks) if include else any(checks)

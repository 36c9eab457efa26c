# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks over an OCI runtime spec before anything is touched (runc ``configs/validate/validator.go``).

:func:`check` runs :data:`CHECKS` in order and raises the first ``InvalidOption`` with
``field="spec.<path>"``, the offending value and the reason. Each check is a small function of
``(spec, ctx)``; :class:`Context` carries what is not in the spec (the bundle directory, the caller's
rlimits and capabilities) so the checks are testable without root.
"""
from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t  # noqa: F401

NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")
RLIMITS = (
    "RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS", "RLIMIT_MEMLOCK",
    "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS", "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK",
)
RLIM_INFINITY = 2 ** 64 - 1  # OCI spells "unlimited" as the uint64 maximum
CAP_SYS_RESOURCE = 24
DEVICE_TYPES = ("c", "b", "u", "p")
#: sysctls that live in the IPC namespace (runc validator.go)
IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
               "kernel.shmmni", "kernel.shm_rmid_forced")


def _invalid(field: str, value: t.Any, reason: str) -> Exception:
    from ..errors import InvalidOption  # imported on failure only (start-path cost, see __init__.py)

    return InvalidOption(field, value, reason)


class Context:
    """What the checks need besides the spec."""

    def __init__(self, bundle: str | None = None, hard_limits: t.Mapping[str, int] | None = None,
                 can_raise_rlimits: bool | None = None) -> None:
        self.bundle = bundle
        self._hard = hard_limits
        self._can_raise = can_raise_rlimits

    def hard_limit(self, name: str) -> int | None:
        if self._hard is not None:
            return self._hard.get(name)
        import resource

        num = getattr(resource, name, None)
        if num is None:
            return None
        hard = resource.getrlimit(num)[1]
        return RLIM_INFINITY if hard == resource.RLIM_INFINITY else hard

    def can_raise_rlimits(self) -> bool:
        if self._can_raise is None:
            self._can_raise = _has_cap(CAP_SYS_RESOURCE)
        return self._can_raise


def _has_cap(bit: int) -> bool:
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"CapEff:"):
                    return bool(int(line.split()[1], 16) & (1 << bit))
    except OSError:
        pass
    return False


def _ns_types(spec: dict) -> dict[str, str]:
    return {ns.get("type"): ns.get("path") or "" for ns in (spec.get("linux") or {}).get("namespaces") or ()}


# ---------------------------------------------------------------- checks
def check_shape(spec: dict, ctx: Context) -> None:
    if not isinstance(spec, dict):
        raise _invalid("spec", type(spec).__name__, "the runtime spec must be a JSON object")
    for key in ("process", "root"):
        if not isinstance(spec.get(key), dict):
            raise _invalid(f"spec.{key}", spec.get(key), "missing or not an object")
    if spec.get("linux") is not None and not isinstance(spec["linux"], dict):
        raise _invalid("spec.linux", spec["linux"], "not an object")


def check_root(spec: dict, ctx: Context) -> None:
    path = spec["root"].get("path")
    if not path or not isinstance(path, str):
        raise _invalid("spec.root.path", path, "the root file system path is required")
    full = path if os.path.isabs(path) or ctx.bundle is None else os.path.join(ctx.bundle, path)
    if not os.path.isdir(full):
        raise _invalid("spec.root.path", path, f"{full} does not exist or is not a directory")


def check_process(spec: dict, ctx: Context) -> None:
    proc = spec["process"]
    args = proc.get("args")
    if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args) or not args[0]:
        raise _invalid("spec.process.args", args, "a non-empty list of strings is required")
    cwd = proc.get("cwd", "/")
    if not isinstance(cwd, str) or not cwd.startswith("/"):
        raise _invalid("spec.process.cwd", cwd, "must be an absolute path")
    for i, item in enumerate(proc.get("env") or ()):
        if not isinstance(item, str) or "=" not in item or item.startswith("="):
            raise _invalid(f"spec.process.env[{i}]", item, "must be KEY=VALUE")
    user = proc.get("user") or {}
    for key in ("uid", "gid"):
        v = user.get(key, 0)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise _invalid(f"spec.process.user.{key}", v, "must be a non-negative integer")
    for i, g in enumerate(user.get("additionalGids") or ()):
        if not isinstance(g, int) or isinstance(g, bool) or g < 0:
            raise _invalid(f"spec.process.user.additionalGids[{i}]", g, "must be a non-negative integer")


def check_namespaces(spec: dict, ctx: Context) -> None:
    seen: set[str] = set()
    for i, ns in enumerate((spec.get("linux") or {}).get("namespaces") or ()):
        typ = ns.get("type") if isinstance(ns, dict) else None
        if typ not in NAMESPACE_TYPES:
            raise _invalid(f"spec.linux.namespaces[{i}].type", typ,
                           f"unknown namespace type (known: {', '.join(NAMESPACE_TYPES)})")
        if typ in seen:
            raise _invalid(f"spec.linux.namespaces[{i}].type", typ, "duplicate namespace")
        seen.add(typ)
        path = ns.get("path")
        if path and (not isinstance(path, str) or not path.startswith("/")):
            raise _invalid(f"spec.linux.namespaces[{i}].path", path, "must be an absolute path")
        if path and not os.path.exists(path):
            raise _invalid(f"spec.linux.namespaces[{i}].path", path, "no such namespace file")
    if "mount" not in seen:
        raise _invalid("spec.linux.namespaces", sorted(seen),
                       "a mount namespace is required (berth-runtime never changes the host's mount table)")


def check_user_namespace(spec: dict, ctx: Context) -> None:
    linux = spec.get("linux") or {}
    types = _ns_types(spec)
    maps = linux.get("uidMappings") or linux.get("gidMappings")
    if maps and "user" not in types:
        raise _invalid("spec.linux.uidMappings", maps, "id mappings need a user namespace")
    if "user" in types and not types["user"]:
        for key in ("uidMappings", "gidMappings"):
            entries = linux.get(key)
            if not entries:
                raise _invalid(f"spec.linux.{key}", entries, "a new user namespace needs id mappings")
            for i, m in enumerate(entries):
                if not all(isinstance(m.get(k), int) and m.get(k) >= 0 for k in ("containerID", "hostID", "size")) \
                        or not m.get("size"):
                    raise _invalid(f"spec.linux.{key}[{i}]", m, "containerID, hostID and size (> 0) are required")


def check_mounts(spec: dict, ctx: Context) -> None:
    for i, m in enumerate(spec.get("mounts") or ()):
        dest = m.get("destination") if isinstance(m, dict) else None
        if not isinstance(dest, str) or not dest.startswith("/"):
            raise _invalid(f"spec.mounts[{i}].destination", dest, "must be an absolute path")
        opts = m.get("options") or []
        if not isinstance(opts, list) or not all(isinstance(o, str) for o in opts):
            raise _invalid(f"spec.mounts[{i}].options", opts, "must be a list of strings")


def check_cgroups_path(spec: dict, ctx: Context) -> None:
    path = (spec.get("linux") or {}).get("cgroupsPath")
    if path is None or path == "":
        return
    from .cgroups.base import check_cgroups_path as check  # the same rule as the cgroup managers'

    check(path, "spec.linux.cgroupsPath")


def check_rlimits(spec: dict, ctx: Context) -> None:
    seen: set[str] = set()
    for i, rl in enumerate(spec["process"].get("rlimits") or ()):
        field = f"spec.process.rlimits[{i}]"
        typ = rl.get("type") if isinstance(rl, dict) else None
        if typ not in RLIMITS:
            raise _invalid(f"{field}.type", typ, f"unknown rlimit (known: {', '.join(RLIMITS)})")
        if typ in seen:
            raise _invalid(f"{field}.type", typ, "duplicate rlimit")
        seen.add(typ)
        soft, hard = rl.get("soft"), rl.get("hard")
        for name, v in (("soft", soft), ("hard", hard)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise _invalid(f"{field}.{name}", v, f"{typ} {name} limit must be a non-negative integer")
        if soft > hard:
            raise _invalid(f"{field}.soft", soft, f"{typ} soft limit {_fmt(soft)} is above its hard limit {_fmt(hard)}")
        current = ctx.hard_limit(typ)
        if current is not None and hard > current and not ctx.can_raise_rlimits():
            raise _invalid(f"{field}.hard", hard,
                           f"{typ} hard limit {_fmt(hard)} is above the current hard limit {_fmt(current)}; raising "
                           "a hard limit needs CAP_SYS_RESOURCE, which this process does not have")


def _fmt(v: int) -> str:
    return "unlimited" if v >= RLIM_INFINITY else str(v)


def check_sysctls(spec: dict, ctx: Context) -> None:
    sysctls = (spec.get("linux") or {}).get("sysctl") or {}
    types = _ns_types(spec)
    for key in sysctls:
        field = f"spec.linux.sysctl.{key}"
        if key in IPC_SYSCTLS or key.startswith("fs.mqueue."):
            if "ipc" not in types:
                raise _invalid(field, sysctls[key], "this sysctl needs an IPC namespace (it would change the host)")
        elif key.startswith("net."):
            if "network" not in types:
                raise _invalid(field, sysctls[key], "net.* sysctls need a network namespace (it would change the host)")
        elif key in ("kernel.hostname", "kernel.domainname"):
            if "uts" not in types:
                raise _invalid(field, sysctls[key], "this sysctl needs a UTS namespace (it would change the host)")
        else:
            raise _invalid(field, sysctls[key], "not a namespaced sysctl (allowed: net.*, kernel.shm*, kernel.msg*, "
                           "kernel.sem, fs.mqueue.*, kernel.hostname, kernel.domainname)")


def check_hostname(spec: dict, ctx: Context) -> None:
    types = _ns_types(spec)
    for key in ("hostname", "domainname"):
        if spec.get(key) and "uts" not in types:
            raise _invalid(f"spec.{key}", spec[key], "setting it needs a UTS namespace (it would change the host's)")


def check_paths(spec: dict, ctx: Context) -> None:
    linux = spec.get("linux") or {}
    for key in ("maskedPaths", "readonlyPaths"):
        for i, p in enumerate(linux.get(key) or ()):
            if not isinstance(p, str) or not p.startswith("/"):
                raise _invalid(f"spec.linux.{key}[{i}]", p, "must be an absolute path")


def check_devices(spec: dict, ctx: Context) -> None:
    for i, d in enumerate((spec.get("linux") or {}).get("devices") or ()):
        path = d.get("path")
        if not isinstance(path, str) or not path.startswith("/dev/"):
            raise _invalid(f"spec.linux.devices[{i}].path", path, "must be an absolute path below /dev")
        if d.get("type") not in DEVICE_TYPES:
            raise _invalid(f"spec.linux.devices[{i}].type", d.get("type"), "must be one of c, b, u, p")


CHECKS = (
    check_shape,
    check_root,
    check_process,
    check_namespaces,
    check_user_namespace,
    check_mounts,
    check_cgroups_path,
    check_rlimits,
    check_sysctls,
    check_hostname,
    check_paths,
    check_devices,
)


def check(spec: dict, bundle: str | None = None, ctx: Context | None = None) -> None:
    """Raise the first InvalidOption found by :data:`CHECKS`."""
    ctx = ctx or Context(bundle)
    for chk in CHECKS:
        chk(spec, ctx)

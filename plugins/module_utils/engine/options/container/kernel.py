# SPDX-License-Identifier: GPL-3.0-or-later
"""Normalisers of what the kernel enforces: CPU and cpuset limits (checked against what the host has
online), pids, the cgroup parent, ulimits, sysctls, capabilities, devices, tmpfs mounts, security
options and namespace modes."""
from __future__ import annotations

import posixpath

from ...core.lazy import Pattern
from .normalise import (
    _NAME,
    DEFAULT_NETWORK_MODE,
    MAX_PIDS,
    MAX_SIZE,
    _fail,
    _int,
    _re,
    _str,
    _text_value,
    size,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time: ``berth run`` imports the option table
    import typing as t

#: Where the host lists what ``cpuset_cpus`` / ``cpuset_mems`` may name (absent node file: node 0 only).
ONLINE_FILES = {"cpuset_cpus": "/sys/devices/system/cpu/online", "cpuset_mems": "/sys/devices/system/node/online"}


_DECIMAL = Pattern(r"(?a)^-?(?:\d{1,20}(?:\.\d{0,20})?|\.\d{1,20})$")


def cpus(value: t.Any, field: str) -> int:
    """``1.5`` CPUs -> 1500000000 nano CPUs (Docker's NanoCPUs); 0 means no limit."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        _fail(field, value, "must be a number of CPUs such as 0.5 or 2")
    import fractions

    text = str(value).strip()
    if not _DECIMAL.match(text):
        _fail(field, value, "must be a number of CPUs such as 0.5 or 2")
    amount = fractions.Fraction(text)
    if amount < 0:
        _fail(field, value, "must not be negative")
    nano = amount * 10**9
    if nano.denominator != 1:
        _fail(field, value, "too precise: at most 9 decimal places")
    if nano == 0:
        return 0
    if nano < 10**7:
        _fail(field, value, "the smallest CPU limit is 0.01")
    available = sum(hi - lo + 1 for lo, hi in online("cpuset_cpus"))
    if nano > available * 10**9:
        _fail(field, value, f"the range of CPUs is 0.01 to {available}, as this host has {available} CPUs")
    return int(nano)


_CPUSET = Pattern(r"(?a)^\d{1,9}(?:-\d{1,9})?(?:,\d{1,9}(?:-\d{1,9})?)*$")


def parse_cpu_list(text: str) -> list[tuple[int, int]]:
    """The kernel's CPU/node list format (``0-3,6``) -> ``[(0, 3), (6, 6)]``; syntax not checked."""
    out = []
    for part in text.strip().split(","):
        if part:
            lo, _sep, hi = part.partition("-")
            out.append((int(lo), int(hi or lo)))
    return out


def online(field: str) -> list[tuple[int, int]]:
    """What the host has online for ``cpuset_cpus`` (CPUs) or ``cpuset_mems`` (memory nodes)."""
    import os

    try:
        with open(ONLINE_FILES[field], encoding="ascii") as fh:
            return parse_cpu_list(fh.read())
    except (OSError, ValueError):
        return [(0, 0)] if field == "cpuset_mems" else [(0, (os.cpu_count() or 1) - 1)]


def missing_from(wanted: list[tuple[int, int]], have: list[tuple[int, int]]) -> list[int]:
    """Numbers of *wanted* not in *have* (the first few; ranges are walked, never expanded)."""
    out: list[int] = []
    for lo, hi in wanted:
        n = lo
        while n <= hi and len(out) < 3:
            cover = next((h for a, h in have if a <= n <= h), None)
            if cover is None:
                out.append(n)
                n += 1
            else:
                n = cover + 1
    return out


def cpuset(value: t.Any, field: str) -> str:
    """``0-3,6``; ranges must ascend and name CPUs (memory nodes for ``cpuset_mems``) that are online.
    Empty means no restriction."""
    text = _str(value, field).replace(" ", "")
    if not text:
        return ""
    if not _CPUSET.match(text):
        _fail(field, value, "must be a list such as 0-3 or 0,2")
    wanted = parse_cpu_list(text)
    for lo, hi in wanted:
        if hi < lo:
            _fail(field, value, f"range {lo}-{hi} is descending")
    base = field.split("[", 1)[0]
    if base in ONLINE_FILES:
        have = online(base)
        gone = missing_from(wanted, have)
        if gone:
            what = "CPUs" if base == "cpuset_cpus" else "memory nodes"
            shown = ",".join(f"{a}-{b}" if b != a else str(a) for a, b in have)
            _fail(field, value, f"{what} {', '.join(map(str, gone))} not available on this host (online: {shown})")
    return text


def pids_limit(value: t.Any, field: str) -> int:
    """0 or less: no limit (normalised to 0); at most what the kernel's pids.max takes."""
    n = _int(value, field)
    if n > MAX_PIDS:
        _fail(field, value, f"must be at most {MAX_PIDS} (the kernel's pid limit), or 0 for no limit")
    return max(n, 0)


def cgroup_parent(value: t.Any, field: str) -> str | None:
    text = _str(value, field).strip()
    if not text:
        return None
    if ".." in text.split("/") or "\0" in text:
        _fail(field, value, "must not contain '..'")
    return posixpath.normpath(text) if text != "/" else "/"


ULIMIT_NAMES = (
    "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
    "rss", "rtprio", "rttime", "sigpending", "stack",
)  # fmt: skip


def ulimits(value: t.Any, field: str) -> list[dict[str, t.Any]]:
    """``["nofile:1024:2048", "nproc:512"]`` -> ``[{name, soft, hard}]`` sorted by name."""
    if not isinstance(value, (list, tuple)):
        _fail(field, value, "must be a list of name:soft[:hard] strings")
    out: dict[str, dict[str, t.Any]] = {}
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, str):
            _fail(where, item, "must be a name:soft[:hard] string such as nofile:1024:2048")
        parts = item.split(":")
        if len(parts) not in (2, 3):
            _fail(where, item, "must be name:soft[:hard], e.g. nofile:1024:2048")
        name = parts[0].strip().lower()
        if name not in ULIMIT_NAMES:
            _fail(where, item, f"unknown ulimit {parts[0]!r} (one of {', '.join(ULIMIT_NAMES)})")
        try:
            if any(len(p) > 20 for p in parts[1:]):
                raise ValueError(item)
            soft = int(parts[1])
            hard = int(parts[2]) if len(parts) == 3 else soft
        except ValueError:
            _fail(where, item, "limits must be integers (-1 for unlimited)")
        if soft < -1 or hard < -1:
            _fail(where, item, "limits must be -1 (unlimited) or more")
        if soft > MAX_SIZE or hard > MAX_SIZE:
            _fail(where, item, f"limits must be at most {MAX_SIZE} (-1 for unlimited)")
        if hard != -1 and (soft == -1 or soft > hard):
            _fail(where, item, "the soft limit must not exceed the hard limit")
        if name in out:
            _fail(where, item, f"ulimit {name} is given twice")
        out[name] = {"name": name, "soft": soft, "hard": hard}
    return [out[k] for k in sorted(out)]


#: Namespaced sysctls a container may set (Docker's ``ValidateSysctl``).
SYSCTL_IPC = (
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
    "kernel.shmmni", "kernel.shm_rmid_forced",
)  # fmt: skip
SYSCTL_PREFIXES = ("net.", "fs.mqueue.")


def sysctls(value: t.Any, field: str) -> dict[str, str]:
    if not isinstance(value, dict):
        _fail(field, value, "must be a dictionary of sysctl names to values")
    out = {}
    for key, val in value.items():
        name = str(key).strip().replace("/", ".")
        if name not in SYSCTL_IPC and not name.startswith(SYSCTL_PREFIXES):
            _fail(
                field,
                key,
                "not a namespaced sysctl a container may set "
                "(kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.*)",
            )
        out[name] = _text_value(field, name, val)
    return {k: out[k] for k in sorted(out)}


#: Linux capability names (without ``CAP_``), in kernel order.
CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE",
)  # fmt: skip


def capabilities(value: t.Any, field: str) -> list[str]:
    """``["net_admin", "CAP_SYS_TIME", "ALL"]`` -> sorted, unique ``["ALL", "CAP_NET_ADMIN", "CAP_SYS_TIME"]``."""
    if not isinstance(value, (list, tuple)):
        _fail(field, value, "must be a list of capability names")
    out = set()
    for i, item in enumerate(value):
        if not isinstance(item, str):
            _fail(f"{field}[{i}]", item, "must be a capability name such as NET_ADMIN")
        name = item.strip().upper()
        if name == "ALL":
            out.add("ALL")
            continue
        bare = name[4:] if name.startswith("CAP_") else name
        if bare not in CAPABILITIES:
            _fail(f"{field}[{i}]", item, "unknown capability")
        out.add("CAP_" + bare)
    return sorted(out)


_DEVICE_MODE = Pattern(r"^[rwm]{1,3}$")


def devices(value: t.Any, field: str) -> list[dict[str, str]]:
    """``host[:container[:perms]]`` (Docker's parseDevice) -> dicts, sorted by container path."""
    if not isinstance(value, (list, tuple)):
        _fail(field, value, "must be a list of host[:container[:permissions]] strings")
    out: dict[str, dict[str, str]] = {}
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, str) or not item:
            _fail(where, item, "must be a host[:container[:permissions]] string")
        parts = item.split(":")
        perms = "rwm"
        if len(parts) == 3:
            src, dst, perms = parts
        elif len(parts) == 2:
            src, dst = parts
            if _DEVICE_MODE.match(dst) and len(set(dst)) == len(dst):
                dst, perms = src, dst
        elif len(parts) == 1:
            src = dst = parts[0]
        else:
            _fail(where, item, "too many ':' (host[:container[:permissions]])")
        if not _DEVICE_MODE.match(perms) or len(set(perms)) != len(perms):
            _fail(where, item, "permissions must be a combination of r, w and m")
        if not src.startswith("/") or not dst.startswith("/"):
            _fail(where, item, "device paths must be absolute")
        dst = posixpath.normpath(dst)
        if dst in out:
            _fail(where, item, f"two devices for {dst}")
        perms = "".join(c for c in "rwm" if c in perms)
        out[dst] = {"path_on_host": posixpath.normpath(src), "path_in_container": dst, "cgroup_permissions": perms}
    return [out[k] for k in sorted(out)]


#: Options Docker's ``mount.ParseTmpfsOptions`` accepts for ``--tmpfs``.
TMPFS_FLAGS = frozenset(
    "ro rw suid nosuid dev nodev exec noexec sync async dirsync remount mand nomand atime noatime diratime "
    "nodiratime bind rbind unbindable runbindable private rprivate shared rshared slave rslave relatime "
    "norelatime strictatime nostrictatime".split()
)
TMPFS_KEYS = frozenset({"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"})


def tmpfs(value: t.Any, field: str) -> dict[str, str]:
    """``["/run", "/tmp:size=64m,mode=1777"]`` -> ``{"/run": "", "/tmp": "size=64m,mode=1777"}``."""
    if not isinstance(value, (list, tuple)):
        _fail(field, value, "must be a list of /path[:options] strings")
    out: dict[str, str] = {}
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, str):
            _fail(where, item, "must be a /path[:options] string")
        path, _sep, opts = item.partition(":")
        if not path.startswith("/"):
            _fail(where, item, "the mount point must be an absolute path")
        path = posixpath.normpath(path)
        if path == "/":
            _fail(where, item, "cannot mount a tmpfs over /")
        words = [w.strip() for w in opts.split(",") if w.strip()]
        for word in words:
            key, eq, val = word.partition("=")
            if (eq and key not in TMPFS_KEYS) or (not eq and word not in TMPFS_FLAGS):
                _fail(where, item, f"unknown tmpfs option {word!r}")
            if key == "size" and eq:
                size(val, where)
            if key == "mode" and eq and not _re().fullmatch(r"[0-7]{1,4}", val):
                _fail(where, item, f"tmpfs mode {val!r} is not octal")
            if key in ("uid", "gid") and eq and not (val.isascii() and val.isdigit() and int(val) < (1 << 32) - 1):
                _fail(where, item, f"tmpfs {key} {val!r} must be a number below 4294967295")
            if key in ("nr_inodes", "nr_blocks") and eq:
                size(val, where)
        if path in out:
            _fail(where, item, f"two tmpfs mounts on {path}")
        out[path] = ",".join(words)
    return {k: out[k] for k in sorted(out)}


_BOOL_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def security_opts(value: t.Any, field: str) -> dict[str, t.Any]:
    """``no-new-privileges[:true|false]``, ``seccomp=unconfined|PATH``, ``systempaths=unconfined``,
    ``apparmor=unconfined`` -> ``{"no-new-privileges": bool, "seccomp": "unconfined"|PATH, ...}``.

    A seccomp PATH is replaced by the parsed profile in :func:`.checks.normalise_options`.  SELinux labels and
    AppArmor profiles are refused: Berth applies neither.
    """
    if not isinstance(value, (list, tuple)):
        _fail(field, value, "must be a list of strings such as no-new-privileges or seccomp=unconfined")
    out: dict[str, t.Any] = {}
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, str):
            _fail(where, item, "must be a string")
        key, sep, val = item.partition("=")
        if not sep and ":" in item:
            key, _c, val = item.partition(":")
            sep = ":"
        key = key.strip()
        if key == "no-new-privileges":
            flag = _BOOL_WORDS.get(val.strip().lower()) if sep else True
            if flag is None:
                _fail(where, item, "no-new-privileges takes true or false")
            out[key] = flag
        elif key == "seccomp" and sep == "=" and val:
            out[key] = "unconfined" if val == "unconfined" else val
        elif key == "systempaths" and sep == "=":
            if val != "unconfined":
                _fail(where, item, "only systempaths=unconfined is supported")
            out[key] = val
        elif key == "apparmor" and sep == "=":
            if val != "unconfined":
                _fail(where, item, "Berth does not apply AppArmor profiles; only apparmor=unconfined is accepted")
            out[key] = val
        elif key == "label":
            _fail(where, item, "Berth does not support SELinux labels")
        else:
            _fail(
                where,
                item,
                "unknown security option (no-new-privileges[:true|false], seccomp=unconfined|PATH, "
                "systempaths=unconfined, apparmor=unconfined)",
            )
    return {k: out[k] for k in sorted(out)}


def _container_ref(mode: str, field: str, value: t.Any) -> str:
    """``container:<name or id>`` with a non-empty, valid target."""
    target = mode[len("container:") :]
    if not target or not _NAME.match(target):
        _fail(field, value, "container:<name or ID> needs a valid container name or ID")
    return "container:" + target


def network_mode(value: t.Any, field: str) -> str:
    """``host``, ``none``, ``bridge`` (= ``default``), ``container:<name>``, or a network name."""
    text = _str(value, field).strip()
    if text in ("", "default"):
        return DEFAULT_NETWORK_MODE
    if text.startswith("container:"):
        return _container_ref(text, field, value)
    if text in ("host", "none", "bridge") or _NAME.match(text):
        return text
    _fail(field, value, "must be host, none, bridge, default, container:<name> or a network name")


def ipc_mode(value: t.Any, field: str) -> str:
    text = _str(value, field).strip()
    if text in ("", "private"):
        return "private"
    if text in ("shareable", "host", "none"):
        return text
    if text.startswith("container:"):
        return _container_ref(text, field, value)
    _fail(field, value, "must be private, shareable, host, none or container:<name>")


def pid_mode(value: t.Any, field: str) -> str:
    text = _str(value, field).strip()
    if text in ("", "host"):
        return text
    if text.startswith("container:"):
        return _container_ref(text, field, value)
    _fail(field, value, "must be host or container:<name> (leave it out for a private PID namespace)")


def uts(value: t.Any, field: str) -> str:
    text = _str(value, field).strip()
    if text not in ("", "host"):
        _fail(field, value, "must be host (leave it out for a private UTS namespace)")
    return text


def userns_mode(value: t.Any, field: str) -> str:
    """``""`` (the engine's ``userns-remap`` decides), ``host`` (never a user namespace, Docker's
    ``--userns=host``) or ``private`` (a user namespace with the remap ranges, even when the engine does
    not remap by default). ``host`` is kept as given: with remapping on it differs from the default."""
    text = _str(value, field).strip()
    if text not in ("", "host", "private"):
        _fail(field, value, "must be host or private (leave it out to follow the engine's userns-remap)")
    return text

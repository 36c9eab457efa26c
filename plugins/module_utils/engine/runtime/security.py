# SPDX-License-Identifier: GPL-3.0-or-later
"""Process security for the container init: capabilities, no_new_privs, keep-caps and rlimits.

Pure parts (name tables, Docker's ``--cap-add/--cap-drop`` semantics, rlimit checks) are plain
functions.  The parts that touch the kernel go through :class:`CapSyscalls` (``prctl``, ``capget``,
``capset``), so tests can record the calls; :class:`LinuxCapSyscalls` is the real one, loaded lazily.

Order used by the init (runc ``finalizeNamespace``)::

    set_no_new_privs()          (if process.noNewPrivileges)
    prepare_keepcaps()          keep the permitted set across setuid
    ... setgroups / setgid / setuid (the init) ...
    clear_keepcaps()
    apply_capabilities(spec["process"]["capabilities"])
        1. raise CAP_SETPCAP into the effective set if only permitted (lost by setuid)
        2. prctl(PR_CAPBSET_DROP) for every capability not in "bounding"
        3. capset v3: effective / permitted / inheritable
        4. prctl(PR_CAP_AMBIENT, CLEAR_ALL), then RAISE for each "ambient" capability

Capabilities above the running kernel's ``cap_last_cap`` are ignored (as runc does), so a spec written
for a newer kernel still starts on an older one.
"""
from __future__ import annotations

import errno
import os
import resource

from ..errors import InvalidOption

TYPE_CHECKING = False  # typing for type checkers only: the container init imports this module
if TYPE_CHECKING:
    import typing as t

#: Every capability Linux knows today, name -> bit (include/uapi/linux/capability.h).
CAPABILITIES: dict[str, int] = {
    "CAP_CHOWN": 0,
    "CAP_DAC_OVERRIDE": 1,
    "CAP_DAC_READ_SEARCH": 2,
    "CAP_FOWNER": 3,
    "CAP_FSETID": 4,
    "CAP_KILL": 5,
    "CAP_SETGID": 6,
    "CAP_SETUID": 7,
    "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9,
    "CAP_NET_BIND_SERVICE": 10,
    "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12,
    "CAP_NET_RAW": 13,
    "CAP_IPC_LOCK": 14,
    "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16,
    "CAP_SYS_RAWIO": 17,
    "CAP_SYS_CHROOT": 18,
    "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20,
    "CAP_SYS_ADMIN": 21,
    "CAP_SYS_BOOT": 22,
    "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24,
    "CAP_SYS_TIME": 25,
    "CAP_SYS_TTY_CONFIG": 26,
    "CAP_MKNOD": 27,
    "CAP_LEASE": 28,
    "CAP_AUDIT_WRITE": 29,
    "CAP_AUDIT_CONTROL": 30,
    "CAP_SETFCAP": 31,
    "CAP_MAC_OVERRIDE": 32,
    "CAP_MAC_ADMIN": 33,
    "CAP_SYSLOG": 34,
    "CAP_WAKE_ALARM": 35,
    "CAP_BLOCK_SUSPEND": 36,
    "CAP_AUDIT_READ": 37,
    "CAP_PERFMON": 38,
    "CAP_BPF": 39,
    "CAP_CHECKPOINT_RESTORE": 40,
}
#: bit -> name
CAP_NAMES: dict[int, str] = {bit: name for name, bit in CAPABILITIES.items()}
MAX_KNOWN_CAP = max(CAP_NAMES)

#: Docker's default capability set (moby oci/caps/defaults.go), in Docker's order.
DOCKER_DEFAULT_CAPS: tuple[str, ...] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

#: The five sets of OCI ``process.capabilities``.
CAP_SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")

# prctl(2) options
PR_SET_KEEPCAPS = 8
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

_LINUX_CAPABILITY_VERSION_3 = 0x20080522
#: (capget, capset) syscall numbers by machine; other machines use the libc wrappers.
_CAP_SYSCALLS: dict[str, tuple[int, int]] = {
    "x86_64": (125, 126),
    "i386": (184, 185),
    "i686": (184, 185),
    "aarch64": (90, 91),
    "armv7l": (184, 185),
    "armv6l": (184, 185),
    "riscv64": (90, 91),
    "loongarch64": (90, 91),
    "ppc64le": (183, 184),
    "ppc64": (183, 184),
    "s390x": (184, 185),
    "mips64": (5123, 5124),
}


# --------------------------------------------------------------------------------------------------
# names
# --------------------------------------------------------------------------------------------------


def normalize_cap(name: str, field: str = "capabilities") -> str:
    """``"net_admin"``, ``"NET_ADMIN"``, ``"cap_net_admin"`` -> ``"CAP_NET_ADMIN"``; unknown -> InvalidOption."""
    if not isinstance(name, str):
        raise InvalidOption(field, name, "a capability name must be a string")
    upper = name.strip().upper()
    if not upper.startswith("CAP_"):
        upper = "CAP_" + upper
    if upper not in CAPABILITIES:
        raise InvalidOption(field, name, "unknown capability")
    return upper


def cap_names_to_mask(names: t.Iterable[str], field: str = "capabilities") -> int:
    """Bit mask of the named capabilities (names as :func:`normalize_cap` accepts them)."""
    mask = 0
    for name in names:
        mask |= 1 << CAPABILITIES[normalize_cap(name, field)]
    return mask


def mask_to_cap_names(mask: int) -> list[str]:
    """Names of the bits set in *mask*, lowest bit first; unknown bits become ``CAP_UNKNOWN_<bit>``."""
    out = []
    bit = 0
    while mask >> bit:
        if mask & (1 << bit):
            out.append(CAP_NAMES.get(bit, f"CAP_UNKNOWN_{bit}"))
        bit += 1
    return out


def last_cap(path: str = "/proc/sys/kernel/cap_last_cap") -> int:
    """The highest capability bit the running kernel knows (CAP_CHECKPOINT_RESTORE=40 on 5.9+)."""
    try:
        with open(path, "rb") as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return MAX_KNOWN_CAP


def bounding_set(status: str = "/proc/self/status") -> int | None:
    """The calling process's capability bounding set (``CapBnd``) as a mask; None when it cannot be read."""
    try:
        with open(status, "rb") as fh:
            for line in fh:
                if line.startswith(b"CapBnd:"):
                    return int(line[7:].strip(), 16)
    except (OSError, ValueError):
        pass
    return None


def all_caps(last: int | None = None, bounding: int | None = None) -> list[str]:
    """Every capability the kernel supports and the bounding set holds, in bit order (what ``--privileged``
    and ``--cap-add ALL`` get).

    As moby's ``caps.GetAllCapabilities``: a capability the engine's own bounding set lacks (a host that
    runs it under ``capsh --drop``, a container...) cannot be given, so asking for it would fail the start.
    Without *last* both come from the running kernel and this process; a given *last* describes a kernel,
    and then only a given *bounding* narrows the list.
    """
    if last is None:
        top = last_cap()
        if bounding is None:
            bounding = bounding_set()
    else:
        top = last
    mask = -1 if bounding is None else bounding
    return [CAP_NAMES[b] for b in range(min(top, MAX_KNOWN_CAP) + 1) if mask >> b & 1]


def resolve_caps(
    cap_add: t.Iterable[str] | None,
    cap_drop: t.Iterable[str] | None,
    privileged: bool = False,
    *,
    last: int | None = None,
    defaults: t.Sequence[str] = DOCKER_DEFAULT_CAPS,
) -> list[str]:
    """The container's capability list with Docker's semantics (moby ``caps.TweakCapabilities``).

    - privileged: every capability of the running kernel in the bounding set (add/drop ignored, as Docker does);
    - ``ALL`` in cap_add: every capability except those dropped;
    - ``ALL`` in cap_drop (and not in cap_add): only the added ones;
    - otherwise: the defaults minus cap_drop, then cap_add.
    Names are case-insensitive, with or without ``CAP_``; unknown names raise InvalidOption.
    The result has no duplicates and keeps Docker's order.
    """
    adds = _normalize_list(cap_add, "cap_add")
    drops = _normalize_list(cap_drop, "cap_drop")
    if privileged:
        return all_caps(last)
    if not adds and not drops:
        return list(defaults)
    if "ALL" in adds:
        caps = [c for c in all_caps(last) if c not in drops]
    elif "ALL" in drops:
        caps = [c for c in adds if c != "ALL"]
    else:
        caps = [c for c in defaults if c not in drops] + adds
    seen: set[str] = set()
    out = []
    for c in caps:
        if c not in seen:
            seen.add(c)
            out.append(c)
    return out


def _normalize_list(names: t.Iterable[str] | None, field: str) -> list[str]:
    out = []
    for name in names or ():
        if isinstance(name, str) and name.strip().upper() == "ALL":
            out.append("ALL")
        else:
            out.append(normalize_cap(name, field))
    return out


# --------------------------------------------------------------------------------------------------
# kernel access
# --------------------------------------------------------------------------------------------------


if TYPE_CHECKING:
    class CapSyscalls(t.Protocol):
        """The few calls this module needs; errors are OSError naming the call."""

        def prctl(self, option: int, arg2: int = 0, arg3: int = 0) -> int: ...

        def capget(self) -> tuple[int, int, int]:
            """(effective, permitted, inheritable) of the calling thread."""

        def capset(self, effective: int, permitted: int, inheritable: int) -> None: ...


class LinuxCapSyscalls:
    """prctl/capget/capset through ctypes (libc loaded on first use)."""

    def __init__(self) -> None:
        import ctypes

        self._ctypes = ctypes
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        self._libc.prctl.restype = ctypes.c_int

        class Header(ctypes.Structure):
            _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

        class Data(ctypes.Structure):
            _fields_ = [
                ("effective", ctypes.c_uint32),
                ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32),
            ]

        self._header_t = Header
        self._data_t = Data * 2
        numbers = _CAP_SYSCALLS.get(os.uname().machine)
        if numbers is not None:
            self._libc.syscall.restype = ctypes.c_long
            get_nr, set_nr = numbers
            self._capget = lambda h, d: self._libc.syscall(ctypes.c_long(get_nr), h, d)
            self._capset = lambda h, d: self._libc.syscall(ctypes.c_long(set_nr), h, d)
        else:  # glibc and musl both export the wrappers
            self._capget = self._libc.capget
            self._capset = self._libc.capset

    def _fail(self, what: str) -> t.NoReturn:
        err = self._ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0) -> int:
        while True:
            ret = self._libc.prctl(option, arg2, arg3, 0, 0)
            if ret >= 0:
                return int(ret)
            if self._ctypes.get_errno() != errno.EINTR:
                self._fail(f"prctl({_PRCTL_NAMES.get(option, option)}, {arg2}, {arg3})")

    def capget(self) -> tuple[int, int, int]:
        header = self._header_t(_LINUX_CAPABILITY_VERSION_3, 0)
        data = self._data_t()
        if self._capget(self._ctypes.byref(header), self._ctypes.byref(data)) != 0:
            self._fail("capget")
        return (
            data[0].effective | data[1].effective << 32,
            data[0].permitted | data[1].permitted << 32,
            data[0].inheritable | data[1].inheritable << 32,
        )

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        header = self._header_t(_LINUX_CAPABILITY_VERSION_3, 0)
        data = self._data_t()
        for i in (0, 1):
            shift = 32 * i
            data[i].effective = (effective >> shift) & 0xFFFFFFFF
            data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
            data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
        if self._capset(self._ctypes.byref(header), self._ctypes.byref(data)) != 0:
            self._fail(
                f"capset(effective={effective:#x}, permitted={permitted:#x}, inheritable={inheritable:#x})"
            )


_PRCTL_NAMES = {
    PR_SET_KEEPCAPS: "PR_SET_KEEPCAPS",
    PR_CAPBSET_READ: "PR_CAPBSET_READ",
    PR_CAPBSET_DROP: "PR_CAPBSET_DROP",
    PR_SET_NO_NEW_PRIVS: "PR_SET_NO_NEW_PRIVS",
    PR_GET_NO_NEW_PRIVS: "PR_GET_NO_NEW_PRIVS",
    PR_CAP_AMBIENT: "PR_CAP_AMBIENT",
}
_DEFAULT_SYS: LinuxCapSyscalls | None = None


def _sys(sys: CapSyscalls | None) -> CapSyscalls:
    global _DEFAULT_SYS
    if sys is not None:
        return sys
    if _DEFAULT_SYS is None:
        _DEFAULT_SYS = LinuxCapSyscalls()
    return _DEFAULT_SYS


def set_no_new_privs(sys: CapSyscalls | None = None) -> None:
    """prctl(PR_SET_NO_NEW_PRIVS, 1): execve can no longer grant privileges (setuid bits, file caps)."""
    _sys(sys).prctl(PR_SET_NO_NEW_PRIVS, 1)


def prepare_keepcaps(sys: CapSyscalls | None = None) -> None:
    """prctl(PR_SET_KEEPCAPS, 1) before setuid so the permitted set survives it."""
    _sys(sys).prctl(PR_SET_KEEPCAPS, 1)


def clear_keepcaps(sys: CapSyscalls | None = None) -> None:
    """prctl(PR_SET_KEEPCAPS, 0) after setuid."""
    _sys(sys).prctl(PR_SET_KEEPCAPS, 0)


def apply_capabilities(
    caps: t.Mapping[str, t.Sequence[str]] | None,
    sys: CapSyscalls | None = None,
    *,
    last: int | None = None,
) -> None:
    """Apply OCI ``process.capabilities`` to the calling thread (see the module docstring for the order).

    ``None`` leaves the capabilities alone; a missing set counts as empty.  Capabilities above the
    kernel's last one are ignored.  An ambient capability must also be permitted and inheritable.
    """
    if caps is None:
        return
    s = _sys(sys)
    top = min(last_cap() if last is None else last, MAX_KNOWN_CAP)
    supported = (1 << (top + 1)) - 1
    want = {name: cap_names_to_mask(caps.get(name) or (), f"process.capabilities.{name}") & supported
            for name in CAP_SETS}
    for bit in range(top + 1):
        if want["ambient"] & (1 << bit) and not (want["permitted"] & want["inheritable"] & (1 << bit)):
            raise InvalidOption("process.capabilities.ambient", CAP_NAMES[bit],
                                "an ambient capability must also be in the permitted and inheritable sets")

    effective, permitted, inheritable = s.capget()
    setpcap = 1 << CAPABILITIES["CAP_SETPCAP"]
    if permitted & setpcap and not effective & setpcap:
        s.capset(permitted, permitted, inheritable)
    for bit in range(top + 1):
        if not want["bounding"] & (1 << bit) and s.prctl(PR_CAPBSET_READ, bit) == 1:
            s.prctl(PR_CAPBSET_DROP, bit)
    s.capset(want["effective"], want["permitted"], want["inheritable"])
    s.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    for bit in range(top + 1):
        if want["ambient"] & (1 << bit):
            s.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, bit)


_STATUS_KEYS = {
    "CapEff": "effective",
    "CapPrm": "permitted",
    "CapInh": "inheritable",
    "CapBnd": "bounding",
    "CapAmb": "ambient",
}


def parse_status_caps(status: str) -> dict[str, list[str]]:
    """The Cap* lines of a /proc/<pid>/status text -> {"effective": [...], ...} (OCI set names)."""
    out: dict[str, list[str]] = {}
    for line in status.splitlines():
        key, dummy, value = line.partition(":")
        if key in _STATUS_KEYS:
            out[_STATUS_KEYS[key]] = mask_to_cap_names(int(value.strip(), 16))
    return out


def read_caps(pid: int | str = "self", proc: str = "/proc") -> dict[str, list[str]]:
    """The capability sets of *pid* from /proc/<pid>/status, as name lists."""
    with open(os.path.join(proc, str(pid), "status"), encoding="utf-8", errors="replace") as fh:
        return parse_status_caps(fh.read())


# --------------------------------------------------------------------------------------------------
# rlimits
# --------------------------------------------------------------------------------------------------

#: OCI rlimit type -> resource number (asm-generic/resource.h; the same on every Linux arch we run on
#: except mips/sparc, where Python's ``resource`` module has the right values and wins).
RLIMITS: dict[str, int] = {
    "RLIMIT_CPU": 0,
    "RLIMIT_FSIZE": 1,
    "RLIMIT_DATA": 2,
    "RLIMIT_STACK": 3,
    "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5,
    "RLIMIT_NPROC": 6,
    "RLIMIT_NOFILE": 7,
    "RLIMIT_MEMLOCK": 8,
    "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10,
    "RLIMIT_SIGPENDING": 11,
    "RLIMIT_MSGQUEUE": 12,
    "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14,
    "RLIMIT_RTTIME": 15,
}
for _name in RLIMITS:
    RLIMITS[_name] = getattr(resource, _name, RLIMITS[_name])
del _name
#: OCI (and the kernel) spell "unlimited" as the largest uint64.
RLIM_INFINITY = 2**64 - 1


def _to_oci(value: int) -> int:
    return RLIM_INFINITY if value == resource.RLIM_INFINITY or value < 0 else int(value)


def _to_py(value: int) -> int:
    return resource.RLIM_INFINITY if value >= RLIM_INFINITY or value < 0 else int(value)


def _short(kind: str) -> str:
    """``RLIMIT_NOFILE`` -> ``nofile`` (Docker's ``--ulimit`` name)."""
    return kind[len("RLIMIT_"):].lower() if kind.startswith("RLIMIT_") else kind.lower()


def _fmt(value: int) -> str:
    return "unlimited" if value >= RLIM_INFINITY else str(value)


def current_rlimits(getrlimit: t.Callable[[int], tuple[int, int]] = resource.getrlimit) -> list[dict]:
    """The calling process's limits as OCI ``process.rlimits`` entries (the spec builder's defaults)."""
    out = []
    for kind, number in RLIMITS.items():
        try:
            soft, hard = getrlimit(number)
        except (ValueError, OSError):
            continue
        out.append({"type": kind, "soft": _to_oci(soft), "hard": _to_oci(hard)})
    return out


def check_rlimits(
    rlimits: t.Iterable[t.Mapping[str, t.Any]],
    current: t.Iterable[t.Mapping[str, t.Any]] | None = None,
    can_raise: bool = False,
) -> None:
    """Validate OCI rlimits against the caller's limits; raise InvalidOption naming the limit.

    Without CAP_SYS_RESOURCE (*can_raise* False) no hard limit may exceed the current one.
    """
    now = {r["type"]: r for r in (current_rlimits() if current is None else current)}
    for rl in rlimits:
        kind = rl.get("type")
        if kind not in RLIMITS:
            raise InvalidOption("ulimits", kind, f"unknown rlimit type (known: {', '.join(sorted(RLIMITS))})")
        soft, hard = rl.get("soft"), rl.get("hard")
        label = f"{_short(kind)}={_fmt(soft) if isinstance(soft, int) else soft}:" \
                f"{_fmt(hard) if isinstance(hard, int) else hard}"
        if not isinstance(soft, int) or not isinstance(hard, int) or soft < 0 or hard < 0:
            raise InvalidOption("ulimits", label, "soft and hard must be non-negative integers")
        if soft > hard:
            raise InvalidOption("ulimits", label, f"soft limit {_fmt(soft)} is above the hard limit {_fmt(hard)}")
        cur = now.get(kind)
        if cur is not None and hard > cur["hard"] and not can_raise:
            raise InvalidOption(
                "ulimits",
                label,
                f"hard limit {_fmt(hard)} is above the current hard limit {_fmt(cur['hard'])} of {kind}; "
                "raising a hard limit needs CAP_SYS_RESOURCE, which this process does not have",
            )


def apply_rlimits(
    rlimits: t.Iterable[t.Mapping[str, t.Any]],
    *,
    setrlimit: t.Callable[[int, tuple[int, int]], None] = resource.setrlimit,
    getrlimit: t.Callable[[int], tuple[int, int]] = resource.getrlimit,
) -> None:
    """setrlimit for each OCI entry; a refused raise is reported with the limit and both values."""
    for rl in rlimits:
        kind = rl.get("type")
        if kind not in RLIMITS:
            raise InvalidOption("ulimits", kind, "unknown rlimit type")
        soft, hard = int(rl["soft"]), int(rl["hard"])
        try:
            setrlimit(RLIMITS[kind], (_to_py(soft), _to_py(hard)))
        except (ValueError, OSError) as exc:
            try:
                cur_hard = _to_oci(getrlimit(RLIMITS[kind])[1])
            except (ValueError, OSError):
                cur_hard = None
            label = f"{_short(kind)}={_fmt(soft)}:{_fmt(hard)}"
            if soft > hard:
                reason = f"soft limit {_fmt(soft)} is above the hard limit {_fmt(hard)}"
            elif cur_hard is not None and hard > cur_hard:
                reason = (f"hard limit {_fmt(hard)} is above the current hard limit {_fmt(cur_hard)} of {kind}; "
                          "raising a hard limit needs CAP_SYS_RESOURCE")
            else:
                reason = f"setrlimit({kind}) failed: {exc}"
            raise InvalidOption("ulimits", label, reason) from None

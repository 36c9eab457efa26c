# SPDX-License-Identifier: GPL-3.0-or-later
"""What v1 and v2 cgroup managers share: the protocol, the conversions, file access and errors.

Like youki's libcgroups, every function that touches a cgroup takes the cgroup *directory* as a
parameter, and the managers take the cgroupfs root and the process-facing calls (``kill``,
``sleep``, ``mkdir``, ``rmdir``, ``/proc/self/cgroup``) as constructor parameters, so the unit tests
run on a fake tree of plain files in a temporary directory.

Files are written without ``O_CREAT``: on cgroupfs a missing file means the controller is not
available there, and that becomes a :class:`CgroupError` naming the file, not a new plain file.
"""
from __future__ import annotations

import errno
import os
import time

from ...errors import EngineError, InvalidOption

# Every container start imports this package (in the process that creates the container), so
# ``typing`` is for type checkers only; CgroupManager and Resources live in protocol.py.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    from .protocol import CgroupManager, Resources  # noqa: F401


def __getattr__(name: str) -> t.Any:
    if name in ("CgroupManager", "Resources"):
        from . import protocol

        return getattr(protocol, name)
    raise AttributeError(name)


#: "unlimited" for memory limits in OCI (and Docker's -1)
UNLIMITED = -1


class CgroupError(EngineError):
    """A cgroup operation failed; names the path (and the value written, when there is one)."""

    def __init__(self, path: str, reason: str, value: str | None = None) -> None:
        if value is not None:
            msg = f"cgroup: writing {value!r} to {path}: {reason}"
        else:
            msg = f"cgroup {path}: {reason}"
        super().__init__(msg)
        self.path = path
        self.reason = reason
        self.value = value


class Host:
    """The process-facing calls a manager makes besides reading and writing cgroup files.

    Tests replace the pieces they need (a fake ``mkdir`` that creates a controller's files like the
    kernel does, a recording ``kill``, a ``sleep`` that advances a fake clock).
    """

    def __init__(
        self,
        *,
        proc_self_cgroup: str | None = None,
        proc: str = "/proc",
        kill: t.Callable[[int, int], None] = os.kill,
        sleep: t.Callable[[float], None] = time.sleep,
        clock: t.Callable[[], float] = time.monotonic,
        mkdir: t.Callable[[str], None] = os.mkdir,
        rmdir: t.Callable[[str], None] = os.rmdir,
    ) -> None:
        self._proc_self_cgroup = proc_self_cgroup
        self.proc = proc
        self.kill = kill
        self.sleep = sleep
        self.clock = clock
        self.mkdir = mkdir
        self.rmdir = rmdir

    def self_cgroup(self) -> str:
        """Text of /proc/self/cgroup (the caller's own cgroups)."""
        if self._proc_self_cgroup is not None:
            return self._proc_self_cgroup
        try:
            with open(os.path.join(self.proc, "self", "cgroup"), encoding="utf-8") as fh:
                return fh.read()
        except OSError:
            return ""

    def read_proc(self, name: str) -> str:
        try:
            with open(os.path.join(self.proc, name), encoding="utf-8") as fh:
                return fh.read()
        except OSError:
            return ""


# --------------------------------------------------------------------------------------------------
# paths
# --------------------------------------------------------------------------------------------------


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """``/proc/<pid>/cgroup`` -> {controller: path}; the v2 entry ("0::/x") is under key ""."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        dummy, controllers, path = parts
        if not controllers:
            out[""] = path
            continue
        for c in controllers.split(","):
            out[c] = path
    return out


def check_cgroups_path(cgroups_path: str, field: str = "linux.cgroupsPath") -> str:
    """Validate OCI ``linux.cgroupsPath`` for the cgroupfs driver; return it normalised.

    The one rule for the engine, the cgroup managers and ``berth-runtime``'s spec validation.
    """
    if not isinstance(cgroups_path, str):
        raise InvalidOption(field, cgroups_path, "must be a string")
    if ":" in cgroups_path and not cgroups_path.startswith("/"):
        raise InvalidOption(field, cgroups_path, "systemd slice:prefix:name paths need --systemd-cgroup, which "
                                                 "Berth does not support: use a cgroupfs path such as /berth/<id>")
    parts = [p for p in cgroups_path.split("/") if p]
    if not parts:
        raise InvalidOption(field, cgroups_path, "must name a cgroup below the root, such as /berth/<id>")
    if any(p in (".", "..") for p in parts) or "\0" in cgroups_path:
        raise InvalidOption(field, cgroups_path, "'.' and '..' (and NUL) are not allowed in a cgroup path")
    norm = "/".join(parts)
    return "/" + norm if cgroups_path.startswith("/") else norm


def join_cgroup(own: str, cgroups_path: str) -> str:
    """Absolute cgroup path: absolute paths stay, relative ones hang under the caller's own cgroup (runc)."""
    if cgroups_path.startswith("/"):
        return cgroups_path
    return "/" + "/".join(p for p in (own.strip("/"), cgroups_path) if p)


# --------------------------------------------------------------------------------------------------
# file access
# --------------------------------------------------------------------------------------------------


def write(directory: str, name: str, value: str | int) -> None:
    """Write one value to a cgroup file (no O_CREAT: a missing file is an error naming it)."""
    path = os.path.join(directory, name)
    data = str(value).encode()
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            return
        except InterruptedError:
            continue
        except FileNotFoundError:
            if not os.path.isdir(directory):
                raise CgroupError(directory, "the cgroup does not exist", str(value)) from None
            raise CgroupError(path, "no such file: the controller is not available in this cgroup",
                              str(value)) from None
        except OSError as exc:
            raise CgroupError(path, os.strerror(exc.errno or 0) or str(exc), str(value)) from None


def read(directory: str, name: str) -> str:
    """The stripped content of a cgroup file; CgroupError when unreadable."""
    path = os.path.join(directory, name)
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError as exc:
        raise CgroupError(path, os.strerror(exc.errno or 0) or str(exc)) from None


def read_or(directory: str, name: str, default: str | None = None) -> str | None:
    try:
        return read(directory, name)
    except CgroupError:
        return default


def exists(directory: str, name: str) -> bool:
    return os.path.exists(os.path.join(directory, name))


def parse_keyed(text: str | None) -> dict[str, int]:
    """``key value`` lines (memory.stat, cpu.stat, cgroup.events ...) -> {key: int}."""
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def parse_int(text: str | None, max_value: int | None = None) -> int | None:
    """An integer file; ``max`` -> *max_value*; None when missing or unparsable."""
    if text is None:
        return None
    text = text.strip()
    if text == "max":
        return max_value
    try:
        return int(text)
    except ValueError:
        return None


def read_pids(directory: str, recursive: bool = True) -> list[int]:
    """PIDs in ``cgroup.procs`` of *directory* (and, when *recursive*, of its sub-cgroups)."""
    out: list[int] = []
    for path, dirs, _files in os.walk(directory) if recursive else [(directory, [], [])]:
        text = read_or(path, "cgroup.procs", "") or ""
        out.extend(int(x) for x in text.split() if x.isdigit())
    return sorted(set(out))


SIGKILL = 9


def kill_until_empty(
    pids: t.Callable[[], list[int]],
    host: Host,
    timeout: float,
    where: str,
    each_round: t.Callable[[], None] | None = None,
) -> None:
    """SIGKILL what ``pids()`` lists until it lists nothing; CgroupError naming *where* after *timeout*
    seconds. *each_round* runs after every round of signals (v1: thaw a frozen cgroup, whose tasks
    cannot die)."""
    deadline = host.clock() + timeout
    while True:
        left = pids()
        if not left:
            return
        for pid in left:
            try:
                host.kill(pid, SIGKILL)
            except ProcessLookupError:
                pass
        if each_round is not None:
            each_round()
        if host.clock() >= deadline:
            raise CgroupError(where, f"processes {left} still present {timeout:g}s after SIGKILL")
        host.sleep(0.01)


def remove_tree(
    directory: str,
    rmdir: t.Callable[[str], None],
    sleep: t.Callable[[float], None],
    patience: float = 3.0,
) -> None:
    """rmdir *directory* and its sub-cgroups, deepest first; retry EBUSY for up to *patience* seconds of
    sleeping per directory: a killed task leaves cgroup.procs before the kernel lets go of its cgroup, and
    on a loaded host that took over the 0.3 s this used to wait (runc's budget), which left the cgroup
    behind."""
    if not os.path.isdir(directory):
        return
    subdirs = []
    for path, dirs, _files in os.walk(directory):
        subdirs.extend(os.path.join(path, d) for d in dirs)
    for path in sorted(subdirs, key=lambda p: p.count(os.sep), reverse=True) + [directory]:
        delay, slept = 0.005, 0.0
        while True:
            try:
                rmdir(path)
                break
            except FileNotFoundError:
                break
            except OSError as exc:
                if exc.errno not in (errno.EBUSY, errno.EAGAIN) or slept >= patience:
                    raise CgroupError(path, f"cannot remove: {os.strerror(exc.errno or 0)}") from None
                sleep(delay)
                slept += delay
                delay = min(delay * 2, 0.1)


# --------------------------------------------------------------------------------------------------
# conversions (runc libcontainer/cgroups/utils.go and the v2 controllers)
# --------------------------------------------------------------------------------------------------


def shares_to_weight(shares: int) -> int:
    """cpu.shares (2..262144) -> cgroup v2 cpu.weight (1..10000); 0 means unset."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_weight_to_io_weight(weight: int) -> int:
    """blkio.weight (10..1000) -> io.weight (1..10000); 0 means unset."""
    if weight == 0:
        return 0
    return 1 + (weight - 10) * 9999 // 990


def cpu_max(quota: int | None, period: int | None) -> str | None:
    """cpu.max from CFS quota/period: ``"<quota> <period>"``, ``"max <period>"``, ``"max"``; None: unset."""
    quota = quota or 0
    period = period or 0
    if quota == 0 and period == 0:
        return None
    value = str(quota) if quota > 0 else "max"
    if period:
        value += f" {period}"
    return value


def max_or(value: int) -> str:
    """-1 -> "max" (cgroup v2 spelling of unlimited)."""
    return "max" if value < 0 else str(value)


def pids_max(limit: int) -> str:
    """pids.max: "max" for -1 or 0 (unlimited), else the number."""
    return "max" if limit <= 0 else str(limit)


def device_rule_v1(rule: t.Mapping[str, t.Any]) -> tuple[str, str]:
    """An OCI device rule -> (file, line) for cgroup v1: ("devices.allow", "c 1:3 rwm")."""
    kind = rule.get("type") or "a"
    if kind not in ("a", "b", "c"):
        raise InvalidOption("linux.resources.devices.type", kind, "expected a, b or c")
    access = rule.get("access") or "rwm"
    if not access or any(ch not in "rwm" for ch in access):
        raise InvalidOption("linux.resources.devices.access", access, "expected a combination of r, w and m")
    target = "devices.allow" if rule.get("allow") else "devices.deny"
    if kind == "a":
        return target, "a"

    def num(key: str) -> str:
        v = rule.get(key)
        return "*" if v is None or v == -1 else str(int(v))

    return target, f"{kind} {num('major')}:{num('minor')} {access}"


def host_memory(meminfo: str) -> int:
    """MemTotal of a /proc/meminfo text, in bytes (0 when absent)."""
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            try:
                return int(parts[1]) * 1024
            except (IndexError, ValueError):
                return 0
    return 0


def system_cpu_usage(proc_stat: str, clock_ticks: int | None = None) -> int:
    """Host CPU time in nanoseconds from the first line of /proc/stat (Docker's system_cpu_usage)."""
    ticks = clock_ticks or _clock_ticks()
    for line in proc_stat.splitlines():
        if line.startswith("cpu "):
            total = sum(int(x) for x in line.split()[1:8])
            return total * 1_000_000_000 // ticks
    return 0


def _clock_ticks() -> int:
    try:
        return int(os.sysconf("SC_CLK_TCK")) or 100
    except (ValueError, OSError):
        return 100


def wait_until(
    condition: t.Callable[[], bool],
    timeout: float,
    sleep: t.Callable[[float], None],
    clock: t.Callable[[], float],
) -> bool:
    """Poll *condition* with a growing delay (1 ms .. 50 ms) until true or *timeout* seconds pass."""
    deadline = clock() + timeout
    delay = 0.001
    while True:
        if condition():
            return True
        if clock() >= deadline:
            return False
        sleep(delay)
        delay = min(delay * 2, 0.05)

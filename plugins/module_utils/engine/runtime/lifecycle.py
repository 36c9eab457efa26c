# SPDX-License-Identifier: GPL-3.0-or-later
"""Container lifecycle: status, allowed transitions, guards, and ``containers/<id>/state.json``.

Docker's statuses and what may follow each (``TRANSITIONS``)::

    created ──start──> running <──unpause── paused
       │                │  │ ──pause──────────^ │
       │                │  └──exit, policy──> restarting ──start──> running
       │                └──exit──> exited <─────┘ (stop during back-off)
       └──────────────── rm ──> removing ──(removal failed)──> dead ──rm──> removing

* Every verb checks its guard first (``status.can_start()`` ... ``can_remove(force)``) and fails with
  ``InvalidState(current, wanted)`` through :func:`require` (youki ``container/state.rs``).
* ``state.json`` is written temp + fsync + rename (``core.fs.atomic_write_json``). :func:`update` holds
  ``layout.container_lock(id)`` for the read-modify-write; code that already holds that lock uses
  :func:`load`/:func:`save` (a second ``flock`` from the same process would wait for itself).
* Who writes what: the service writes ``created``, ``manually_stopped``, ``paused``/``running`` for
  pause/unpause and ``removing``; the monitor writes ``running`` (pid, ``started_at``, ``monitor_pid``),
  ``health``, ``restarting`` and ``exited`` (exit code, ``oom_killed``, ``finished_at``). The monitor never
  overwrites ``removing``.
* Never wait for the monitor (its exit write, ``wait_exit``) while holding the container lock.

Lost monitors (:func:`reconcile`): when the state says the container is active but neither the
container's init nor its monitor is alive, nobody can know the exit status any more. The container is
marked ``exited`` with exit code **255** and ``error: "monitor lost; exit status unknown"`` (255 is what
a shell reports for "exit status out of range", and it is never a real signal exit 128+N, so it cannot
be mistaken for an ordinary failure; the error text makes it visible in ``inspect``). Docker itself has
no equivalent because dockerd restores from containerd; ``podman`` marks such containers ``exited`` too.
"""
from __future__ import annotations

import dataclasses
import enum
import errno
import os
import time
import typing as t

from ..core import fs, timefmt
from ..core.locks import DEFAULT_TIMEOUT, flock
from ..errors import EngineError, InvalidState, NotFound

if t.TYPE_CHECKING:
    from ..core.layout import Layout
    from .syscalls import Syscalls

#: Docker's "never" timestamp (``StartedAt`` of a container that never ran).
ZERO_TIME = "0001-01-01T00:00:00Z"
#: Exit code and error written when the monitor died and the container is gone (see module docstring).
LOST_EXIT_CODE = 255
LOST_ERROR = "monitor lost; exit status unknown"


class ContainerStatus(str, enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    EXITED = "exited"
    DEAD = "dead"
    REMOVING = "removing"

    # guards (youki container/state.rs) --------------------------------
    def can_start(self) -> bool:
        return self in (ContainerStatus.CREATED, ContainerStatus.EXITED)

    def can_stop(self) -> bool:
        return self in _ACTIVE

    def can_kill(self) -> bool:
        return self in (ContainerStatus.RUNNING, ContainerStatus.PAUSED)

    def can_pause(self) -> bool:
        return self is ContainerStatus.RUNNING

    def can_unpause(self) -> bool:
        return self is ContainerStatus.PAUSED

    def can_remove(self, force: bool = False) -> bool:
        if self is ContainerStatus.REMOVING:
            return False
        return force or self not in _ACTIVE

    def can_become(self, other: ContainerStatus) -> bool:
        """True when ``self -> other`` is an allowed transition (staying put is always allowed)."""
        return other is self or other in TRANSITIONS[self]

    @property
    def active(self) -> bool:
        """A monitor is responsible for the container (running, paused or waiting to restart)."""
        return self in _ACTIVE


_S = ContainerStatus
_ACTIVE = frozenset({_S.RUNNING, _S.PAUSED, _S.RESTARTING})

#: Allowed transitions, as data.
TRANSITIONS: dict[ContainerStatus, frozenset[ContainerStatus]] = {
    _S.CREATED: frozenset({_S.RUNNING, _S.REMOVING, _S.DEAD}),
    _S.RUNNING: frozenset({_S.PAUSED, _S.EXITED, _S.RESTARTING, _S.REMOVING, _S.DEAD}),
    _S.PAUSED: frozenset({_S.RUNNING, _S.EXITED, _S.REMOVING, _S.DEAD}),
    _S.RESTARTING: frozenset({_S.RUNNING, _S.EXITED, _S.REMOVING, _S.DEAD}),
    _S.EXITED: frozenset({_S.RUNNING, _S.RESTARTING, _S.REMOVING, _S.DEAD}),
    _S.DEAD: frozenset({_S.REMOVING}),
    _S.REMOVING: frozenset({_S.DEAD}),
}

#: verb -> guard, for :func:`require`.
GUARDS: dict[str, t.Callable[[ContainerStatus, bool], bool]] = {
    "start": lambda s, _f: s.can_start(),
    "stop": lambda s, _f: s.can_stop(),
    "kill": lambda s, _f: s.can_kill(),
    "pause": lambda s, _f: s.can_pause(),
    "unpause": lambda s, _f: s.can_unpause(),
    "remove": lambda s, force: s.can_remove(force),
}

#: Docker's wording for the refusals users meet most, keyed by (verb, status).
_MESSAGES: dict[tuple[str, ContainerStatus], str] = {
    ("start", _S.PAUSED): "cannot start a paused container {name}, try unpause instead",
    ("start", _S.RUNNING): "container {name} is already running",
    ("start", _S.RESTARTING): "container {name} is restarting, wait until the container is running",
    ("start", _S.REMOVING): "container {name} is marked for removal and cannot be started",
    ("start", _S.DEAD): "container {name} is marked for removal and cannot be started",
    ("pause", _S.PAUSED): "container {name} is already paused",
    ("pause", _S.RESTARTING): "container {name} is restarting, wait until the container is running",
    ("remove", _S.RUNNING): "you cannot remove a running container {name}. Stop the container before "
                            "attempting removal or force remove",
    ("remove", _S.PAUSED): "you cannot remove a paused container {name}. Unpause and then stop the container "
                           "before attempting removal or force remove",
    ("remove", _S.RESTARTING): "you cannot remove a restarting container {name}. Stop the container before "
                               "attempting removal or force remove",
    ("remove", _S.REMOVING): "removal of container {name} is already in progress",
}


def require(status: ContainerStatus, verb: str, *, force: bool = False, name: str | None = None) -> None:
    """Raise :class:`InvalidState` unless *verb* (start, stop, kill, pause, unpause, remove) is allowed."""
    if GUARDS[verb](status, force):
        return
    template = _MESSAGES.get((verb, status))
    if template is None:
        template = {"pause": "container {name} is not running", "kill": "container {name} is not running",
                    "unpause": "container {name} is not paused"}.get(verb)
    message = " ".join(template.format(name=name or "").split()) if template else None
    raise InvalidState(status.value, verb, name=name, message=message)


@dataclasses.dataclass(frozen=True)
class ContainerState:
    """``containers/<id>/state.json``. Times are RFC 3339 strings (``ZERO_TIME`` when unset).

    ``health`` is None without a healthcheck, else ``{"Status": "starting"|"healthy"|"unhealthy",
    "FailingStreak": int, "Log": [{"Start", "End", "ExitCode", "Output"}, ... last 5]}`` (Docker's shape).
    """

    status: ContainerStatus = ContainerStatus.CREATED
    pid: int = 0
    exit_code: int = 0
    oom_killed: bool = False
    error: str = ""
    started_at: str = ZERO_TIME
    finished_at: str = ZERO_TIME
    restart_count: int = 0
    manually_stopped: bool = False
    health: dict[str, t.Any] | None = None
    monitor_pid: int = 0

    def to_dict(self) -> dict[str, t.Any]:
        out = dataclasses.asdict(self)
        out["status"] = self.status.value
        return out

    @classmethod
    def from_dict(cls, data: t.Mapping[str, t.Any]) -> ContainerState:
        """Tolerant: unknown keys are ignored, missing ones take their defaults."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["status"] = ContainerStatus(values.get("status", "created"))
        return cls(**values)

    def replace(self, **changes: t.Any) -> ContainerState:
        return dataclasses.replace(self, **changes)

    def transition(self, status: ContainerStatus, **changes: t.Any) -> ContainerState:
        """A copy in *status* (with *changes*); :class:`InvalidState` when the transition is not allowed."""
        if not self.status.can_become(status):
            raise InvalidState(self.status.value, status.value)
        return dataclasses.replace(self, status=status, **changes)

    @property
    def running(self) -> bool:
        return self.status.active


# ------------------------------------------------------------------ persistence
def load(layout: Layout, container_id: str) -> ContainerState:
    path = layout.container_state(container_id)
    try:
        data = fs.read_json(path)
    except ValueError as exc:
        raise EngineError(f"corrupt container state {path}: {exc}") from None
    if data is None:
        raise NotFound("container", container_id)
    try:
        return ContainerState.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise EngineError(f"corrupt container state {path}: {exc}") from None


def save(layout: Layout, container_id: str, state: ContainerState) -> None:
    fs.atomic_write_json(layout.container_state(container_id), state.to_dict())


def update(
    layout: Layout,
    container_id: str,
    fn: t.Callable[[ContainerState], ContainerState],
    timeout: float | None = DEFAULT_TIMEOUT,
) -> ContainerState:
    """Read, ``fn(state)``, write (only when changed), all under ``layout.container_lock(id)``."""
    fs.ensure_dir(layout.locks_dir, 0o700)
    with flock(layout.container_lock(container_id), timeout=timeout):
        current = load(layout, container_id)
        new = fn(current)
        if new != current:
            save(layout, container_id, new)
        return new


# ------------------------------------------------------------------ Docker's inspect State block
def docker_state(state: ContainerState) -> dict[str, t.Any]:
    """``docker inspect``'s ``State``. Docker reports ``Running: true`` for paused and restarting ones."""
    s = state.status
    out: dict[str, t.Any] = {
        "Status": s.value,
        "Running": s.active,
        "Paused": s is ContainerStatus.PAUSED,
        "Restarting": s is ContainerStatus.RESTARTING,
        "OOMKilled": state.oom_killed,
        "Dead": s is ContainerStatus.DEAD,
        "Pid": state.pid if s in (ContainerStatus.RUNNING, ContainerStatus.PAUSED) else 0,
        "ExitCode": state.exit_code,
        "Error": state.error,
        "StartedAt": state.started_at,
        "FinishedAt": state.finished_at,
    }
    if state.health is not None:
        h = state.health
        out["Health"] = {
            "Status": h.get("Status", "starting"),
            "FailingStreak": int(h.get("FailingStreak", 0)),
            "Log": [dict(e) for e in h.get("Log") or []],
        }
    return out


# ------------------------------------------------------------------ lost monitors
def reconcile(layout: Layout, container_id: str, *, proc: str = "/proc",
              syscalls: Syscalls | None = None) -> ContainerState:
    """Mark an active container whose init and monitor are both gone as exited (code 255, said so).

    A dead monitor with a live container changes nothing: the container keeps running unsupervised and is
    reconciled once it is gone. The rootfs is unmounted as the monitor would have done on its way out;
    the caller still owns ``runtime.delete(id, force=True)`` (the runtime is not known here).
    """
    state = load(layout, container_id)
    if not _lost(state, container_id, proc):
        return state

    def mark(current: ContainerState) -> ContainerState:
        if not _lost(current, container_id, proc):
            return current
        unmount_below(layout.rootfs(container_id), syscalls=syscalls, proc=proc, include_self=True)
        return current.transition(
            ContainerStatus.EXITED, exit_code=LOST_EXIT_CODE, error=LOST_ERROR, pid=0, monitor_pid=0,
            finished_at=timefmt.now_rfc3339(),
        )

    return update(layout, container_id, mark)


def _lost(state: ContainerState, container_id: str, proc: str) -> bool:
    if not state.status.active:
        return False
    if state.monitor_pid and _monitor_alive(state.monitor_pid, container_id, proc):
        return False
    if state.pid and _started_near(state.pid, timefmt.parse_rfc3339(state.started_at), proc):
        return False
    return True


def _monitor_alive(pid: int, container_id: str, proc: str) -> bool:
    """The pid runs *our* monitor: its command line names the monitor and the container (pid reuse)."""
    try:
        with open(os.path.join(proc, str(pid), "cmdline"), "rb") as fh:
            argv = fh.read().split(b"\0")
    except OSError:
        return False
    return container_id.encode() in argv and any(b"monitor" in a for a in argv) and _not_zombie(pid, proc)


def _not_zombie(pid: int, proc: str) -> bool:
    stat = _proc_stat(pid, proc)
    return stat is not None and stat[0] not in ("Z", "X")


def _proc_stat(pid: int, proc: str) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name (index 0 is the state letter)."""
    try:
        with open(os.path.join(proc, str(pid), "stat"), "rb") as fh:
            raw = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    return raw[raw.rfind(")") + 2:].split()


def _started_near(pid: int, started_at: float | None, proc: str) -> bool:
    """The pid is alive and was started no later than just after *started_at* (a reused pid starts later)."""
    stat = _proc_stat(pid, proc)
    if stat is None or stat[0] in ("Z", "X"):
        return False
    if started_at is None:
        return True
    try:
        ticks = int(stat[19])  # field 22 (starttime), counted from the state letter (field 3)
        with open(os.path.join(proc, "stat"), "rb") as fh:
            btime = next(int(line.split()[1]) for line in fh if line.startswith(b"btime "))
        start = btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return True
    return start <= started_at + 2.0


# ------------------------------------------------------------------ removal
MNT_DETACH = 0x2


def remove_container_files(layout: Layout, container_id: str, *, syscalls: Syscalls | None = None,
                           proc: str = "/proc") -> None:
    """Remove everything of a container on disk: used by ``rm`` (service) and ``--rm`` (monitor).

    1. lazily unmount (``umount2(MNT_DETACH)``) every mount at or below the container directory, deepest
       first, and refuse to go on if one is left (``rmtree`` must never walk into a bind-mounted volume);
    2. rename the directory into ``<root>/tmp`` (it disappears atomically), drop the ``names/<name>`` links
       that point at it, then delete the renamed tree. Missing pieces are fine (idempotent).
    """
    cdir = layout.container_dir(container_id)
    unmount_below(cdir, syscalls=syscalls, proc=proc, include_self=True)
    trash = None
    if os.path.lexists(cdir):
        fs.ensure_dir(layout.tmp_dir)
        trash = os.path.join(layout.tmp_dir, f"removing-{container_id}-{os.getpid()}-{time.monotonic_ns()}")
        os.rename(cdir, trash)
    remove_name_links(layout, container_id)
    if trash:
        fs.rmtree(trash)


def remove_name_links(layout: Layout, container_id: str) -> None:
    """Unlink every ``names/<name>`` symlink whose target is ``../containers/<id>``."""
    try:
        entries = list(os.scandir(layout.names_dir))
    except FileNotFoundError:
        return
    for entry in entries:
        try:
            target = os.readlink(entry.path)
        except OSError:
            continue
        if os.path.basename(os.path.normpath(target)) == container_id:
            fs.remove_quietly(entry.path)


def mounts_below(path: str, *, proc: str = "/proc", include_self: bool = True) -> list[str]:
    """Mount points at (optionally) or below *path* in this mount namespace, deepest first."""
    prefix = path.rstrip("/") + "/"
    out = []
    try:
        with open(os.path.join(proc, "self", "mountinfo"), "rb") as fh:
            lines = fh.read().decode("utf-8", "surrogateescape").splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.split(" ")
        if len(fields) < 5:
            continue
        point = _unescape_mountinfo(fields[4])
        if point.startswith(prefix) or (include_self and point == path.rstrip("/")):
            out.append(point)
    return sorted(set(out), key=lambda p: (-p.count("/"), p))


def unmount_below(path: str, *, syscalls: Syscalls | None = None, proc: str = "/proc",
                  include_self: bool = True) -> None:
    """Detach every mount at/below *path*; raise ``EngineError`` naming the mount when one stays."""
    points = mounts_below(path, proc=proc, include_self=include_self)
    if not points:
        return
    if syscalls is None:
        from .syscalls import LinuxSyscalls

        syscalls = LinuxSyscalls()
    for point in points:
        try:
            syscalls.umount2(point, MNT_DETACH)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOENT):
                raise EngineError(f"cannot unmount {point}: {exc.strerror or exc}") from None
    left = mounts_below(path, proc=proc, include_self=include_self)
    if left:
        raise EngineError(f"cannot unmount {left[0]}: still mounted after umount2(MNT_DETACH)")


def _unescape_mountinfo(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as ``\\ooo``."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 4 <= len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)

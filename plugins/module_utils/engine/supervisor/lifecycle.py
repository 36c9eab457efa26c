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
* ``state.json`` is written temp + fsync + rename (as ``core.fs.atomic_write`` does). :func:`update` holds
  ``layout.container_lock(id)`` for the read-modify-write; code that already holds that lock uses
  :func:`load`/:func:`save` (a second ``flock`` from the same process would wait for itself).
* Who writes what: the service writes ``created``, ``manually_stopped``, ``paused``/``running`` for
  pause/unpause and ``removing``; the monitor writes ``running`` (pid, ``started_at``, ``monitor_pid``),
  ``health``, ``restarting`` and ``exited`` (exit code, ``oom_killed``, ``finished_at``). The monitor never
  overwrites ``removing``.
* Never wait for the monitor (its exit write, ``wait_exit``) while holding the container lock.

Lost monitors: when the monitor died but the container's init lives (:func:`orphaned`), the service starts
a replacement monitor that takes it over (``monitor_ops.adopt``); where it cannot, the error says
``UNSUPERVISED_ERROR`` and the container runs unsupervised. When (:func:`reconcile`) the state says the
container is active but neither the container's init nor its monitor is alive, nobody can know the exit
status any more. The container is
marked ``exited`` with exit code **255** and ``error: "monitor lost; exit status unknown"`` (255 is what
a shell reports for "exit status out of range", and it is never a real signal exit 128+N, so it cannot
be mistaken for an ordinary failure; the error text makes it visible in ``inspect``). Docker itself has
no equivalent because dockerd restores from containerd; ``podman`` marks such containers ``exited`` too.

Import cost: every monitor worker (start, exit, health) imports this module, so it follows the
start-path rule of ``runtime/__init__``: no ``typing`` at run time, ``engine.errors`` only when raising,
and neither ``enum``, ``dataclasses`` (``inspect``), ``json`` nor ``core.fs``/``core.locks`` (``shutil``,
``uuid``, ``contextlib``, ``typing``): together they cost ~35 ms per worker on the test hosts, more than
creating the container. So ``ContainerStatus`` is a ``str`` with fixed members (iteration, ``value``,
``name``, ``ContainerStatus("running")``, like a ``str`` enum) and ``ContainerState`` is a hand-written
frozen value class (``replace()``, ``==``, ``hash``, ``repr``, ``FIELDS``, like a frozen dataclass).
``state.json`` is written the way ``core.fs.atomic_write`` does it (temp + fsync + rename + fsync of the
directory) and locked with the same ``flock`` as ``core.locks.flock``, so both sides interoperate.
"""
from __future__ import annotations

import errno
import os
import time

from ..core import cjson, trust
from ..core.fs import atomic_write
from ..core.locks import flock
from ..core.value import Value
from .logs import parse_time, rfc3339_nano

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    from ..core.layout import Layout
    from ..runtime import Syscalls

#: Docker's "never" timestamp (``StartedAt`` of a container that never ran).
ZERO_TIME = "0001-01-01T00:00:00Z"
#: Exit code and error written when the monitor died and the container is gone (see module docstring).
LOST_EXIT_CODE = 255
LOST_ERROR = "monitor lost; exit status unknown"
#: Written while a running container's monitor is dead and could not be replaced (see :func:`orphaned`).
UNSUPERVISED_ERROR = "monitor lost; not replaced"
#: Same default as ``core.locks``.
DEFAULT_TIMEOUT = 600.0


def now_rfc3339() -> str:
    """Docker's timestamps (Go's RFC3339Nano, UTC)."""
    return rfc3339_nano(time.time_ns())


class _StatusType(type):
    """Makes the class iterable and ``ContainerStatus("running")`` return the member, as ``enum`` does."""

    _members: tuple[ContainerStatus, ...] = ()
    _by_value: dict[str, ContainerStatus] = {}

    def __iter__(cls) -> t.Iterator[ContainerStatus]:
        return iter(cls._members)

    def __len__(cls) -> int:
        return len(cls._members)

    def __call__(cls, value: str) -> ContainerStatus:  # type: ignore[override]
        try:
            return cls._by_value[value]
        except (KeyError, TypeError):
            raise ValueError(f"{value!r} is not a valid ContainerStatus") from None


class ContainerStatus(str, metaclass=_StatusType):
    """Docker's container statuses; members are the only instances (compare with ``is`` or ``==``)."""

    __slots__ = ()
    CREATED: ContainerStatus
    RUNNING: ContainerStatus
    PAUSED: ContainerStatus
    RESTARTING: ContainerStatus
    EXITED: ContainerStatus
    DEAD: ContainerStatus
    REMOVING: ContainerStatus

    @property
    def value(self) -> str:
        return str.__str__(self)

    @property
    def name(self) -> str:
        return self.value.upper()

    def __repr__(self) -> str:
        return f"<ContainerStatus.{self.name}: {self.value!r}>"

    def __reduce__(self) -> tuple[t.Any, ...]:
        return (ContainerStatus, (self.value,))

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


_members = tuple(str.__new__(ContainerStatus, v)
                 for v in ("created", "running", "paused", "restarting", "exited", "dead", "removing"))
for _m in _members:
    setattr(ContainerStatus, _m.name, _m)
_StatusType._members = _members
_StatusType._by_value = {m.value: m for m in _members}
del _m, _members

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
    from ..errors import InvalidState

    raise InvalidState(status.value, verb, name=name, message=message)


class ContainerState(Value):
    """``containers/<id>/state.json``, a frozen value. Times are RFC 3339 strings (``ZERO_TIME`` unset).

    ``health`` is None without a healthcheck, else ``{"Status": "starting"|"healthy"|"unhealthy",
    "FailingStreak": int, "Log": [{"Start", "End", "ExitCode", "Output"}, ... last 5]}`` (Docker's shape).
    """

    FIELDS = ("status", "pid", "exit_code", "oom_killed", "error", "started_at", "finished_at", "restart_count",
              "manually_stopped", "health", "monitor_pid")
    __slots__ = _fields = FIELDS
    _defaults = {"status": ContainerStatus.CREATED, "pid": 0, "exit_code": 0, "oom_killed": False, "error": "",
                 "started_at": ZERO_TIME, "finished_at": ZERO_TIME, "restart_count": 0,
                 "manually_stopped": False, "health": None, "monitor_pid": 0}

    status: ContainerStatus
    pid: int
    exit_code: int
    oom_killed: bool
    error: str
    started_at: str
    finished_at: str
    restart_count: int
    manually_stopped: bool
    health: dict[str, t.Any] | None
    monitor_pid: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", ContainerStatus(self.status))

    def to_dict(self) -> dict[str, t.Any]:
        out = {name: getattr(self, name) for name in self.FIELDS}
        out["status"] = self.status.value
        if self.health is not None:
            out["health"] = cjson.loads(cjson.dumps(self.health))  # a deep copy, as dataclasses.asdict makes
        return out

    @classmethod
    def from_dict(cls, data: t.Mapping[str, t.Any]) -> ContainerState:
        """Tolerant: unknown keys are ignored, missing ones take their defaults."""
        return cls(**{k: v for k, v in data.items() if k in cls.FIELDS})

    def transition(self, status: ContainerStatus, **changes: t.Any) -> ContainerState:
        """A copy in *status* (with *changes*); :class:`InvalidState` when the transition is not allowed."""
        if not self.status.can_become(status):
            from ..errors import InvalidState

            raise InvalidState(self.status.value, status.value)
        return self.replace(status=status, **changes)

    @property
    def running(self) -> bool:
        return self.status.active


# ------------------------------------------------------------------ persistence
def load(layout: Layout, container_id: str) -> ContainerState:
    path = layout.container_state(container_id)
    try:
        raw = trust.read_trusted(path, "container state")
    except FileNotFoundError:
        from ..errors import NotFound

        raise NotFound("container", container_id) from None
    try:
        return ContainerState.from_dict(cjson.loads(raw))
    except (TypeError, ValueError, AttributeError) as exc:
        from ..errors import EngineError

        raise EngineError(f"corrupt container state {path}: {exc}") from None


def save(layout: Layout, container_id: str, state: ContainerState, durable: bool = True) -> None:
    """Atomically (:func:`core.fs.atomic_write`: temporary file, fsync, rename, fsync of the directory).

    ``durable=False`` leaves out both fsyncs (~1-4 ms on the test hosts): for ``--rm`` containers, which
    are deleted when they exit and are garbage after a crash of the host anyway (Docker removes them
    when its daemon starts again)."""
    atomic_write(layout.container_state(container_id), cjson.dumps(state.to_dict()) + "\n", fsync=durable)


class _ContainerLock(flock):
    """The container lock; released on a container that no longer exists, its file goes too.

    :func:`discard_container` unlinks the lock file, but whoever looked the container up before the
    removal and locks it after opens (``O_CREAT``) a new one: without this, such a ``stop`` racing an
    ``rm`` (or a monitor's late exit) would leave ``locks/container-<id>.lock`` behind for good."""

    __slots__ = ("container_dir",)

    def __init__(self, path: str, container_dir: str, timeout: float | None) -> None:
        super().__init__(path, timeout=timeout)
        self.container_dir = container_dir

    def __exit__(self, *exc: t.Any) -> None:
        try:
            if not os.path.isdir(self.container_dir):
                os.unlink(self.path)  # still held: a waiter gets the unlinked file and finds the container gone
        except FileNotFoundError:
            pass
        finally:
            super().__exit__(*exc)


def locked(layout: Layout, container_id: str, timeout: float | None = DEFAULT_TIMEOUT) -> flock:
    """``with locked(layout, id):`` holds the container lock (``LockTimeout`` after *timeout* seconds)."""
    os.makedirs(layout.locks_dir, 0o700, exist_ok=True)
    return _ContainerLock(layout.container_lock(container_id), layout.container_dir(container_id), timeout)


def update(
    layout: Layout,
    container_id: str,
    fn: t.Callable[[ContainerState], ContainerState],
    timeout: float | None = DEFAULT_TIMEOUT,
) -> ContainerState:
    """Read, ``fn(state)``, write (only when changed), all under ``layout.container_lock(id)``."""
    with locked(layout, container_id, timeout):
        current = load(layout, container_id)
        new = fn(current)
        if new != current:
            save(layout, container_id, new)
        return new


# ------------------------------------------------------------------ restart policy
RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")


def should_restart(policy: str, max_retries: int, exit_code: int, manually_stopped: bool,
                   restart_count: int) -> bool:
    """Docker's restart manager: a manual stop always wins; ``on-failure`` restarts a non-zero exit while
    ``restart_count < max_retries`` (0 = no limit); ``always``/``unless-stopped`` restart any exit."""
    if manually_stopped:
        return False
    if policy in ("always", "unless-stopped"):
        return True
    if policy == "on-failure":
        return exit_code != 0 and (max_retries <= 0 or restart_count < max_retries)
    return False


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
        # moby's Health.CloseMonitorChannel: a container whose health monitor has stopped is "unhealthy".
        out["Health"] = {
            "Status": h.get("Status", "starting") if s in (ContainerStatus.RUNNING, ContainerStatus.PAUSED)
            else "unhealthy",
            "FailingStreak": int(h.get("FailingStreak", 0)),
            "Log": [dict(e) for e in h.get("Log") or []],
        }
    return out


# ------------------------------------------------------------------ lost monitors
def reconcile(layout: Layout, container_id: str, *, proc: str = "/proc",
              syscalls: Syscalls | None = None) -> ContainerState:
    """Mark an active container whose init and monitor are both gone as exited (code 255, said so).

    A dead monitor with a live container changes nothing here (the service replaces the monitor: see
    :func:`orphaned`); one that could not be replaced is reconciled once the container is gone. The rootfs
    is unmounted as the monitor would have done on its way out; the caller still owns
    ``runtime.delete(id, force=True)`` (the runtime is not known here).
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
            finished_at=now_rfc3339(),
        )

    return update(layout, container_id, mark)


def orphaned(state: ContainerState, container_id: str, *, proc: str = "/proc") -> bool:
    """The container runs (its init is alive) but its monitor is dead: a replacement monitor should take
    it over (``monitor_ops.adopt``), unless one could not already (``UNSUPERVISED_ERROR`` recorded)."""
    if state.status not in (ContainerStatus.RUNNING, ContainerStatus.PAUSED) or not state.pid:
        return False
    if state.error.startswith(UNSUPERVISED_ERROR):
        return False
    if state.monitor_pid and monitor_alive(state.monitor_pid, container_id, proc):
        return False
    started = parse_time(state.started_at) if state.started_at != ZERO_TIME else None
    return _started_near(state.pid, started, proc)


def _lost(state: ContainerState, container_id: str, proc: str) -> bool:
    if not state.status.active:
        return False
    if state.monitor_pid and monitor_alive(state.monitor_pid, container_id, proc):
        return False
    started = parse_time(state.started_at) if state.started_at != ZERO_TIME else None
    if state.pid and _started_near(state.pid, started, proc):
        return False
    return True


def monitor_alive(pid: int, container_id: str, proc: str = "/proc") -> bool:
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
    2. :func:`discard_container` (it disappears atomically, its names are dropped), then delete the renamed
       tree. Missing pieces are fine (idempotent).
    """
    from ..core import fs

    unmount_below(layout.container_dir(container_id), syscalls=syscalls, proc=proc, include_self=True)
    trash = discard_container(layout, container_id)
    if trash:
        fs.rmtree(trash)


def orphan_volumes(layout: Layout, container_id: str, names: t.Iterable[str]) -> None:
    """``--rm``: just before the monitor removes its container, mark the container's anonymous volumes
    (``layout.volume_orphaned``, holding the container's ID); once the container is gone, the volume component
    removes them at its next use unless another container mounts them (``volumes/local.py``,
    ``LocalVolumes.remove_orphans``). The monitor stays light: no scan of the other containers, no volume code."""
    data = container_id.encode()
    for name in names:
        try:
            fd = os.open(layout.volume_orphaned(name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600)
        except OSError:  # removed meanwhile
            continue
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


def discard_container(layout: Layout, container_id: str) -> str | None:
    """Make the container disappear at once: rename its directory into ``<root>/tmp`` and unlink the
    ``names/<name>`` links that point at it. Returns the renamed directory, which the caller unmounts
    (mounts move with it) and deletes; None when the directory was gone already."""
    cdir = layout.container_dir(container_id)
    trash = None
    if os.path.lexists(cdir):
        trash = os.path.join(layout.tmp_dir, f"removing-{container_id}-{os.getpid()}-{time.monotonic_ns()}")
        try:
            try:
                os.rename(cdir, trash)
            except FileNotFoundError:
                os.makedirs(layout.tmp_dir, 0o755, exist_ok=True)
                os.rename(cdir, trash)
        except FileNotFoundError:  # removed concurrently (the service's rm and the monitor's --rm)
            trash = None
    remove_name_links(layout, container_id)
    # The lock file goes too (one per container would pile up for good). Whoever holds or waits on it
    # keeps the unlinked inode: the container is gone, so all they can still do is find that out.
    try:
        os.unlink(layout.container_lock(container_id))
    except FileNotFoundError:
        pass
    return trash


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
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                pass


def mounts_below(path: str, *, proc: str = "/proc", include_self: bool = True) -> list[str]:
    """Mount points at (optionally) or below *path* in this mount namespace, deepest first."""
    from ..runtime import unescape_mountinfo

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
        point = unescape_mountinfo(fields[4])
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
        from ..runtime import LinuxSyscalls

        syscalls = LinuxSyscalls()
    for point in points:
        try:
            syscalls.umount2(point, MNT_DETACH)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOENT):
                from ..errors import EngineError

                raise EngineError(f"cannot unmount {point}: {exc.strerror or exc}") from None
    left = mounts_below(path, proc=proc, include_self=include_self)
    if left:
        from ..errors import EngineError

        raise EngineError(f"cannot unmount {left[0]}: still mounted after umount2(MNT_DETACH)")

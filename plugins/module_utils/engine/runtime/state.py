# SPDX-License-Identifier: GPL-3.0-or-later
"""The runtime's own container state (``<state root>/<id>/``, like ``/run/runc/<id>``) and OCI hooks.

Files in a container's state directory::

    state.json   RuntimeState: id, init pid + its start time, bundle, rootfs, created, cgroups path,
                 the spec it was created from; written once at create (temp file + rename)
    exec.fifo    exists from create until start (``start`` reads it; its presence means "created")

The status is never stored; it is computed (runc ``state_linux.go``):

    stopped   the init pid is gone, a zombie, or a different process (start time differs)
    created   the init is alive and exec.fifo still exists
    paused    alive and the cgroup freezer says FROZEN
    running   otherwise

Each verb checks its guard (:data:`ALLOWED`) before acting and refuses with ``InvalidState(current,
wanted)`` naming the container, the verb and the current status.
"""
from __future__ import annotations

import os

from ..core import trust
from .sync import dumps, loads

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t  # noqa: F401

OCI_VERSION = "1.0.2"

CREATING = "creating"
CREATED = "created"
RUNNING = "running"
PAUSED = "paused"
STOPPED = "stopped"

#: verb -> statuses it is allowed from (runc's state pattern, flattened).
ALLOWED = {
    "start": (CREATED,),
    "kill": (CREATED, RUNNING, PAUSED),
    "pause": (RUNNING,),
    "resume": (PAUSED,),
    "exec": (CREATED, RUNNING),
    "update": (CREATED, RUNNING, PAUSED),
    "delete": (STOPPED, CREATED),  # anything else needs force
}

STATE_FILE = "state.json"
FIFO = "exec.fifo"


def can(verb: str, status: str) -> bool:
    return status in ALLOWED[verb]


def failure(container_id: str, step: str, reason: str, status: str | None = None,
            errno: int | None = None) -> Exception:
    """A RuntimeFailure (``engine.errors`` is imported only when something fails)."""
    from ..errors import RuntimeFailure

    return RuntimeFailure(container_id, step, reason, status=status, errno=errno)


def guard(container_id: str, verb: str, status: str) -> None:
    """Raise InvalidState (``cannot start container X: it is running``) unless *verb* is allowed."""
    if not can(verb, status):
        from ..errors import InvalidState

        raise InvalidState(status, verb, container_id)


class RuntimeState:
    """What ``create`` records; everything else is derived from the live system."""

    __slots__ = ("id", "pid", "pid_start", "bundle", "rootfs", "created", "annotations", "cgroups_path",
                 "config", "owner")

    def __init__(self, id: str, pid: int, pid_start: int, bundle: str, rootfs: str, created: str,
                 annotations: dict, cgroups_path: str, config: dict, owner: str = "") -> None:
        self.id = id
        self.pid = pid
        self.pid_start = pid_start
        self.bundle = bundle
        self.rootfs = rootfs
        self.created = created
        self.annotations = annotations
        self.cgroups_path = cgroups_path
        self.config = config
        self.owner = owner

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}

    @classmethod
    def from_dict(cls, d: dict) -> RuntimeState:
        return cls(**{k: d.get(k) for k in cls.__slots__})

    def oci(self, status: str) -> dict:
        """The OCI runtime state document."""
        return {
            "ociVersion": self.config.get("ociVersion") or OCI_VERSION,
            "id": self.id,
            "status": status,
            "pid": self.pid if status != STOPPED else 0,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
            "annotations": self.annotations or {},
        }


def state_dir(root: str, container_id: str) -> str:
    return os.path.join(root, container_id)


def save(root: str, st: RuntimeState) -> None:
    """Atomic write (temp + rename). No fsync: the state root is a tmpfs (/run) like runc's."""
    directory = state_dir(root, st.id)
    path = os.path.join(directory, STATE_FILE)
    tmp = os.path.join(directory, f".{STATE_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        data = dumps(st.to_dict()).encode()
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    os.rename(tmp, path)


def load(root: str, container_id: str) -> RuntimeState:
    path = os.path.join(state_dir(root, container_id), STATE_FILE)
    try:
        return RuntimeState.from_dict(loads(trust.read_trusted(path, "runtime state")))
    except FileNotFoundError:
        from ..errors import NotFound

        raise NotFound("container", container_id) from None


def list_ids(root: str) -> list[str]:
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if os.path.isfile(os.path.join(root, n, STATE_FILE)))


def pid_start_time(pid: int, proc: str = "/proc") -> int | None:
    """Start time (clock ticks since boot) of a live, non-zombie *pid*; None otherwise."""
    try:
        with open(f"{proc}/{pid}/stat", "rb") as fh:
            data = fh.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def pid_alive(pid: int, start: int | None, proc: str = "/proc") -> bool:
    now = pid_start_time(pid, proc)
    return now is not None and (start is None or now == start)


def now_rfc3339() -> str:
    import time

    t_ = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t_)) + f".{int((t_ % 1) * 1e9):09d}Z"


# ---------------------------------------------------------------- hooks
class HookFailed(Exception):
    def __init__(self, kind: str, index: int, path: str, reason: str) -> None:
        super().__init__(f"{kind} hook #{index} {path}: {reason}")
        self.kind = kind
        self.path = path
        self.reason = reason


def run_hooks(kind: str, hooks: t.Sequence[dict] | None, state: dict) -> None:
    """Run OCI hooks in order with the state JSON on stdin; the first failure raises HookFailed."""
    if not hooks:
        return
    import subprocess

    payload = dumps(state).encode()
    for i, hook in enumerate(hooks):
        path = hook.get("path") or ""
        args = list(hook.get("args") or [path])
        env = dict(e.partition("=")[::2] for e in hook.get("env") or ())
        timeout = hook.get("timeout")
        try:
            proc = subprocess.run(args, executable=path, input=payload, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=timeout or None, close_fds=True, check=False)
        except subprocess.TimeoutExpired:
            raise HookFailed(kind, i, path, f"timed out after {timeout}s") from None
        except OSError as exc:
            raise HookFailed(kind, i, path, exc.strerror or str(exc)) from None
        if proc.returncode != 0:
            err = (proc.stderr or proc.stdout or b"").decode(errors="replace").strip()
            raise HookFailed(kind, i, path, f"exit status {proc.returncode}" + (f": {err}" if err else ""))

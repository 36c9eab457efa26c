# SPDX-License-Identifier: GPL-3.0-or-later
""":class:`ExternalRuntime`: the ``OciRuntime`` protocol of ``oci.py`` over a runc-compatible binary (``runc``,
``crun``, ``bin/berth-runtime``), one command per call.

On the start path (the monitor's starter creates a runc or crun container through it): no typing at
import time, ``subprocess`` and ``tempfile`` imported by the calls that run a command (:meth:`preload`
imports them early).
"""
from __future__ import annotations

import os

from . import sync
from .procs import SIGKILL, is_child, reap, reap_within

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


class ExternalRuntime:
    """The same interface, driving a runc-compatible binary (``runc``, ``crun``, ``bin/berth-runtime``).

    crun 1.8 refuses hybrid cgroup hosts (v1 controllers + a cgroup2 mount with controllers); there it
    runs in a private mount namespace where an empty file hides ``unified/cgroup.controllers``
    (see PEERS.md), which is what :meth:`_argv` arranges.
    """

    def __init__(self, binary: str, state_root: str, extra_args: t.Sequence[str] = (),
                 cgroup_root: str = "/sys/fs/cgroup") -> None:
        from ..core.fs import which

        path = binary if "/" in binary else which(binary)
        if not path:
            from ..errors import MissingDependency

            raise MissingDependency(binary, "ExternalRuntime", "install it or give its path")
        self.binary = path
        self.root = os.path.abspath(state_root)
        self.extra_args = list(extra_args)
        self.cgroup_root = cgroup_root
        self._wrap: list[str] | None = None

    def preload(self) -> None:
        """Import what :meth:`create` will (see BerthRuntime.preload): ~11 ms of subprocess and tempfile."""
        import subprocess  # noqa: F401
        import tempfile  # noqa: F401

        from . import netns  # noqa: F401

    # ------------------------------------------------------------------ plumbing
    def _needs_hybrid_workaround(self) -> bool:
        if os.path.basename(self.binary) != "crun":
            return False
        controllers = os.path.join(self.cgroup_root, "unified", "cgroup.controllers")
        if os.path.isfile(os.path.join(self.cgroup_root, "cgroup.controllers")) or not os.path.isfile(controllers):
            return False
        try:
            with open(controllers) as fh:
                return bool(fh.read().strip())
        except OSError:
            return False

    def _argv(self, args: t.Sequence[str]) -> list[str]:
        if self._wrap is None:
            self._wrap = []
            if self._needs_hybrid_workaround():
                os.makedirs(self.root, 0o711, exist_ok=True)
                empty = os.path.join(self.root, ".empty-cgroup-controllers")
                if not os.path.exists(empty):
                    open(empty, "w").close()
                controllers = os.path.join(self.cgroup_root, "unified", "cgroup.controllers")
                script = 'mount --bind "$1" "$2" && shift 2 && exec "$@"'
                self._wrap = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", empty,
                              controllers]
        return self._wrap + [self.binary, "--root", self.root, *self.extra_args, *args]

    def _run(self, container_id: str, verb: str, args: t.Sequence[str], *,
             stdio: tuple[int, int, int] | None = None, detached_io: bool = False) -> t.Any:
        """Run one command; errors come from stderr, or from ``--log`` when the container inherits our
        stdio (*detached_io*: create/exec, whose init would keep a captured pipe open forever)."""
        import subprocess
        import tempfile

        log = None
        if detached_io:
            fd, log = tempfile.mkstemp(prefix=".log-", dir=_ensure(self.root))
            os.close(fd)
            io = stdio or (subprocess.DEVNULL, subprocess.DEVNULL, subprocess.DEVNULL)
            argv = self._argv(["--log", log, "--log-format", "json", *args])
            kwargs: dict[str, t.Any] = {"stdin": io[0], "stdout": io[1], "stderr": io[2]}
        else:
            argv = self._argv(args)
            kwargs = {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        try:
            proc = subprocess.run(argv, **kwargs, check=False)
            if proc.returncode != 0:
                msg = _log_errors(log) if log else (proc.stderr or b"").decode(errors="replace").strip()
                raise self._failure(container_id, verb, msg or f"exit status {proc.returncode}")
            return proc
        finally:
            if log:
                try:
                    os.unlink(log)
                except OSError:
                    pass

    def _failure(self, container_id: str, verb: str, msg: str) -> Exception:
        from .. import errors

        low = msg.lower()
        # runc: "container does not exist"; berth-runtime: "No such container: ID";
        # crun: "error opening file `<root>/<id>/status`: No such file or directory"
        if container_id and ("does not exist" in low or "no such container" in low
                             or ("no such file" in low and f"/{container_id}/" in msg)):
            return errors.NotFound("container", container_id)
        return errors.RuntimeFailure(container_id, verb, f"{os.path.basename(self.binary)}: {msg}")

    # ------------------------------------------------------------------ protocol
    def create(self, container_id: str, bundle: str, *, stdio: tuple[int, int, int] | None = None,
               console_socket: str | None = None, pid_file: str | None = None) -> int:
        import tempfile

        args = ["create", "--bundle", os.path.abspath(bundle)]
        own_pid_file = None
        if pid_file is None:
            fd, own_pid_file = tempfile.mkstemp(prefix=".pid-", dir=_ensure(self.root))
            os.close(fd)
            pid_file = own_pid_file
        args += ["--pid-file", os.path.abspath(pid_file)]
        if console_socket:
            args += ["--console-socket", console_socket]
        try:
            self._run(container_id, "create", [*args, container_id], stdio=stdio, detached_io=True)
            pid = _read_pid(pid_file)
            # runc and crun leave a new network namespace's loopback down; Berth's init brings it up.
            from . import netns

            with open(os.path.join(bundle, "config.json"), "rb") as fh:
                spec = sync.loads(fh.read())
            if netns.creates_netns(spec):
                netns.loopback_up_in(pid)
            return pid
        finally:
            if own_pid_file:
                try:
                    os.unlink(own_pid_file)
                except OSError:
                    pass

    def start(self, container_id: str) -> None:
        self._run(container_id, "start", ["start", container_id])

    def state(self, container_id: str) -> dict:
        proc = self._run(container_id, "state", ["state", container_id])
        return sync.loads(proc.stdout)

    def kill(self, container_id: str, sig: int = 15, all: bool = False) -> None:
        self._run(container_id, "kill", ["kill", *(["--all"] if all else []), container_id, str(sig)])

    def delete(self, container_id: str, force: bool = False) -> None:
        args = ["delete", *(["--force"] if force else []), container_id]
        if not force:
            self._run(container_id, "delete", args)
            return
        pid = 0
        try:
            pid = int(self.state(container_id).get("pid") or 0)
        except Exception:  # noqa: BLE001 - gone or unreadable: delete says which
            pass
        if pid and reap(pid, wait=False) is None and is_child(pid):
            # Our child (we are its subreaper): kill and reap it ourselves, or the binary would see
            # its zombie "still running" and wait for it. A paused (frozen) init only dies once thawed.
            try:
                os.kill(pid, SIGKILL)
            except OSError:
                pass
            if not reap_within(pid, 1.0):
                try:
                    self._run(container_id, "resume", ["resume", container_id])
                except Exception:  # noqa: BLE001 - not paused, or already gone
                    pass
                reap_within(pid, 2.0)
        self._run(container_id, "delete", args)

    def exec(self, container_id: str, process: dict, *, stdio: tuple[int, int, int] | None = None,
             console_socket: str | None = None, detach: bool = False, pid_file: str | None = None) -> int:
        """``exec --detach --process``: the binary forks the process and exits; returns its pid."""
        import tempfile

        fd, proc_path = tempfile.mkstemp(prefix=".process-", suffix=".json", dir=_ensure(self.root))
        with os.fdopen(fd, "w") as fh:
            fh.write(sync.dumps(process))
        fd, own_pid = tempfile.mkstemp(prefix=".pid-", dir=self.root)
        os.close(fd)
        args = ["exec", "--process", proc_path, "--detach", "--pid-file", pid_file or own_pid]
        if console_socket:
            args += ["--console-socket", console_socket]
        try:
            self._run(container_id, "exec", [*args, container_id], stdio=stdio, detached_io=True)
            return _read_pid(pid_file or own_pid)
        finally:
            for p in (proc_path, own_pid):
                try:
                    os.unlink(p)
                except OSError:
                    pass

    def pause(self, container_id: str) -> None:
        self._run(container_id, "pause", ["pause", container_id])

    def resume(self, container_id: str) -> None:
        self._run(container_id, "resume", ["resume", container_id])

    def update(self, container_id: str, resources: dict) -> None:
        """``update --resources FILE``: runc and crun read OCI ``linux.resources`` from a file (crun has no
        ``-`` for stdin)."""
        import tempfile

        fd, path = tempfile.mkstemp(prefix=".resources-", suffix=".json", dir=_ensure(self.root))
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(sync.dumps(resources))
            self._run(container_id, "update", ["update", "--resources", path, container_id])
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass

    def list(self) -> list[dict]:
        proc = self._run("", "list", ["list", "--format", "json"])
        out = sync.loads(proc.stdout or b"null")
        return list(out or [])


def _read_pid(path: str) -> int:
    """The PID an external runtime wrote to *path* (the engine signals it: root's file only)."""
    from ..core import trust

    return int(trust.read_trusted(path, "pid file").strip())


def _log_errors(path: str) -> str:
    """The error lines of a runc-style ``--log`` file (JSON lines or text)."""
    try:
        with open(path, "rb") as fh:
            lines = fh.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    out = []
    for line in lines:
        try:
            rec = sync.loads(line)
        except ValueError:
            rec = None
        if isinstance(rec, dict):
            if rec.get("level") in ("error", "fatal", "panic"):
                out.append(str(rec.get("msg", "")))
        elif "level=error" in line or line.strip():
            out.append(line.strip())
    return "; ".join(o for o in out if o)


def _ensure(path: str) -> str:
    os.makedirs(path, 0o711, exist_ok=True)
    return path

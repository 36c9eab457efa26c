# SPDX-License-Identifier: GPL-3.0-or-later
"""OCI runtimes: :class:`BerthRuntime` (in-process) here, :class:`ExternalRuntime` (runc, crun, berth-runtime)
in ``external.py``.

Both implement the ``OciRuntime`` protocol of ``docs/dev/runtime-design.md``::

    create(id, bundle, *, stdio=None, console_socket=None, pid_file=None) -> pid of the init
    start(id); state(id) -> OCI state dict; kill(id, sig=15, all=False); delete(id, force=False)
    exec(id, process, *, stdio=None, console_socket=None, detach=False) -> pid
    pause(id); resume(id); list() -> [OCI state dict]
    update(id, resources): ``runc update --resources``, the cgroup limits of a container in place

Process model of :meth:`BerthRuntime.create` (protocol in ``sync.py``): the caller forks an
intermediate child that enters the namespaces; with a PID namespace it forks the init and exits, so
the init is re-parented to the nearest *child subreaper*. **Callers that want to wait for the
container (the monitor, ``berth-runtime run``) must set ``PR_SET_CHILD_SUBREAPER`` first**; otherwise
the init becomes a child of the host's PID 1, exactly like with ``runc create``. Without a PID
namespace the init is the caller's own child. :meth:`BerthRuntime.exec` sets the subreaper flag on
the calling process itself when it has to join a PID namespace, so the returned pid is waitable.

With ``stdio=(in, out, err)`` the init uses those fds as 0/1/2; otherwise it inherits the caller's.
"""
from __future__ import annotations

import os

from . import init as _init
from . import namespaces
from . import state as _state
from . import sync
from .cgroups.resources import cgroup_resources
from .procs import SIGKILL, reap
from .state import CREATED, PAUSED, RUNNING, STOPPED, RuntimeState

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t  # noqa: F401

    from .syscalls import Syscalls

    class OciRuntime(t.Protocol):
        def create(self, container_id: str, bundle: str, *, stdio: tuple[int, int, int] | None = None,
                   console_socket: str | None = None, pid_file: str | None = None) -> int: ...

        def start(self, container_id: str) -> None: ...
        def state(self, container_id: str) -> dict: ...
        def kill(self, container_id: str, sig: int = 15, all: bool = False) -> None: ...
        def delete(self, container_id: str, force: bool = False) -> None: ...
        def exec(self, container_id: str, process: dict, *, stdio: tuple[int, int, int] | None = None,
                 console_socket: str | None = None, detach: bool = False) -> int: ...

        def pause(self, container_id: str) -> None: ...
        def resume(self, container_id: str) -> None: ...
        def list(self) -> list[dict]: ...
        def update(self, container_id: str, resources: dict) -> None: ...

DEFAULT_ROOT = "/run/berth-runtime"
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")


def check_id(container_id: str) -> None:
    """runc's rule: ``^[\\w+\\-.]+$`` and not ``.``/``..``."""
    if not container_id or container_id in (".", "..") or not set(container_id) <= _ID_CHARS \
            or len(container_id) > 1024:
        from ..errors import InvalidOption

        raise InvalidOption("id", container_id, "container IDs use only letters, digits and _ + - .")


def _without_env(spec: dict) -> dict:
    """*spec* without ``process.env`` for the state file: the environment may hold secrets (``secret_env``),
    which stay in the bundle's root-only config.json alone."""
    process = spec.get("process")
    if not isinstance(process, dict) or "env" not in process:
        return spec
    return {**spec, "process": {k: v for k, v in process.items() if k != "env"}}


def load_spec(bundle: str) -> dict:
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        from ..errors import InvalidOption

        raise InvalidOption("bundle", bundle, f"cannot read {path}: {exc.strerror}") from None
    try:
        return sync.loads(data)
    except ValueError as exc:
        from ..errors import InvalidOption

        raise InvalidOption("bundle", bundle, f"{path} is not valid JSON: {exc}") from None


def set_subreaper(syscalls: Syscalls | None = None) -> None:
    """Make the calling process the reaper of its orphaned descendants (PR_SET_CHILD_SUBREAPER)."""
    from .syscalls import PR_SET_CHILD_SUBREAPER, LinuxSyscalls

    (syscalls or LinuxSyscalls()).prctl(PR_SET_CHILD_SUBREAPER, 1)


class BerthRuntime:
    """The runtime, in-process. *cgroups* is a factory ``(cgroups_path) -> CgroupManager``
    (default ``cgroups.detect.manager``); *security*/*seccomp* replace those modules in tests."""

    def __init__(self, state_root: str = DEFAULT_ROOT, syscalls: Syscalls | None = None,
                 cgroups: t.Callable[[str], t.Any] | None = None, security: t.Any = None, seccomp: t.Any = None,
                 timeout: float = 60.0, warn: t.Callable[[str], None] | None = None) -> None:
        self.root = os.path.abspath(state_root)
        self._syscalls = syscalls
        self._cgroups = cgroups
        self._security = security
        self._seccomp = seccomp
        self.timeout = timeout
        self.warn = warn or (lambda msg: None)
        self._managers: dict[str, t.Any] = {}

    # ------------------------------------------------------------------ helpers
    @property
    def syscalls(self) -> Syscalls:
        if self._syscalls is None:
            from .syscalls import LinuxSyscalls

            self._syscalls = LinuxSyscalls()
        return self._syscalls

    def cgroup(self, cgroups_path: str) -> t.Any:
        """The manager of a container cgroup (kept per path for the life of this object)."""
        mgr = self._managers.get(cgroups_path)
        if mgr is None:
            if self._cgroups is None:
                from .cgroups import detect

                self._cgroups = detect.manager
            mgr = self._managers[cgroups_path] = self._cgroups(cgroups_path)
        return mgr

    def preload(self) -> None:
        """Import what :meth:`create` will (the monitor's starter does this while its caller still writes
        the bundle: the time then overlaps)."""
        from . import netns, seccomp, security, validate  # noqa: F401  (netns: the init's loopback, ~3 ms)
        if self._cgroups is None:
            from .cgroups import detect

            try:
                kind = detect.layout()
            except Exception:  # noqa: BLE001  (create reports it)
                return
            if kind == "v2":
                from .cgroups import v2  # noqa: F401
            else:
                from .cgroups import v1  # noqa: F401

    def _deps(self) -> _init.Deps:
        # '@' cannot be in a container ID: the cache never shadows a container's state directory
        return _init.Deps(self.syscalls, self._security, self._seccomp, os.path.join(self.root, "@seccomp"))

    def _load(self, container_id: str) -> RuntimeState:
        check_id(container_id)
        return _state.load(self.root, container_id)

    def _status(self, st: RuntimeState, mgr: t.Any = None) -> str:
        if not _state.pid_alive(st.pid, st.pid_start):
            return STOPPED
        if os.path.exists(os.path.join(self.root, st.id, _state.FIFO)):
            return CREATED
        try:
            if (mgr or self.cgroup(st.cgroups_path)).frozen():
                return PAUSED
        except Exception:  # noqa: BLE001  (no freezer: cannot be paused)
            pass
        return RUNNING

    # ------------------------------------------------------------------ create
    def create(self, container_id: str, bundle: str, *, stdio: tuple[int, int, int] | None = None,
               console_socket: str | None = None, pid_file: str | None = None, no_pivot: bool = False,
               preserve_fds: int = 0) -> int:
        check_id(container_id)
        bundle = os.path.abspath(bundle)
        spec = load_spec(bundle)
        from . import validate

        validate.check(spec, bundle)
        linux = spec.get("linux") or {}
        if spec["process"].get("terminal") and not console_socket:
            from ..errors import InvalidOption

            raise InvalidOption("console_socket", None, "process.terminal is set: a console socket is required")
        os.makedirs(self.root, 0o711, exist_ok=True)
        sdir = _state.state_dir(self.root, container_id)
        try:
            os.mkdir(sdir, 0o711)
        except FileExistsError:
            from ..errors import Conflict

            raise Conflict(f"container with id {container_id} already exists (state in {sdir})") from None
        root_path = spec["root"]["path"]
        rootfs_path = os.path.realpath(root_path if os.path.isabs(root_path) else os.path.join(bundle, root_path))
        cgroups_path = linux.get("cgroupsPath") or "/" + container_id
        plan = namespaces.plan(linux.get("namespaces"))
        mgr = None
        pid = init_pid = 0
        fds: list[int] = []
        chan = pipes = None
        try:
            mgr = self.cgroup(cgroups_path)
            mgr.create()
            mgr.apply(cgroup_resources(linux.get("resources")))
            fifo = os.path.join(sdir, _state.FIFO)
            os.mkfifo(fifo, 0o622)
            os.chmod(fifo, 0o622)
            fifo_fd = os.open(fifo, os.O_PATH | os.O_CLOEXEC)
            fds.append(fifo_fd)
            console_fd = _connect_console(console_socket) if console_socket else None
            if console_fd is not None:
                fds.append(console_fd)
            cfg = _init.InitConfig(container_id, spec, bundle, rootfs_path, plan, fifo_fd=fifo_fd,
                                   console_fd=console_fd, stdio=stdio, no_pivot=no_pivot, preserve_fds=preserve_fds)
            cfg.cgroups_path = cgroups_path
            deps = self._deps()
            deps.preload(spec)
            pipes = sync.Pipes()
            pid = os.fork()
            if pid == 0:  # pragma: no cover  (the child never returns)
                _init.run_child(cfg, pipes, deps)
            chan = pipes.parent(self.timeout)
            for fd in fds:
                os.close(fd)
            fds = []
            mgr.add_pid(pid)
            chan.send(sync.Msg.GO)
            if plan.new_user:
                chan.expect(sync.Msg.USERNS_READY)
                write_id_maps(pid, linux)
                chan.send(sync.Msg.MAPPINGS_DONE)
            init_pid = int(chan.expect(sync.Msg.PID)["pid"])
            if init_pid != pid:
                reap(pid)
            st = RuntimeState(container_id, init_pid, _state.pid_start_time(init_pid) or 0, bundle, rootfs_path,
                              _state.now_rfc3339(), spec.get("annotations") or {}, cgroups_path,
                              _without_env(spec))
            hooks = spec.get("hooks") or {}
            while True:
                kind, payload = chan.recv("the container init")
                if kind == sync.Msg.CREATED:
                    break
                if kind == sync.Msg.HOOKS:
                    hook_state = st.oci(_state.CREATING)
                    _state.run_hooks("prestart", hooks.get("prestart"), hook_state)
                    _state.run_hooks("createRuntime", hooks.get("createRuntime"), hook_state)
                    chan.send(sync.Msg.HOOKS_DONE)
                elif kind == sync.Msg.ERROR:
                    raise sync.ChildError(payload or {})
                else:
                    raise sync.SyncError(f"protocol error: unexpected {sync.Msg.NAMES.get(kind, kind)}")
            _state.save(self.root, st)
            if pid_file:
                _write_pid_file(pid_file, init_pid)
            return init_pid
        except BaseException as exc:
            for fd in fds:
                os.close(fd)
            if chan is None and pipes is not None:
                pipes.close_all()
            self._abort_create(container_id, pid, init_pid, mgr, sdir)
            raise _as_failure(container_id, exc, pid) from None
        finally:
            if chan is not None:
                chan.close()

    def _abort_create(self, container_id: str, pid: int, init_pid: int, mgr: t.Any, sdir: str) -> None:
        for p in {pid, init_pid} - {0}:
            try:
                os.kill(p, SIGKILL)
            except OSError:
                pass
        if pid:
            reap(pid)
        if init_pid and init_pid != pid:
            _wait_gone(init_pid, 5.0)
            reap(init_pid, wait=False)  # our child when we are a subreaper: it never reached the caller
        if mgr is not None:
            try:
                mgr.destroy(kill=True)
            except Exception as exc:  # noqa: BLE001
                self.warn(f"container {container_id}: removing its cgroup: {exc}")
        _rmtree(sdir)

    # ------------------------------------------------------------------ start / state
    def start(self, container_id: str) -> None:
        st = self._load(container_id)
        status = self._status(st)
        _state.guard(container_id, "start", status)
        fifo = os.path.join(self.root, container_id, _state.FIFO)
        try:
            fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise _state.failure(container_id, "start", "the container was started already", status=RUNNING) from None
        try:
            import select

            poller = select.poll()
            poller.register(fd, select.POLLIN)
            while True:
                if poller.poll(100):
                    data = os.read(fd, 4096)
                    if data:
                        break
                if not _state.pid_alive(st.pid, st.pid_start):
                    raise _state.failure(container_id, "start", "the container init exited before it was started",
                                         status=STOPPED)
            try:
                os.unlink(fifo)  # started: from here on the container is running (or has failed to)
            except FileNotFoundError:
                pass
            # The init holds its (close-on-exec) end until execve: EOF = the process runs; else its error.
            while True:
                poller.poll()
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(fd)
        if len(data) > 1:
            reason = data[1:].decode(errors="replace").strip()
            raise _state.failure(container_id, "start", reason, status=STOPPED)
        hooks = (st.config.get("hooks") or {}).get("poststart")
        if hooks:
            try:
                _state.run_hooks("poststart", hooks, st.oci(RUNNING))
            except _state.HookFailed as exc:
                self.warn(f"container {container_id}: {exc}")

    def state(self, container_id: str) -> dict:
        st = self._load(container_id)
        return st.oci(self._status(st))

    def oom_killed(self, container_id: str) -> bool:
        """Whether the kernel OOM-killed a process of the container (ask before ``delete``)."""
        st = self._load(container_id)
        try:
            return bool(self.cgroup(st.cgroups_path).oom_killed())
        except Exception:  # noqa: BLE001  (no memory controller, cgroup gone)
            return False

    def exit_plan(self, container_id: str) -> dict:
        """What :meth:`delete` removes once the container has stopped, and where the OOM kills are
        counted, as plain data: the monitor records the exit and cleans up with it, without loading
        the runtime again. ``{"oom": [file, key] | None, "runtime": {"cgroups": [dirs], "state_dir",
        "hooks": poststop hooks?}}``; the monitor falls back to :meth:`delete` whenever that is not
        enough (hooks, a cgroup still busy)."""
        st = self._load(container_id)
        mgr = self.cgroup(st.cgroups_path)
        dirs = getattr(mgr, "dirs", None)
        oom = getattr(mgr, "oom_source", None)
        plan: dict = {"oom": None, "runtime": None}
        try:
            source = oom() if callable(oom) else None
        except Exception:  # noqa: BLE001  (no memory controller)
            source = None
        plan["oom"] = list(source) if source else None
        if callable(dirs):
            plan["runtime"] = {"cgroups": list(dirs()), "state_dir": _state.state_dir(self.root, container_id),
                               "hooks": bool((st.config.get("hooks") or {}).get("poststop"))}
        return plan

    def config(self, container_id: str) -> dict:
        """The OCI spec the container was created from (``exec`` starts from its ``process``): the bundle's
        config.json as runc reads it, else the state's copy (which has no ``process.env``)."""
        st = self._load(container_id)
        try:
            return load_spec(st.bundle)
        except Exception:  # noqa: BLE001  (the bundle is gone or rewritten badly: what the state kept)
            return st.config

    def list(self) -> list[dict]:
        out = []
        for cid in _state.list_ids(self.root):
            try:
                st = _state.load(self.root, cid)
            except Exception:  # noqa: BLE001  (removed meanwhile)
                continue
            out.append(st.oci(self._status(st)))
        return out

    # ------------------------------------------------------------------ signals, freezer
    def kill(self, container_id: str, sig: int = 15, all: bool = False) -> None:
        st = self._load(container_id)
        mgr = self.cgroup(st.cgroups_path)
        status = self._status(st, mgr)
        _state.guard(container_id, "kill", status)
        if all:
            for pid in mgr.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            if sig == SIGKILL and status == PAUSED:
                mgr.thaw()
            return
        try:
            os.kill(st.pid, sig)
        except ProcessLookupError:
            raise _state.failure(container_id, "kill", "the container init is gone", status=STOPPED) from None

    def pause(self, container_id: str) -> None:
        st = self._load(container_id)
        mgr = self.cgroup(st.cgroups_path)
        _state.guard(container_id, "pause", self._status(st, mgr))
        mgr.freeze()

    def resume(self, container_id: str) -> None:
        st = self._load(container_id)
        mgr = self.cgroup(st.cgroups_path)
        _state.guard(container_id, "resume", self._status(st, mgr))
        mgr.thaw()

    def update(self, container_id: str, resources: dict) -> None:
        """``runc update``: the container's cgroup limits, in place, from OCI ``linux.resources`` (what is
        not given stays; device rules never change)."""
        st = self._load(container_id)
        mgr = self.cgroup(st.cgroups_path)
        _state.guard(container_id, "update", self._status(st, mgr))
        mgr.update(resources)

    # ------------------------------------------------------------------ delete
    def delete(self, container_id: str, force: bool = False) -> None:
        st = self._load(container_id)
        mgr = self.cgroup(st.cgroups_path)
        status = self._status(st, mgr)
        if status != STOPPED:
            if not force and not _state.can("delete", status):
                from ..errors import InvalidState

                raise InvalidState(status, "delete", container_id,
                                   f"cannot delete container {container_id} that is not stopped: {status} "
                                   "(use force)")
            try:
                os.kill(st.pid, SIGKILL)
            except ProcessLookupError:
                pass
        try:
            mgr.destroy(kill=True)
        except Exception as exc:  # noqa: BLE001
            raise _as_failure(container_id, exc, 0, step="delete") from None
        if status != STOPPED:
            # not reaped here: when the init is the caller's child, its exit status belongs to the caller
            _wait_gone(st.pid, 5.0, st.pid_start)
        hooks = (st.config.get("hooks") or {}).get("poststop")
        if hooks:
            try:
                _state.run_hooks("poststop", hooks, st.oci(STOPPED))
            except _state.HookFailed as exc:
                self.warn(f"container {container_id}: {exc}")
        _rmtree(_state.state_dir(self.root, container_id))

    # ------------------------------------------------------------------ exec
    def exec(self, container_id: str, process: dict, *, stdio: tuple[int, int, int] | None = None,
             console_socket: str | None = None, detach: bool = False, pid_file: str | None = None,
             preserve_fds: int = 0) -> int:
        """Start *process* (an OCI process object) inside the container; returns its host pid.

        The process joins the init's namespaces and cgroup and gets the container's seccomp filter.
        *detach* changes nothing here (the caller decides whether to wait); it exists for the protocol.
        """
        st = self._load(container_id)
        mgr = self.cgroup(st.cgroups_path)
        _state.guard(container_id, "exec", self._status(st, mgr))
        from . import validate

        spec = dict(st.config)
        spec["process"] = process
        ctx = validate.Context(None)
        for chk in (validate.check_process, validate.check_rlimits):
            chk(spec, ctx)
        if process.get("terminal") and not console_socket:
            from ..errors import InvalidOption

            raise InvalidOption("console_socket", None, "process.terminal is set: a console socket is required")
        linux = spec.get("linux") or {}
        plan = namespaces.exec_plan(st.pid, linux.get("namespaces"))
        if plan.fork:
            set_subreaper(self.syscalls)
        deps = self._deps()
        deps.preload(spec)
        console_fd = _connect_console(console_socket) if console_socket else None
        try:
            cfg = _init.InitConfig(container_id, spec, st.bundle, st.rootfs, plan, console_fd=console_fd,
                                   stdio=stdio, preserve_fds=preserve_fds, is_exec=True)
            pipes = sync.Pipes()
            try:
                pid = os.fork()
            except BaseException:
                pipes.close_all()
                raise
            if pid == 0:  # pragma: no cover
                _init.exec_child(cfg, pipes, deps)
            chan = pipes.parent(self.timeout)
        finally:
            if console_fd is not None:
                os.close(console_fd)
        proc_pid = 0
        try:
            proc_pid = int(chan.expect(sync.Msg.PID)["pid"])
            if proc_pid != pid:
                reap(pid)
            mgr.add_pid(proc_pid)
            chan.send(sync.Msg.GO)
            chan.wait_eof()
        except BaseException as exc:
            for p in {pid, proc_pid} - {0}:
                try:
                    os.kill(p, SIGKILL)
                except OSError:
                    pass
                reap(p)
            raise _as_failure(container_id, exc, pid, step="exec") from None
        finally:
            chan.close()
        if pid_file:
            _write_pid_file(pid_file, proc_pid)
        return proc_pid


# ---------------------------------------------------------------- helpers
def write_id_maps(pid: int, linux: dict) -> None:
    for key, name in (("uidMappings", "uid_map"), ("gidMappings", "gid_map")):
        lines = "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in linux.get(key) or ())
        path = f"/proc/{pid}/{name}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, lines.encode())
            finally:
                os.close(fd)
        except OSError as exc:
            raise OSError(exc.errno, f"write {path}: {exc.strerror}") from None


def _connect_console(path: str) -> int:
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"connect to console socket {path}: {exc.strerror}") from None
    return sock.detach()


def _write_pid_file(path: str, pid: int) -> None:
    path = os.path.abspath(path)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}")
    with open(tmp, "w") as fh:
        fh.write(str(pid))
    os.rename(tmp, path)


def _wait_gone(pid: int, timeout: float, start: int | None = None) -> None:
    import time

    deadline = time.monotonic() + timeout
    while _state.pid_alive(pid, start) and time.monotonic() < deadline:
        time.sleep(0.002)


def _rmtree(path: str) -> None:
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return
    for name in names:
        try:
            os.unlink(os.path.join(path, name))
        except IsADirectoryError:
            _rmtree(os.path.join(path, name))
        except FileNotFoundError:
            pass
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass


def _as_failure(container_id: str, exc: BaseException, child: int, step: str = "create") -> BaseException:
    """Turn what went wrong into an EngineError naming the container and the step."""
    from .. import errors

    if isinstance(exc, errors.EngineError):
        return exc
    if isinstance(exc, sync.ChildError):
        return errors.RuntimeFailure(container_id, exc.step, exc.message, errno=exc.errno)
    if isinstance(exc, sync.SyncError):
        return errors.RuntimeFailure(container_id, step, f"container init: {exc.reason}")
    if isinstance(exc, _state.HookFailed):
        return errors.RuntimeFailure(container_id, f"{exc.kind} hook", str(exc))
    if isinstance(exc, OSError):
        msg = exc.strerror or str(exc)
        if exc.filename and str(exc.filename) not in msg:
            msg += f": {exc.filename}"
        return errors.RuntimeFailure(container_id, step, msg, errno=exc.errno)
    if isinstance(exc, KeyboardInterrupt):
        return exc
    return errors.RuntimeFailure(container_id, step, f"{type(exc).__name__}: {exc}")

# SPDX-License-Identifier: GPL-3.0-or-later
"""What runs outside the idle monitor (``monitor.py``): the caller's side and the monitor's workers.

* **The caller's side** (``spawn``, ``wait_exit``, ``attach_connect``, ``read_frames``): the double fork,
  the process that becomes the monitor, and the *starter* (a fork of the caller, with the caller's engine
  loaded) that creates and starts the container (:func:`start_container`); the drawing is in ``monitor.py``.
* **The workers' jobs** (``_job_*``): forks of the monitor that restart the container, record an exit
  the monitor cannot record itself, run health probes and write health; they import the runtime.

Split from ``monitor.py`` so that none of this stays in the memory of an idle monitor (one per
container): ~0.2 MiB of code objects. ``monitor`` re-exports the public names.
"""
from __future__ import annotations

import marshal
import os
import select
import sys
import time

from ..core import cjson
from ..core.layout import Layout
from . import health
from .fds import (
    ATTACH_FD, CONSOLE_DIR_FD, CONSOLE_FD, ERR_FD, HANDOFF_FD, IN_FD, LOCK_WAIT, OUT_FD, STATUS_FD, STDERR_FD,
    STDIN_FD, STDOUT_FD,
)
from .plumbing import (
    _console_address, _describe, _is_not_found, _read_json, _replace_file, _terminal_size, _unix_path_call,
    _unlink, _waitpid, _write_all, _write_event,
)
from .policy import monitor_settings, start_failure_exit_code

try:
    import _socket as _sock  # socket.py imports enum and selectors
except ImportError:  # pragma: no cover
    import socket as _sock  # type: ignore[no-redef]

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


#: The monitor's ``-c`` program. The first monitor of a library copy compiles the modules it keeps in a
#: throw-away fork (compiling leaves ~4 MB of fragmented heap behind, for the monitor's whole life).
_BOOT = """import os, sys
lib = {lib!r}
sys.path.insert(0, lib)
if not os.path.exists(os.path.join(lib, "berth_engine", "engine", "supervisor", "__pycache__",
                                   "monitor." + sys.implementation.cache_tag + ".pyc")):
    pid = os.fork()
    if pid == 0:
        import berth_engine.engine.supervisor.monitor
        os._exit(0)
    os.waitpid(pid, 0)
from berth_engine.engine.supervisor.monitor import main
main()
"""


# ====================================================================== the caller's side
class Spawned:
    """What :func:`spawn` returns: the container's pid, the monitor's pid, and the read end of the status
    pipe (attached callers pass it to :func:`wait_exit`; others :meth:`close` it)."""

    __slots__ = ("pid", "monitor_pid", "status_fd", "container_id")

    def __init__(self, pid: int, monitor_pid: int, status_fd: int, container_id: str = "") -> None:
        self.pid = pid
        self.monitor_pid = monitor_pid
        self.status_fd = status_fd
        self.container_id = container_id

    def close(self) -> None:
        if self.status_fd >= 0:
            os.close(self.status_fd)
            self.status_fd = -1

    def __del__(self) -> None:  # a detached caller that drops the handle does not leak the pipe
        try:
            self.close()
        except OSError:
            pass

    def __repr__(self) -> str:
        return f"Spawned(pid={self.pid}, monitor_pid={self.monitor_pid}, status_fd={self.status_fd})"


def python_executable() -> str:
    return "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def spawn(layout: Layout, container_id: str, *, runtime: t.Mapping[str, t.Any],
          attach: t.Mapping[str, t.Any] | None = None, timeout: float = 30.0) -> Spawned:
    """Start *container_id* (its record, bundle and mounted rootfs are ready) under a new monitor and wait
    until it runs; ``RuntimeFailure`` with the runtime's message otherwise (its ``exit_code`` is Docker's:
    127 command not found, 126 not executable, 128 other).

    The container is created by a fork of the caller (the engine is loaded already), a child of the
    process that then becomes the monitor by ``execv`` of a lean interpreter; see the module docstring.
    *runtime*: ``{"name", "path"}`` (and optionally ``"factory"``, see the module docstring).
    *attach*: ``{"stdin": fd | None, "stdout": fd, "stderr": fd, "tty": bool}`` for an attached run: the
    monitor copies the output there too, forwards stdin, and reports the exit code (:func:`wait_exit`).
    Call it without holding the container lock. :func:`prefork` is the same in two steps.
    """
    return prefork(layout, container_id, runtime=runtime, attach=attach).go(timeout)


class Preforked:
    """A monitor and its starter, forked and waiting: :meth:`go` once the bundle and the rootfs are ready
    (the starter then creates the container; returns :func:`spawn`'s result), or :meth:`cancel` (they end
    without a word, touching nothing). Either must be called exactly once."""

    def __init__(self, container_id: str, status_fd: int, go_fd: int, first_child: int) -> None:
        self.container_id = container_id
        self.status_fd = status_fd
        self.go_fd = go_fd
        self._first_child = first_child  # the fork that only forks the monitor: reaped here, not waited for

    def _reap(self) -> None:
        if self._first_child:
            _waitpid(self._first_child)
            self._first_child = 0

    def go(self, timeout: float = 30.0) -> Spawned:
        try:
            os.write(self.go_fd, b"1")
        except OSError:
            pass  # the starter is gone: the status pipe says why
        os.close(self.go_fd)
        self.go_fd = -1
        self._reap()
        try:
            return _await_started(self.status_fd, self.container_id, timeout)
        except BaseException:
            os.close(self.status_fd)
            raise

    def cancel(self) -> None:
        for fd in (self.go_fd, self.status_fd):
            if fd >= 0:
                os.close(fd)
        self.go_fd = self.status_fd = -1
        self._reap()


def prefork(layout: Layout, container_id: str, *, runtime: t.Mapping[str, t.Any],
            attach: t.Mapping[str, t.Any] | None = None) -> Preforked:
    """:func:`spawn` up to the point where the container is to be created: the caller can mount the
    rootfs and write the bundle while the monitor's interpreter starts and the starter imports the
    runtime (a second core does that work meanwhile). Needs the container's record."""
    from ..runtime import LinuxSyscalls

    record = _read_json(layout.container_config(container_id))
    if record is None:
        from ..errors import RuntimeFailure

        raise RuntimeFailure(container_id, "start", f"no container record {layout.container_config(container_id)}")
    settings = monitor_settings(record)
    syscalls = LinuxSyscalls()  # loaded before fork: the children only call it
    argv = _monitor_argv(layout, container_id, runtime)
    python = argv[0]
    r, w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover  (exec or _exit)
        try:
            os.close(r)
            os.close(go_w)  # the starter sees EOF when the caller cancels or dies
            os.setsid()
            if os.fork():
                os._exit(0)
            _become_monitor(layout, container_id, dict(runtime), attach, settings, syscalls, argv, w, go_r)
        except BaseException as exc:  # noqa: BLE001
            _write_event(w, {"event": "error", "message": f"cannot start the monitor ({python}): {exc}"})
        os._exit(127)
    os.close(w)
    os.close(go_r)
    return Preforked(container_id, r, go_w, pid)


def _monitor_argv(layout: Layout, container_id: str, runtime: t.Mapping[str, t.Any]) -> list[str]:
    from ..core.libcopy import ensure_lib

    argv = [python_executable(), "-S", "-I", "-c", _BOOT.format(lib=ensure_lib(layout)), layout.root, container_id]
    argv += ["--runtime", str(runtime.get("name") or "berth")]
    if runtime.get("path"):
        argv += ["--runtime-path", str(runtime["path"])]
    if runtime.get("factory"):
        argv += ["--runtime-factory", str(runtime["factory"])]
    return argv


def adopt(layout: Layout, container_id: str, *, runtime: t.Mapping[str, t.Any], pid: int,
          timeout: float = 30.0) -> Spawned:
    """Start a replacement monitor for a running container whose monitor died (SIGKILL, OOM killer); it
    takes over the container's init *pid* and has said so (``RuntimeFailure`` with its reason otherwise).

    The init was the dead monitor's child (it is a subreaper); now it is init's, and only a parent can
    ``waitpid`` it. A tracer can too: the new monitor attaches with ``PTRACE_SEIZE`` (which does not stop
    the tracee) and hears the real exit status (137 after SIGKILL, the code of ``exit``) before the new
    parent reaps it. Signals on their way to the init stop it in the tracer's hands; the monitor passes
    each on at once (``PTRACE_CONT`` with the signal; ``PTRACE_LISTEN`` for a group-stop), so the container
    sees what it would have seen. The other ways are unsound or lossy: ``/proc/<pid>/stat``'s exit code is
    readable only until the parent reaps the zombie (a race with init), a pidfd says *that* it exited but
    not how, and neither the runtime (runc keeps no exit status) nor the cgroup records it. What cannot be
    taken over: the output pipes (they died with the old monitor; a restart gets new ones). The attach
    socket is bound anew. A process that is already traced (a debugger) cannot be adopted: the caller
    records why.
    """
    from ..runtime import PR_SET_CHILD_SUBREAPER, LinuxSyscalls

    syscalls = LinuxSyscalls()
    argv = _monitor_argv(layout, container_id, runtime) + ["--adopt", str(int(pid))]
    r, w = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover  (exec or _exit)
        try:
            os.close(r)
            os.setsid()
            if os.fork():
                os._exit(0)
            syscalls.prctl(PR_SET_CHILD_SUBREAPER, 1)  # restarts: the new init must be our child
            hidden, listener = _attach_listener(layout, container_id, os.getpid())  # renamed once it adopted
            argv += ["--attach-socket", hidden]
            _exec_monitor(argv, {STATUS_FD: w, ATTACH_FD: listener})
        except BaseException as exc:  # noqa: BLE001
            _write_event(w, {"event": "error", "message": f"cannot start a replacement monitor: {exc}"})
        os._exit(127)
    os.close(w)
    _waitpid(child)
    spawned = _await_started(r, container_id, timeout)  # closes r when it raises
    spawned.close()
    return spawned


def _become_monitor(layout: Layout, container_id: str, runtime: dict[str, t.Any],
                    attach: t.Mapping[str, t.Any] | None, settings: dict[str, t.Any], syscalls: t.Any,
                    argv: list[str], status_w: int, go_r: int) -> t.NoReturn:
    """A: set up what the monitor and the container share, fork the starter, exec the monitor."""
    from ..runtime import PR_SET_CHILD_SUBREAPER

    me = os.getpid()
    _write_event(status_w, {"event": "forked", "monitor_pid": me})
    syscalls.prctl(PR_SET_CHILD_SUBREAPER, 1)  # survives execv: the container's init becomes our child
    fd_map: dict[int, int] = {STATUS_FD: status_w}
    if attach:
        if attach.get("stdin") is not None:
            fd_map[STDIN_FD] = int(attach["stdin"])
            argv.append("--stdin")
        fd_map[STDOUT_FD] = int(attach["stdout"])
        fd_map[STDERR_FD] = int(attach["stderr"])
        argv += ["--stdout", "--stderr"]
    stdio: tuple[int, int, int] | None = None
    console_path = None
    console_size = None
    console_dirfd = -1
    if settings["tty"]:
        console_path, fd_map[CONSOLE_FD], console_dirfd = _console_listener(layout, container_id, me)
        if console_dirfd >= 0:
            fd_map[CONSOLE_DIR_FD] = console_dirfd
        argv += ["--console", console_path]
        if attach:
            console_size = _terminal_size((attach.get("stdin"), attach.get("stdout")))
    else:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        if settings["open_stdin"]:
            in_r, fd_map[IN_FD] = os.pipe()
        else:
            in_r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        fd_map[OUT_FD], fd_map[ERR_FD] = out_r, err_r
        stdio = (in_r, out_w, err_w)
    hidden, fd_map[ATTACH_FD] = _attach_listener(layout, container_id, me)
    handoff_r, handoff_w = os.pipe()
    fd_map[HANDOFF_FD] = handoff_r
    argv += ["--attach-socket", hidden]
    pid = os.fork()
    if pid == 0:  # X, the starter
        console = _console_address(console_path, console_dirfd) if console_path else None
        _starter(layout, container_id, runtime, stdio, console, settings, console_size, me, hidden,
                 status_w, handoff_w, go_r)
    os.close(handoff_w)
    os.close(go_r)
    for fd in stdio or ():
        os.close(fd)
    _exec_monitor(argv, fd_map)


def _exec_monitor(argv: list[str], fd_map: dict[int, int]) -> t.NoReturn:
    """Exec the monitor with exactly the fds of *fd_map* (target -> source) and /dev/null as stdio."""
    import fcntl

    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    fd_map = {**fd_map, 0: null, 1: null, 2: null}
    temps = {target: fcntl.fcntl(src, fcntl.F_DUPFD_CLOEXEC, ATTACH_FD + 1) for target, src in fd_map.items()}
    for target, tmp in temps.items():
        os.dup2(tmp, target)  # inheritable
    for fd in range(3, ATTACH_FD + 1):
        if fd not in temps:
            try:
                os.close(fd)
            except OSError:
                pass
    os.closerange(ATTACH_FD + 1, _max_fd())
    os.execv(argv[0], argv)


def _starter(layout: Layout, container_id: str, runtime: dict[str, t.Any], stdio: tuple[int, int, int] | None,
             console_path: str | None, settings: dict[str, t.Any], console_size: tuple[int, int] | None,
             monitor_pid: int, hidden_socket: str, status_w: int, handoff_w: int, go_r: int) -> t.NoReturn:
    """X: wait for the go, create and start the container, report to the caller, hand the result to the
    monitor, exit."""
    try:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1):
            os.dup2(null, fd)  # the caller's stdin and stdout are the monitor's business (stderr stays for
        os.close(null)         # the interpreter's own complaints: everything else goes over the status pipe)
        warm_up = getattr(make_runtime(layout, runtime), "preload", None)
        if callable(warm_up):
            warm_up()  # the runtime's imports, while the caller still prepares the bundle
        if os.read(go_r, 1) != b"1":
            raise _Cancelled
        os.close(go_r)
        result = start_container(layout, container_id, runtime, stdio, console_path, True,
                                 settings["healthcheck"], monitor_pid, console_size, hidden_socket,
                                 durable=not settings["auto_remove"])
        if "pid" in result:
            _write_event(status_w, {"event": "started", "pid": result["pid"], "monitor_pid": monitor_pid})
        elif "error" in result:
            _write_event(status_w, dict(result["error"], event="error", exit_code=result["exit_code"]))
        result["reported"] = True
    except _Cancelled:
        result = {"cancelled": True, "reported": True}
    except BaseException as exc:  # noqa: BLE001  (the monitor reports it: it reads an error)
        result = {"crashed": _describe(exc)}
    try:
        try:
            data = marshal.dumps(("ok", result))
        except ValueError:
            data = marshal.dumps(("error", {"message": "unserialisable start result"}))
        _write_all(handoff_w, data)
    finally:
        os._exit(0)


class _Cancelled(Exception):
    """The caller cancelled (Preforked.cancel) or died before the go."""


def _max_fd() -> int:
    try:
        return int(os.sysconf("SC_OPEN_MAX"))
    except (ValueError, OSError):
        return 1 << 16


def _attach_listener(layout: Layout, container_id: str, me: int) -> tuple[str, int]:
    """The attach socket, bound under a hidden name; the starter renames it into place once the
    container runs (a start that lost a race must not take the socket of a running container)."""
    path = os.path.join(layout.container_dir(container_id), f".monitor-{me}.sock")
    _unlink(path)
    sock = _sock.socket(_sock.AF_UNIX, _sock.SOCK_STREAM | _sock.SOCK_CLOEXEC)
    _unix_path_call(sock.bind, path)
    os.chmod(path, 0o600)
    sock.listen(16)
    return path, sock.detach()


def _console_listener(layout: Layout, container_id: str, me: int) -> tuple[str, int, int]:
    """The console socket the runtime sends the pty master to: (path, fd, dirfd or -1).

    A path too long for ``sun_path`` is named through an open directory fd: ``/proc/<pid>/fd/<dirfd>/<name>``
    of a process that holds it while the runtime connects (see :func:`_console_address`).
    """
    tmp = layout.tmp_dir
    os.makedirs(tmp, 0o755, exist_ok=True)
    path = os.path.join(tmp, f"console-{container_id[:12]}-{me}.sock")
    _unlink(path)
    sock = _sock.socket(_sock.AF_UNIX, _sock.SOCK_STREAM | _sock.SOCK_CLOEXEC)
    _unix_path_call(sock.bind, path)
    sock.listen(1)
    dirfd = -1
    if len(os.fsencode(path)) >= 108:
        dirfd = os.open(tmp, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    return path, sock.detach(), dirfd


def _await_started(fd: int, container_id: str, timeout: float) -> Spawned:
    from ..errors import RuntimeFailure

    deadline = time.monotonic() + timeout
    monitor_pid = 0
    while True:
        try:
            line = _read_line(fd, deadline)
        except TimeoutError:
            raise RuntimeFailure(container_id, "start", f"the monitor (pid {monitor_pid}) did not report within "
                                 f"{timeout:g}s") from None
        if line is None:
            raise RuntimeFailure(container_id, "start", f"the monitor (pid {monitor_pid}) exited without reporting")
        event = cjson.loads(line)
        kind = event.get("event")
        if kind == "forked":
            monitor_pid = int(event["monitor_pid"])
        elif kind == "started":
            return Spawned(int(event["pid"]), int(event.get("monitor_pid") or monitor_pid), fd, container_id)
        elif kind == "error":
            err = RuntimeFailure(event.get("container") or container_id, event.get("step") or "start",
                                 event.get("reason") or event.get("message") or "unknown error",
                                 errno=event.get("errno"))
            if event.get("exit_code"):
                err.exit_code = int(event["exit_code"])
            raise err


def wait_exit(spawned: Spawned, timeout: float | None = None) -> int:
    """Block until the monitor reports the container's (first) exit; returns the exit code."""
    from ..errors import RuntimeFailure

    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            try:
                line = _read_line(spawned.status_fd, deadline)
            except TimeoutError:
                raise RuntimeFailure(spawned.container_id, "wait", f"no exit within {timeout:g}s") from None
            if line is None:
                raise RuntimeFailure(spawned.container_id, "wait",
                                     f"the monitor (pid {spawned.monitor_pid}) ended without reporting the exit code")
            event = cjson.loads(line)
            if event.get("event") == "exited":
                return int(event["exit_code"])
    finally:
        spawned.close()


def _read_line(fd: int, deadline: float | None) -> bytes | None:
    """One line, read byte by byte so nothing after it is consumed; None at EOF."""
    out = bytearray()
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while True:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if not poller.poll(max(1, int(left * 1000))):
                continue
        b = os.read(fd, 1)
        if not b:
            return bytes(out) if out else None
        if b == b"\n":
            return bytes(out)
        out += b


def attach_connect(layout: Layout, container_id: str, timeout: float | None = 5.0) -> t.Any:
    """A connected ``socket.socket`` to the container's monitor (paths over 107 bytes work too)."""
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        _unix_path_call(sock.connect, layout.attach_socket(container_id))
        _check_peer(sock, layout.attach_socket(container_id))
    except BaseException:
        sock.close()
        raise
    return sock


def _check_peer(sock: t.Any, path: str) -> None:
    """Refuse a socket whose listener is not root (``core/trust.py``): the terminal's keystrokes go there."""
    import socket
    import struct

    from ..core import trust

    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    if uid != trust.owner():
        from ..errors import UntrustedPath

        raise UntrustedPath(path, f"its listener runs as uid {uid}, not root", "attach socket")


def read_frames(sock: t.Any) -> t.Iterator[tuple[int, bytes]]:
    """Demultiplex Docker's attach frames from a non-tty container: ``(stream, payload)`` until EOF."""
    buf = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return
        buf += chunk
        while len(buf) >= 8:
            size = int.from_bytes(buf[4:8], "big")
            if len(buf) < 8 + size:
                break
            yield buf[0], buf[8:8 + size]
            buf = buf[8 + size:]


# ====================================================================== worker jobs (run in a fork of the monitor)
def make_runtime(layout: Layout, spec: t.Mapping[str, t.Any]) -> t.Any:
    """The OciRuntime for ``{"name", "path", "factory"}`` (see the module docstring)."""
    name = str(spec.get("name") or "berth")
    state_root = os.path.join(layout.runtime_state_dir, name)
    factory = spec.get("factory")
    if factory:
        import importlib.util

        path, _sep, attr = str(factory).rpartition(":")
        mod_spec = importlib.util.spec_from_file_location(f"berth_runtime_factory_{abs(hash(path))}", path)
        if mod_spec is None or mod_spec.loader is None:
            raise ImportError(f"cannot load runtime factory {factory}")
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)
        return getattr(module, attr)(state_root, dict(spec))
    if name == "berth" and not spec.get("path"):
        from ..runtime import BerthRuntime

        return BerthRuntime(state_root)
    from ..runtime import ExternalRuntime

    return ExternalRuntime(str(spec.get("path") or name), state_root)


class _NoWrite(Exception):
    """Raised inside a state update to leave state.json alone (it is gone, or nothing changes)."""


def _finalize(layout: Layout, container_id: str, auto_remove: bool) -> bool:
    """The monitor ends for good: unmount the rootfs, drop the attach socket, ``--rm``. Under the lock."""
    from . import lifecycle

    lifecycle.unmount_below(layout.rootfs(container_id), include_self=True)
    _unlink(layout.attach_socket(container_id))
    if auto_remove:
        lifecycle.remove_container_files(layout, container_id)
        return True
    return False


def start_container(layout: Layout, container_id: str, runtime: dict[str, t.Any],
                    stdio: tuple[int, int, int] | None, console: str | None, first: bool,
                    healthcheck: dict[str, t.Any] | None, monitor_pid: int,
                    console_size: tuple[int, int] | None = None, attach_socket: str | None = None,
                    durable: bool = True) -> dict[str, t.Any]:
    """create + start under the container lock; a restart is cancelled when a stop came meanwhile.

    Runs in the starter (first start) or in a worker of the monitor (restarts). Returns ``{"pid", "health",
    "plan"}`` (``plan``: :func:`exit_plan`), ``{"error", "exit_code"}`` or ``{"cancelled": True}``.
    *console_size*: the attached caller's terminal, written to the bundle's ``process.consoleSize`` so
    the pty has the right size from the first instruction on (Docker's ConsoleSize); SIGWINCH follows.
    *attach_socket*: the monitor's listening socket under a hidden name, renamed into place once running.
    *durable*: fsync the state (``lifecycle.save``); not for ``--rm`` containers.
    """
    from . import lifecycle

    S = lifecycle.ContainerStatus
    rt = make_runtime(layout, runtime)
    with lifecycle.locked(layout, container_id, timeout=LOCK_WAIT):
        state = lifecycle.load(layout, container_id)
        if not first and (state.manually_stopped or state.status is not S.RESTARTING):
            _finalize(layout, container_id, auto_remove=False)
            if state.status is S.RESTARTING:
                lifecycle.save(layout, container_id, state.transition(S.EXITED, monitor_pid=0, pid=0))
            return {"cancelled": True}
        if first and not state.status.can_start():  # e.g. a second start raced us: leave everything alone
            msg = f"container {container_id} is {state.status.value}"
            return {"error": {"message": msg, "reason": msg}, "exit_code": 128}
        try:
            if console_size:
                path = os.path.join(layout.bundle(container_id), "config.json")
                spec = _read_json(path) or {}
                spec.setdefault("process", {})["consoleSize"] = {"height": console_size[0], "width": console_size[1]}
                _replace_file(path, cjson.dumps(spec).encode())
            pid = _create(rt, layout, container_id, stdio, console)
            rt.start(container_id)
            plan = exit_plan(rt, layout, container_id)
        except Exception as exc:  # noqa: BLE001  (reported to the caller, recorded in the state)
            info = _describe(exc)
            code = start_failure_exit_code(info["message"])
            try:
                rt.delete(container_id, force=True)
            except Exception:  # noqa: BLE001
                pass
            _finalize(layout, container_id, auto_remove=False)
            new = state.replace(error=info.get("reason") or info["message"], exit_code=code, pid=0, monitor_pid=0)
            if state.status is S.RESTARTING:
                new = new.transition(S.EXITED, finished_at=lifecycle.now_rfc3339())
            lifecycle.save(layout, container_id, new)
            return {"error": info, "exit_code": code}
        if attach_socket:
            os.rename(attach_socket, layout.attach_socket(container_id))
        previous = state.health
        h = health.initial(healthcheck, previous) if healthcheck else None
        new = state.transition(
            S.RUNNING, pid=pid, monitor_pid=monitor_pid, started_at=lifecycle.now_rfc3339(), exit_code=0, error="",
            oom_killed=False, health=h,
            restart_count=0 if first else state.restart_count,
            manually_stopped=False if first else state.manually_stopped,
        )
        lifecycle.save(layout, container_id, new, durable=durable)
        return {"pid": pid, "health": h, "plan": plan}


def _job_start(layout: Layout, container_id: str, runtime: dict[str, t.Any], stdio: tuple[int, int, int] | None,
               console: str | None, healthcheck: dict[str, t.Any] | None, monitor_pid: int,
               console_size: tuple[int, int] | None) -> dict[str, t.Any]:
    """A restart, in a worker of the monitor."""
    return start_container(layout, container_id, runtime, stdio, console, False, healthcheck, monitor_pid,
                           console_size)


def exit_plan(rt: t.Any, layout: Layout, container_id: str) -> dict[str, t.Any] | None:
    """What the monitor needs to record the exit and clean up without loading the runtime again.

    ``{"oom": [file, key] | None, "runtime": {...} | None}``: the cgroup file whose *key* counts OOM kills
    (read before the cgroup goes), and for Berth's own runtime the cgroup directories and the state
    directory that ``delete`` would remove (``BerthRuntime.exit_plan``). None when the runtime answers
    ``oom_killed`` itself (an injected one): the exit then goes through a worker, as restarts do.
    """
    own = getattr(rt, "exit_plan", None)
    if callable(own):
        return {"oom": None, "runtime": None, **own(container_id)}
    if callable(getattr(rt, "oom_killed", None)):
        return None
    oom = None
    try:
        spec = _read_json(os.path.join(layout.bundle(container_id), "config.json")) or {}
        path = (spec.get("linux") or {}).get("cgroupsPath")
        if path:
            from ..runtime import cgroup_manager

            source = getattr(cgroup_manager(path), "oom_source", None)
            oom = source() if callable(source) else None
    except Exception:  # noqa: BLE001  (no memory controller: never OOM-killed)
        oom = None
    return {"oom": list(oom) if oom else None, "runtime": None}


def _create(rt: t.Any, layout: Layout, container_id: str, stdio: tuple[int, int, int] | None,
            console: str | None) -> int:
    """runtime.create; a runtime state left over by a lost monitor (or a reboot: the state root is on
    disk) is deleted and the create tried once more. The caller holds the container lock and the state
    says the container is not running, so such a state can only be stale."""
    bundle = layout.bundle(container_id)
    try:
        return int(rt.create(container_id, bundle, stdio=stdio, console_socket=console))
    except Exception:  # noqa: BLE001
        try:  # a failed create leaves no state behind: only a state still there is a stale one
            rt.state(container_id)
        except Exception:  # noqa: BLE001
            stale = False
        else:
            stale = True
        if not stale:
            raise  # the create's own error ("mkdir /etc/passwd: File exists" is not a stale state)
    rt.delete(container_id, force=True)
    return int(rt.create(container_id, bundle, stdio=stdio, console_socket=console))


def _oom_killed(rt: t.Any, layout: Layout, container_id: str) -> bool:
    """Ask the runtime (if it knows) or the container's cgroup; read before runtime.delete removes it."""
    try:
        probe = getattr(rt, "oom_killed", None)
        if callable(probe):
            return bool(probe(container_id))
        spec = _read_json(os.path.join(layout.bundle(container_id), "config.json")) or {}
        path = (spec.get("linux") or {}).get("cgroupsPath")
        if not path:
            return False
        from ..runtime import cgroup_manager

        return bool(cgroup_manager(path).oom_killed())
    except Exception:  # noqa: BLE001  (no memory controller, cgroup already gone)
        return False


def _job_exit(layout: Layout, container_id: str, runtime: dict[str, t.Any], exit_code: int) -> dict[str, t.Any]:
    """Record the exit and decide: restart (state restarting) or end (state exited, rootfs unmounted)."""
    from . import lifecycle

    S = lifecycle.ContainerStatus
    rt = make_runtime(layout, runtime)
    oom = _oom_killed(rt, layout, container_id)
    problem = ""
    try:
        rt.delete(container_id, force=True)
    except Exception as exc:  # noqa: BLE001
        if not _is_not_found(exc):
            problem = f"runtime delete: {exc}"
    settings = monitor_settings(_read_json(layout.container_config(container_id)) or {})
    outcome: dict[str, t.Any] = {"restart": False}

    def decide(state: lifecycle.ContainerState) -> lifecycle.ContainerState:
        common = {"exit_code": exit_code, "oom_killed": oom, "finished_at": lifecycle.now_rfc3339(), "pid": 0,
                  "error": problem}
        if state.status is S.REMOVING:  # the service removes it: just end
            _finalize(layout, container_id, auto_remove=False)
            return state.replace(monitor_pid=0, **common)
        if lifecycle.should_restart(settings["restart_policy"], settings["restart_retries"], exit_code,
                                    state.manually_stopped, state.restart_count):
            outcome["restart"] = True
            return state.transition(S.RESTARTING, restart_count=state.restart_count + 1, **common)
        if _finalize(layout, container_id, settings["auto_remove"]):
            raise _NoWrite
        if state.status.can_become(S.EXITED):
            return state.transition(S.EXITED, monitor_pid=0, **common)
        return state.replace(monitor_pid=0, **common)

    try:
        lifecycle.update(layout, container_id, decide, timeout=LOCK_WAIT * 30)
    except _NoWrite:
        pass
    except Exception as exc:  # noqa: BLE001
        if not _is_not_found(exc):  # removed meanwhile (``rm -f``): nothing to record
            raise
    return outcome


def _job_adopt(layout: Layout, container_id: str, runtime: dict[str, t.Any], pid: int, monitor_pid: int,
               attach_socket: str) -> dict[str, t.Any]:
    """A replacement monitor (which traces *pid* already) claims the container under its lock: it still
    runs that init and no live monitor has it; its attach socket goes into place. ``{"pid", "plan",
    "health"}`` or ``{"error"}``."""
    from . import lifecycle

    S = lifecycle.ContainerStatus
    found: dict[str, t.Any] = {}

    def claim(state: lifecycle.ContainerState) -> lifecycle.ContainerState:
        found["state"] = state
        if state.status not in (S.RUNNING, S.PAUSED) or state.pid != pid:
            raise _NoWrite
        if state.monitor_pid not in (0, monitor_pid) and lifecycle.monitor_alive(state.monitor_pid, container_id):
            raise _NoWrite
        error = "" if state.error.startswith(lifecycle.UNSUPERVISED_ERROR) else state.error
        if attach_socket:
            os.rename(attach_socket, layout.attach_socket(container_id))
        return state.replace(monitor_pid=monitor_pid, error=error)

    try:
        state = lifecycle.update(layout, container_id, claim, timeout=LOCK_WAIT)
    except _NoWrite:
        current = found.get("state")
        what = current.status.value if current is not None else "gone"
        msg = f"container {container_id} is {what} (pid {getattr(current, 'pid', 0)}), no longer pid {pid} " \
              "without a monitor"
        return {"error": {"message": msg, "reason": msg}}
    return {"pid": pid, "plan": exit_plan(make_runtime(layout, runtime), layout, container_id),
            "health": state.health}


def _job_cancel_if_stopped(layout: Layout, container_id: str) -> bool:
    """During the back-off: True (and the monitor's end done) when a stop was asked for."""
    from . import lifecycle

    S = lifecycle.ContainerStatus
    cancelled = []

    def check(state: lifecycle.ContainerState) -> lifecycle.ContainerState:
        if state.status is S.RESTARTING and not state.manually_stopped:
            return state
        cancelled.append(True)
        _finalize(layout, container_id, auto_remove=False)
        if state.status is S.RESTARTING:
            return state.transition(S.EXITED, monitor_pid=0, pid=0)
        return state.replace(monitor_pid=0)

    try:
        lifecycle.update(layout, container_id, check, timeout=LOCK_WAIT * 30)
    except Exception as exc:  # noqa: BLE001
        if not _is_not_found(exc):
            raise
        return True
    return bool(cancelled)


def _job_health(layout: Layout, container_id: str, runtime: dict[str, t.Any], argv: list[str],
                timeout: float) -> tuple[t.Any, ...]:
    """Run one probe with ``runtime.exec``: ``(exit_code, output, timed_out)`` or ``("skipped",)``."""
    from . import lifecycle
    from ..runtime import set_subreaper

    state = lifecycle.load(layout, container_id)
    if state.status is not lifecycle.ContainerStatus.RUNNING:
        return ("skipped",)
    # Docker runs the probe as the container's process runs (user, env, cwd, capabilities), minus the tty
    process = dict((_read_json(os.path.join(layout.bundle(container_id), "config.json")) or {}).get("process") or {})
    process.update(args=list(argv), terminal=False)
    process.pop("consoleSize", None)
    set_subreaper()  # a runtime binary forks the process and exits: it must become our child
    rt = make_runtime(layout, runtime)
    deadline = time.monotonic() + timeout
    r, w = os.pipe()
    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            pid = rt.exec(container_id, process, stdio=(null, w, w), detach=True)
        except Exception as exc:  # noqa: BLE001  (Docker: exit code -1 with the error as output)
            return (-1, str(exc).encode(), False)
    finally:
        os.close(w)
        os.close(null)
    output = bytearray()
    code = None
    eof = False
    exited_at = 0.0
    poller = select.poll()
    poller.register(r, select.POLLIN)
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
                _waitpid(pid)
                return (-1, bytes(output), True)
            if not eof and poller.poll(20):
                chunk = os.read(r, 65536)
                if not chunk:
                    eof = True
                elif len(output) <= health.MAX_OUTPUT:
                    output += chunk[:health.MAX_OUTPUT + 1 - len(output)]
            elif eof:
                time.sleep(0.01)
            if code is None:
                try:
                    got, status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    got, status = pid, 255 << 8
                if got:
                    code = os.waitstatus_to_exitcode(status)
                    code = 128 - code if code < 0 else code
                    exited_at = time.monotonic()
            if code is not None and (eof or time.monotonic() - exited_at > 0.2):
                return (code, bytes(output), False)
    finally:
        os.close(r)


def _job_write_health(layout: Layout, container_id: str, value: dict[str, t.Any]) -> bool:
    from . import lifecycle

    S = lifecycle.ContainerStatus

    def put(state: lifecycle.ContainerState) -> lifecycle.ContainerState:
        if state.status not in (S.RUNNING, S.PAUSED):
            return state
        return state.replace(health=value)

    lifecycle.update(layout, container_id, put, timeout=LOCK_WAIT * 30)
    return True


def _job_record_crash(layout: Layout, container_id: str, message: str) -> bool:
    from . import lifecycle

    def put(state: lifecycle.ContainerState) -> lifecycle.ContainerState:
        return state.replace(error=message)

    lifecycle.update(layout, container_id, put, timeout=LOCK_WAIT)
    return True

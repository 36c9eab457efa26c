# SPDX-License-Identifier: GPL-3.0-or-later
"""The caller's side of the monitor (``spawn``, ``prefork``, ``wait_exit``, ``attach_connect``,
``read_frames``, ``adopt``): the double fork, the process that becomes the monitor (``_BOOT``), and the
*starter* (a fork of the caller, with the caller's engine loaded) that creates and starts the container
(``monitor_jobs.start_container``); the drawing is in ``monitor.py``.

Apart from ``monitor.py`` so that none of this stays in the memory of an idle monitor (one per container);
the monitor's workers run ``monitor_jobs``.
"""
from __future__ import annotations

import marshal
import os
import select
import sys
import time

from ..core import cjson
from ..core.layout import Layout
from .fds import (
    ATTACH_FD, CONSOLE_DIR_FD, CONSOLE_FD, ERR_FD, HANDOFF_FD, IN_FD, OUT_FD, STATUS_FD, STDERR_FD,
    STDIN_FD, STDOUT_FD,
)
from .monitor_jobs import make_runtime, start_container
from .plumbing import (
    _console_address, _describe, _read_json, _terminal_size, _unix_path_call, _unlink, _waitpid, _write_all,
    _write_event,
)
from .policy import monitor_settings

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
            if attach.get("detach_keys"):
                argv += ["--detach-keys", str(attach["detach_keys"])]
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


def wait_exit(spawned: Spawned, timeout: float | None = None) -> int | None:
    """Block until the monitor reports the container's (first) exit; returns the exit code, or None when
    the caller detached (its detach keys)."""
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
            if event.get("event") == "detached":  # the caller typed the detach keys: the container runs on
                return None
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

# SPDX-License-Identifier: GPL-3.0-or-later
"""The detached per-container monitor (the conmon / containerd-shim analogue).

::

  caller (ContainerService)        A: the monitor-to-be (fork)          X: the starter (fork of A)
  -------------------------        ---------------------------          -------------------------
  spawn(): ensure_lib(), status
    pipe, fork -> setsid -> fork
    (the first child exits: A is
    nobody's child)
                                   PR_SET_CHILD_SUBREAPER
                                   container pipes | console socket,
                                   attach socket (hidden name), handoff
                                   pipe; fork ------------------------> (the caller's engine is loaded:
                                   fds -> 3 status, 4/5/6 attach,        nothing to import again)
                                   7 handoff, 8/9/10 container stdio,    under the container lock:
                                   11/12 console, 13 attach socket;      runtime.create + start
                                   execv python3 -S -I -c '...main()'    state -> running (pid, monitor_pid)
                                   (starts while X creates)              attach socket renamed into place
  <-- {"event":"started","pid":N,"monitor_pid":M} ----------------------
  (detached: return;             monitor: reads the handoff <--------- pid, health, exit plan (marshal); exit
   attached: wait_exit)                   (the init is our child: X exited, or the PID namespace's
                                           first process did, and we are the subreaper)
                                   loop: output -> json-file log, attached fds,
                                         monitor.sock clients; stdin <- attach/clients;
                                         SIGCHLD/SIGWINCH/SIGUSR1 through a wakeup pipe;
                                         health probes ------------------> worker: runtime.exec, wait, output
                                   init exits: drain output (2 s at most)
                                   exit, under the container lock: OOM? (read from the cgroup file the
                                     exit plan names), unmount the rootfs, remove the cgroup and the
                                     runtime state, attach socket; state -> exited (or, with --rm, the
                                     container directory renamed into tmp/ and its names dropped)
  <-- {"event":"exited","exit_code":N} (first exit only)
                                   still under the lock: runtime.delete when the plan cannot (runc,
                                     crun, hooks); then delete the renamed directory (--rm)
                                   restart policy instead: worker -> runtime.delete, state restarting;
                                     back-off 100 ms doubling to 1 min (reset after 10 s of running),
                                     cancelled when state.json says manually_stopped (polled by stat, or
                                     SIGUSR1); restarts are created by a worker

Decisions:

* **Start path.** ``berth run`` waits for the container to start and (attached) for its exit code, so
  nothing that can run elsewhere runs between them: the container is created by a fork of the caller
  (whose engine is loaded: nothing is imported again), the monitor's interpreter starts while it is
  being created, and at the exit the caller hears the code before the only slow part of ``--rm``
  (deleting the files) begins. ``ContainerService.start`` even forks both before it mounts the rootfs
  and writes the bundle (``monitor_ops.prefork``, then ``go()``): the starter imports the runtime and
  the monitor's interpreter starts meanwhile, on the second core. The unmount and the cgroup removal
  stay *before* the exit is reported: when ``run --rm`` returns, no mount or cgroup of the container is
  left (Docker's guarantee, and the functional tests check it). Measured on the 2-core test hosts,
  ``run --rm busybox true``: 373 ms before this design, ~165 ms with it and a first import diet, ~110-160 ms
  (2.3-2.7x ``runc run``) since the CLI, the starter and the init import no ``typing``, ``dataclasses``,
  ``re``, ``json``, ``enum``, ``contextlib`` or ``socket`` (``core/value.py``, ``core/cjson.py``,
  ``core/lazy.Pattern``); the breakdown is in docs/dev/runtime-design.md, "Start path".
* **Memory.** One monitor per container, so it imports almost nothing: ``-S -I``, no ``typing``/``enum``/
  ``json``/``socket``/``signal``/``dataclasses`` (the C modules ``_signal``, ``_socket``, ``_json``, ``select``
  and ``marshal`` instead; JSON through ``sync.loads``), and only this module of its own code: what runs
  in the caller, its forks or the monitor's workers is in ``monitor_ops``. The OCI runtime, ``lifecycle``
  and the cgroup code run in the starter or in short-lived *workers* (forks of the monitor that send their
  result back with ``marshal``), never in the idle monitor. PR_SET_CHILD_SUBREAPER is set before
  ``execv`` (the attribute survives it), so the monitor never loads ``ctypes`` while the container runs.
  Measured: ~3.6 MiB PSS per idle monitor with 10 running (a bare ``python3 -S -I`` is ~2.6 MiB of it);
  the first monitor of a library copy compiles its modules in a throw-away fork (see ``_BOOT``),
  otherwise it would keep ~4 MiB of compiler garbage.
* **The exit is recorded by the monitor itself** when the runtime gave an exit plan (Berth's runtime; runc
  and crun for the OOM file): under the container lock it reads the OOM counter, unmounts the rootfs
  (``umount2`` through ``_ctypes``: importing ctypes would cost ~7 ms here), removes the cgroup and the
  runtime state, then writes ``exited`` or, with ``--rm``, renames the container directory into tmp/ and
  drops its names; the caller hears the exit code after that, and the renamed directory is deleted last.
  A ``start`` that follows takes the lock, so it can never lose its mount to a late unmount. Restarts and
  injected runtimes go through a worker (``_job_exit``). Between restarts the rootfs stays mounted.
* **Locking.** The monitor writes state with ``lifecycle.update`` (the container lock, waited for up to
  20 s). ``spawn`` must therefore be called *without* holding the container lock, and nobody may wait
  for the monitor (``wait_exit``, a status change) while holding it.
* **Runtime selection.** ``runtime={"name": "berth"|"runc"|"crun"|..., "path": binary or None}``; the
  state root is ``<root>/runtime/<name>`` (the service uses the same). ``"factory": "/abs/file.py:callable"``
  plugs in another implementation: the starter and the workers load the file and call
  ``callable(state_root, spec)``.
  Objects cannot cross ``execv``, so this is how a runtime is injected (the functional tests use it for a
  runtime without namespaces); a runtime object may also answer ``oom_killed(id)`` itself, otherwise the
  cgroup named by the bundle's ``linux.cgroupsPath`` is asked.
* **Signals.** SIGHUP, SIGINT, SIGTERM and SIGPIPE are ignored (a shutdown's SIGTERM reaches the container,
  whose exit the monitor then records); SIGKILL is the way to get rid of a monitor. SIGWINCH copies the
  caller's terminal size to the container's pty; SIGUSR1 makes a restarting monitor re-read the state now.
* **Attach socket** (``layout.attach_socket(id)``): clients get the live output — raw bytes with a tty,
  else Docker's multiplexed frames (``[stream, 0, 0, 0, size (4 bytes, big endian)] + payload``, stream 1
  stdout, 2 stderr) — and what they send goes to the container's stdin when it is open (``interactive``).
  They see EOF when the container exits; one that does not take its output within 5 s is dropped.
  :func:`attach_connect` and :func:`read_frames` are the client side.
* **Replacement monitors** (``monitor_ops.adopt``, ``--adopt PID``): when a monitor died (SIGKILL) and its
  container still runs, the service starts another that attaches to the init with ``PTRACE_SEIZE`` (it is
  no longer our child; a tracer hears its exit status), passes each signal stop on at once, and from then on
  records the exit, restarts and removes as any monitor does (``_adopt_running``); ``monitor_ops.adopt``
  says why not the alternatives. The only ``_ctypes`` a monitor keeps loaded while the container runs.
* **Exit codes.** 128+N for a signal N; a start failure is reported with Docker's code (127 not found,
  126 not executable, 128 otherwise) on the ``RuntimeFailure`` and in the state (its status unchanged).
"""
from __future__ import annotations

import gc
import marshal
import os
import select
import sys
import time

from ..core import trust
from ..core.layout import Layout
from . import health, logs
from ..runtime import sync

try:
    import _signal as _sig  # signal.py only adds enums on top (and imports enum: ~0.8 MB per monitor)
except ImportError:  # pragma: no cover
    import signal as _sig  # type: ignore[no-redef]
try:
    import _socket as _sock  # socket.py imports enum and selectors (~1.2 MB per monitor)
except ImportError:  # pragma: no cover
    import socket as _sock  # type: ignore[no-redef]

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

#: Names that live in monitor_ops (the caller's side and the workers' jobs), offered here as before.
_OPS = frozenset({"Spawned", "python_executable", "spawn", "prefork", "Preforked", "wait_exit", "attach_connect",
                  "read_frames", "make_runtime", "start_container", "exit_plan", "adopt"})


def __getattr__(name: str) -> t.Any:
    if name in _OPS:
        from . import monitor_ops

        return getattr(monitor_ops, name)
    raise AttributeError(name)


#: The fds a monitor starts with (spawn puts them there): the status pipe, the attached caller's stdio,
#: the handoff pipe from the starter, the container's stdio (our ends), the console socket (tty) and the
#: directory it is named through when its path is too long, the attach socket.
STATUS_FD, STDIN_FD, STDOUT_FD, STDERR_FD = 3, 4, 5, 6
HANDOFF_FD, OUT_FD, ERR_FD, IN_FD, CONSOLE_FD, CONSOLE_DIR_FD, ATTACH_FD = 7, 8, 9, 10, 11, 12, 13
#: How long output may still arrive after the init exited (something else may hold the pipe).
DRAIN_TIMEOUT = 2.0
#: Docker's restart manager.
BACKOFF_FIRST, BACKOFF_MAX, BACKOFF_RESET_AFTER = 0.1, 60.0, 10.0
#: How often a restarting monitor looks at state.json (a stat) for a stop request.
STOP_POLL = 0.1
#: Container-lock wait in workers (spawn's caller gives up after 30 s by default).
LOCK_WAIT = 20.0
CONSOLE_TIMEOUT = 10.0
CLIENT_SEND_TIMEOUT = 5.0
INPUT_BUFFER_MAX = 1 << 20
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


# ====================================================================== helpers shared with monitor_ops
def _console_address(path: str, dirfd: int) -> str:
    """What a runtime started by this process connects to (it may be another process: no /proc/self)."""
    if dirfd < 0:
        return path
    return f"/proc/{os.getpid()}/fd/{dirfd}/{os.path.basename(path)}"


def _terminal_size(fds: t.Iterable[int | None]) -> tuple[int, int] | None:
    """(rows, columns) of the first terminal among *fds*."""
    import fcntl
    import termios

    for fd in fds:
        if fd is None or fd < 0:
            continue
        try:
            raw = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
        except OSError:
            continue
        rows, cols = int.from_bytes(raw[0:2], sys.byteorder), int.from_bytes(raw[2:4], sys.byteorder)
        return (rows, cols) if rows and cols else None
    return None


def _unix_path_call(call: t.Callable[[str], t.Any], path: str) -> t.Any:
    """bind/connect to *path*, through ``/proc/self/fd/<dir>/<name>`` when it is too long for sun_path."""
    if len(os.fsencode(path)) < 108:
        return call(path)
    dirfd = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return call(f"/proc/self/fd/{dirfd}/{os.path.basename(path)}")
    finally:
        os.close(dirfd)


def _waitpid(pid: int) -> int | None:
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except ChildProcessError:
            return None
        except InterruptedError:  # pragma: no cover
            continue


# ====================================================================== pure helpers
def next_backoff(previous: float, ran: float) -> float:
    """Docker's restart delay: 100 ms, doubling up to 1 min; back to 100 ms after a run of 10 s or more."""
    if ran >= BACKOFF_RESET_AFTER or previous <= 0:
        return BACKOFF_FIRST
    return min(previous * 2, BACKOFF_MAX)


def start_failure_exit_code(message: str) -> int:
    """Docker's exit code for a container that could not start (``translateContainerdStartErr``)."""
    low = message.lower()
    if "executable file not found" in low or "no such file or directory" in low or "not a directory" in low:
        return 127
    if "permission denied" in low or "exec format error" in low:  # found, but cannot be invoked
        return 126
    return 128


def monitor_settings(record: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """What the monitor needs from a container record (``containers/<id>/config.json``).

    Read from the normalised options (``Desired``): restart_policy/restart_retries, log_driver,
    log_options (``max-size`` bytes, ``max-file``), auto_remove, tty, interactive; the healthcheck from
    ``Healthcheck`` (the effective one, image merged, when the service records it) or ``Desired``.
    """
    opts = record.get("Desired") or {}
    policy = str(opts.get("restart_policy") or "no")
    retries = int(opts.get("restart_retries") or 0)
    if policy.startswith("on-failure:"):
        policy, retries = "on-failure", int(policy.split(":", 1)[1] or 0)
    log_opts = opts.get("log_options") or {}
    max_size = log_opts.get("max-size")
    check = record["Healthcheck"] if "Healthcheck" in record else opts.get("healthcheck")
    return {
        "restart_policy": policy,
        "restart_retries": retries,
        "log_driver": str(opts.get("log_driver") or "json-file"),
        "max_size": _bytes(max_size) if max_size else None,
        "max_file": int(log_opts.get("max-file") or 1),
        "healthcheck": health.normalise(check),
        "auto_remove": bool(opts.get("auto_remove")),
        "tty": bool(opts.get("tty")),
        "open_stdin": bool(opts.get("interactive")),
    }


def _bytes(value: t.Any) -> int:
    if isinstance(value, int):
        return value
    text = str(value).strip().lower().rstrip("b")
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def _dumps(value: t.Any) -> str:
    """JSON for the status events (str/int/bool/None/dict), without importing json."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{logs._json_string(str(k))}:{_dumps(v)}" for k, v in value.items()) + "}"
    return logs._json_string(str(value))


def _describe(exc: BaseException) -> dict[str, t.Any]:
    """An exception as plain data (it crosses the worker pipe with marshal)."""
    out: dict[str, t.Any] = {"message": str(exc) or type(exc).__name__, "type": type(exc).__name__}
    for key in ("container", "step", "reason"):
        value = getattr(exc, key, None)
        if isinstance(value, str):
            out[key] = value
    err = getattr(exc, "errno", None)
    if isinstance(err, int):
        out["errno"] = err
    return out


class WorkerFailed(Exception):
    def __init__(self, info: dict[str, t.Any]) -> None:
        super().__init__(info.get("message", "worker failed"))
        self.info = info


# ====================================================================== the monitor process
def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python3 -S -I -c '...main()' ROOT ID [--runtime NAME] [--runtime-path P]
    [--runtime-factory F] [--stdin] [--stdout] [--stderr] [--adopt PID]``. Never returns."""
    mon = None
    try:
        args = sys.argv[1:] if argv is None else argv
        root, cid, opts = _parse_args(args)
        mon = Monitor(Layout(root), cid, opts)
        mon.run()
    except BaseException as exc:  # noqa: BLE001
        if mon is not None:
            mon.crashed(exc)
        else:
            _write_event(STATUS_FD, {"event": "error", "message": f"monitor: {exc}"})
        os._exit(1)
    os._exit(0)


def _parse_args(args: list[str]) -> tuple[str, str, dict[str, t.Any]]:
    if len(args) < 2:
        raise ValueError("usage: monitor ROOT ID [options]")
    opts: dict[str, t.Any] = {"runtime": "berth", "runtime_path": None, "runtime_factory": None,
                              "stdin": False, "stdout": False, "stderr": False, "console": None,
                              "attach_socket": None, "adopt": None}
    valued = ("--runtime", "--runtime-path", "--runtime-factory", "--console", "--attach-socket", "--adopt")
    i = 2
    while i < len(args):
        arg = args[i]
        if arg in valued and i + 1 < len(args):
            opts[arg[2:].replace("-", "_")] = args[i + 1]
            i += 2
        elif arg in ("--stdin", "--stdout", "--stderr"):
            opts[arg[2:]] = True
            i += 1
        else:
            raise ValueError(f"unknown monitor argument {arg!r}")
    return args[0], args[1], opts


def _write_event(fd: int, event: dict[str, t.Any]) -> bool:
    if fd < 0:
        return False
    data = (_dumps(event) + "\n").encode()
    try:
        while data:
            data = data[os.write(fd, data):]
        return True
    except OSError:
        return False


def _noop(_signum: int, _frame: t.Any) -> None:
    pass


class Monitor:
    def __init__(self, layout: Layout, container_id: str, opts: t.Mapping[str, t.Any]) -> None:
        self.layout = layout
        self.id = container_id
        self.runtime = {"name": opts["runtime"], "path": opts["runtime_path"], "factory": opts["runtime_factory"]}
        self.status_fd = STATUS_FD if _fd_open(STATUS_FD) else -1
        self.attach_in = STDIN_FD if opts["stdin"] and _fd_open(STDIN_FD) else -1
        self.attach_out = STDOUT_FD if opts["stdout"] and _fd_open(STDOUT_FD) else -1
        self.attach_err = STDERR_FD if opts["stderr"] and _fd_open(STDERR_FD) else -1
        #: what spawn prepared: the container's stdio (our ends), console and attach sockets
        self.given = {fd for fd in (HANDOFF_FD, OUT_FD, ERR_FD, IN_FD, CONSOLE_FD, CONSOLE_DIR_FD, ATTACH_FD)
                      if _fd_open(fd)}
        for fd in (self.status_fd, self.attach_in, self.attach_out, self.attach_err, *self.given):
            if fd >= 0:
                os.set_inheritable(fd, False)  # never into a container
        self.hidden_socket = opts["attach_socket"] or ""
        self.settings: dict[str, t.Any] = {}
        self.poller = select.poll()
        self.handlers: dict[int, t.Callable[[int, int], None]] = {}
        self.masks: dict[int, int] = {}
        self.wake_r = self.wake_w = -1
        self.log: logs.LogWriter | None = None
        self.tty = False
        self.outputs: dict[int, str] = {}  # fd -> stream
        self.master = -1
        self.stdin_w = -1
        self.stdin_buf = bytearray()
        self.close_stdin_when_flushed = False
        self.listener: t.Any = None
        self.clients: dict[int, t.Any] = {}
        self.console: t.Any = None
        self.console_path: str | None = None
        self.console_file = opts["console"] or ""
        self.console_dirfd = CONSOLE_DIR_FD if CONSOLE_DIR_FD in self.given else -1
        self.plan: dict[str, t.Any] | None = None
        self.cancelled = False
        self.jobs: dict[int, list[t.Any]] = {}  # read fd -> [pid, buffer, callback, started]
        self.checker: health.HealthChecker | None = None
        self.health_job = -1
        self.health_pending: dict[str, t.Any] | None = None
        self.health_writing = False
        self._probe_started = (0.0, 0)
        self.init_pid = 0
        self.started = 0.0
        self.exit_code = 0
        self.ran = 0.0
        self.phase = "starting"  # running -> draining -> backoff -> running ... -> done
        self.drain_deadline = 0.0
        self.backoff = 0.0
        self.restart_at = 0.0
        self.next_stop_poll = 0.0
        self.state_stamp: tuple[int, int] | None = None
        self.reported_exit = False
        self.started_reported = False
        #: a replacement monitor: the running container's init it takes over (``monitor_ops.adopt``)
        self.adopt_pid = int(opts.get("adopt") or 0)
        self.traced = False  # the init is ours through ptrace, not as a child

    # ------------------------------------------------------------------ lifecycle of the monitor
    def run(self) -> None:
        self._setup_signals()
        record = _read_json(self.layout.container_config(self.id))
        if record is None:
            raise FileNotFoundError(f"container {self.id} has no record {self.layout.container_config(self.id)}")
        self.settings = monitor_settings(record)
        self.tty = bool(self.settings["tty"])
        log_made = False
        if self.settings["log_driver"] == "json-file":
            log_made = not os.path.exists(self.layout.container_log(self.id))
            self.log = logs.LogWriter(self.layout.container_log(self.id), self.settings["max_size"],
                                      self.settings["max_file"])
        if self.tty:
            if CONSOLE_FD not in self.given:
                raise OSError(9, "the monitor was started without its console socket")
            self.console = _sock.socket(_sock.AF_UNIX, _sock.SOCK_STREAM, 0, CONSOLE_FD)
            self.console_path = _console_address(self.console_file, self.console_dirfd)  # for restarts
        if not (self._adopt_running() if self.adopt_pid else self._start(first=True)):
            self._end()
            if self.cancelled and log_made:  # the caller cancelled: leave no trace (the log was empty)
                _unlink(self.layout.container_log(self.id))
            return
        gc.collect()
        gc.freeze()
        self._loop()
        self._end()

    def _setup_signals(self) -> None:
        for name in ("SIGHUP", "SIGINT", "SIGTERM", "SIGPIPE"):
            _sig.signal(getattr(_sig, name), _sig.SIG_IGN)
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)
        _sig.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        for name in ("SIGCHLD", "SIGWINCH", "SIGUSR1"):
            _sig.signal(getattr(_sig, name), _noop)
        self._register(self.wake_r, select.POLLIN, self._on_wake)

    def crashed(self, exc: BaseException) -> None:
        """Last words: tell the spawner (if it still waits) and record the error in the state."""
        info = _describe(exc)
        if not self.started_reported:
            _write_event(self.status_fd, dict(info, event="error"))
        try:
            self._sync("_job_record_crash", self.layout, self.id, f"monitor failed: {info['message']}")
        except BaseException:  # noqa: BLE001
            pass

    def _end(self) -> None:
        for sock in list(self.clients.values()):
            sock.close()
        self.clients.clear()
        if self.listener is not None:
            self.listener.close()
        if self.console is not None:
            self.console.close()
            _unlink(self.console_file)
        if self.log is not None:
            self.log.close()

    # ------------------------------------------------------------------ workers
    def _private_fds(self) -> set[int]:
        fds = {self.wake_r, self.wake_w, self.status_fd, self.attach_in, self.attach_out, self.attach_err,
               self.stdin_w, self.master, *self.outputs, *self.clients, *self.jobs}
        if self.listener is not None:
            fds.add(self.listener.fileno())
        return {fd for fd in fds if fd >= 0}

    def _fork(self, job: str, args: tuple[t.Any, ...], keep: t.Iterable[int] = ()) -> tuple[int, int]:
        """Run ``monitor_ops.<job>(*args)`` in a fork (imported there: never in the monitor's memory)."""
        r, w = os.pipe()
        private = self._private_fds() - set(keep)
        pid = os.fork()
        if pid == 0:  # pragma: no cover  (reported through the pipe)
            try:
                _sig.set_wakeup_fd(-1)
                for name in ("SIGHUP", "SIGINT", "SIGTERM", "SIGPIPE", "SIGCHLD", "SIGWINCH", "SIGUSR1"):
                    _sig.signal(getattr(_sig, name), _sig.SIG_DFL)
                os.close(r)
                for fd in private:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
                from . import monitor_ops

                result = ("ok", getattr(monitor_ops, job)(*args))
            except BaseException as exc:  # noqa: BLE001
                result = ("error", _describe(exc))
            try:
                try:
                    data = marshal.dumps(result)
                except ValueError:
                    data = marshal.dumps(("error", {"message": f"unserialisable result of {job}"}))
                while data:
                    data = data[os.write(w, data):]
            finally:
                os._exit(0)
        os.close(w)
        return pid, r

    def _sync(self, job: str, *args: t.Any, keep: t.Iterable[int] = ()) -> t.Any:
        pid, r = self._fork(job, args, keep)
        chunks = []
        try:
            while True:
                chunk = os.read(r, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(r)
        _waitpid(pid)
        return _decode(b"".join(chunks), job)

    def _async(self, job: str, args: tuple[t.Any, ...],
               callback: t.Callable[[t.Any, BaseException | None], None]) -> int:
        pid, r = self._fork(job, args)
        os.set_blocking(r, False)
        self.jobs[r] = [pid, bytearray(), callback, time.monotonic(), job]
        self._register(r, select.POLLIN, self._on_job)
        return r

    def _on_job(self, fd: int, _events: int) -> None:
        job = self.jobs[fd]
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        if chunk:
            job[1] += chunk
            return
        self._unregister(fd)
        del self.jobs[fd]
        os.close(fd)
        try:
            result, error = _decode(bytes(job[1]), job[4]), None
        except WorkerFailed as exc:
            result, error = None, exc
        job[2](result, error)

    def _kill_job(self, fd: int) -> None:
        job = self.jobs.pop(fd, None)
        if job is None:
            return
        self._unregister(fd)
        os.close(fd)
        if job[0]:
            try:
                os.kill(job[0], 9)
            except OSError:
                pass

    # ------------------------------------------------------------------ poll plumbing
    def _register(self, fd: int, mask: int, handler: t.Callable[[int, int], None]) -> None:
        self.handlers[fd] = handler
        self.masks[fd] = mask
        self.poller.register(fd, mask)

    def _modify(self, fd: int, mask: int) -> None:
        if fd in self.masks and self.masks[fd] != mask:
            self.masks[fd] = mask
            self.poller.modify(fd, mask)

    def _unregister(self, fd: int) -> None:
        if fd in self.handlers:
            del self.handlers[fd]
            del self.masks[fd]
            self.poller.unregister(fd)

    # ------------------------------------------------------------------ start
    def _start(self, first: bool) -> bool:
        """Take over the container the starter created (first start) or create it again through a worker
        (restarts); False when it did not start (reported)."""
        child: list[int] = []  # the container's ends, closed here once the runtime has them
        mine: dict[str, int] = {}  # stdout/stderr read ends
        stdin_w = -1
        if first:
            if not self.tty:
                mine = {"stdout": OUT_FD, "stderr": ERR_FD}
                stdin_w = IN_FD if IN_FD in self.given else -1
            result = self._adopt()
        else:
            stdio = None
            if not self.tty:
                out_r, out_w = os.pipe()
                err_r, err_w = os.pipe()
                if self.settings["open_stdin"]:
                    in_r, stdin_w = os.pipe()
                else:
                    in_r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
                stdio = (in_r, out_w, err_w)
                child = [in_r, out_w, err_w]
                mine = {"stdout": out_r, "stderr": err_r}
            try:
                result = self._sync("_job_start", self.layout, self.id, self.runtime, stdio, self.console_path,
                                    self.settings["healthcheck"], os.getpid(), self._caller_size(), keep=child)
            finally:
                for fd in child:
                    os.close(fd)
        if "pid" not in result:
            for fd in [*mine.values(), stdin_w]:
                if fd >= 0:
                    os.close(fd)
            if "error" in result and not self.started_reported and not result.get("reported"):
                _write_event(self.status_fd, dict(result["error"], event="error", exit_code=result["exit_code"]))
            self.phase = "done"
            return False
        self.init_pid = int(result["pid"])
        self.started = time.monotonic()
        self.plan = result.get("plan")
        if self.tty:
            self.master = self._receive_master()
            os.set_blocking(self.master, False)
            self._resize()
            self.outputs[self.master] = "stdout"
            self.stdin_w = self.master
            self._register(self.master, select.POLLIN, self._on_master)
        else:
            for stream, fd in mine.items():
                os.set_blocking(fd, False)
                self.outputs[fd] = stream
                self._register(fd, select.POLLIN, self._on_output)
            if stdin_w >= 0:
                os.set_blocking(stdin_w, False)
                self.stdin_w = stdin_w
        if self.attach_in >= 0 and self.stdin_w >= 0 and self.attach_in not in self.handlers:
            self._register(self.attach_in, select.POLLIN, self._on_attach_stdin)
        if self.settings["healthcheck"]:
            self.checker = health.HealthChecker(self.settings["healthcheck"], health=result.get("health"))
        self.phase = "running"
        if self.listener is None:
            self._listen()
        if not self.started_reported:
            self.started_reported = True
            if not result.get("reported"):
                _write_event(self.status_fd, {"event": "started", "pid": self.init_pid, "monitor_pid": os.getpid()})
        if first:
            self._reap()  # the init may have exited before our SIGCHLD handler was there
        return True

    def _adopt(self) -> dict[str, t.Any]:
        """The starter's result (it has reported to the caller already); WorkerFailed when it died."""
        chunks = []
        try:
            while True:
                chunk = os.read(HANDOFF_FD, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(HANDOFF_FD)
            self.given.discard(HANDOFF_FD)
        result = _decode(b"".join(chunks), "start")
        if "crashed" in result:
            raise WorkerFailed(result["crashed"])
        self.cancelled = bool(result.get("cancelled"))
        if "pid" not in result:
            _unlink(self.hidden_socket)  # a start that did not happen leaves the socket path alone
        return result

    def _adopt_running(self) -> bool:
        """A replacement monitor takes over a running container whose monitor died (``monitor_ops.adopt``
        explains why ptrace); False when it cannot (reported). The output pipes died with the old monitor:
        this one records the exit, applies the restart policy and ``--rm``, and runs health probes."""
        pid = self.adopt_pid
        try:
            _ptrace(PTRACE_SEIZE, pid, 0)
        except OSError as exc:
            _unlink(self.hidden_socket)
            _write_event(self.status_fd, {"event": "error", "reason": f"cannot trace the container's init (pid "
                                          f"{pid}) to take it over: {exc.strerror or exc}"})
            self.phase = "done"
            return False
        self.traced = True
        try:
            result = self._sync("_job_adopt", self.layout, self.id, self.runtime, pid, os.getpid(),
                                self.hidden_socket)
        except WorkerFailed as exc:
            result = {"error": {"message": str(exc)}}
        if "pid" not in result:
            _unlink(self.hidden_socket)
            self._untrace()
            _write_event(self.status_fd, dict(result["error"], event="error"))
            self.phase = "done"
            return False
        self.init_pid = pid
        self.started = time.monotonic()
        self.plan = result.get("plan")
        if self.settings["healthcheck"]:
            self.checker = health.HealthChecker(self.settings["healthcheck"], health=result.get("health"))
        self.phase = "running"
        self._listen()
        self.started_reported = True
        _write_event(self.status_fd, {"event": "started", "pid": pid, "monitor_pid": os.getpid()})
        self._reap()  # stops (or the exit) that came before our SIGCHLD handler looked
        return True

    def _untrace(self) -> None:
        self.traced = False
        try:
            _ptrace(PTRACE_DETACH, self.adopt_pid, 0)
        except OSError:
            pass  # gone, or not in a ptrace-stop: the kernel detaches us when we exit

    def _resume_tracee(self, pid: int, status: int) -> None:
        """A traced init stopped: a signal on its way in (deliver it, as if we were not there) or a
        group-stop (``SIGSTOP``: it stays stopped, ``PTRACE_LISTEN``, until a ``SIGCONT``)."""
        try:
            if status >> 16 == PTRACE_EVENT_STOP:
                _ptrace(PTRACE_LISTEN, pid, 0)
            else:
                _ptrace(PTRACE_CONT, pid, os.WSTOPSIG(status))
        except OSError:
            pass  # killed meanwhile (SIGKILL needs nobody): its exit comes next

    def _listen(self) -> None:
        """Serve the attach socket spawn bound (the starter renamed it into place)."""
        if ATTACH_FD not in self.given:
            return
        sock = _sock.socket(_sock.AF_UNIX, _sock.SOCK_STREAM, 0, ATTACH_FD)
        sock.setblocking(False)
        self.listener = sock
        self._register(sock.fileno(), select.POLLIN, self._on_listener)

    def _receive_master(self) -> int:
        """Accept the runtime's connection on the console socket and take the pty master (SCM_RIGHTS)."""
        poller = select.poll()
        poller.register(self.console.fileno(), select.POLLIN)
        if not poller.poll(int(CONSOLE_TIMEOUT * 1000)):
            raise OSError(110, f"no pty master arrived on the console socket within {CONSOLE_TIMEOUT:g}s")
        fd, _addr = self.console._accept()
        conn = _sock.socket(_sock.AF_UNIX, _sock.SOCK_STREAM, 0, fd)
        try:
            conn.settimeout(CONSOLE_TIMEOUT)
            _msg, ancdata, _flags, _addr = conn.recvmsg(4096, _sock.CMSG_SPACE(4 * 8))
        finally:
            conn.close()
        got = []
        for level, kind, data in ancdata:
            if level == _sock.SOL_SOCKET and kind == _sock.SCM_RIGHTS:
                got += [int.from_bytes(data[i:i + 4], sys.byteorder) for i in range(0, len(data) - 3, 4)]
        if not got:
            raise OSError(71, "the console socket message carried no file descriptor")
        for extra in got[1:]:
            os.close(extra)
        os.set_inheritable(got[0], False)
        return got[0]

    # ------------------------------------------------------------------ the loop
    def _loop(self) -> None:
        while self.phase != "done":
            events = self.poller.poll(self._timeout_ms())
            for fd, ev in events:
                handler = self.handlers.get(fd)
                if handler is not None:
                    handler(fd, ev)
            self._timers()

    def _timeout_ms(self) -> int:
        now = time.monotonic()
        deadlines = []
        if self.phase == "draining":
            deadlines.append(self.drain_deadline)
        elif self.phase == "backoff":
            deadlines += [self.restart_at, self.next_stop_poll]
        elif self.phase == "running" and self.checker is not None and self.health_job < 0:
            deadlines.append(self.checker.next_due)
        if self.health_job >= 0 and self.checker is not None:
            deadlines.append(self.jobs[self.health_job][3] + self.checker.timeout + 15.0)
        if not deadlines:
            return -1
        return max(0, int((min(deadlines) - now) * 1000) + 1)

    def _timers(self) -> None:
        now = time.monotonic()
        if self.phase == "running" and self.checker is not None and self.health_job < 0 and self.checker.due(now):
            self._probe()
        if self.health_job >= 0 and self.checker is not None \
                and now > self.jobs[self.health_job][3] + self.checker.timeout + 15.0:
            self._kill_job(self.health_job)  # the runtime itself hangs: count it as a timeout
            self.health_job = -1
            self._health_result(None, TimeoutError())
        if self.phase == "draining" and (not self.outputs or now >= self.drain_deadline):
            self._finish_run()
        elif self.phase == "backoff":
            if now >= self.next_stop_poll:
                self.next_stop_poll = now + STOP_POLL
                stamp = _stamp(self.layout.container_state(self.id))
                if stamp != self.state_stamp:
                    self.state_stamp = stamp
                    self._check_stop()
            if self.phase == "backoff" and now >= self.restart_at:
                if not self._start(first=False):
                    self.phase = "done"

    def _on_wake(self, fd: int, _events: int) -> None:
        try:
            data = os.read(fd, 512)
        except BlockingIOError:
            return
        nums = set(data)
        if _sig.SIGCHLD in nums:
            self._reap()
        if _sig.SIGWINCH in nums:
            self._resize()
        if _sig.SIGUSR1 in nums and self.phase == "backoff":
            self._check_stop()

    def _reap(self) -> None:
        while True:
            try:
                # __WALL: a traced init (a replacement monitor's) is not our child, but waitable as tracee
                pid, status = os.waitpid(-1, os.WNOHANG | (_WALL if self.traced else 0))
            except ChildProcessError:
                return
            if pid == 0:
                return
            for job in self.jobs.values():
                if job[0] == pid:
                    job[0] = 0  # gone: never signal this pid again (it may be reused)
            if pid == self.init_pid and self.traced:
                if os.WIFSTOPPED(status):
                    self._resume_tracee(pid, status)
                    continue
                self.traced = False  # its real exit status: the tracer hears it before the parent does
            if pid == self.init_pid:
                code = os.waitstatus_to_exitcode(status)
                self.exit_code = 128 - code if code < 0 else code
                self.ran = time.monotonic() - self.started
                self.init_pid = 0
                self.phase = "draining"
                self.drain_deadline = time.monotonic() + DRAIN_TIMEOUT

    # ------------------------------------------------------------------ output
    def _on_output(self, fd: int, _events: int) -> None:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the pty has no slave any more
            data = b""
        if data:
            self._deliver(self.outputs[fd], data)
        else:
            self._close_output(fd)

    def _on_master(self, fd: int, events: int) -> None:
        if events & select.POLLOUT:
            self._flush_stdin()
        if events & (select.POLLIN | select.POLLHUP | select.POLLERR):
            if fd in self.outputs:
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    return
                except OSError:
                    data = b""
                if data:
                    self._deliver("stdout", data)
                else:
                    self._close_output(fd)

    def _close_output(self, fd: int) -> None:
        self.outputs.pop(fd, None)
        if fd == self.master:
            self._unregister(fd)
            self.stdin_w = -1
            os.close(fd)
            self.master = -1
            return
        self._unregister(fd)
        os.close(fd)

    def _deliver(self, stream: str, data: bytes) -> None:
        if self.log is not None:
            try:
                self.log.write(stream, data)
            except OSError:
                pass  # a full disk must not stop the container: output still reaches attached callers
        fd = self.attach_err if stream == "stderr" and not self.tty else self.attach_out
        if fd >= 0:
            try:
                _write_all(fd, data)
            except OSError:
                self._drop_attach()
        if self.clients:
            frame = data if self.tty else bytes((2 if stream == "stderr" else 1, 0, 0, 0)) + \
                len(data).to_bytes(4, "big") + data
            for cfd, sock in list(self.clients.items()):
                try:
                    sock.sendall(frame)
                except OSError:
                    self._drop_client(cfd)

    # ------------------------------------------------------------------ stdin
    def _on_attach_stdin(self, fd: int, _events: int) -> None:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if data:
            self._feed_stdin(data)
            return
        self._unregister(fd)
        if not self.tty:  # Docker's StdinOnce for an attached run: the container sees EOF too
            self.close_stdin_when_flushed = True
            self._flush_stdin()

    def _feed_stdin(self, data: bytes) -> None:
        if self.stdin_w < 0:
            return
        if len(self.stdin_buf) + len(data) > INPUT_BUFFER_MAX:
            data = data[:max(0, INPUT_BUFFER_MAX - len(self.stdin_buf))]  # the container does not read: drop
        self.stdin_buf += data
        self._flush_stdin()

    def _flush_stdin(self) -> None:
        fd = self.stdin_w
        if fd < 0:
            return
        if self.stdin_buf:
            try:
                n = os.write(fd, self.stdin_buf)
                del self.stdin_buf[:n]
            except BlockingIOError:
                pass
            except OSError:
                self.stdin_buf.clear()
                self._close_stdin()
                return
        if fd == self.master:
            self._modify(fd, select.POLLIN | (select.POLLOUT if self.stdin_buf else 0))
            return
        if self.stdin_buf:
            if fd not in self.handlers:
                self._register(fd, select.POLLOUT, lambda _fd, _ev: self._flush_stdin())
        else:
            self._unregister(fd)
            if self.close_stdin_when_flushed:
                self._close_stdin()

    def _close_stdin(self) -> None:
        fd = self.stdin_w
        if fd < 0 or fd == self.master:
            return
        self._unregister(fd)
        os.close(fd)
        self.stdin_w = -1
        self.stdin_buf.clear()

    # ------------------------------------------------------------------ attach socket
    def _on_listener(self, fd: int, _events: int) -> None:
        try:
            cfd, _addr = self.listener._accept()
        except OSError:
            return
        sock = _sock.socket(_sock.AF_UNIX, _sock.SOCK_STREAM, 0, cfd)
        os.set_inheritable(cfd, False)
        sock.settimeout(CLIENT_SEND_TIMEOUT)
        self.clients[cfd] = sock
        self._register(cfd, select.POLLIN, self._on_client)

    def _on_client(self, fd: int, _events: int) -> None:
        sock = self.clients.get(fd)
        if sock is None:
            return
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop_client(fd)
        elif self.settings["open_stdin"]:
            self._feed_stdin(data)

    def _drop_client(self, fd: int) -> None:
        sock = self.clients.pop(fd, None)
        if sock is not None:
            self._unregister(fd)
            sock.close()

    def _drop_attach(self) -> None:
        """The attached caller went away (its terminal or pipe is gone)."""
        for name in ("attach_in", "attach_out", "attach_err"):
            fd = getattr(self, name)
            if fd >= 0:
                self._unregister(fd)
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, name, -1)

    # ------------------------------------------------------------------ tty size
    def _caller_size(self) -> tuple[int, int] | None:
        """(rows, columns) of the attached caller's terminal, for a tty container."""
        if not self.tty:
            return None
        return _terminal_size((self.attach_in, self.attach_out))

    def _resize(self) -> None:
        """SIGWINCH: copy the caller's terminal size to the container's pty."""
        size = self._caller_size() if self.master >= 0 else None
        if size is None:
            return
        import fcntl
        import termios

        raw = b"".join(n.to_bytes(2, sys.byteorder) for n in (size[0], size[1], 0, 0))
        try:
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, raw)
        except OSError:
            pass

    # ------------------------------------------------------------------ health
    def _probe(self) -> None:
        if self.checker is None:
            raise AssertionError('self.checker is not None')
        argv, timeout, started, start_ns = self.checker.begin()
        self._probe_started = (started, start_ns)
        self.health_job = self._async("_job_health", (self.layout, self.id, self.runtime, argv, timeout),
                                      self._health_result)

    def _health_result(self, result: t.Any, error: BaseException | None) -> None:
        self.health_job = -1
        checker = self.checker
        if checker is None or self.phase != "running":
            return
        started, start_ns = self._probe_started
        if error is not None or result is None:
            if isinstance(error, TimeoutError):
                new = checker.record(-1, b"", started, start_ns, timed_out=True)
            else:
                new = checker.record(-1, str(error).encode(), started, start_ns)
        elif result[0] == "skipped":
            checker.skip()
            return
        else:
            code, output, timed_out = result
            new = checker.record(int(code), bytes(output), started, start_ns, timed_out=bool(timed_out))
        self.health_pending = new
        self._write_health()

    def _write_health(self) -> None:
        if self.health_writing or self.health_pending is None:
            return
        pending, self.health_pending = self.health_pending, None
        self.health_writing = True

        def done(_result: t.Any, _error: BaseException | None) -> None:
            self.health_writing = False
            self._write_health()

        self._async("_job_write_health", (self.layout, self.id, pending), done)

    def _stop_health(self) -> None:
        """Before the exit is recorded: no probe may still run and no health write may land after it."""
        if self.health_job >= 0:
            self._kill_job(self.health_job)
            self.health_job = -1
        self.health_pending = None
        while self.health_writing and self.jobs:
            for fd in list(self.jobs):
                os.set_blocking(fd, True)
                self._on_job(fd, select.POLLIN)
        self.checker = None

    # ------------------------------------------------------------------ exit, restart, stop
    def _finish_run(self) -> None:
        for fd in list(self.outputs):
            self._drain_quietly(fd)
            self._close_output(fd)
        if self.log is not None:
            try:
                self.log.flush()
            except OSError:
                pass
        self._close_stdin()
        self.stdin_buf.clear()
        self.close_stdin_when_flushed = False
        self._stop_health()
        outcome = None
        if self.plan is not None:
            try:
                outcome = self._exit_in_place()
            except Exception as exc:  # noqa: BLE001  (the exit is still reported; the state says what went wrong)
                outcome = {"restart": False}
                self._record_problem(f"recording the exit: {exc}")
        if outcome is None:
            try:
                outcome = self._sync("_job_exit", self.layout, self.id, self.runtime, self.exit_code)
            except WorkerFailed as exc:  # the exit is still reported; the state says what went wrong
                outcome = {"restart": False}
                self._record_problem(f"recording the exit: {exc}")
        self._report_exit()
        for fd in list(self.clients):
            self._drop_client(fd)
        if outcome.get("restart"):
            self.backoff = next_backoff(self.backoff, self.ran)
            now = time.monotonic()
            self.restart_at = now + self.backoff
            self.next_stop_poll = now + STOP_POLL
            # not the file's stamp now: a stop written between the worker's write and this line would
            # look already seen, and the back-off (up to a minute) would run out before anyone looked
            self.state_stamp = (0, 0)  # no file has inode 0: the first poll always checks
            self.phase = "backoff"
        else:
            self.phase = "done"

    def _report_exit(self) -> None:
        """The first exit, to the attached caller (who returns then), and EOF to attach clients."""
        if self.reported_exit:
            return
        self.reported_exit = True
        _write_event(self.status_fd, {"event": "exited", "exit_code": self.exit_code})
        if self.status_fd >= 0:
            os.close(self.status_fd)
            self.status_fd = -1
        self._drop_attach()
        for fd in list(self.clients):
            self._drop_client(fd)

    def _record_problem(self, message: str) -> None:
        try:
            self._sync("_job_record_crash", self.layout, self.id, message)
        except WorkerFailed:
            pass

    def _exit_in_place(self) -> dict[str, t.Any] | None:
        """Record the exit and clean up without a worker, then report; None when a restart is due (the
        worker path then deletes the runtime state and records ``restarting``).

        Under the container lock: OOM read from the cgroup file of the exit plan; the rootfs unmounted; the
        runtime's state and cgroup removed when the plan names them (Berth's runtime); state ``exited``
        written, or with ``--rm`` the container directory renamed into tmp/ and its names dropped (it is
        gone). Then the exit is reported; a runtime binary's ``delete`` (runc, crun) follows still under
        the lock, and the renamed directory is deleted last: unlinking files is slow on some disks, and
        nobody can see that directory any more.
        """
        from . import lifecycle

        S = lifecycle.ContainerStatus
        oom = _read_oom((self.plan or {}).get("oom"))
        trash = None
        mounted = False
        with lifecycle.locked(self.layout, self.id, timeout=LOCK_WAIT * 30):
            try:
                state: lifecycle.ContainerState | None = lifecycle.load(self.layout, self.id)
            except Exception as exc:  # noqa: BLE001
                if not _is_not_found(exc):
                    raise
                state = None  # removed meanwhile (``rm -f``): nothing to record
            if state is not None and state.status is not S.REMOVING and lifecycle.should_restart(
                    self.settings["restart_policy"], self.settings["restart_retries"], self.exit_code,
                    state.manually_stopped, state.restart_count):
                return None
            problems = []
            try:
                lifecycle.unmount_below(self.layout.container_dir(self.id) if self.settings["auto_remove"]
                                        else self.layout.rootfs(self.id), syscalls=_Umount(), include_self=True)
            except Exception as exc:  # noqa: BLE001
                problems.append(str(exc))
                mounted = True
            own = (self.plan or {}).get("runtime")
            runtime_done = bool(own) and _remove_runtime_state(own)
            common = {"exit_code": self.exit_code, "oom_killed": oom, "finished_at": lifecycle.now_rfc3339(),
                      "pid": 0, "error": "; ".join(problems)}
            if state is None:
                pass
            elif state.status is S.REMOVING:  # the service removes it: just end
                lifecycle.save(self.layout, self.id, state.replace(monitor_pid=0, **common))
            elif self.settings["auto_remove"] and not mounted:
                trash = lifecycle.discard_container(self.layout, self.id)
            else:
                _unlink(self.layout.attach_socket(self.id))
                new = state.replace(monitor_pid=0, **common)
                if state.status.can_become(S.EXITED):
                    new = state.transition(S.EXITED, monitor_pid=0, **common)
                lifecycle.save(self.layout, self.id, new)
            if not runtime_done:
                # runc/crun (a binary: ~20 ms), or what the plan could not remove (hooks, a busy cgroup):
                # the runtime's delete, after the caller heard the exit but still under the lock
                self._report_exit()
                problem = self._delete_runtime_state()
                if problem and state is not None and trash is None and state.status is not S.REMOVING:
                    try:
                        current = lifecycle.load(self.layout, self.id)
                        error = "; ".join(p for p in (current.error, problem) if p)
                        lifecycle.save(self.layout, self.id, current.replace(error=error))
                    except Exception:  # noqa: BLE001  (removed meanwhile)
                        pass
        self._report_exit()
        if trash:
            from ..core import fs

            fs.rmtree(trash)
        return {"restart": False}

    def _delete_runtime_state(self) -> str:
        """``runtime.delete`` (the runtime loaded here: the monitor is about to end); a problem as text."""
        try:
            from .monitor_ops import make_runtime

            make_runtime(self.layout, self.runtime).delete(self.id, force=True)
        except Exception as exc:  # noqa: BLE001
            if not _is_not_found(exc):
                return f"runtime delete: {exc}"
        return ""

    def _drain_quietly(self, fd: int) -> None:
        """What is still buffered in an output pipe after the drain deadline (never blocks)."""
        try:
            os.set_blocking(fd, False)
            while True:
                data = os.read(fd, 65536)
                if not data:
                    return
                self._deliver(self.outputs[fd], data)
        except OSError:
            return

    def _check_stop(self) -> None:
        if self._sync("_job_cancel_if_stopped", self.layout, self.id):
            self.phase = "done"


# ====================================================================== worker results
def _decode(data: bytes, name: str) -> t.Any:
    if not data:
        raise WorkerFailed({"message": f"the monitor's {name.lstrip('_')} worker died"})
    kind, value = marshal.loads(data)
    if kind == "error":
        raise WorkerFailed(value)
    return value


def _is_not_found(exc: BaseException) -> bool:
    from ..errors import NotFound

    return isinstance(exc, (NotFound, FileNotFoundError))


# ====================================================================== small os helpers
def _read_json(path: str) -> t.Any:
    """A JSON file of the engine's (None when missing; refused unless root's and not writable by others:
    ``core/trust.py``), parsed without importing json (``sync.loads``)."""
    try:
        return sync.loads(trust.read_trusted(path))
    except FileNotFoundError:
        return None


def _replace_file(path: str, data: bytes) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def _fd_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns)


def _read_oom(source: t.Sequence[str] | None) -> bool:
    """Whether the counter *key* of the cgroup file *path* (``[path, key]`` from the exit plan) is > 0."""
    if not source:
        return False
    path, key = source
    try:
        with open(path, "rb") as fh:
            text = fh.read().decode("ascii", "replace")
    except OSError:
        return False
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == key:
            return parts[1].isdigit() and int(parts[1]) > 0
    return False


def _remove_runtime_state(own: t.Mapping[str, t.Any]) -> bool:
    """What ``BerthRuntime.delete`` removes for a stopped container, from its exit plan: the cgroup
    directories and the state directory. False (nothing is lost) when the runtime must do it: poststop
    hooks, a cgroup still in use or with sub-cgroups."""
    if own.get("hooks"):
        return False
    try:
        for d in own.get("cgroups") or ():
            try:
                os.rmdir(d)
            except FileNotFoundError:
                pass
        state_dir = own.get("state_dir")
        if state_dir:
            try:
                names = os.listdir(state_dir)
            except FileNotFoundError:
                names = []
            for name in names:
                os.unlink(os.path.join(state_dir, name))
            try:
                os.rmdir(state_dir)
            except FileNotFoundError:
                pass
    except OSError:
        return False
    return True


_LIBC: dict[str, t.Any] = {}


def _libc(name: str, restype: str = "i") -> t.Any:
    """The libc function *name* through the ``_ctypes`` C module (``ctypes/__init__`` costs ~7 ms to
    import on the test hosts; this ~1.5 ms, and only when called: an idle monitor never loads it).
    *restype*: a ``struct`` code (``i`` int, ``l`` long). Integer arguments are passed as C ints."""
    fn = _LIBC.get(name)
    if fn is None:
        import _ctypes

        class Ret(_ctypes._SimpleCData):
            _type_ = restype

        class Func(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
            _restype_ = Ret

        fn = _LIBC[name] = Func(_ctypes.dlsym(_ctypes.dlopen(None, 0), name))
    return fn


#: ptrace(2) requests and the bits of a wait status, for a replacement monitor (``Monitor._adopt_running``).
PTRACE_CONT, PTRACE_DETACH, PTRACE_SEIZE, PTRACE_LISTEN = 7, 17, 0x4206, 0x4208
PTRACE_EVENT_STOP = 128
_WALL = 0x40000000


def _ptrace(request: int, pid: int, data: int) -> None:
    """``ptrace(request, pid, 0, data)``; OSError naming the errno."""
    import _ctypes

    if _libc("ptrace", "l")(int(request), int(pid), None, int(data)) < 0:
        err = _ctypes.get_errno()
        raise OSError(err, f"ptrace({request:#x}, {pid}): {os.strerror(err)}")


class _Umount:
    """``umount2`` from libc (:func:`_libc`): the ``Syscalls`` method that ``lifecycle.unmount_below``
    calls, here between the container's exit and the caller hearing about it."""

    def umount2(self, target: str, flags: int) -> None:
        import _ctypes

        path = os.fsencode(target)
        while _libc("umount2")(path, int(flags)) < 0:
            err = _ctypes.get_errno()
            if err != 4:  # EINTR
                raise OSError(err, f"umount2 {target}: {os.strerror(err)}")

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
  and ``marshal`` instead; JSON through ``cjson.loads``), and of its own code only this module and its parts
  (``fds``, ``plumbing``, ``policy``, ``monitor_streams``, ``monitor_exit``, ``health``, ``logs``): what runs
  in the caller and its forks is in ``monitor_ops``, the workers' jobs in ``monitor_jobs``. The OCI runtime,
  ``lifecycle`` and the cgroup code run in the starter or in short-lived *workers* (forks of the monitor that send their
  result back with ``marshal``), never in the idle monitor. PR_SET_CHILD_SUBREAPER is set before
  ``execv`` (the attribute survives it), so the monitor never loads ``ctypes`` while the container runs.
  Measured: ~3.6 MiB PSS per idle monitor with 10 running (a bare ``python3 -S -I`` is ~2.6 MiB of it);
  the first monitor of a library copy compiles its modules in a throw-away fork (see ``monitor_ops._BOOT``),
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

from ..core.layout import Layout
from . import health, logs
from .fds import (
    ATTACH_FD, CONSOLE_DIR_FD, CONSOLE_FD, DRAIN_TIMEOUT, ERR_FD, HANDOFF_FD, IN_FD, OUT_FD, STATUS_FD, STDERR_FD,
    STDIN_FD, STDOUT_FD, STOP_POLL,
)
from .monitor_exit import Exits
from .monitor_streams import Streams
from .plumbing import (
    _WALL, WorkerFailed, _console_address, _decode, _describe, _fd_open, _read_all, _read_json, _stamp, _unlink,
    _waitpid, _write_event,
)
from .policy import monitor_settings

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
                              "attach_socket": None, "adopt": None, "detach_keys": None}
    valued = ("--runtime", "--runtime-path", "--runtime-factory", "--console", "--attach-socket", "--adopt",
              "--detach-keys")
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


def _noop(_signum: int, _frame: t.Any) -> None:
    pass


class Monitor(Streams, Exits):
    """One container's monitor: start, the poll loop, workers; streams and exits are its parts."""

    def __init__(self, layout: Layout, container_id: str, opts: t.Mapping[str, t.Any]) -> None:
        self.layout = layout
        self.id = container_id
        self.runtime = {"name": opts["runtime"], "path": opts["runtime_path"], "factory": opts["runtime_factory"]}
        self.status_fd = STATUS_FD if _fd_open(STATUS_FD) else -1
        self.attach_in = STDIN_FD if opts["stdin"] and _fd_open(STDIN_FD) else -1
        self.attach_out = STDOUT_FD if opts["stdout"] and _fd_open(STDOUT_FD) else -1
        self.attach_err = STDERR_FD if opts["stderr"] and _fd_open(STDERR_FD) else -1
        self.escape: t.Any = None  # the attached caller's detach keys (core/escape.py), with a tty
        if opts.get("detach_keys") and self.attach_in >= 0:
            from ..core.escape import EscapeProxy

            self.escape = EscapeProxy(bytes.fromhex(opts["detach_keys"]))
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
        desired = record.get("Desired") or {}
        self.event_attrs = {**(desired.get("labels") or {}), "image": record.get("ImageName") or record.get("Image"),
                            "name": record.get("Name") or ""}
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
        """Run ``monitor_jobs.<job>(*args)`` in a fork (imported there: never in the monitor's memory)."""
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
                from . import monitor_jobs

                result = ("ok", getattr(monitor_jobs, job)(*args))
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
        try:
            data = _read_all(r)
        finally:
            os.close(r)
        _waitpid(pid)
        return _decode(data, job)

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
        try:
            data = _read_all(HANDOFF_FD)
        finally:
            os.close(HANDOFF_FD)
            self.given.discard(HANDOFF_FD)
        result = _decode(data, "start")
        if "crashed" in result:
            raise WorkerFailed(result["crashed"])
        self.cancelled = bool(result.get("cancelled"))
        if "pid" not in result:
            _unlink(self.hidden_socket)  # a start that did not happen leaves the socket path alone
        return result

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

# SPDX-License-Identifier: GPL-3.0-or-later
"""The monitor's exits (a part of :class:`monitor.Monitor`): health probes, recording an exit, the restart
policy's back-off, stop requests, and taking over a running container whose monitor died (ptrace).

A mixin: the state it uses is set up in ``Monitor.__init__``.
"""
from __future__ import annotations

import os
import select
import time

from . import health
from .fds import LOCK_WAIT, STOP_POLL
from .plumbing import (
    PTRACE_CONT, PTRACE_DETACH, PTRACE_EVENT_STOP, PTRACE_LISTEN, PTRACE_SEIZE, WorkerFailed, _is_not_found,
    _ptrace, _read_oom, _remove_runtime_state, _Umount, _unlink, _write_event,
)
from .policy import next_backoff

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


class Exits:
    """Health probes, exits, restarts, stops and take-overs of :class:`monitor.Monitor`."""

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
            self._event("die")
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
                if not self.settings["auto_remove"]:  # a bridge container's network namespace (its veths go
                    # with it; the next start wires a new one with the same address): stopped, nothing is mounted
                    lifecycle.unmount_below(self.layout.container_file(self.id, "netns"), syscalls=_Umount(),
                                            include_self=True)
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
                lifecycle.orphan_volumes(self.layout, self.id, self.settings.get("anonymous_volumes") or ())
                trash = lifecycle.discard_container(self.layout, self.id)
            else:
                _unlink(self.layout.attach_socket(self.id))
                new = state.replace(monitor_pid=0, **common)
                if state.status.can_become(S.EXITED):
                    new = state.transition(S.EXITED, monitor_pid=0, **common)
                lifecycle.save(self.layout, self.id, new)
            if state is not None:  # recorded: docker's die (then destroy for --rm) before the exit is reported
                self._event("die")
                if trash is not None:
                    self._event("destroy", with_exit=False)
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

    def _event(self, action: str, with_exit: bool = True) -> None:
        """Record a container event in the engine's event log (core/eventlog.py)."""
        from ..core import cjson, eventlog

        attrs = dict(getattr(self, "event_attrs", None) or {})
        try:  # the name now (a rename since the start), unless the record is gone (--rm)
            with open(self.layout.container_config(self.id), "rb") as fh:
                attrs["name"] = cjson.loads(fh.read()).get("Name") or attrs.get("name", "")
        except (OSError, ValueError, AttributeError):
            pass
        if with_exit:
            attrs["exitCode"] = self.exit_code
        eventlog.record(self.layout.events_log, "container", action, self.id, attrs)

    def _delete_runtime_state(self) -> str:
        """``runtime.delete`` (the runtime loaded here: the monitor is about to end); a problem as text."""
        try:
            from .monitor_jobs import make_runtime

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

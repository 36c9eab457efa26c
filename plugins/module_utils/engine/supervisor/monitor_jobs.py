# SPDX-License-Identifier: GPL-3.0-or-later
"""The monitor's workers' jobs (``_job_*``, run in forks of the monitor: ``Monitor._fork``): restart the
container, record an exit the monitor cannot record itself, run health probes and write health; and
:func:`start_container`, which the starter (``monitor_ops``) runs for the first start. They import the
runtime, which is why they are not in ``monitor.py`` (an idle monitor never loads them).
"""
from __future__ import annotations

import os
import select
import time

from ..core import cjson
from ..core.layout import Layout
from . import health
from .fds import LOCK_WAIT
from .plumbing import _describe, _is_not_found, _read_json, _replace_file, _unlink, _waitpid
from .policy import monitor_settings, start_failure_exit_code

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


# ====================================================================== worker jobs (run in a fork of the monitor)
def make_runtime(layout: Layout, spec: t.Mapping[str, t.Any]) -> t.Any:
    """The OciRuntime for ``{"name", "path", "factory"}`` (``monitor.py``, "Runtime selection")."""
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
        if settings["auto_remove"]:
            lifecycle.orphan_volumes(layout, container_id, settings.get("anonymous_volumes") or ())
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

# SPDX-License-Identifier: GPL-3.0-or-later
"""``stop``, ``kill``, ``restart``, ``pause``/``unpause`` and ``wait``: signals and the freezer.

Each verb reads the state first and checks its guard there (``lifecycle.require``): ``stop`` of a
container that does not run is a no-op that says so, ``kill``, ``pause`` and ``unpause`` of one in the
wrong state fail with ``InvalidState``.
"""
from __future__ import annotations

import os
import time
import typing as t

from ...errors import EngineError, InvalidOption, NotFound
from ...options import container as copts
from ...supervisor import ContainerState, ContainerStatus, lifecycle
from . import _common, records

if t.TYPE_CHECKING:
    from ...store.images import ImageStore
    from .records import ContainerRecord
    from .service import ContainerService

SIGKILL = 9


def stop(svc: ContainerService, name: str, timeout: int | None = None, signal: str | None = None) -> bool:
    """Send the stop signal, wait *timeout* seconds, then SIGKILL. Returns whether it was running."""
    cid = records.require(svc, name)
    record = records.load(svc, cid)
    records.state(svc, cid)  # a lost monitor is replaced first: the exit this stop causes is recorded

    def mark(s: ContainerState) -> ContainerState:
        return s.replace(manually_stopped=True)

    state = lifecycle.update(svc.layout, cid, mark, timeout=svc.lock_timeout)
    if state.status is ContainerStatus.RESTARTING:
        wait_status(svc, cid, lambda s: not s.status.active, 15)
        return True
    if not state.status.active:
        return False
    sig = copts.signal_number(signal or _stop_signal(svc, record))
    if timeout is None:
        timeout = record.options.get("stop_timeout")
    if timeout is None:
        timeout = copts.DEFAULT_STOP_TIMEOUT
    runtime = _common.oci_runtime(svc, record.runtime)
    if state.status is ContainerStatus.PAUSED:
        _kill(svc, runtime, cid, SIGKILL)
        _resume_quietly(runtime, cid)
    else:
        _kill(svc, runtime, cid, sig)
    if timeout < 0 or not wait_status(svc, cid, lambda s: not s.status.active, float(timeout)):
        _kill(svc, runtime, cid, SIGKILL)
        if not wait_status(svc, cid, lambda s: not s.status.active, 30.0):
            raise EngineError(f"container {record.name} did not stop after SIGKILL")
    return True


def restart(svc: ContainerService, name: str, timeout: int | None = None) -> None:
    from .start import start

    cid = records.require(svc, name)
    stop(svc, cid, timeout=timeout)
    wait_status(svc, cid, lambda s: not s.status.active and s.monitor_pid == 0 or _dead(s.monitor_pid), 10)
    start(svc, cid)


def kill(svc: ContainerService, name: str, signal: str | int = "KILL") -> None:
    """Send *signal*. SIGKILL or the container's stop signal ends it for good, as Docker's kill does
    (``ExitOnNext`` + ``HasBeenManuallyStopped``): the state says ``manually_stopped`` before the signal
    goes out, so the monitor does not undo the kill through the restart policy; a container waiting
    out its restart back-off is then simply not restarted. Other signals leave the restart policy alone."""
    cid = records.require(svc, name)
    record = records.load(svc, cid)
    state = records.state(svc, cid)
    if state.status is not ContainerStatus.RESTARTING:
        lifecycle.require(state.status, "kill", name=record.name)  # the guard first, as every verb
    sig = signal if isinstance(signal, int) else copts.signal_number(str(signal))
    final = sig == SIGKILL or sig == copts.signal_number(_stop_signal(svc, record))
    if final and (state.status is ContainerStatus.RESTARTING or state.status.can_kill()):
        state = lifecycle.update(svc.layout, cid, lambda s: s.replace(manually_stopped=True),
                                 timeout=svc.lock_timeout)
        if state.status is ContainerStatus.RESTARTING:
            if wait_status(svc, cid, lambda s: not s.status.active, 15):
                return
            state = records.state(svc, cid)  # the restart was already under way: kill what it started
    lifecycle.require(state.status, "kill", name=record.name)
    runtime = _common.oci_runtime(svc, record.runtime)
    _kill(svc, runtime, cid, sig)
    if final and state.status is ContainerStatus.PAUSED:
        _resume_quietly(runtime, cid)  # a frozen process does not act on the signal (Docker unpauses too)


def pause(svc: ContainerService, name: str) -> None:
    _freeze(svc, name, "pause", ContainerStatus.PAUSED)


def unpause(svc: ContainerService, name: str) -> None:
    _freeze(svc, name, "unpause", ContainerStatus.RUNNING)


def _freeze(svc: ContainerService, name: str, verb: str, status: ContainerStatus) -> None:
    """pause (freezer on) or unpause (off), under the container lock."""
    cid = records.require(svc, name)
    record = records.load(svc, cid)
    with lifecycle.locked(svc.layout, cid, svc.lock_timeout):
        state = records.state(svc, cid)
        lifecycle.require(state.status, verb, name=record.name)
        runtime = _common.oci_runtime(svc, record.runtime)
        (runtime.pause if verb == "pause" else runtime.resume)(cid)
        lifecycle.save(svc.layout, cid, state.transition(status))


def wait(svc: ContainerService, name: str, condition: str = "not-running", timeout: float | None = None) -> int:
    cid = records.require(svc, name)
    if condition not in ("not-running", "next-exit", "removed"):
        raise InvalidOption("condition", condition, "expected not-running, next-exit or removed")
    first = records.state(svc, cid)
    seen = first.finished_at
    up = (ContainerStatus.RUNNING, ContainerStatus.PAUSED)

    # Docker fires its stop waiters when a container goes to "restarting" too (State.SetRestarting): an exit
    # the restart policy answers ends the wait. An exit is seen by its finished_at, so a restart that is
    # quicker than the poll is not missed.
    if condition == "next-exit":
        def done(s: ContainerState) -> bool:
            return s.finished_at != seen
    else:
        def done(s: ContainerState) -> bool:
            return s.status not in up or s.finished_at != seen

    limit = float("inf") if timeout is None else timeout
    last = first
    deadline = time.monotonic() + limit
    while True:
        try:
            last = records.state(svc, cid)
        except NotFound:
            return last.exit_code
        if condition != "removed" and done(last):
            return last.exit_code
        if time.monotonic() >= deadline:
            raise EngineError(f"timed out waiting for container {name}")
        time.sleep(0.05)


def wait_status(svc: ContainerService, cid: str, done: t.Callable[[ContainerState], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            state = records.state(svc, cid)
        except NotFound:
            return True
        if done(state):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _kill(svc: ContainerService, runtime: t.Any, cid: str, sig: int) -> None:
    try:
        runtime.kill(cid, int(sig), all=False)
    except EngineError:
        state = lifecycle.load(svc.layout, cid)
        if state.pid and _alive(state.pid):
            os.kill(state.pid, int(sig))


def _resume_quietly(runtime: t.Any, cid: str) -> None:
    try:
        runtime.resume(cid)
    except EngineError:
        pass


def _dead(pid: int) -> bool:
    return not pid or not _alive(pid)


def _stop_signal(svc: ContainerService, record: ContainerRecord) -> str:
    """The container's stop signal: its own, else its image's, else SIGTERM."""
    return record.options.get("stop_signal") or _image_stop_signal(svc.store, record) or "SIGTERM"


def _image_stop_signal(store: ImageStore, record: ContainerRecord) -> str | None:
    try:
        return (store.config(record.image).get("config") or {}).get("StopSignal")
    except EngineError:
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True

# SPDX-License-Identifier: GPL-3.0-or-later
"""supervisor.lifecycle (statuses, guards, state.json, docker_state, lost monitors, file removal) and
supervisor.health (Docker HEALTHCHECK scheduling with a fake clock and a fake exec)."""
from __future__ import annotations

import json
import os
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.core.layout import Layout
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import InvalidState, NotFound
from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor import health, lifecycle
from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor.lifecycle import (
    ContainerState,
    ContainerStatus as S,
)

CID = "c0ffee" * 10 + "abcd"


@pytest.fixture
def layout(tmp_path: t.Any) -> Layout:
    lay = Layout(str(tmp_path / "root"))
    os.makedirs(lay.container_dir(CID))
    return lay


# ------------------------------------------------------------------ statuses and guards
GUARD_TABLE = [
    # status, start, stop, pause, unpause, remove, remove(force)
    (S.CREATED, True, False, False, False, True, True),
    (S.RUNNING, False, True, True, False, False, True),
    (S.PAUSED, False, True, False, True, False, True),
    (S.RESTARTING, False, True, False, False, False, True),
    (S.EXITED, True, False, False, False, True, True),
    (S.DEAD, False, False, False, False, True, True),
    (S.REMOVING, False, False, False, False, False, False),
]


@pytest.mark.parametrize("status,start,stop,pause,unpause,remove,force", GUARD_TABLE)
def test_guards(status: S, start: bool, stop: bool, pause: bool, unpause: bool, remove: bool, force: bool) -> None:
    assert status.can_start() is start
    assert status.can_stop() is stop
    assert status.can_pause() is pause
    assert status.can_unpause() is unpause
    assert status.can_remove() is remove
    assert status.can_remove(force=True) is force


def test_every_status_has_transitions_and_guards_match_them() -> None:
    assert set(lifecycle.TRANSITIONS) == set(S)
    for status in S:
        if status.can_start():
            assert status.can_become(S.RUNNING)
        if status.can_pause():
            assert status.can_become(S.PAUSED)
        if status.can_unpause():
            assert status.can_become(S.RUNNING)
        if status.can_remove(force=True):
            assert status.can_become(S.REMOVING)


@pytest.mark.parametrize("src,dst,ok", [
    (S.CREATED, S.RUNNING, True),
    (S.CREATED, S.EXITED, False),  # a failed first start stays "created" (Docker)
    (S.RUNNING, S.RESTARTING, True),
    (S.RESTARTING, S.RUNNING, True),
    (S.RESTARTING, S.EXITED, True),  # stop during the back-off
    (S.EXITED, S.PAUSED, False),
    (S.REMOVING, S.RUNNING, False),
    (S.REMOVING, S.DEAD, True),
    (S.DEAD, S.RUNNING, False),
    (S.EXITED, S.EXITED, True),  # staying put is not a transition
])
def test_transition(src: S, dst: S, ok: bool) -> None:
    state = ContainerState(status=src)
    if ok:
        assert state.transition(dst, exit_code=3).status is dst
    else:
        with pytest.raises(InvalidState) as err:
            state.transition(dst)
        assert (err.value.current, err.value.wanted) == (src.value, dst.value)


@pytest.mark.parametrize("status,verb,force,message", [
    (S.EXITED, "pause", False, "container web is not running"),
    (S.PAUSED, "pause", False, "container web is already paused"),
    (S.RUNNING, "unpause", False, "container web is not paused"),
    (S.PAUSED, "start", False, "cannot start a paused container web, try unpause instead"),
    (S.RUNNING, "remove", False, "you cannot remove a running container web. Stop the container before "
                                 "attempting removal or force remove"),
    (S.REMOVING, "remove", True, "removal of container web is already in progress"),
    (S.DEAD, "stop", False, "cannot stop container web: it is dead"),
])
def test_require_raises_invalid_state(status: S, verb: str, force: bool, message: str) -> None:
    with pytest.raises(InvalidState) as err:
        lifecycle.require(status, verb, force=force, name="web")
    assert str(err.value) == message
    assert err.value.current == status.value and err.value.wanted == verb


def test_require_passes() -> None:
    lifecycle.require(S.RUNNING, "remove", force=True)
    lifecycle.require(S.EXITED, "start")
    lifecycle.require(S.PAUSED, "unpause")


# ------------------------------------------------------------------ state.json
def test_state_round_trip(layout: Layout) -> None:
    state = ContainerState(
        status=S.RUNNING, pid=1234, exit_code=0, started_at="2024-05-01T12:00:00.5Z", restart_count=2,
        manually_stopped=False, monitor_pid=99,
        health={"Status": "healthy", "FailingStreak": 0,
                "Log": [{"Start": "a", "End": "b", "ExitCode": 0, "Output": "ok\n"}]},
    )
    lifecycle.save(layout, CID, state)
    assert lifecycle.load(layout, CID) == state
    with open(layout.container_state(CID)) as fh:
        raw = json.load(fh)
    assert raw["status"] == "running" and raw["pid"] == 1234
    assert not [n for n in os.listdir(layout.container_dir(CID)) if n.endswith(".tmp")]


def test_load_is_tolerant_and_reports_problems(layout: Layout) -> None:
    with open(layout.container_state(CID), "w") as fh:
        json.dump({"status": "exited", "exit_code": 3, "from_the_future": True}, fh)
    state = lifecycle.load(layout, CID)
    assert (state.status, state.exit_code, state.started_at) == (S.EXITED, 3, lifecycle.ZERO_TIME)
    with open(layout.container_state(CID), "w") as fh:
        fh.write("{not json")
    with pytest.raises(Exception, match="corrupt container state .*state.json"):
        lifecycle.load(layout, CID)
    with pytest.raises(NotFound, match="No such container: nope"):
        lifecycle.load(layout, "nope")


def test_update_holds_the_lock_and_writes_only_changes(layout: Layout) -> None:
    import fcntl

    lifecycle.save(layout, CID, ContainerState())
    seen = []

    def fn(state: ContainerState) -> ContainerState:
        fd = os.open(layout.container_lock(CID), os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
        seen.append(state.status)
        return state.transition(S.RUNNING, pid=7)

    new = lifecycle.update(layout, CID, fn)
    assert seen == [S.CREATED] and new.pid == 7 and lifecycle.load(layout, CID) == new
    before = os.stat(layout.container_state(CID)).st_ino
    lifecycle.update(layout, CID, lambda s: s)
    assert os.stat(layout.container_state(CID)).st_ino == before  # unchanged: not rewritten


# ------------------------------------------------------------------ docker_state
def test_a_lock_taken_on_a_removed_container_leaves_no_file(layout: Layout) -> None:
    lifecycle.save(layout, CID, ContainerState())
    with lifecycle.locked(layout, CID):
        pass
    assert os.path.exists(layout.container_lock(CID))  # the container exists: its lock file stays
    lifecycle.remove_container_files(layout, CID)
    assert not os.path.exists(layout.container_lock(CID))
    # looked up before the removal, locked after it (a stop racing an rm, a monitor's late exit)
    with pytest.raises(NotFound):
        lifecycle.update(layout, CID, lambda s: s.replace(manually_stopped=True))
    with lifecycle.locked(layout, CID):
        pass
    assert os.listdir(layout.locks_dir) == []


def test_docker_state_running_without_health() -> None:
    st = ContainerState(status=S.RUNNING, pid=42, started_at="2024-05-01T12:00:00Z")
    assert lifecycle.docker_state(st) == {
        "Status": "running", "Running": True, "Paused": False, "Restarting": False, "OOMKilled": False,
        "Dead": False, "Pid": 42, "ExitCode": 0, "Error": "", "StartedAt": "2024-05-01T12:00:00Z",
        "FinishedAt": lifecycle.ZERO_TIME,
    }


@pytest.mark.parametrize("status,running,paused,restarting,dead,pid", [
    (S.PAUSED, True, True, False, False, 42),
    (S.RESTARTING, True, False, True, False, 0),
    (S.EXITED, False, False, False, False, 0),
    (S.DEAD, False, False, False, True, 0),
    (S.CREATED, False, False, False, False, 0),
])
def test_docker_state_flags(status: S, running: bool, paused: bool, restarting: bool, dead: bool, pid: int) -> None:
    d = lifecycle.docker_state(ContainerState(status=status, pid=42, exit_code=137, oom_killed=True,
                                              health={"Status": "unhealthy", "FailingStreak": 3, "Log": []}))
    assert (d["Running"], d["Paused"], d["Restarting"], d["Dead"], d["Pid"]) == (running, paused, restarting,
                                                                                 dead, pid)
    assert d["ExitCode"] == 137 and d["OOMKilled"] is True and d["Status"] == status.value
    assert d["Health"] == {"Status": "unhealthy", "FailingStreak": 3, "Log": []}


@pytest.mark.parametrize("status,shown", [
    (S.RUNNING, "healthy"), (S.PAUSED, "healthy"),
    (S.EXITED, "unhealthy"), (S.RESTARTING, "unhealthy"), (S.DEAD, "unhealthy"),
])
def test_docker_state_health_after_a_stop_is_unhealthy(status: S, shown: str) -> None:
    """moby's Health.CloseMonitorChannel: once the health monitor stops, the status reads "unhealthy"."""
    log = [{"Start": "s", "End": "e", "ExitCode": 0, "Output": "ok"}]
    st = ContainerState(status=status, pid=42, health={"Status": "healthy", "FailingStreak": 0, "Log": log})
    assert lifecycle.docker_state(st)["Health"] == {"Status": shown, "FailingStreak": 0, "Log": log}


# ------------------------------------------------------------------ lost monitors (fake /proc)
class FakeProc:
    def __init__(self, root: str) -> None:
        self.root = root
        os.makedirs(os.path.join(root, "self"))
        with open(os.path.join(root, "stat"), "w") as fh:
            fh.write("cpu 1 2 3\nbtime 1000\n")
        self.mountinfo([])

    def process(self, pid: int, argv: list[str], state: str = "S", start_ticks: int = 0) -> None:
        d = os.path.join(self.root, str(pid))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "cmdline"), "wb") as fh:
            fh.write(b"\0".join(a.encode() for a in argv) + b"\0")
        fields = [state] + ["0"] * 18 + [str(start_ticks)] + ["0"] * 20
        with open(os.path.join(d, "stat"), "w") as fh:
            fh.write(f"{pid} (python3 x) " + " ".join(fields) + "\n")

    def mountinfo(self, points: list[str]) -> None:
        with open(os.path.join(self.root, "self", "mountinfo"), "w") as fh:
            for i, p in enumerate(points):
                fh.write(f"{100 + i} 1 0:{50 + i} / {p} rw,relatime shared:1 - overlay overlay rw\n")


class FakeSyscalls:
    """Records umount2 calls and drops the mount from the fake mountinfo."""

    def __init__(self, proc: FakeProc, mounted: list[str]) -> None:
        self.proc, self.mounted, self.calls = proc, list(mounted), []  # type: ignore[var-annotated]
        proc.mountinfo(self.mounted)

    def umount2(self, target: str, flags: int) -> None:
        self.calls.append((target, flags))
        self.mounted.remove(target)
        self.proc.mountinfo(self.mounted)


def _running(**kw: t.Any) -> ContainerState:
    base = dict(status=S.RUNNING, pid=500, monitor_pid=400, started_at="1970-01-01T00:20:00Z")  # t=1200
    base.update(kw)
    return ContainerState(**base)  # type: ignore[arg-type]


def test_reconcile_marks_lost_container_exited_255(layout: Layout, tmp_path: t.Any) -> None:
    proc = FakeProc(str(tmp_path / "proc"))
    sys_ = FakeSyscalls(proc, [layout.rootfs(CID), "/elsewhere"])
    lifecycle.save(layout, CID, _running())
    state = lifecycle.reconcile(layout, CID, proc=proc.root, syscalls=sys_)  # type: ignore[arg-type]
    assert state.status is S.EXITED and state.exit_code == 255
    assert state.error == "monitor lost; exit status unknown" and state.pid == 0 and state.monitor_pid == 0
    assert state.finished_at != lifecycle.ZERO_TIME
    assert lifecycle.load(layout, CID) == state
    assert sys_.calls == [(layout.rootfs(CID), lifecycle.MNT_DETACH)]


def test_reconcile_keeps_containers_with_a_live_monitor_or_init(layout: Layout, tmp_path: t.Any) -> None:
    proc = FakeProc(str(tmp_path / "proc"))
    lifecycle.save(layout, CID, _running())
    # monitor alive (its command line names the container)
    proc.process(400, ["/usr/bin/python3", "-S", "-I", "-c", "...monitor import main...", "/root", CID])
    assert lifecycle.reconcile(layout, CID, proc=proc.root).status is S.RUNNING
    # monitor gone, init alive and started before StartedAt (100 ticks = 1 s after boot at 1000 -> 1001 < 1200)
    proc.process(400, ["sleep", "1"])
    proc.process(500, ["nginx"], start_ticks=100)
    assert lifecycle.reconcile(layout, CID, proc=proc.root).status is S.RUNNING
    # the init pid was reused by a process started long after the container: lost
    proc.process(500, ["nginx"], start_ticks=100 * 10_000)
    assert lifecycle.reconcile(layout, CID, proc=proc.root).status is S.EXITED


def test_orphaned_means_a_live_init_without_a_live_monitor(tmp_path: t.Any) -> None:
    proc = FakeProc(str(tmp_path / "proc"))
    proc.process(400, ["/usr/bin/python3", "-S", "-I", "-c", "...monitor import main...", "/root", CID])
    proc.process(500, ["nginx"], start_ticks=100)
    assert not lifecycle.orphaned(_running(), CID, proc=proc.root)  # supervised
    proc.process(400, ["sleep", "1"])  # the monitor's pid now runs something else
    assert lifecycle.orphaned(_running(), CID, proc=proc.root)
    assert lifecycle.orphaned(_running(status=S.PAUSED), CID, proc=proc.root)
    assert lifecycle.orphaned(_running(monitor_pid=0), CID, proc=proc.root)
    # a replacement could not take it over already: not tried at every look
    assert not lifecycle.orphaned(_running(error=lifecycle.UNSUPERVISED_ERROR + ": traced"), CID, proc=proc.root)
    for state in (_running(status=S.RESTARTING), _running(status=S.EXITED), _running(pid=0)):
        assert not lifecycle.orphaned(state, CID, proc=proc.root)
    proc.process(500, ["nginx"], state="Z", start_ticks=100)  # the init is gone: reconcile's business
    assert not lifecycle.orphaned(_running(), CID, proc=proc.root)


def test_reconcile_ignores_inactive_and_zombies(layout: Layout, tmp_path: t.Any) -> None:
    proc = FakeProc(str(tmp_path / "proc"))
    lifecycle.save(layout, CID, ContainerState(status=S.EXITED, exit_code=1))
    assert lifecycle.reconcile(layout, CID, proc=proc.root).exit_code == 1
    lifecycle.save(layout, CID, _running())
    proc.process(400, ["python3", "monitor", CID], state="Z")
    proc.process(500, ["nginx"], state="Z", start_ticks=100)
    assert lifecycle.reconcile(layout, CID, proc=proc.root).status is S.EXITED


# ------------------------------------------------------------------ file removal
def test_remove_container_files(layout: Layout, tmp_path: t.Any) -> None:
    proc = FakeProc(str(tmp_path / "proc"))
    rootfs = layout.rootfs(CID)
    os.makedirs(os.path.join(rootfs, "etc"))
    sys_ = FakeSyscalls(proc, [rootfs, rootfs + "/etc", layout.container_dir(CID) + "x/rootfs"])
    os.makedirs(layout.names_dir)
    os.symlink(f"../containers/{CID}", layout.name_link("web"))
    os.symlink("../containers/other", layout.name_link("db"))
    lifecycle.remove_container_files(layout, CID, syscalls=sys_, proc=proc.root)  # type: ignore[arg-type]
    assert sys_.calls == [(rootfs + "/etc", 2), (rootfs, 2)]  # deepest first; the sibling "<id>x" untouched
    assert not os.path.lexists(layout.container_dir(CID))
    assert os.listdir(layout.names_dir) == ["db"]
    assert not [n for n in os.listdir(layout.tmp_dir) if n.startswith("removing-")]
    lifecycle.remove_container_files(layout, CID, syscalls=sys_, proc=proc.root)  # type: ignore[arg-type]


def test_remove_refuses_when_a_mount_stays(layout: Layout, tmp_path: t.Any) -> None:
    proc = FakeProc(str(tmp_path / "proc"))
    proc.mountinfo([layout.rootfs(CID)])

    class Stuck:
        def umount2(self, target: str, flags: int) -> None:
            pass

    with pytest.raises(Exception, match="cannot unmount .*rootfs: still mounted"):
        lifecycle.remove_container_files(layout, CID, syscalls=Stuck(), proc=proc.root)  # type: ignore[arg-type]
    assert os.path.isdir(layout.container_dir(CID))


def test_mountinfo_escapes(tmp_path: t.Any) -> None:
    proc = FakeProc(str(tmp_path / "proc"))
    with open(os.path.join(proc.root, "self", "mountinfo"), "w") as fh:
        fh.write("1 0 0:1 / /data/with\\040space/x rw - tmpfs tmpfs rw\n")
    assert lifecycle.mounts_below("/data/with space", proc=proc.root) == ["/data/with space/x"]


# ------------------------------------------------------------------ health (fake clock, fake exec)
SEC = health.SECOND


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def wall(self) -> int:
        return int(self.t * SEC) + 1_700_000_000 * SEC


class FakeRun:
    """Answers probes from a script of (exit_code, output) or "timeout"; records argv and timeout."""

    def __init__(self, clock: FakeClock, script: list[t.Any], takes: float = 0.5) -> None:
        self.clock, self.script, self.takes, self.calls = clock, list(script), takes, []  # type: ignore[var-annotated]

    def __call__(self, argv: list[str], timeout: float) -> tuple[int, bytes]:
        self.calls.append((argv, timeout))
        answer = self.script.pop(0)
        if answer == "timeout":
            self.clock.t += timeout
            raise TimeoutError
        self.clock.t += self.takes
        return answer  # type: ignore[no-any-return]


def checker(config: dict[str, t.Any], script: list[t.Any]) -> tuple[health.HealthChecker, FakeClock, FakeRun]:
    clock = FakeClock()
    run = FakeRun(clock, script)
    return health.HealthChecker(config, run, now=clock, wall=clock.wall), clock, run


@pytest.mark.parametrize("config,expected", [
    (None, None),
    ({}, None),
    ({"test": ["NONE"]}, None),
    ({"Test": ["NONE"], "Interval": 5}, None),
    ({"test": ["CMD", "true"]}, {"test": ["CMD", "true"], "interval": 30 * SEC, "timeout": 30 * SEC,
                                 "start_period": 0, "start_interval": 5 * SEC, "retries": 3}),
    ({"Test": ["CMD-SHELL", "curl -f x"], "Interval": 2 * SEC, "Timeout": 0, "Retries": 5, "StartPeriod": SEC},
     {"test": ["CMD-SHELL", "curl -f x"], "interval": 2 * SEC, "timeout": 30 * SEC, "start_period": SEC,
      "start_interval": 5 * SEC, "retries": 5}),
])
def test_health_normalise(config: t.Any, expected: t.Any) -> None:
    assert health.normalise(config) == expected


def test_health_rejects_bad_tests_and_builds_commands() -> None:
    with pytest.raises(ValueError, match="must start with CMD"):
        health.normalise({"test": ["true"]})
    assert health.command(["CMD-SHELL", "exit 1"]) == ["/bin/sh", "-c", "exit 1"]
    assert health.command(["CMD", "/bin/check", "-v"]) == ["/bin/check", "-v"]
    assert health.initial({"test": ["NONE"]}) is None
    assert health.initial({"test": ["CMD", "x"]}, {"Status": "unhealthy", "FailingStreak": 4, "Log": [1]}) == {
        "Status": "starting", "FailingStreak": 0, "Log": [1]}


@pytest.mark.parametrize("ns,text", [
    (30 * SEC, "30s"), (90 * SEC, "1m30s"), (500_000_000, "500ms"), (1_500_000_000, "1.5s"),
    (7200 * SEC, "2h0m0s"), (1_500, "1.5µs"), (0, "0s"), (3_723_000_000_000 + 250_000_000, "1h2m3.25s"),
])
def test_go_duration(ns: int, text: str) -> None:
    assert health.go_duration(ns) == text


def test_health_schedule_and_transitions() -> None:
    hc, clock, run = checker({"test": ["CMD", "probe"], "interval": 10 * SEC, "retries": 2},
                             [(0, b"ok\n"), (1, b"bad"), (1, b"bad"), (0, b"")])
    assert hc.status == "starting" and not hc.due()
    clock.t += 9.9
    assert not hc.due()
    clock.t += 0.1
    assert hc.due()
    h = hc.check()
    assert run.calls == [(["probe"], 30.0)]
    assert h["Status"] == "healthy" and h["FailingStreak"] == 0
    assert h["Log"][0]["ExitCode"] == 0 and h["Log"][0]["Output"] == "ok\n"
    from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor.logs import parse_time

    assert parse_time(h["Log"][0]["End"]) - parse_time(h["Log"][0]["Start"]) == pytest.approx(0.5)
    # the next probe is one interval after the previous one *ended*
    assert hc.next_due == pytest.approx(clock.t + 10)
    clock.t = hc.next_due
    assert hc.check()["Status"] == "healthy" and hc.health["FailingStreak"] == 1   # 1 failure < retries
    clock.t = hc.next_due
    assert hc.check() == {"Status": "unhealthy", "FailingStreak": 2, "Log": hc.health["Log"]}
    clock.t = hc.next_due
    assert hc.check()["Status"] == "healthy" and hc.health["FailingStreak"] == 0


def test_health_never_due_while_a_probe_runs() -> None:
    hc, clock, _run = checker({"test": ["CMD", "p"], "interval": SEC}, [])
    clock.t += 5
    argv, timeout, started, start_ns = hc.begin()
    assert (argv, timeout) == (["p"], 30.0) and not hc.due()
    clock.t += 1
    h = hc.record(0, b"", started, start_ns)
    assert h["Status"] == "healthy" and not hc.due() and hc.next_due == clock.t + 1


def test_health_start_period_failures_do_not_count() -> None:
    cfg = {"test": ["CMD", "p"], "interval": 10 * SEC, "start_period": 20 * SEC, "start_interval": 2 * SEC,
           "retries": 1}
    hc, clock, _run = checker(cfg, [(1, b"not yet")] * 3 + [(0, b""), (1, b"down")])
    assert hc.next_due == clock.t + 2          # start_interval inside the start period
    for dummy in range(3):
        clock.t = hc.next_due
        h = hc.check()
        assert h["Status"] == "starting" and h["FailingStreak"] == 0
    assert len(hc.health["Log"]) == 3
    clock.t = hc.next_due
    assert hc.check()["Status"] == "healthy"
    assert hc.next_due == pytest.approx(clock.t + 10)  # healthy: the normal interval even inside the period
    clock.t = hc.next_due
    assert hc.check()["Status"] == "unhealthy"          # after a success, failures count (retries=1)


def test_health_failures_after_the_start_period_count_while_starting() -> None:
    hc, clock, _run = checker({"test": ["CMD", "p"], "interval": 30 * SEC, "start_period": 5 * SEC,
                               "retries": 2}, [(1, b"")] * 2)
    for dummy in range(2):
        clock.t = max(hc.next_due, clock.t)
        hc.check()
    assert hc.health["Status"] == "unhealthy" and hc.health["FailingStreak"] == 2


def test_health_timeout_output_and_log_length() -> None:
    hc, clock, run = checker({"test": ["CMD-SHELL", "sleep 9"], "timeout": SEC, "interval": SEC, "retries": 9},
                             ["timeout", (0, b"x" * 5000)] + [(2, "é".encode())] * 5)
    clock.t = hc.next_due
    h = hc.check()
    assert run.calls[0] == (["/bin/sh", "-c", "sleep 9"], 1.0)
    assert h["Log"][-1]["ExitCode"] == -1 and h["Log"][-1]["Output"] == "Health check exceeded timeout (1s)"
    assert h["FailingStreak"] == 1
    clock.t = hc.next_due
    out = hc.check()["Log"][-1]["Output"]
    assert out == "x" * 4096 + "..."
    for dummy in range(5):
        clock.t = hc.next_due
        h = hc.check()
    assert len(h["Log"]) == 5 and all(e["ExitCode"] == 2 and e["Output"] == "é" for e in h["Log"])
    assert h["Status"] == "healthy" and h["FailingStreak"] == 5  # exit 2 is a failure; retries=9 not reached


# ------------------------------------------------------------------ the value classes (enum / frozen dataclass API)
def test_status_behaves_like_a_str_enum() -> None:
    import pickle

    assert list(S) == [S.CREATED, S.RUNNING, S.PAUSED, S.RESTARTING, S.EXITED, S.DEAD, S.REMOVING]
    assert len(S) == 7
    assert S("running") is S.RUNNING and S(S.RUNNING) is S.RUNNING
    assert S.RUNNING == "running" and S.RUNNING.value == "running" and S.RUNNING.name == "RUNNING"
    assert repr(S.EXITED) == "<ContainerStatus.EXITED: 'exited'>" and f"{S.EXITED}" == "exited"
    assert json.dumps({"s": S.PAUSED}) == '{"s": "paused"}'
    assert pickle.loads(pickle.dumps(S.DEAD)) is S.DEAD
    with pytest.raises(ValueError, match="'bogus' is not a valid ContainerStatus"):
        S("bogus")


def test_state_behaves_like_a_frozen_dataclass() -> None:
    a = ContainerState(status=S.RUNNING, pid=3, health={"Status": "healthy", "FailingStreak": 0, "Log": []})
    with pytest.raises(AttributeError, match="frozen"):
        a.pid = 4  # type: ignore[misc]
    b = a.replace(pid=4)
    assert (a.pid, b.pid, b.status) == (3, 4, S.RUNNING) and a != b and a == a.replace()
    assert hash(ContainerState()) == hash(ContainerState())
    assert ContainerState(status="exited").status is S.EXITED  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="no field 'bogus'"):
        a.replace(bogus=1)
    assert repr(ContainerState()).startswith("ContainerState(status=<ContainerStatus.CREATED: 'created'>, pid=0,")
    d = a.to_dict()
    d["health"]["Status"] = "changed"  # a copy, as dataclasses.asdict makes
    assert a.health is not None and a.health["Status"] == "healthy"
    assert ContainerState.from_dict(a.to_dict()) == a
    assert list(a.to_dict()) == list(ContainerState.FIELDS)


# ------------------------------------------------------------------ restart policy and the monitor's pure helpers
@pytest.mark.parametrize("policy,retries,code,stopped,count,restart", [
    ("no", 0, 1, False, 0, False),
    ("always", 0, 0, False, 99, True),
    ("always", 0, 0, True, 0, False),           # a manual stop wins
    ("unless-stopped", 0, 0, False, 0, True),
    ("unless-stopped", 0, 1, True, 0, False),
    ("on-failure", 0, 0, False, 0, False),      # success: no restart
    ("on-failure", 0, 1, False, 1000, True),    # 0 retries = unlimited
    ("on-failure", 2, 1, False, 1, True),
    ("on-failure", 2, 1, False, 2, False),      # on-failure:2 -> the first run and two restarts
    ("on-failure", 2, 137, True, 0, False),
])
def test_should_restart(policy: str, retries: int, code: int, stopped: bool, count: int, restart: bool) -> None:
    assert lifecycle.should_restart(policy, retries, code, stopped, count) is restart


def test_back_off_like_docker() -> None:
    from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor.policy import next_backoff

    delays, delay = [], 0.0
    for dummy in range(12):
        delay = next_backoff(delay, ran=0.5)
        delays.append(delay)
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8] and delays[-1] == 60.0 and max(delays) == 60.0
    assert next_backoff(60.0, ran=10.0) == 0.1  # it ran for 10 s: start again from 100 ms


@pytest.mark.parametrize("message,code", [
    ('exec: "nope": executable file not found in $PATH', 127),
    ("exec /app: no such file or directory", 127),
    ("exec /etc: permission denied", 126),
    ("cgroup: device or resource busy", 128),
])
def test_start_failure_exit_codes(message: str, code: int) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor.policy import start_failure_exit_code

    assert start_failure_exit_code(message) == code


def test_monitor_settings_from_the_record() -> None:
    from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor.policy import monitor_settings

    assert monitor_settings({"Desired": {}}) == {
        "restart_policy": "no", "restart_retries": 0, "log_driver": "json-file", "max_size": None, "max_file": 1,
        "healthcheck": None, "auto_remove": False, "tty": False, "open_stdin": False, "anonymous_volumes": []}
    got = monitor_settings({
        "Desired": {"restart_policy": "on-failure:3", "log_driver": "none", "log_options": {"max-size": "10m",
                    "max-file": 3}, "tty": True, "interactive": True, "healthcheck": {"test": ["CMD", "a"]}},
        "Healthcheck": {"test": ["CMD-SHELL", "b"], "retries": 5},  # the effective one (image merged) wins
        "Mounts": [{"Type": "volume", "Name": "a" * 64, "Anonymous": True}, {"Type": "volume", "Name": "named"},
                   {"Type": "bind", "Source": "/x", "Destination": "/x"}],
    })
    assert (got["restart_policy"], got["restart_retries"], got["log_driver"], got["max_size"], got["max_file"]) == (
        "on-failure", 3, "none", 10 << 20, 3)
    assert got["healthcheck"]["test"] == ["CMD-SHELL", "b"] and got["healthcheck"]["retries"] == 5
    assert got["tty"] and got["open_stdin"]
    assert got["anonymous_volumes"] == ["a" * 64]  # --rm removes these (lifecycle.orphan_volumes)


def test_status_events_are_json() -> None:
    from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor import plumbing

    event = {"event": "error", "message": 'exec: "nope": é\n', "exit_code": 127, "ok": False, "none": None}
    assert json.loads(plumbing._dumps(event)) == event

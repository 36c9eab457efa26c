# SPDX-License-Identifier: GPL-3.0-or-later
"""Real containers through Engine.containers, with Berth's own runtime and with runc."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.api import Engine, Stdio
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import (
    Conflict,
    EngineError,
    InvalidOption,
    RuntimeFailure,
)
from ansible_collections.berth.engine.plugins.module_utils.engine.options.container import normalise_options
from tests.support import require_tools
from tests.support.attached import run_attached

pytestmark = pytest.mark.functional

RUNTIMES = ["berth", pytest.param("runc", marks=pytest.mark.skipif(not shutil.which("runc"), reason="runc missing"))]


@pytest.fixture
def eng(tmp_path: t.Any, rootfs_tar: str) -> t.Iterator[Engine]:
    root = str(tmp_path / "root")
    engine = Engine.open(data_root=root, config_path=str(tmp_path / "daemon.json"), lock_timeout=60)
    engine.images.import_(rootfs_tar, "bb:1")
    yield engine
    ids = set(os.listdir(os.path.join(root, "containers"))) if os.path.isdir(os.path.join(root, "containers")) else set()
    for item in engine.containers.list(all=True):
        try:
            engine.containers.remove(item["Id"], force=True)
        except EngineError:
            pass
    _assert_nothing_left(root, ids)


def _assert_nothing_left(root: str, ids: t.Set[str]) -> None:
    with open("/proc/self/mountinfo") as fh:
        mounts = [ln for ln in fh if root in ln]
    assert mounts == [], f"leaked mounts: {mounts}"
    for ctrl in ("memory/", "pids/", "cpu/", "freezer/", ""):  # cgroup v1 hierarchies, and a v2-only host's
        d = f"/sys/fs/cgroup/{ctrl}berth"
        if os.path.isdir(d):
            assert ids.isdisjoint(os.listdir(d)), f"leaked cgroups in {d}"
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    cmd = fh.read()
            except OSError:
                continue
            assert not any(i.encode() in cmd for i in ids), f"leaked process {pid}: {cmd!r}"
    locks = os.path.join(root, "locks")
    left = [n for n in (os.listdir(locks) if os.path.isdir(locks) else []) if n.startswith("container-")]
    assert left == [], f"leaked container lock files: {left}"


def run(eng: Engine, runtime: str, *command: str, **params: t.Any) -> tuple[int, str, str]:
    """An attached run; returns (exit code, stdout, stderr)."""
    opts = normalise_options({"image": "bb:1", "command": list(command), "runtime": runtime, **params})
    res, out, err = run_attached(lambda w_out, w_err: eng.containers.run(
        opts, detach=False, stdio=Stdio(None, w_out, w_err), remove=True))
    assert res.exit_code is not None
    return res.exit_code, out, err


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_what_a_container_sees(eng: Engine, runtime: str) -> None:
    script = textwrap.dedent(
        """
        echo pid=$$
        echo host=$(hostname)
        grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status
        # masked: /dev/null bound over them (reads give nothing), where the kernel has them at all
        shown=; for f in /proc/kcore /proc/keys /proc/timer_list; do
          [ -e $f ] && [ "$(head -c 1 $f 2>/dev/null | wc -c)" != 0 ] && shown="$shown $f"; done
        echo masked=${shown:-all}
        echo dev_block=$(ls /sys/dev/block | wc -l)
        touch /sys/x 2>/dev/null && echo sys=rw || echo sys=ro
        grep -c ' / overlay ' /proc/self/mountinfo
        ping -c1 -W1 127.0.0.1 >/dev/null 2>&1 && echo lo=up || echo lo=down
        id
        """
    )
    code, out, err = run(eng, runtime, "sh", "-c", script, hostname="box")
    assert code == 0, err
    lines = dict(ln.split("=", 1) for ln in out.splitlines() if "=" in ln and ":" not in ln.split("=", 1)[0])
    assert lines["pid"] == "1"
    assert lines["host"] == "box"
    assert "CapEff:\t00000000a80425fb" in out  # Docker's default capability set
    assert "NoNewPrivs:\t0" in out
    assert "Seccomp:\t2" in out
    assert lines["masked"] == "all"
    assert lines["dev_block"] == "0"  # masked as podman does (the host's block devices)
    assert lines["sys"] == "ro"
    assert lines["lo"] == "up"  # Docker brings up loopback in a new network namespace (network none too)
    assert "uid=0(root) gid=0(root)" in out


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_exit_codes_env_user_and_workdir(eng: Engine, runtime: str) -> None:
    assert run(eng, runtime, "sh", "-c", "exit 7")[0] == 7
    code, out, dummy = run(eng, runtime, "sh", "-c", 'echo "$GREETING"; pwd; id -u; id -g', env={"GREETING": "hi"},
                           working_dir="/made/here", user="nobody")
    assert code == 0
    assert out.splitlines() == ["hi", "/made/here", "65534", "65534"]
    with pytest.raises(RuntimeFailure, match='"no-such-binary": executable file not found') as err:
        run(eng, runtime, "no-such-binary")
    assert err.value.exit_code == 127  # docker's code for a missing command
    assert eng.containers.list(all=True) == []  # --rm also when it never started


IO_URING_PROBE = r"""
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#endif
int main(void) {
    unsigned char params[120];  /* struct io_uring_params, zeroed */
    memset(params, 0, sizeof params);
    long fd = syscall(SYS_io_uring_setup, 1, params);
    if (fd >= 0) { puts("io_uring=allowed"); return 0; }
    printf("io_uring=%s\n", errno == EPERM ? "EPERM" : errno == ENOSYS ? "ENOSYS" : strerror(errno));
    return 1;
}
"""


@pytest.fixture
def io_uring_image(eng: Engine, rootfs_tar: str, tmp_path: t.Any) -> str:
    """bb:1 plus /io_uring_probe, a static program that calls io_uring_setup(2) for real."""
    import tarfile

    require_tools("gcc", why="a static program that calls io_uring_setup inside a container")
    src = tmp_path / "probe.c"
    src.write_text(IO_URING_PROBE)
    binary = tmp_path / "io_uring_probe"
    done = subprocess.run(["gcc", "-static", "-O1", "-o", str(binary), str(src)], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot build a static program here: {done.stderr.strip()[-300:]}")
    tar = tmp_path / "probe.tar"
    shutil.copyfile(rootfs_tar, tar)
    with tarfile.open(tar, "a") as tf:
        tf.add(str(binary), arcname="io_uring_probe")
    eng.images.import_(str(tar), "bb:uring")
    return "bb:uring"


def test_default_seccomp_profile_blocks_io_uring(eng: Engine, io_uring_image: str) -> None:
    with open("/proc/sys/kernel/io_uring_disabled") as fh:
        host_allows = fh.read().strip() == "0"
    if host_allows:  # without the filter the very same call succeeds: the profile is what says no
        code, out, err = run(eng, "berth", "/io_uring_probe", image=io_uring_image,
                             security_opts=["seccomp=unconfined"])
        assert (code, out.strip()) == (0, "io_uring=allowed"), err
    code, out, err = run(eng, "berth", "/io_uring_probe", image=io_uring_image)
    assert (code, out.strip()) == (1, "io_uring=EPERM"), err  # moby 25's default profile


def test_entrypoint_and_command_rules(eng: Engine) -> None:
    dummy, out, dummy = run(eng, "berth", "a", "b", entrypoint=["echo", "ep"])
    assert out.strip() == "ep a b"


@pytest.fixture
def odd_image(eng: Engine, tmp_path: t.Any, rootfs_tar: str) -> str:
    """busybox plus /notbin: executable, found on PATH lookup, but no binary and no #! line."""
    import io
    import tarfile

    path = str(tmp_path / "odd.tar")
    shutil.copyfile(rootfs_tar, path)
    with tarfile.open(path, "a") as tf:
        data = b"just text\n"
        info = tarfile.TarInfo("./notbin")
        info.mode, info.size = 0o755, len(data)
        tf.addfile(info, io.BytesIO(data))
    eng.images.import_(path, "odd:1")
    return "odd:1"


def test_a_process_that_cannot_be_executed_is_not_started(eng: Engine, odd_image: str) -> None:
    """start waits for the execve (Berth's runtime): the container ends as Docker leaves it."""
    opts = normalise_options({"image": odd_image, "command": ["/notbin", "arg"]})
    cid = eng.containers.create(opts, name="odd")
    with pytest.raises(RuntimeFailure, match='exec "/notbin": exec format error') as err:
        eng.containers.start("odd")
    assert eng.root not in str(err.value) and "Errno" not in str(err.value)
    state = eng.containers.inspect(cid)["State"]
    assert state["Status"] == "created" and not state["Running"] and state["Pid"] == 0
    assert state["ExitCode"] == 126
    assert 'exec "/notbin": exec format error' in state["Error"]
    with pytest.raises(RuntimeFailure, match="exec format error") as err:
        eng.containers.run(opts, detach=True)
    assert err.value.exit_code == 126
    with pytest.raises(RuntimeFailure, match="exec format error") as err:
        run(eng, "berth", "/notbin", image=odd_image)  # attached, --rm
    assert err.value.exit_code == 126


def test_no_new_privileges_and_dropped_caps(eng: Engine) -> None:
    code, out, dummy = run(eng, "berth", "grep", "-E", "^(CapEff|NoNewPrivs)", "/proc/self/status",
                           security_opts=["no-new-privileges"], cap_drop=["ALL"])
    assert code == 0
    assert "NoNewPrivs:\t1" in out and "CapEff:\t0000000000000000" in out


def test_memory_limit_oom_is_reported(eng: Engine) -> None:
    opts = normalise_options({"image": "bb:1", "memory": "16m", "memory_swap": "16m",
                              "command": ["sh", "-c", "x=a; while true; do x=$x$x; done"]})
    cid = eng.containers.create(opts)
    eng.containers.start(cid)
    code = eng.containers.wait(cid, timeout=60)
    state = eng.containers.inspect(cid)["State"]
    assert code == 137 and state["OOMKilled"] is True


def test_pids_limit_stops_a_fork_bomb(eng: Engine) -> None:
    # Builtins only after the bomb: at the limit not even a command substitution can fork.
    script = ("d=/sys/fs/cgroup/pids; [ -d $d ] || d=/sys/fs/cgroup; "  # cgroup v1, or v2 (its own cgroupns root)
              "(for i in $(seq 1 40); do sleep 5 & done) 2>/dev/null; "
              "read cur < $d/pids.current; read max < $d/pids.max; echo $cur $max")
    code, out, dummy = run(eng, "berth", "sh", "-c", script, pids_limit=10)
    cur, limit = out.split()
    assert limit == "10"
    assert 5 < int(cur) <= 10


def test_detached_lifecycle_keeps_changes_across_restart(eng: Engine) -> None:
    opts = normalise_options({"image": "bb:1", "command": ["sh", "-c", "echo hi >> /data.txt; sleep 300"]})
    cid = eng.containers.create(opts, name="keeper")
    eng.containers.start("keeper")
    assert eng.containers.inspect("keeper")["State"]["Running"]
    with pytest.raises(Conflict):
        eng.containers.remove("keeper")
    with pytest.raises(EngineError, match="must force|container .* is using"):
        eng.images.remove("bb:1")
    assert eng.containers.stop("keeper", timeout=1)
    st = eng.containers.inspect(cid)["State"]
    assert st["Status"] == "exited" and st["ExitCode"] in (137, 143)
    eng.containers.start(cid)
    assert eng.containers.exec(cid, ["cat", "/data.txt"]) == 0
    for bad in ({"command": ["echo", "a\0b"]}, {"command": ["true"], "env": {"A": "\0"}}):
        with pytest.raises(InvalidOption, match="NUL byte"):  # the kernel would cut the string there
            eng.containers.exec(cid, **bad)
    r, w = os.pipe()
    assert eng.containers.exec(cid, ["sh", "-c", "cat /data.txt; exit 4"], stdio=Stdio(None, w, w)) == 4
    os.close(w)
    assert os.read(r, 100) == b"hi\nhi\n"
    os.close(r)
    eng.containers.pause(cid)
    assert eng.containers.inspect(cid)["State"]["Status"] == "paused"
    eng.containers.unpause(cid)
    eng.containers.rename(cid, "renamed")
    assert eng.containers.inspect("renamed")["Name"] == "/renamed"
    assert eng.containers.remove("renamed", force=True)
    assert eng.containers.list(all=True) == []


def test_restart_policy_on_failure(eng: Engine) -> None:
    opts = normalise_options({"image": "bb:1", "command": ["sh", "-c", "exit 3"], "restart_policy": "on-failure",
                              "restart_retries": 2})
    cid = eng.containers.create(opts)
    eng.containers.start(cid)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info = eng.containers.inspect(cid)
        if info["State"]["Status"] == "exited" and info["RestartCount"] == 2:
            break
        time.sleep(0.1)
    assert info["RestartCount"] == 2 and info["State"]["ExitCode"] == 3


def test_restore_starts_always_even_when_stopped_by_hand(eng: Engine) -> None:
    """``system restore`` is dockerd starting: ``always`` wins over a manual stop, ``unless-stopped`` does not."""
    ids = {}
    for policy in ("always", "unless-stopped", "no"):
        opts = normalise_options({"image": "bb:1", "command": ["sleep", "300"], "restart_policy": policy})
        ids[policy] = eng.containers.create(opts)
        eng.containers.start(ids[policy])
        eng.containers.stop(ids[policy], timeout=0)
    assert eng.containers.restore() == [ids["always"]]
    status = {p: eng.containers.inspect(cid)["State"]["Status"] for p, cid in ids.items()}
    assert status == {"always": "running", "unless-stopped": "exited", "no": "exited"}


START_SCRIPT = textwrap.dedent(
    """
    import sys
    from ansible_collections.berth.engine.plugins.module_utils.engine.api import Engine
    eng = Engine.open(data_root=sys.argv[1], config_path=sys.argv[2], lock_timeout=60)
    eng.containers.start(sys.argv[3])
    """
)


def test_two_racing_starts_start_it_once(eng: Engine) -> None:
    """Of two concurrent ``start``s (two processes), the second is a no-op, as in Docker, not an error."""
    from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor import lifecycle

    cid = eng.containers.create(normalise_options({"image": "bb:1", "command": ["sleep", "300"]}))
    layout = eng.containers.layout
    with lifecycle.locked(layout, cid):  # both find the container created, then wait for a lock of it
        procs = [subprocess.Popen([sys.executable, "-c", START_SCRIPT, eng.root, eng.config.path, cid],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for dummy in range(2)]
        while not all(_holds_a_lock_of(p.pid, cid) or p.poll() is not None for p in procs):
            time.sleep(0.01)
    results = [(p.wait(90), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert results == [(0, ""), (0, "")]
    assert eng.containers.inspect(cid)["State"]["Status"] == "running"
    with open("/proc/self/mountinfo") as fh:
        assert sum(1 for ln in fh if ln.split()[4] == layout.rootfs(cid)) == 1  # mounted once
    assert len([p for p in os.listdir("/proc") if p.isdigit() and _is_monitor_of(int(p), cid)]) == 1


def _holds_a_lock_of(pid: int, cid: str) -> bool:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if cid in target and target.endswith(".lock"):
            return True
    return False


def _is_monitor_of(pid: int, cid: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().split(b"\0")
    except OSError:
        return False
    return cid.encode() in argv and b"--runtime" in argv


def test_a_name_conflict_names_the_owner(eng: Engine) -> None:
    layout = eng.containers.layout
    opts = normalise_options({"image": "bb:1", "command": ["true"]})
    first = eng.containers.create(opts, name="first")
    second = eng.containers.create(opts, name="second")
    with pytest.raises(Conflict, match=f'"/first" is already in use by container "{first}"'):
        eng.containers.create(opts, name="first")
    with pytest.raises(Conflict, match=f'"/first" is already in use by container "{first}"'):
        eng.containers.rename(second, "first")
    # a create that holds the name but has not written its record yet is the owner too
    creating = "c" * 64
    os.makedirs(layout.container_dir(creating))
    os.symlink(os.path.join("..", "containers", creating), layout.name_link("busy"))
    try:
        with pytest.raises(Conflict, match=f'"/busy" is already in use by container "{creating}"'):
            eng.containers.create(opts, name="busy")
    finally:
        os.unlink(layout.name_link("busy"))
        os.rmdir(layout.container_dir(creating))


def test_healthcheck_turns_healthy(eng: Engine) -> None:
    opts = normalise_options({"image": "bb:1", "command": ["sleep", "300"],
                              "healthcheck": {"test": ["CMD", "true"], "interval": "1s", "retries": 1}})
    cid = eng.containers.create(opts)
    eng.containers.start(cid)
    deadline = time.monotonic() + 20
    status = None
    while time.monotonic() < deadline:
        status = eng.containers.inspect(cid)["State"].get("Health", {}).get("Status")
        if status == "healthy":
            break
        time.sleep(0.2)
    assert status == "healthy"


def test_attach_to_a_running_container(eng: Engine) -> None:
    opts = normalise_options({"image": "bb:1", "command": ["sh", "-c", "sleep 1; echo late; exit 5"]})
    cid = eng.containers.create(opts)
    eng.containers.start(cid)
    r, w = os.pipe()
    code = eng.containers.attach(cid, Stdio(None, w, w))
    os.close(w)
    assert code == 5
    assert b"late" in os.read(r, 100)
    os.close(r)


MONITOR_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from ansible_collections.berth.engine.plugins.module_utils.engine.api import Engine
    from ansible_collections.berth.engine.plugins.module_utils.engine.options.container import normalise_options
    eng = Engine.open(data_root=sys.argv[1], config_path=sys.argv[2])
    cid = eng.containers.create(normalise_options({"image": "bb:1", "command": ["sh", "-c", "sleep 2; exit 9"]}))
    eng.containers.start(cid)
    print(cid, flush=True)
    os.kill(os.getpid(), 9)
    """
)


def test_the_monitor_outlives_a_killed_caller(eng: Engine) -> None:
    proc = subprocess.run([sys.executable, "-c", MONITOR_SCRIPT, eng.root, eng.config.path],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == -9
    cid = proc.stdout.strip()
    assert eng.containers.wait(cid, timeout=30) == 9
    assert eng.containers.inspect(cid)["State"]["Status"] == "exited"


def _kill_the_monitor(eng: Engine, cid: str) -> int:
    """SIGKILL the container's monitor and wait until it is gone; returns the container's init pid."""
    from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor import lifecycle

    state = lifecycle.load(eng.containers.layout, cid)
    assert state.status is lifecycle.ContainerStatus.RUNNING and state.monitor_pid and state.pid
    os.kill(state.monitor_pid, 9)
    while _is_monitor_of(state.monitor_pid, cid):  # a zombie's command line is empty
        time.sleep(0.01)
    return state.pid


def _connected(eng: Engine, cid: str) -> bool:
    """Someone is connected to the container's attach socket (the kernel's unix socket table says so; it
    shows the name the monitor bound, before it was renamed into place, maybe through /proc/self/fd)."""
    name = f"/.monitor-{_monitor_pid(eng, cid)}.sock"
    with open("/proc/net/unix") as fh:
        rows = [ln.split() for ln in fh.readlines()[1:]]
    return sum(1 for row in rows if row[-1].endswith(name)) >= 2  # the listener and the accepted connection


def _monitor_pid(eng: Engine, cid: str) -> int:
    from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor import lifecycle

    return lifecycle.load(eng.containers.layout, cid).monitor_pid


def test_a_lost_monitor_is_replaced_and_stop_records_the_real_exit(eng: Engine) -> None:
    cid = eng.containers.create(normalise_options({"image": "bb:1", "command": ["sleep", "300"]}))
    eng.containers.start(cid)
    dead = _monitor_pid(eng, cid)
    init = _kill_the_monitor(eng, cid)
    info = eng.containers.inspect(cid)  # finds the monitor gone: a replacement takes the container over
    assert info["State"]["Status"] == "running" and info["State"]["Pid"] == init
    assert _monitor_pid(eng, cid) not in (0, dead)
    r, w = os.pipe()
    attached: list[int] = []  # the replacement serves the attach socket too: attach hears the exit code
    th = threading.Thread(target=lambda: attached.append(eng.containers.attach(cid, Stdio(None, w, w))))
    th.start()
    while not _connected(eng, cid):
        time.sleep(0.01)
    assert eng.containers.stop(cid, timeout=0)
    th.join(30)
    os.close(w)
    os.close(r)
    assert attached == [137]
    state = eng.containers.inspect(cid)["State"]
    assert (state["Status"], state["ExitCode"], state["Error"]) == ("exited", 137, "")  # SIGKILL, not 255
    eng.containers.start(cid)  # and it starts again as usual
    assert eng.containers.inspect(cid)["State"]["Status"] == "running"


def test_a_lost_monitor_of_a_paused_container_is_replaced(eng: Engine) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor import lifecycle

    cid = eng.containers.create(normalise_options({"image": "bb:1", "command": ["sleep", "300"]}))
    eng.containers.start(cid)
    eng.containers.pause(cid)
    assert eng.containers.inspect(cid)["State"]["Status"] == "paused"
    dead = _monitor_pid(eng, cid)
    os.kill(dead, 9)
    while _is_monitor_of(dead, cid):
        time.sleep(0.01)
    assert lifecycle.load(eng.containers.layout, cid).status is lifecycle.ContainerStatus.PAUSED
    assert eng.containers.inspect(cid)["State"]["Status"] == "paused"  # taken over while frozen
    assert _monitor_pid(eng, cid) not in (0, dead)
    eng.containers.unpause(cid)
    assert eng.containers.stop(cid, timeout=0)
    assert eng.containers.inspect(cid)["State"]["ExitCode"] == 137


def test_signals_still_reach_a_taken_over_container(eng: Engine) -> None:
    """The replacement traces the init: each signal stops it on its way in and is passed on."""
    script = 'trap "exit 7" TERM; trap "echo hup >> /tmp/seen" HUP; while :; do sleep 0.05; done'
    cid = eng.containers.create(normalise_options({"image": "bb:1", "command": ["sh", "-c", script]}))
    eng.containers.start(cid)
    _kill_the_monitor(eng, cid)
    eng.containers.inspect(cid)
    eng.containers.kill(cid, "HUP")
    seen = os.path.join(eng.containers.layout.upper(cid), "tmp", "seen")
    while not os.path.exists(seen):
        time.sleep(0.01)
    assert eng.containers.inspect(cid)["State"]["Status"] == "running"  # handled, not fatal
    assert eng.containers.stop(cid, timeout=60)  # SIGTERM: the trap exits 7 (SIGKILL would give 137)
    assert eng.containers.inspect(cid)["State"]["ExitCode"] == 7


def test_a_lost_monitor_the_restart_policy_still_acts(eng: Engine) -> None:
    opts = normalise_options({"image": "bb:1", "command": ["sleep", "300"], "restart_policy": "always"})
    cid = eng.containers.create(opts)
    eng.containers.start(cid)
    init = _kill_the_monitor(eng, cid)
    eng.containers.inspect(cid)
    os.kill(init, 9)  # the container dies on its own (not a stop): "always" restarts it
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        info = eng.containers.inspect(cid)
        if info["RestartCount"] == 1 and info["State"]["Status"] == "running":
            break
        time.sleep(0.05)
    assert info["RestartCount"] == 1 and info["State"]["Status"] == "running", info["State"]
    assert info["State"]["Pid"] != init


def test_a_kill_is_not_undone_by_the_restart_policy(eng: Engine) -> None:
    """Docker's kill: SIGKILL (or the stop signal) marks the container manually stopped before the signal,
    so ``always`` does not restart it and a wait for the stop ends (the force_kill recreate of issue 13)."""
    opts = normalise_options({"image": "bb:1", "command": ["sleep", "300"], "restart_policy": "always"})
    cid = eng.containers.create(opts)
    eng.containers.start(cid)
    eng.containers.kill(cid, "KILL")
    assert eng.containers.wait(cid, condition="not-running", timeout=60) == 137
    _wait_monitor_gone(eng, cid)  # the monitor decided: no restart is pending
    info = eng.containers.inspect(cid)
    assert info["State"]["Status"] == "exited" and info["RestartCount"] == 0, info["State"]


def test_a_kill_of_a_container_waiting_to_restart_cancels_the_restart(eng: Engine) -> None:
    """A container in its restart back-off (``restarting``) is not restarted after a kill."""
    opts = normalise_options({"image": "bb:1", "command": ["sh", "-c", "exit 3"], "restart_policy": "always"})
    cid = eng.containers.create(opts)
    eng.containers.start(cid)
    deadline = time.monotonic() + 60
    while eng.containers.inspect(cid)["RestartCount"] < 3 and time.monotonic() < deadline:
        time.sleep(0.05)  # the back-off has grown past 100 ms: the next kill finds it running or restarting
    eng.containers.kill(cid, "KILL")
    eng.containers.wait(cid, condition="not-running", timeout=60)
    _wait_monitor_gone(eng, cid)
    assert eng.containers.inspect(cid)["State"]["Status"] == "exited"


def test_a_wait_ends_when_the_restart_policy_answers_the_exit(eng: Engine) -> None:
    """Docker's stop waiters fire when a container goes to "restarting": detach=false and ``berth wait`` of a
    restart=always container end at its exit instead of waiting for an exit that is never final."""
    opts = normalise_options({"image": "bb:1", "command": ["sh", "-c", "sleep 0.2; exit 3"],
                              "restart_policy": "always"})
    cid = eng.containers.create(opts)
    eng.containers.start(cid)
    assert eng.containers.wait(cid, condition="not-running", timeout=60) == 3
    assert eng.containers.wait(cid, condition="next-exit", timeout=60) == 3
    eng.containers.stop(cid, timeout=0)


def _wait_monitor_gone(eng: Engine, cid: str) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor import lifecycle

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pid = lifecycle.load(eng.containers.layout, cid).monitor_pid
        if not pid or not os.path.exists(f"/proc/{pid}") or _is_zombie(pid):
            return
        time.sleep(0.02)
    raise AssertionError("the monitor did not exit")


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_signal_that_is_not_a_stop_keeps_the_restart_policy(eng: Engine) -> None:
    script = 'trap "exit 5" USR1; while :; do sleep 0.05; done'
    opts = normalise_options({"image": "bb:1", "command": ["sh", "-c", script], "restart_policy": "always"})
    cid = eng.containers.create(opts)
    eng.containers.start(cid)
    eng.containers.kill(cid, "USR1")
    deadline = time.monotonic() + 60
    while eng.containers.inspect(cid)["RestartCount"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert eng.containers.inspect(cid)["RestartCount"] >= 1


def test_a_lost_monitor_rm_containers_are_still_removed(eng: Engine) -> None:
    opts = normalise_options({"image": "bb:1", "command": ["sleep", "300"], "auto_remove": True})
    cid = eng.containers.create(opts)
    eng.containers.start(cid)
    init = _kill_the_monitor(eng, cid)
    eng.containers.list()
    os.kill(init, 9)
    eng.containers.wait(cid, condition="removed", timeout=60)
    assert eng.containers.list(all=True) == []  # (and the fixture finds no mount, cgroup or lock left)


def test_a_monitor_that_cannot_be_replaced_shows_in_ps(eng: Engine) -> None:
    """A debugger holds the init (ptrace): no replacement monitor can trace it; ps says so."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    cid = eng.containers.create(normalise_options({"image": "bb:1", "command": ["sleep", "300"]}))
    eng.containers.start(cid)
    init = _kill_the_monitor(eng, cid)
    assert libc.ptrace(0x4206, init, None, None) == 0, os.strerror(ctypes.get_errno())  # PTRACE_SEIZE
    try:
        (item,) = eng.containers.list()
        assert item["Status"].startswith("Up ") and item["Status"].endswith(" (monitor lost)")
        error = eng.containers.inspect(cid)["State"]["Error"]
        assert error.startswith("monitor lost; not replaced: ") and "cannot trace" in error
        eng.containers.list()  # not tried again at every look
    finally:
        libc.ptrace(17, init, None, None)  # PTRACE_DETACH (may fail outside a stop: our exit detaches)


def test_twenty_containers_in_parallel(eng: Engine) -> None:
    errors: list[BaseException] = []
    ids: list[str] = []

    def one(i: int) -> None:
        try:
            opts = normalise_options({"image": "bb:1", "command": ["sh", "-c", f"echo {i}"]})
            ids.append(eng.containers.create(opts, name=f"par{i}"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len({eng.containers.inspect(i)["Name"] for i in ids}) == 20
    for cid in ids:
        eng.containers.start(cid)
    for cid in ids:
        assert eng.containers.wait(cid, timeout=60) == 0


def test_init_reaps_as_pid_1(eng: Engine) -> None:
    require_tools("tini-static", why="init: true (make setup installs Debian's tini)")
    code, out, dummy = run(eng, "berth", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$", init=True)
    assert code == 0
    first, second = out.splitlines()
    assert first.startswith("/sbin/berth-init -- sh")
    assert second != "1"


def test_exec_with_a_terminal(eng: Engine) -> None:
    import pty

    cid = eng.containers.create(normalise_options({"image": "bb:1", "command": ["sleep", "60"]}))
    eng.containers.start(cid)
    master, slave = pty.openpty()
    try:
        code = eng.containers.exec(cid, ["sh", "-c", "tty; exit 3"], tty=True, stdio=Stdio(None, slave, slave, tty=True))
    finally:
        os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert code == 3
    assert b"/dev/pts/" in out


def test_the_spec_is_built_at_create_and_a_bad_user_leaves_nothing(eng: Engine) -> None:
    """``create`` builds the OCI spec as ``start`` would, the user looked up in the image's layers: an
    unknown user fails the create (and check mode) naming option and value, and nothing is written."""
    layout = eng.containers.layout

    def containers() -> t.Set[str]:
        return set(os.listdir(layout.containers_dir)) if os.path.isdir(layout.containers_dir) else set()

    before = containers()
    bad = normalise_options({"image": "bb:1", "command": ["true"], "user": "nosuchuser"})
    for attempt in (lambda: eng.containers.create(bad, name="bad"),
                    lambda: eng.containers.check(bad, name="bad"),
                    lambda: eng.containers.run(bad, name="bad")):
        with pytest.raises(InvalidOption, match="invalid value 'nosuchuser' for user: no user 'nosuchuser'"):
            attempt()
        assert containers() == before
        assert not os.path.lexists(layout.name_link("bad"))
    good = normalise_options({"image": "bb:1", "command": ["id", "-un"], "user": "nobody"})
    eng.containers.check(good, name="good")
    assert containers() == before  # check mode writes nothing
    assert run(eng, "berth", "id", "-un", user="nobody")[:2] == (0, "nobody\n")


@pytest.mark.parametrize("runtime", RUNTIMES + [
    pytest.param("crun", marks=pytest.mark.skipif(not shutil.which("crun"), reason="crun missing"))])
def test_update_goes_through_the_runtime(eng: Engine, runtime: str) -> None:
    """``update --memory`` of a running container: the runtime's own ``update`` changes the limit (runc and
    crun own their containers' cgroups; Berth does not write them), as the runtime and the cgroup report it."""
    opts = normalise_options({"image": "bb:1", "command": ["sleep", "300"], "runtime": runtime, "memory": "64m"})
    cid = eng.containers.create(opts)
    eng.containers.start(cid)
    assert eng.containers.stats(cid)["memory_stats"]["limit"] == 64 << 20
    assert eng.containers.update(cid, {"memory": 96 << 20}) is True
    assert eng.containers.stats(cid)["memory_stats"]["limit"] == 96 << 20
    if runtime == "runc":  # runc records what its own update applied (written by runc, not by Berth)
        state = os.path.join(eng.containers.layout.runtime_state_dir, "runc", cid, "state.json")
        with open(state) as fh:
            assert json.load(fh)["config"]["cgroups"]["memory"] == 96 << 20
    eng.containers.remove(cid, force=True)

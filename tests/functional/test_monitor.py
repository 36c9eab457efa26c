# SPDX-License-Identifier: GPL-3.0-or-later
"""supervisor.monitor with real processes: spawn, logs, attach, exit codes, restarts, health, --rm, tty.

Most tests drive the monitor with ``FakeRuntime`` below: an OciRuntime without namespaces whose
container is a plain host process (``process.args`` run directly). It is injected the way a monitor
gets any runtime: ``runtime={"name": "fake", "factory": "<file>:FakeRuntime"}`` makes the monitor's
worker load that file (objects cannot cross the monitor's ``execv``). One test at the end runs a real
busybox container through ``BerthRuntime``.
"""
from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import signal
import struct
import subprocess
import sys
import termios
import textwrap
import time
import tty as ttymod
import typing as t
import zipfile

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.core import libcopy
from ansible_collections.berth.engine.plugins.module_utils.engine.core.layout import Layout
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import RuntimeFailure
from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor import lifecycle, monitor_ops
from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor.lifecycle import ContainerStatus as S
from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor.logs import read_logs

pytestmark = [
    pytest.mark.functional,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (the monitor runs as root)"),
    pytest.mark.timeout(90),
]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FAKE_RUNTIME = r'''
"""An OciRuntime without namespaces, for tests: the container is a plain child process."""
import fcntl
import json
import os
import shutil
import signal
import socket
import struct
import termios
import time


class FakeRuntime:
    def __init__(self, state_root, spec):
        self.root = state_root
        os.makedirs(state_root, exist_ok=True)

    def _dir(self, cid):
        return os.path.join(self.root, cid)

    def _state(self, cid):
        try:
            with open(os.path.join(self._dir(cid), "state.json")) as fh:
                return json.load(fh)
        except FileNotFoundError:
            raise LookupError("container %s does not exist" % cid) from None

    def create(self, cid, bundle, *, stdio=None, console_socket=None, pid_file=None):
        with open(os.path.join(bundle, "config.json")) as fh:
            proc = json.load(fh)["process"]
        env = dict(e.split("=", 1) for e in proc.get("env", []))
        exe = shutil.which(proc["args"][0], path=env.get("PATH"))
        if exe is None:
            raise RuntimeError('exec: "%s": executable file not found in $PATH' % proc["args"][0])
        d = self._dir(cid)
        os.makedirs(d)
        fifo = os.path.join(d, "exec.fifo")
        os.mkfifo(fifo)
        master = slave = None
        if proc.get("terminal"):
            master, slave = os.openpty()
            size = proc.get("consoleSize") or {}
            if size:
                fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size["height"], size["width"], 0, 0))
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()
                if slave is not None:
                    os.close(master)
                    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
                    fds = (slave, slave, slave)
                else:
                    fds = stdio
                for i, fd in enumerate(fds):
                    os.dup2(fd, i)
                fd = os.open(fifo, os.O_RDONLY)  # wait for start()
                os.read(fd, 1)
                os.close(fd)
                os.chdir(proc.get("cwd") or "/")
                os.execve(exe, proc["args"], env)
            finally:
                os._exit(127)
        if master is not None:
            os.close(slave)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(console_socket)
            socket.send_fds(sock, [b"/dev/ptmx"], [master])
            sock.close()
            os.close(master)
        with open(os.path.join(d, "state.json"), "w") as fh:
            json.dump({"pid": pid}, fh)
        return pid

    def start(self, cid):
        fifo = os.path.join(self._dir(cid), "exec.fifo")
        deadline = time.monotonic() + 5
        while True:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.001)
        os.write(fd, b"x")
        os.close(fd)
        os.unlink(fifo)

    def state(self, cid):
        pid = self._state(cid)["pid"]
        alive = os.path.exists("/proc/%d" % pid)
        return {"ociVersion": "1.0.2", "id": cid, "pid": pid, "status": "running" if alive else "stopped"}

    def kill(self, cid, sig=15, all=False):
        os.kill(self._state(cid)["pid"], sig)

    def delete(self, cid, force=False):
        pid = self._state(cid)["pid"]
        freeze = os.path.join(self.root, cid + ".freeze-the-caller")
        if os.path.exists(freeze):  # tests: stop the monitor (this worker's parent) until they resume it
            os.unlink(freeze)
            os.kill(os.getppid(), signal.SIGSTOP)
        if force:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(self._dir(cid))

    def exec(self, cid, process, *, stdio=None, console_socket=None, detach=False):
        self._state(cid)
        env = dict(e.split("=", 1) for e in process.get("env", []))
        exe = shutil.which(process["args"][0], path=env.get("PATH"))
        if exe is None:
            raise RuntimeError('exec: "%s": executable file not found in $PATH' % process["args"][0])
        pid = os.fork()
        if pid == 0:
            try:
                for i, fd in enumerate(stdio):
                    os.dup2(fd, i)
                os.execve(exe, process["args"], env)
            finally:
                os._exit(127)
        return pid

    def oom_killed(self, cid):
        return os.path.exists(os.path.join(self._dir(cid), "oom"))

    def pause(self, cid):
        os.kill(self._state(cid)["pid"], signal.SIGSTOP)

    def resume(self, cid):
        os.kill(self._state(cid)["pid"], signal.SIGCONT)

    def list(self):
        return [self.state(c) for c in os.listdir(self.root)]
'''


# ------------------------------------------------------------------ fixtures and helpers
@pytest.fixture
def layout(berth_root: str) -> t.Iterator[Layout]:
    lay = Layout(berth_root)
    yield lay
    # leave no process behind, whatever the test did
    for cid in _ids(lay):
        try:
            st = lifecycle.load(lay, cid)
        except Exception:  # noqa: BLE001
            continue
        for pid in (st.monitor_pid, st.pid):
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass


@pytest.fixture
def fake(tmp_path: t.Any) -> dict[str, t.Any]:
    path = tmp_path / "fake_runtime.py"
    path.write_text(FAKE_RUNTIME)
    return {"name": "fake", "path": None, "factory": f"{path}:FakeRuntime"}


def _ids(lay: Layout) -> list[str]:
    try:
        return os.listdir(lay.containers_dir)
    except FileNotFoundError:
        return []


def make_container(lay: Layout, args: list[str], *, name: str = "web", tty: bool = False,
                   interactive: bool = False, **desired: t.Any) -> str:
    cid = secrets.token_hex(32)
    os.makedirs(lay.bundle(cid))
    os.makedirs(lay.rootfs(cid))
    spec = {
        "ociVersion": "1.0.2",
        "process": {"terminal": tty, "args": args, "cwd": "/", "user": {"uid": 0, "gid": 0},
                    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"]},
        "root": {"path": lay.rootfs(cid)},
        "linux": {},
    }
    with open(os.path.join(lay.bundle(cid), "config.json"), "w") as fh:
        json.dump(spec, fh)
    record = {"Id": cid, "Name": name, "Created": "2024-05-01T12:00:00Z", "Image": "sha256:" + "0" * 64,
              "ImageName": "fake", "Runtime": "fake",
              "Desired": {"image": "fake", "tty": tty, "interactive": interactive, **desired}}
    with open(lay.container_config(cid), "w") as fh:
        json.dump(record, fh)
    lifecycle.save(lay, cid, lifecycle.ContainerState())
    os.makedirs(lay.names_dir, exist_ok=True)
    os.symlink(f"../containers/{cid}", lay.name_link(name))
    return cid


def wait_for(fn: t.Callable[[], t.Any], timeout: float = 10.0, what: str = "condition") -> t.Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def state(lay: Layout, cid: str) -> lifecycle.ContainerState:
    return lifecycle.load(lay, cid)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def read_until(fd: int, needle: bytes, timeout: float = 10.0) -> bytes:
    import select

    out = b""
    deadline = time.monotonic() + timeout
    while needle not in out:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{needle!r} not seen; got {out!r}")
        if select.select([fd], [], [], left)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                raise AssertionError(f"EOF before {needle!r}; got {out!r}")
            out += chunk
    return out


def log_lines(lay: Layout, cid: str) -> list[tuple[str, bytes]]:
    return [(e.stream, e.data) for e in read_logs(lay.container_log(cid))]


def stop(lay: Layout, cid: str, sig: int = signal.SIGTERM) -> None:
    """What ContainerService.stop does: mark manually stopped (under the lock), signal, wait."""
    st = lifecycle.update(lay, cid, lambda s: s.replace(manually_stopped=True))
    if st.status is S.RESTARTING:
        os.kill(st.monitor_pid, signal.SIGUSR1)
    elif st.pid:
        os.kill(st.pid, sig)
    wait_for(lambda: not state(lay, cid).status.active, what="exited")


# ------------------------------------------------------------------ libcopy
def test_libcopy_from_a_checkout_is_made_once_and_found_cheaply(layout: Layout) -> None:
    lib = libcopy.ensure_lib(layout)
    pkg = os.path.join(lib, "berth_engine")
    assert os.path.isfile(os.path.join(pkg, "engine", "supervisor", "monitor.py"))
    assert not os.path.exists(os.path.join(pkg, "glue")) and not os.path.exists(os.path.join(pkg, "cli"))
    assert os.path.basename(lib) == libcopy.content_hash(libcopy._DirSource(libcopy.MODULE_UTILS).files())
    mtime = os.stat(lib).st_mtime_ns
    start = time.process_time()  # processor time: the work done, however busy the host is
    assert libcopy.ensure_lib(layout) == lib
    took = time.process_time() - start
    assert os.stat(lib).st_mtime_ns == mtime and took < 0.05
    assert [n for n in os.listdir(layout.lib_dir) if not n.startswith(".")] == [os.path.basename(lib)]


def test_libcopy_prune_keeps_the_current_the_used_and_the_young(layout: Layout) -> None:
    current = os.path.basename(libcopy.ensure_lib(layout))
    old, used, young = "a" * 64, "b" * 64, "c" * 64
    for name in (old, used, young):
        d = os.path.join(layout.lib_dir, name, "berth_engine")
        os.makedirs(d)
        with open(os.path.join(d, "x.py"), "w") as fh:
            fh.write("x = 1\n" * 100)
    for name in (old, used):  # two hours old
        os.utime(os.path.join(layout.lib_dir, name), (time.time() - 7200,) * 2)
    with open(os.path.join(layout.lib_dir, ".stamps", "stale"), "w") as fh:
        fh.write(old)
    # a process that names a copy on its command line, as a monitor does
    proc = subprocess.Popen(["sh", "-c", "sleep 30; : " + os.path.join(layout.lib_dir, used, "berth_engine")])
    try:
        # Popen returns once the exec has begun, before the kernel has set up the new command line
        # (an empty /proc/PID/cmdline for a moment, often seen on a loaded host)
        wait_for(lambda: used.encode() in _read_bytes(f"/proc/{proc.pid}/cmdline"), what="sh's command line")
        assert libcopy.prune(layout) == 600
    finally:
        proc.kill()
        proc.wait()
    left = sorted(n for n in os.listdir(layout.lib_dir) if not n.startswith("."))
    assert left == sorted([current, used, young])
    assert not os.path.exists(os.path.join(layout.lib_dir, ".stamps", "stale"))
    assert libcopy.prune(layout, min_age=0) == 1200  # now nothing names them: all but the current go
    assert [n for n in os.listdir(layout.lib_dir) if not n.startswith(".")] == [current]


def test_libcopy_installing_a_new_version_prunes_old_unused_copies(layout: Layout, tmp_path: t.Any) -> None:
    first = libcopy.ensure_lib(layout)
    stale, young = "a" * 64, "c" * 64
    for name in (stale, young):
        os.makedirs(os.path.join(layout.lib_dir, name, "berth_engine"))
    os.utime(os.path.join(layout.lib_dir, stale), (time.time() - 7200,) * 2)
    os.utime(first, (time.time() - 7200,) * 2)  # the running engine's copy, two hours old too
    assert libcopy.ensure_lib(layout) == first  # found again: nothing installed, nothing pruned
    assert os.path.isdir(os.path.join(layout.lib_dir, stale))
    # a new engine version (an edited checkout): its copy is installed, then the old unused ones go
    src = tmp_path / "module_utils"
    shutil.copytree(libcopy.MODULE_UTILS, src, ignore=shutil.ignore_patterns("__pycache__"))
    (src / "engine" / "extra.py").write_text("X = 1\n")
    second = libcopy.ensure_lib(layout, str(src))
    left = sorted(n for n in os.listdir(layout.lib_dir) if not n.startswith("."))
    assert left == sorted([os.path.basename(second), young])


def test_libcopy_from_an_ansiballz_zip(layout: Layout, tmp_path: t.Any) -> None:
    """module_utils inside a zip, imported through zipimport as AnsiballZ does; an edited file is a new copy."""
    src = libcopy.MODULE_UTILS
    prefix = "ansible_collections/berth/engine/plugins/module_utils/"
    payload = tmp_path / "ansible_container_payload.zip"
    with zipfile.ZipFile(payload, "w") as zf:
        for pkg in ("ansible_collections", "ansible_collections/berth", "ansible_collections/berth/engine",
                    "ansible_collections/berth/engine/plugins"):
            zf.writestr(pkg + "/__init__.py", "")  # AnsiballZ adds these package files itself
        for dirpath, dirnames, files in os.walk(src):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for f in files:
                if f.endswith(".py"):
                    full = os.path.join(dirpath, f)
                    rel = os.path.relpath(full, src)
                    if rel != "engine/runtime/cgroups/__init__.py":  # a package file the payload lacks
                        zf.write(full, prefix + rel)
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(payload)!r})
        from ansible_collections.berth.engine.plugins.module_utils.engine.core import libcopy, layout
        assert ".zip" in libcopy.__file__, libcopy.__file__
        print(libcopy.ensure_lib(layout.Layout({layout.root!r})))
    """)
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True).stdout
    lib = out.strip()
    assert os.path.isfile(os.path.join(lib, "berth_engine", "engine", "runtime", "cgroups", "__init__.py"))
    check = subprocess.run(["/usr/bin/python3", "-S", "-I", "-c",
                            f"import sys; sys.path.insert(0, {lib!r}); "
                            "import berth_engine.engine.supervisor.monitor as m; print(m.__file__)"],
                           capture_output=True, text=True, check=True)
    assert check.stdout.startswith(lib)
    with zipfile.ZipFile(payload, "a") as zf:
        zf.writestr(prefix + "engine/extra.py", "X = 1\n")
    lib2 = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True).stdout
    assert lib2.strip() != lib and os.path.isfile(os.path.join(lib2.strip(), "berth_engine", "engine", "extra.py"))


# ------------------------------------------------------------------ basics
def test_output_reaches_the_log_and_the_attached_fds(layout: Layout, fake: dict[str, t.Any]) -> None:
    cid = make_container(layout, ["sh", "-c", "echo out; echo err >&2; printf partial; exit 3"])
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    started = time.monotonic()
    spawned = monitor_ops.spawn(layout, cid, runtime=fake, attach={"stdin": None, "stdout": out_w, "stderr": err_w})
    os.close(out_w)
    os.close(err_w)
    assert spawned.pid > 0 and spawned.monitor_pid > 0 and spawned.monitor_pid != os.getpid()
    assert monitor_ops.wait_exit(spawned) == 3
    took = time.monotonic() - started
    with os.fdopen(out_r, "rb") as fh:
        assert fh.read() == b"out\npartial"
    with os.fdopen(err_r, "rb") as fh:
        assert fh.read() == b"err\n"
    st = state(layout, cid)
    assert (st.status, st.exit_code, st.pid, st.monitor_pid, st.oom_killed) == (S.EXITED, 3, 0, 0, False)
    assert st.started_at != lifecycle.ZERO_TIME and st.finished_at >= st.started_at
    assert sorted(log_lines(layout, cid)) == [("stderr", b"err\n"), ("stdout", b"out\n"), ("stdout", b"partial")]
    wait_for(lambda: not alive(spawned.monitor_pid), what="the monitor to end")
    assert not os.path.exists(layout.attach_socket(cid))
    assert not os.listdir(os.path.join(layout.runtime_state_dir, "fake"))  # runtime.delete ran
    print(f"run to exit through the monitor: {took * 1000:.0f} ms")


def test_start_failure_is_reported_with_docker_exit_code(layout: Layout, fake: dict[str, t.Any]) -> None:
    cid = make_container(layout, ["nope"])
    with pytest.raises(RuntimeFailure) as err:
        monitor_ops.spawn(layout, cid, runtime=fake)
    assert 'exec: "nope": executable file not found in $PATH' in str(err.value)
    assert err.value.exit_code == 127
    st = state(layout, cid)
    assert (st.status, st.exit_code, st.pid) == (S.CREATED, 127, 0)
    assert st.error == 'exec: "nope": executable file not found in $PATH'
    assert not os.path.exists(layout.attach_socket(cid))
    assert not os.path.exists(os.path.join(layout.runtime_state_dir, "fake", cid))


def test_monitor_survives_its_spawner_being_killed(layout: Layout, fake: dict[str, t.Any]) -> None:
    cid = make_container(layout, ["sh", "-c", "sleep 1; echo done"])
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {REPO!r})
        from ansible_collections.berth.engine.plugins.module_utils.engine.core.layout import Layout
        from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor import monitor_ops
        s = monitor_ops.spawn(Layout({layout.root!r}), {cid!r}, runtime={fake!r})
        print(s.monitor_pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    monitor_pid = int(proc.stdout)
    assert alive(monitor_pid)
    with open(f"/proc/{monitor_pid}/stat") as fh:
        assert int(fh.read().rsplit(")", 1)[1].split()[2]) != proc.returncode  # reparented
    wait_for(lambda: state(layout, cid).status is S.EXITED, what="exited")
    assert log_lines(layout, cid) == [("stdout", b"done\n")]
    assert state(layout, cid).exit_code == 0


def test_exit_by_signal_and_oom_flag(layout: Layout, fake: dict[str, t.Any]) -> None:
    cid = make_container(layout, ["sleep", "30"])
    spawned = monitor_ops.spawn(layout, cid, runtime=fake)
    # the fake runtime answers oom_killed() from this marker (a real one reads the cgroup before delete)
    open(os.path.join(layout.runtime_state_dir, "fake", cid, "oom"), "w").close()
    os.kill(spawned.pid, signal.SIGKILL)
    assert monitor_ops.wait_exit(spawned) == 137
    st = state(layout, cid)
    assert st.exit_code == 137 and st.oom_killed is True
    assert lifecycle.docker_state(st)["OOMKilled"] is True


# ------------------------------------------------------------------ restart policies
def test_on_failure_2_restarts_twice_then_stops(layout: Layout, fake: dict[str, t.Any]) -> None:
    cid = make_container(layout, ["sh", "-c", "echo run; exit 1"], restart_policy="on-failure", restart_retries=2)
    spawned = monitor_ops.spawn(layout, cid, runtime=fake)
    assert monitor_ops.wait_exit(spawned) == 1  # the attached caller hears about the first exit
    wait_for(lambda: not alive(spawned.monitor_pid), what="the monitor to give up")
    st = state(layout, cid)
    assert (st.status, st.exit_code, st.restart_count, st.monitor_pid) == (S.EXITED, 1, 2, 0)
    assert log_lines(layout, cid) == [("stdout", b"run\n")] * 3


def test_always_restarts_until_stopped_manually(layout: Layout, fake: dict[str, t.Any]) -> None:
    cid = make_container(layout, ["sh", "-c", "echo up; sleep 0.2"], restart_policy="always")
    spawned = monitor_ops.spawn(layout, cid, runtime=fake)
    spawned.close()
    wait_for(lambda: state(layout, cid).restart_count >= 2 and state(layout, cid).status is S.RUNNING,
             what="two restarts")
    stop(layout, cid)
    st = state(layout, cid)
    assert st.status is S.EXITED and st.manually_stopped and st.exit_code == 143
    count = st.restart_count
    time.sleep(0.5)
    assert state(layout, cid).restart_count == count
    wait_for(lambda: not alive(spawned.monitor_pid), what="the monitor to end")


def test_a_stop_during_the_back_off_cancels_the_restart(layout: Layout, fake: dict[str, t.Any]) -> None:
    cid = make_container(layout, ["true"], restart_policy="always")
    spawned = monitor_ops.spawn(layout, cid, runtime=fake)
    spawned.close()
    # back-off 0.1, 0.2, 0.4, 0.8, 1.6, 3.2 s ...: wait for a long one (slack for a loaded 2-core host)
    wait_for(lambda: state(layout, cid).restart_count >= 6 and state(layout, cid).status is S.RESTARTING,
             what="a long back-off")
    lifecycle.update(layout, cid, lambda s: s.replace(manually_stopped=True))  # no signal: found by polling
    began = time.monotonic()
    wait_for(lambda: state(layout, cid).status is S.EXITED, timeout=2.5, what="cancelled back-off")
    assert time.monotonic() - began < 1.5  # well before the 3.2 s back-off ends
    wait_for(lambda: not alive(spawned.monitor_pid), what="the monitor to end")


def test_a_stop_written_as_the_back_off_begins_is_seen(layout: Layout, fake: dict[str, t.Any]) -> None:
    """The stop lands after the worker wrote ``restarting`` and before the monitor looked at the file
    (CI once lost a stop there and waited out the whole back-off)."""
    cid = make_container(layout, ["sh", "-c", "sleep 0.3"], restart_policy="always")
    spawned = monitor_ops.spawn(layout, cid, runtime=fake)
    spawned.close()
    wait_for(lambda: state(layout, cid).restart_count >= 3 and state(layout, cid).status is S.RUNNING,
             what="the third restart")  # the next back-off is 0.8 s
    freeze = os.path.join(layout.runtime_state_dir, "fake", cid + ".freeze-the-caller")
    open(freeze, "w").close()  # the exit worker's runtime.delete stops the monitor (SIGSTOP)
    try:
        wait_for(lambda: state(layout, cid).status is S.RESTARTING, what="the worker's restarting record")
        wait_for(lambda: not os.path.exists(freeze), what="the worker to stop the monitor")
        lifecycle.update(layout, cid, lambda s: s.replace(manually_stopped=True))
    finally:
        os.kill(spawned.monitor_pid, signal.SIGCONT)
    began = time.monotonic()
    wait_for(lambda: state(layout, cid).status is S.EXITED, timeout=5, what="cancelled back-off")
    assert time.monotonic() - began < 0.6  # the 0.8 s back-off did not run out: the stop was seen
    assert state(layout, cid).restart_count == 4
    wait_for(lambda: not alive(spawned.monitor_pid), what="the monitor to end")


# ------------------------------------------------------------------ health
def test_health_starting_healthy_unhealthy(layout: Layout, fake: dict[str, t.Any], tmp_path: t.Any) -> None:
    flag = tmp_path / "healthy"
    cid = make_container(layout, ["sleep", "30"], healthcheck={
        "test": ["CMD-SHELL", f"echo probing; test -f {flag}"], "interval": 200_000_000, "retries": 2})
    spawned = monitor_ops.spawn(layout, cid, runtime=fake)
    spawned.close()
    st = state(layout, cid)
    assert st.health == {"Status": "starting", "FailingStreak": 0, "Log": []}
    assert lifecycle.docker_state(st)["Health"]["Status"] == "starting"
    wait_for(lambda: state(layout, cid).health["FailingStreak"] >= 1, what="a failed probe")
    assert state(layout, cid).health["Status"] == "starting"
    flag.write_text("")
    wait_for(lambda: state(layout, cid).health["Status"] == "healthy", what="healthy")
    log = state(layout, cid).health["Log"]
    assert log[-1]["ExitCode"] == 0 and log[-1]["Output"] == "probing\n" and log[0]["ExitCode"] == 1
    flag.unlink()
    wait_for(lambda: state(layout, cid).health["Status"] == "unhealthy", what="unhealthy")
    h = state(layout, cid).health
    assert h["FailingStreak"] >= 2 and len(h["Log"]) <= 5
    stop(layout, cid)


def test_health_probe_timeout(layout: Layout, fake: dict[str, t.Any]) -> None:
    cid = make_container(layout, ["sleep", "30"], healthcheck={
        "test": ["CMD", "sleep", "5"], "interval": 100_000_000, "timeout": 300_000_000, "retries": 1})
    monitor_ops.spawn(layout, cid, runtime=fake).close()
    wait_for(lambda: state(layout, cid).health["Status"] == "unhealthy", what="unhealthy")
    entry = state(layout, cid).health["Log"][0]
    assert entry["ExitCode"] == -1 and entry["Output"] == "Health check exceeded timeout (300ms)"
    stop(layout, cid)


# ------------------------------------------------------------------ --rm, tty, attach socket
def test_auto_remove_cleans_up_before_reporting(layout: Layout, fake: dict[str, t.Any]) -> None:
    cid = make_container(layout, ["sh", "-c", "echo bye"], name="tmp", auto_remove=True)
    spawned = monitor_ops.spawn(layout, cid, runtime=fake)
    assert monitor_ops.wait_exit(spawned) == 0
    assert not os.path.exists(layout.container_dir(cid))
    assert not os.path.lexists(layout.name_link("tmp"))


def _winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def test_tty_session_through_a_real_pty(layout: Layout, fake: dict[str, t.Any]) -> None:
    cid = make_container(layout, ["sh", "-c", 'stty size; read line; stty size; echo "got:$line"'],
                         tty=True, interactive=True)
    term_master, term = os.openpty()  # the caller's terminal, in raw mode as the CLI sets it
    ttymod.setraw(term)
    _winsize(term, 33, 101)
    spawned = monitor_ops.spawn(layout, cid, runtime=fake, attach={"stdin": term, "stdout": term, "stderr": term,
                                                                   "tty": True})
    os.close(term)
    seen = read_until(term_master, b"33 101")
    _winsize(term_master, 40, 120)  # the terminal was resized: the CLI forwards SIGWINCH to the monitor
    os.kill(spawned.monitor_pid, signal.SIGWINCH)
    time.sleep(0.3)
    os.write(term_master, b"hello\r")
    seen += read_until(term_master, b"got:hello")
    assert b"40 120" in seen
    assert monitor_ops.wait_exit(spawned) == 0
    os.close(term_master)
    logged = b"".join(data for stream, data in log_lines(layout, cid))
    assert {s for s, dummy in log_lines(layout, cid)} == {"stdout"} and b"got:hello\r\n" in logged


def test_attach_socket_gets_live_output_and_feeds_stdin(layout: Layout, fake: dict[str, t.Any]) -> None:
    cid = make_container(layout, ["sh", "-c", 'echo early; read x; echo "echo:$x"; echo err >&2; sleep 0.2'],
                         interactive=True)
    spawned = monitor_ops.spawn(layout, cid, runtime=fake)
    spawned.close()
    wait_for(lambda: log_lines(layout, cid), what="early output")
    sock = monitor_ops.attach_connect(layout, cid)
    sock.sendall(b"ping\n")
    frames = list(monitor_ops.read_frames(sock))  # until the container exits
    sock.close()
    assert frames == [(1, b"echo:ping\n"), (2, b"err\n")]  # live only: "early" came before we attached
    wait_for(lambda: state(layout, cid).status is S.EXITED, what="exited")
    assert log_lines(layout, cid) == [("stdout", b"early\n"), ("stdout", b"echo:ping\n"), ("stderr", b"err\n")]


def test_attached_stdin_eof_closes_the_containers_stdin(layout: Layout, fake: dict[str, t.Any]) -> None:
    cid = make_container(layout, ["cat"], interactive=True)
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    spawned = monitor_ops.spawn(layout, cid, runtime=fake, attach={"stdin": in_r, "stdout": out_w, "stderr": out_w})
    for fd in (in_r, out_w):
        os.close(fd)
    os.write(in_w, b"through cat\n")
    os.close(in_w)
    assert monitor_ops.wait_exit(spawned) == 0
    with os.fdopen(out_r, "rb") as fh:
        assert fh.read() == b"through cat\n"


# ------------------------------------------------------------------ memory
def _pss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("Pss:"))


def test_idle_monitor_memory(layout: Layout, fake: dict[str, t.Any]) -> None:
    """PSS of the monitors of 5 idle containers (the Berth processes per container: the monitor alone)."""
    cids = [make_container(layout, ["sleep", "60"], name=f"idle{i}", log_options={"max-size": 1 << 20,
                                                                                  "max-file": 2})
            for i in range(5)]
    pids = []
    for cid in cids:
        spawned = monitor_ops.spawn(layout, cid, runtime=fake)
        spawned.close()
        pids.append(spawned.monitor_pid)
    time.sleep(1.0)
    pss = [_pss_kb(p) for p in pids]
    avg = sum(pss) / len(pss)
    print(f"monitor PSS per idle container (5 running): {avg / 1024:.2f} MiB ({pss} kB)")
    assert avg < 6 * 1024
    for cid in cids:
        stop(layout, cid)


# ------------------------------------------------------------------ a real container
def test_busybox_container_through_berth_runtime(layout: Layout, busybox_rootfs: str) -> None:
    if shutil.which("runc") is None:
        pytest.skip("runc makes the reference bundle (runc spec)")
    cid = make_container(layout, ["true"], name="bb")
    bundle = layout.bundle(cid)
    os.unlink(os.path.join(bundle, "config.json"))
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)
    with open(os.path.join(bundle, "config.json")) as fh:
        spec = json.load(fh)
    spec["root"] = {"path": busybox_rootfs, "readonly": True}
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["sh", "-c", "echo hello from $(hostname); cat /proc/1/comm; exit 7"]
    spec["hostname"] = "bbox"
    spec["linux"]["cgroupsPath"] = f"/berth/{cid}"
    with open(os.path.join(bundle, "config.json"), "w") as fh:
        json.dump(spec, fh)
    out_r, out_w = os.pipe()
    spawned = monitor_ops.spawn(layout, cid, runtime={"name": "berth", "path": None},
                                attach={"stdin": None, "stdout": out_w, "stderr": out_w})
    os.close(out_w)
    assert monitor_ops.wait_exit(spawned) == 7
    with os.fdopen(out_r, "rb") as fh:
        assert fh.read() == b"hello from bbox\nsh\n"
    st = state(layout, cid)
    assert (st.status, st.exit_code, st.oom_killed) == (S.EXITED, 7, False)
    assert log_lines(layout, cid) == [("stdout", b"hello from bbox\n"), ("stdout", b"sh\n")]
    assert not os.path.exists(os.path.join(layout.runtime_state_dir, "berth", cid))  # deleted


def test_a_stale_runtime_state_does_not_block_the_next_start(layout: Layout, fake: dict[str, t.Any]) -> None:
    """A monitor that died (or a reboot: the runtime's state root is on disk) leaves the runtime's state."""
    cid = make_container(layout, ["sh", "-c", "echo again"])
    stale = os.path.join(layout.runtime_state_dir, "fake", cid)
    os.makedirs(stale)
    with open(os.path.join(stale, "state.json"), "w") as fh:
        json.dump({"pid": 999_999_999}, fh)
    assert monitor_ops.wait_exit(monitor_ops.spawn(layout, cid, runtime=fake)) == 0
    assert log_lines(layout, cid) == [("stdout", b"again\n")]


def test_a_cancelled_prefork_ends_without_a_trace(layout: Layout, fake: dict[str, t.Any]) -> None:
    """ContainerService.start forks the monitor and its starter before it writes the bundle; when that
    fails, cancel() must end both without touching the container."""
    cid = make_container(layout, ["true"])
    before = os.listdir(layout.container_dir(cid))
    pre = monitor_ops.prefork(layout, cid, runtime=fake)

    def ours() -> list[int]:
        out = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as fh:
                        if cid.encode() in fh.read() and alive(int(pid)):
                            out.append(int(pid))
                except OSError:
                    continue
        return out

    wait_for(ours, what="the monitor to start")
    pre.cancel()
    wait_for(lambda: not ours(), what="the monitor to end")
    st = state(layout, cid)
    assert (st.status, st.pid, st.monitor_pid, st.error) == (S.CREATED, 0, 0, "")
    assert sorted(os.listdir(layout.container_dir(cid))) == sorted(before)  # no attach socket, hidden or not
    assert not os.path.exists(os.path.join(layout.runtime_state_dir, "fake", cid))
    assert monitor_ops.wait_exit(monitor_ops.spawn(layout, cid, runtime=fake)) == 0  # and it starts normally after

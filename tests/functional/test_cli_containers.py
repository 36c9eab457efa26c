# SPDX-License-Identifier: GPL-3.0-or-later
"""The container verbs as a user runs them: bin/berth in a subprocess on the real kernel, one shared data root
and busybox image for the module (each test names and removes its own containers)."""
from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import time
import typing as t

import pytest

from tests.support.cli import Berth, scratch_with_busybox
from tests.support.files import files_holding

pytestmark = [pytest.mark.functional]

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MONITOR_PY = os.path.join(REPO_ROOT, "plugins", "module_utils", "engine", "supervisor", "monitor.py")
FULL_ID = re.compile(r"^[0-9a-f]{64}$")
IMAGE = "bb:latest"

if os.geteuid() != 0 or not os.path.exists(MONITOR_PY):
    pytest.skip("needs root and the container monitor (engine/supervisor/monitor.py)", allow_module_level=True)


@pytest.fixture(scope="module")
def berth(busybox_rootfs: str, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Berth]:
    b = scratch_with_busybox(tmp_path_factory.mktemp("cli-containers"), busybox_rootfs, IMAGE)
    yield b
    leftovers = b("ps", "-aq", "--no-trunc").out.split()
    if leftovers:
        b("rm", "-f", *leftovers, rc=None)
    assert not leftovers, "every test removes its containers"


def rows(out: str) -> list[list[str]]:
    return [re.split(r"\s{3,}", line.rstrip()) for line in out.splitlines()]


def ps_row(b: Berth, name: str) -> dict[str, str]:
    """The ``ps -a`` table row of one container, by column title."""
    table = b("ps", "-a", "--filter", f"name={name}").out.splitlines()
    header = table[0]
    starts = [header.index(title) for title in ("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS",
                                                "NAMES")]
    for line in table[1:]:
        cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [len(line)])]
        if cells[-1] == name:
            return dict(zip(("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"), cells))
    raise AssertionError(f"no container {name} in\n" + "\n".join(table))


# ------------------------------------------------------------------ attached runs
def test_run_attached_output_and_exit_codes(berth: Berth) -> None:
    hello = berth("run", "--rm", IMAGE, "echo", "hello")
    assert (hello.out, hello.err) == ("hello\n", "")
    both = berth("run", "--rm", IMAGE, "sh", "-c", "echo out; echo err >&2; exit 3", rc=3)
    assert (both.out, both.err) == ("out\n", "err\n")
    missing = berth("run", "--rm", IMAGE, "no-such-command", rc=127)
    assert missing.err.startswith("berth: ") and "no-such-command" in missing.err and missing.out == ""
    assert berth("run", "--rm", IMAGE, "/etc", rc=126).err.startswith("berth: ")
    assert berth("run", "--rm", "-i", IMAGE, "cat", input="via stdin\n").out == "via stdin\n"
    env = berth("run", "--rm", "-e", "GREETING=hi there", "-u", "65534:65534", "-w", "/tmp", "-h", "box", IMAGE,
                "sh", "-c", 'echo "$GREETING"; id -u; id -g; pwd; hostname').out
    assert env.splitlines() == ["hi there", "65534", "65534", "/tmp", "box"]
    bad = berth("run", "--rm", "--memory", "lots", IMAGE, rc=125)
    assert bad.err.startswith('berth run: invalid argument "lots" for "-m, --memory" flag: ')
    assert berth("ps", "-aq").out == "", "--rm leaves nothing behind"


def _on_a_terminal(b: Berth, *args: str, rows: int = 40, cols: int = 100,
                   resize: tuple[float, int, int] | None = None) -> tuple[int, str]:
    """Run berth with stdin/stdout/stderr on a fresh pty of *rows* x *cols*; returns (exit code, output).

    *resize* ``(after, rows, cols)``: change the size that many seconds after the first output (the
    container has started, however slow the host) and send berth SIGWINCH (it is not the pty's session,
    so the kernel would not).
    """
    import fcntl
    import pty
    import signal
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    before = termios.tcgetattr(slave)
    proc = subprocess.Popen(b.argv(*args), stdin=slave, stdout=slave, stderr=slave, env=b.env, start_new_session=True)
    chunks = []
    first = 0.0
    while True:
        if resize and first and time.monotonic() - first > resize[0]:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", resize[1], resize[2], 0, 0))
            os.kill(proc.pid, signal.SIGWINCH)
            resize = None
        ready, dummy, dummy = select.select([master], [], [], 0.1)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            chunks.append(data)
            first = first or time.monotonic()
        elif proc.poll() is not None:
            break
    rc = proc.wait(timeout=60)
    assert termios.tcgetattr(slave) == before, "the terminal mode is restored"
    os.close(slave)
    os.close(master)
    return rc, b"".join(chunks).decode()


def test_run_with_a_pseudo_terminal(berth: Berth) -> None:
    rc, text = _on_a_terminal(berth, "run", "--rm", "-t", IMAGE, "tty")
    assert rc == 0 and "/dev/pts/0\r" in text, text
    # -it: our terminal in raw mode (no second \r), its size copied to the container's pty.
    rc, text = _on_a_terminal(berth, "run", "--rm", "-it", IMAGE, "sh", "-c", "tty; stty size; exit 4")
    assert (rc, text) == (4, "/dev/pts/0\r\n40 100\r\n")
    # start -a of a -t container: a window change reaches the container's pty.
    berth("create", "-t", "--name", "resized", IMAGE, "sh", "-c", "stty size; sleep 1.5; stty size")
    rc, text = _on_a_terminal(berth, "start", "-a", "resized", resize=(0.3, 30, 80))
    assert (rc, text) == (0, "40 100\r\r\n30 80\r\r\n")
    berth("rm", "resized")


# ------------------------------------------------------------------ a detached container's life
def test_detached_lifecycle(berth: Berth) -> None:
    cid = berth("run", "-d", "--name", "web", IMAGE, "sh", "-c", "echo started; echo oops >&2; exec sleep 300").out
    cid = cid.strip()
    assert FULL_ID.match(cid)
    row = ps_row(berth, "web")
    assert row["CONTAINER ID"] == cid[:12] and row["IMAGE"] == IMAGE and row["STATUS"].startswith("Up ")
    assert berth("ps", "-q").out.split() == [cid[:12]]
    for dummy in range(100):
        logs = berth("logs", "web")
        if logs.out and logs.err:
            break
        time.sleep(0.05)
    assert (logs.out, logs.err) == ("started\n", "oops\n")
    stamped = berth("logs", "-t", "web").out
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z started$", stamped.strip()), stamped

    assert berth("exec", "web", "sh", "-c", "exit 7", rc=7).out == ""
    assert berth("exec", "-e", "X=1", "-w", "/tmp", "web", "sh", "-c", "echo $X; pwd").out == "1\n/tmp\n"
    assert berth("exec", "web", "no-such-command", rc=None).returncode in (126, 127)

    info = json.loads(berth("inspect", "web").out)[0]
    assert info["Id"] == cid and info["State"]["Running"] is True and info["Name"] == "/web"
    assert berth("container", "inspect", "-f", "{{.State.Status}}", "web").out == "running\n"

    top = rows(berth("top", "web").out)
    assert top[0][:3] == ["UID", "PID", "PPID"] and top[1][-1] == "sleep 300" and len(top) == 2
    top = rows(berth("top", "web", "-o", "pid,args").out)  # the host's ps with docker's options
    assert top[0] == ["PID", "COMMAND"] and top[1][1] == "sleep 300" and len(top) == 2
    assert "no PID column" in berth("top", "web", "-o", "args", rc=125).err

    assert berth("pause", "web").out == "web\n"
    assert ps_row(berth, "web")["STATUS"].endswith("(Paused)")
    assert berth("unpause", "web").out == "web\n"
    assert "(Paused)" not in ps_row(berth, "web")["STATUS"]

    assert berth("rename", "web", "web2").out == ""
    assert berth("ps", "--format", "{{.Names}}").out == "web2\n"
    assert berth("stop", "-t", "1", "web2").out == "web2\n"  # sleep as PID 1 ignores SIGTERM: killed
    assert berth("wait", "web2").out == "137\n"
    assert ps_row(berth, "web2")["STATUS"].startswith("Exited (137) ")
    assert berth("ps", "-q").out == ""
    assert berth("rm", "web2").out == "web2\n"
    assert berth("rm", "web2", rc=1).err == "Error: No such container: web2\n"


def test_run_dit_needs_no_terminal_on_stdin(berth: Berth) -> None:
    """docker run -dit from a script (stdin not a terminal): the container gets its pty, the client attaches nothing."""
    cid = berth("run", "-dit", "--name", "ditty", IMAGE, "sh", stdin=subprocess.DEVNULL).out.strip()
    try:
        assert FULL_ID.match(cid)
        assert berth("inspect", "-f", "{{.State.Running}} {{.Config.Tty}}", "ditty").out == "true true\n"
    finally:
        berth("rm", "-f", "ditty")
    assert "not a TTY" in berth("run", "-it", "--rm", IMAGE, "true", stdin=subprocess.DEVNULL, rc=1).err


def test_without_root_the_cli_says_root_is_needed(berth: Berth) -> None:
    """Not a silent empty ``ps``: the engine runs as root, and the CLI says so (help still works)."""
    nobody = {"user": 65534, "group": 65534, "extra_groups": []}
    for verb in (("ps",), ("images",), ("run", "--rm", IMAGE, "true")):
        res = berth(*verb, rc=1, **nobody)
        assert (res.out, res.err) == ("", "Error: berth needs root: the engine runs as root, this is uid 65534 "
                                          "(run it with sudo, or as root)\n")
    assert berth("ps", "--help", **nobody).out.startswith("usage: berth ps")


#: The keys of Docker's ``HostConfig`` (API 1.44, moby api/types/container/hostconfig.go; ``Annotations``,
#: ``Mounts`` and ``StorageOpt`` are omitted when empty there too).
DOCKER_HOST_CONFIG_KEYS = frozenset("""
    Binds ContainerIDFile LogConfig NetworkMode PortBindings RestartPolicy AutoRemove VolumeDriver VolumesFrom
    ConsoleSize CapAdd CapDrop CgroupnsMode Dns DnsOptions DnsSearch ExtraHosts GroupAdd IpcMode Cgroup Links
    OomScoreAdj PidMode Privileged PublishAllPorts ReadonlyRootfs SecurityOpt UTSMode UsernsMode ShmSize Runtime
    Isolation CpuShares Memory NanoCpus CgroupParent BlkioWeight BlkioWeightDevice BlkioDeviceReadBps
    BlkioDeviceWriteBps BlkioDeviceReadIOps BlkioDeviceWriteIOps CpuPeriod CpuQuota CpuRealtimePeriod
    CpuRealtimeRuntime CpusetCpus CpusetMems Devices DeviceCgroupRules DeviceRequests MemoryReservation MemorySwap
    MemorySwappiness OomKillDisable PidsLimit Ulimits CpuCount CpuPercent IOMaximumIOps IOMaximumBandwidth
    MaskedPaths ReadonlyPaths
""".split())


def test_inspect_has_dockers_shape(berth: Berth) -> None:
    """Every HostConfig key of Docker's, NetworkSettings and Mounts, whatever was set; after a stop a
    health-checked container reads "unhealthy", as Docker's (moby Health.CloseMonitorChannel)."""
    berth("run", "-d", "--name", "shape", "--health-cmd", "true", "--health-interval", "1h", IMAGE,
          "sleep", "300")
    try:
        info = json.loads(berth("inspect", "shape").out)[0]
        host = info["HostConfig"]
        assert DOCKER_HOST_CONFIG_KEYS <= set(host), sorted(DOCKER_HOST_CONFIG_KEYS - set(host))
        assert (host["PortBindings"], host["Dns"], host["Devices"], host["IpcMode"]) == ({}, [], [], "private")
        assert info["Mounts"] == []
        net = info["NetworkSettings"]
        # the default bridge, as in Docker
        assert (net["Ports"], list(net["Networks"])) == ({}, ["bridge"])
        assert net["IPAddress"] == net["Networks"]["bridge"]["IPAddress"] != ""
        assert berth("inspect", "-f", "{{.HostConfig.PublishAllPorts}} {{.HostConfig.DnsSearch}}",
                     "shape").out == "false []\n"
        assert info["State"]["Health"]["Status"] == "starting"
        berth("stop", "-t", "0", "shape")
        assert berth("inspect", "-f", "{{.State.Health.Status}}", "shape").out == "unhealthy\n"
    finally:
        berth("rm", "-f", "shape")


def test_privileged_gets_the_bounding_set(berth: Berth) -> None:
    """--privileged on a host whose bounding set is smaller than the kernel's list (here: berth run under
    setpriv without CAP_SYS_MODULE): the container gets that bounding set, as with Docker, and starts."""
    setpriv = shutil.which("setpriv")
    if not setpriv:
        pytest.skip("needs setpriv (util-linux)")
    with open("/proc/self/status", encoding="utf-8") as fh:
        ours = int(next(line for line in fh if line.startswith("CapBnd:")).split()[1], 16)
    expected = ours & ~(1 << 16)  # CAP_SYS_MODULE
    res = subprocess.run([setpriv, "--bounding-set", "-sys_module",
                          *berth.argv("run", "--rm", "--privileged", IMAGE, "grep", "Cap", "/proc/self/status")],
                         capture_output=True, env=berth.env, timeout=60, check=False)
    assert res.returncode == 0, res.stderr.decode()
    caps = dict(line.split(":\t") for line in res.stdout.decode().splitlines())
    assert int(caps["CapBnd"], 16) == int(caps["CapEff"], 16) == int(caps["CapPrm"], 16) == expected


def test_run_warns_of_an_image_for_another_platform(berth: Berth, tmp_path: t.Any) -> None:
    """docker run/create: WARNING on stderr when the image's platform is not the host's and none was asked for."""
    host_arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    other = "arm64" if host_arch != "arm64" else "amd64"
    tar = os.path.join(os.path.dirname(berth.root), "rootfs.tar")
    berth("import", "--platform", f"linux/{other}", "-c", 'CMD ["sh"]', tar, "foreign:1")
    warning = (f"WARNING: The requested image's platform (linux/{other}) does not match the detected host "
               f"platform (linux/{host_arch}) and no specific platform was requested\n")
    try:
        res = berth("run", "--rm", "foreign:1", "true")  # busybox of this host's, labelled for another
        assert res.err == warning
        assert berth("create", "--name", "foreign", "foreign:1").err == warning
        berth("rm", "foreign")
        assert berth("create", "--platform", f"linux/{other}", "--name", "foreign", "foreign:1").err == ""
        assert berth("run", "--rm", IMAGE, "true").err == ""
    finally:
        berth("rm", "-f", "foreign", rc=None)
        berth("rmi", "foreign:1")


def test_engine_log_settings_apply_to_new_containers(berth: Berth) -> None:
    """daemon.json's log-driver and log-opts are the defaults of new containers (moby's
    mergeAndVerifyLogConfig); a key the engine does not act on is an info warning, not silently kept."""
    with open(berth.config, encoding="utf-8") as fh:
        saved = fh.read()

    def configure(**keys: t.Any) -> None:
        with open(berth.config, "w", encoding="utf-8") as fh:
            json.dump({**json.loads(saved), **keys}, fh)

    try:
        configure(**{"log-opts": {"max-size": "1k", "max-file": "2"}, "features": {"buildkit": True}})
        info = berth("info")
        assert info.err == f"WARNING: {berth.config}: 'features' is accepted but not acted on: no optional " \
                           "feature can be switched on or off\n"
        berth("run", "--name", "rotated", IMAGE, "sh", "-c", "i=0; while [ $i -lt 100 ]; do "
              "echo line-$i-xxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done")
        log_config = json.loads(berth("inspect", "-f", "{{json .HostConfig.LogConfig}}", "rotated").out)
        assert log_config == {"Type": "json-file", "Config": {"max-file": "2", "max-size": "1024"}}
        log = berth("inspect", "-f", "{{.LogPath}}", "rotated").out.strip()
        assert os.path.getsize(log + ".1") <= 1024 + 100 and not os.path.exists(log + ".2")
        assert berth("logs", "rotated").out.splitlines()[-1] == "line-99-xxxxxxxxxxxxxxxxxxxx"
        berth("rm", "rotated")
        # a container's own options win; with the configured driver, the configured options fill the rest
        berth("create", "--name", "own", "--log-opt", "max-file=5", IMAGE)
        log_config = json.loads(berth("inspect", "-f", "{{json .HostConfig.LogConfig}}", "own").out)
        assert log_config == {"Type": "json-file", "Config": {"max-file": "5", "max-size": "1024"}}
        berth("rm", "own")

        configure(**{"log-driver": "none"})
        assert berth("info").err == ""
        berth("run", "--name", "quiet", IMAGE, "echo", "hi")
        assert berth("inspect", "-f", "{{.HostConfig.LogConfig.Type}}/{{.LogPath}}/", "quiet").out == "none//\n"
        assert "does not support reading" in berth("logs", "quiet", rc=1).err
        berth("rm", "quiet")
        assert berth("run", "--rm", "--log-driver", "json-file", IMAGE, "echo", "hi").out == "hi\n"

        configure(**{"log-driver": "syslog"})
        err = berth("run", "--rm", IMAGE, "true", rc=125).err
        assert f"invalid engine configuration {berth.config}: key 'log-driver': 'syslog': " in err
    finally:
        with open(berth.config, "w", encoding="utf-8") as fh:
            fh.write(saved)
        berth("rm", "-f", "rotated", "own", "quiet", rc=None)


def test_events_from_the_engine_event_log(berth: Berth) -> None:
    """berth events: what create/start/exec/pause/unpause/rename/kill/die/rm wrote, filtered, as text or a
    template; without --until it waits for new events (here: until the one we wait for came)."""
    since = str(time.time())
    berth("run", "-d", "--name", "evented", "-l", "tier=web", IMAGE, "sleep", "300")
    berth("exec", "evented", "true")
    berth("pause", "evented")
    berth("unpause", "evented")
    berth("rename", "evented", "evented2")
    berth("kill", "evented2")
    berth("wait", "evented2")
    berth("rm", "evented2")
    until = str(time.time())
    fmt = "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}"
    actions = berth("events", "--since", since, "--until", until, "--filter", "label=tier=web",
                    "--format", fmt).out.splitlines()
    assert actions == [
        "container create evented", "container start evented", "container exec_create: true evented",
        "container exec_start: true evented", "container exec_die evented", "container pause evented",
        "container unpause evented", "container rename evented2", "container kill evented2",
        "container die evented2", "container destroy evented2",
    ]
    lines = berth("events", "--since", since, "--until", until, "-f", "event=die", "-f", "container=evented2").out
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z container die [0-9a-f]{64} "
                        r"\(exitCode=137, image=\S+bb:latest, name=evented2, tier=web\)\n", lines), lines
    assert berth("events", "--since", since, "--until", until, "-f", "image=bb", "-f", "event=destroy",
                 "--format", "{{.Actor.Attributes.name}}").out == "evented2\n"
    assert berth("events", "--since", since, "--until", until, "-f", "container=evented2", "-f", "event=kill",
                 "--format", "{{.Actor.Attributes.signal}}").out == "9\n"  # docker's: the number
    assert "unknown filter" in berth("events", "--until", until, "-f", "colour=red", rc=125).err
    log = os.path.join(berth.root, "events.log")
    assert os.stat(log).st_mode & 0o777 == 0o600 and os.stat(log).st_uid == 0

    follower = subprocess.Popen(berth.argv("events", "-f", "container=followed", "--format", "{{.Action}}"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=berth.env)
    try:
        berth("create", "--name", "followed", IMAGE, "true")  # may come before the follower reads: not shown
        seen: list[str] = []
        for attempt in range(50):  # until the follower has shown a start (it may have started reading late)
            berth("start", "followed")
            berth("wait", "followed")
            while "start" not in seen and select.select([follower.stdout], [], [], 2)[0]:
                seen.append(follower.stdout.readline().decode().strip())
            if "start" in seen:
                break
        assert seen[-1] == "start" and set(seen) <= {"create", "start", "die"}, seen
    finally:
        follower.kill()
        follower.wait()
        berth("rm", "-f", "followed", rc=None)


def _type_on_a_terminal(b: Berth, *args: str, marker: bytes, keys: bytes) -> tuple[int, str]:
    """Run berth on a fresh pty, type *keys* once *marker* was shown; returns (exit code, output)."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(b.argv(*args), stdin=slave, stdout=slave, stderr=slave, env=b.env, start_new_session=True)
    out = b""
    typed = False
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    out += os.read(master, 65536)
                except OSError:
                    break
            if not typed and marker in out:
                os.write(master, keys)
                typed = True
        rc = proc.wait(timeout=10)
        # what the client wrote just before it exited is still in the pty: the loop above may have seen the
        # exit first (the "read escape sequence" line went missing under load)
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        return rc, out.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(slave)
        os.close(master)


def test_detach_keys_leave_the_container_running(berth: Berth) -> None:
    """run -it and attach: Ctrl-P Ctrl-Q (or --detach-keys) detach the client, the container runs on."""
    try:
        rc, out = _type_on_a_terminal(berth, "run", "-it", "--name", "detachable", IMAGE, "sh", "-c",
                                      "while true; do echo tick; sleep 1; done", marker=b"tick", keys=b"\x10\x11")
        assert rc == 0 and out.startswith("tick"), out
        assert berth("inspect", "-f", "{{.State.Running}}", "detachable").out == "true\n"
        # attach with other keys: a lone ctrl-x goes to the container, ctrl-x then a detaches
        rc, out = _type_on_a_terminal(berth, "attach", "--detach-keys", "ctrl-x,a", "detachable",
                                      marker=b"tick", keys=b"\x18b\x18a")
        assert rc == 1 and out.endswith("read escape sequence\r\n"), out
        assert berth("inspect", "-f", "{{.State.Running}}", "detachable").out == "true\n"
        bad = berth("attach", "--detach-keys", "ctrl-1", "detachable", rc=125, stdin=subprocess.DEVNULL).err
        assert bad.startswith("Error: invalid value 'ctrl-1' for detach_keys: unknown key 'ctrl-1'"), bad
        rc, out = _on_a_terminal(berth, "run", "--rm", "-it", "--detach-keys", "ctrl-1", IMAGE, "true")
        assert rc == 125 and 'invalid argument "ctrl-1" for "--detach-keys" flag: unknown key' in out, out
        assert berth("ps", "-aq").out.split() == [berth("inspect", "-f", "{{.Id}}", "detachable").out[:12]]
    finally:
        berth("rm", "-f", "detachable", rc=None)


def test_attach_sends_stdin(berth: Berth) -> None:
    berth("run", "-di", "--name", "reader", IMAGE, "sh", "-c", "read line; echo got:$line; exit 3")
    try:
        res = berth("attach", "reader", input="hello\n", rc=3)
        assert res.out == "got:hello\n"
    finally:
        berth("rm", "-f", "reader")


def test_kill_wait_start_restart(berth: Berth) -> None:
    berth("run", "-d", "--name", "kk", IMAGE, "sleep", "300")
    assert berth("kill", "kk").out == "kk\n"
    assert berth("wait", "kk").out == "137\n"
    berth("create", "--name", "cc", IMAGE, "sh", "-c", "echo ran; exit 5")
    assert ps_row(berth, "cc")["STATUS"] == "Created"
    attached = berth("start", "-a", "cc", rc=5)
    assert attached.out == "ran\n"
    assert berth("start", "cc").out == "cc\n"
    assert berth("wait", "cc").out == "5\n"
    assert berth("restart", "-t", "0", "cc").out == "cc\n"
    assert berth("rm", "kk", "cc").out == "kk\ncc\n"


def test_system_df_info_and_prune(berth: Berth) -> None:
    berth("create", "--name", "idle", IMAGE)
    df = rows(berth("system", "df").out)
    assert df[2][:3] == ["Containers", "1", "0"]
    info = json.loads(berth("info", "--format", "json").out)
    assert (info["Containers"], info["ContainersRunning"], info["ContainersStopped"], info["Images"]) == (1, 0, 1, 1)
    assert info["CgroupVersion"] in ("1", "2") and "berth" in info["Runtimes"] and info["DockerRootDir"] == berth.root
    assert "  Stopped: 1\n" in berth("info").out
    berth("run", "-d", "--name", "busy", IMAGE, "sleep", "300")
    try:
        assert berth("system", "prune", input="n\n").out.endswith("Are you sure you want to continue? [y/N] ")
        stray = os.path.join(berth.root, "locks", f"container-{'e' * 64}.lock")  # a container long gone
        open(stray, "w").close()
        pruned = berth("system", "prune", "-f").out.splitlines()
        assert not os.path.exists(stray)
        assert pruned[0] == "Deleted Containers:" and len(pruned[1]) == 64 and pruned[2] == ""
        assert pruned[-1].startswith("Total reclaimed space: ")
        assert berth("ps", "-a", "--format", "{{.Names}}").out == "busy\n"  # the running one stays
    finally:
        berth("rm", "-f", "busy")
    berth("create", "--name", "idle", IMAGE)
    pruned = berth("container", "prune", "-f").out.splitlines()
    assert pruned[0] == "Deleted Containers:" and FULL_ID.match(pruned[1])
    assert pruned[-1].startswith("Total reclaimed space: ")
    assert berth("ps", "-aq").out == ""


def test_blkio_weight_is_applied_or_discarded_with_a_warning(berth: Berth) -> None:
    """Docker's rule: where the kernel has no block I/O weight, the setting is discarded with a warning
    (this test host: no CFQ/BFQ weights); the recorded option stays, so the container module is idempotent."""
    from ansible_collections.berth.engine.plugins.module_utils.engine.runtime.cgroups import detect

    res = berth("run", "--name", "weighted", "--blkio-weight", "300", IMAGE, "cat", "/proc/self/cgroup")
    try:
        inspect = json.loads(berth("inspect", "weighted").out)[0]
        assert inspect["HostConfig"]["BlkioWeight"] == 300
        if detect.io_weight_supported():
            assert "WARNING" not in res.err
        else:
            assert res.err.startswith("WARNING: blkio_weight: this kernel does not support block I/O weight"), res.err
            assert "0::/" in res.out or "blkio:" in res.out  # the container ran
        upd = berth("update", "--blkio-weight", "400", "weighted")
        assert ("WARNING: blkio_weight" in upd.err) is (not detect.io_weight_supported())
        assert json.loads(berth("inspect", "weighted").out)[0]["HostConfig"]["BlkioWeight"] == 400
    finally:
        berth("rm", "-f", "weighted")


# ------------------------------------------------------------------ secrets
def test_secret_env_reaches_the_process_and_nothing_else(berth: Berth, tmp_path: t.Any) -> None:
    secret, from_file = "s3cr3t-" + os.urandom(8).hex(), "f1le-" + os.urandom(8).hex()
    secrets = tmp_path / "secrets"
    secrets.write_text(f"FILE_SECRET={from_file}\n")
    env = dict(berth.env or os.environ, DB_PASSWORD=secret)
    cid = berth("run", "-d", "--name", "sec", "--secret-env", "DB_PASSWORD", "--secret-env-file", str(secrets),
                "-e", "PLAIN=shown", IMAGE, "sleep", "300", env=env).out.strip()
    try:
        show = 'echo "$DB_PASSWORD $FILE_SECRET $PLAIN"'
        assert berth("exec", "sec", "sh", "-c", show).out == f"{secret} {from_file} shown\n"
        info = json.loads(berth("inspect", "sec").out)[0]
        assert {"DB_PASSWORD=********", "FILE_SECRET=********", "PLAIN=shown"} <= set(info["Config"]["Env"])
        assert info["Berth"]["Desired"]["secret_env"] == {"DB_PASSWORD": "********", "FILE_SECRET": "********"}
        said = [berth("inspect", "sec").out, berth("ps", "-a", "--no-trunc").out,
                berth("ps", "-a", "--format", "json").out, berth("logs", "sec").out]
        for value in (secret, from_file):
            assert not any(value in text for text in said)
            # the bundle's process env, root-only, is the one copy under the data root
            assert files_holding(berth.root, value.encode()) == [f"containers/{cid}/bundle/config.json"]
        bundle = os.path.join(berth.root, "containers", cid, "bundle", "config.json")
        assert os.stat(bundle).st_mode & 0o777 == 0o600
        with open(bundle) as fh:
            assert f"DB_PASSWORD={secret}" in json.load(fh)["process"]["env"]
        # a restart rebuilds the bundle from the record and the previous bundle: the values stay
        berth("restart", "-t", "0", "sec")
        assert berth("exec", "sec", "sh", "-c", show).out == f"{secret} {from_file} shown\n"
        assert files_holding(berth.root, secret.encode()) == [f"containers/{cid}/bundle/config.json"]
    finally:
        berth("rm", "-f", "sec")


@pytest.mark.parametrize("runtime", ["runc", "crun"])
def test_secret_env_with_an_external_runtime(berth: Berth, runtime: str) -> None:
    if not shutil.which(runtime):
        pytest.skip(f"{runtime} is not installed")
    secret = "s3cr3t-" + os.urandom(8).hex()
    env = dict(berth.env or os.environ, DB_PASSWORD=secret)
    cid = berth("run", "-d", "--runtime", runtime, "--name", "ext", "--secret-env", "DB_PASSWORD", IMAGE,
                "sleep", "300", env=env).out.strip()
    try:
        assert berth("exec", "ext", "sh", "-c", 'echo "$DB_PASSWORD"').out == f"{secret}\n"
        held = files_holding(berth.root, secret.encode())
        # crun keeps its own copy of the bundle's config.json in its state directory (root-only, 0700)
        copies = {f"containers/{cid}/bundle/config.json", f"runtime/crun/{cid}/config.json"}
        assert f"containers/{cid}/bundle/config.json" in held and set(held) <= copies, held
    finally:
        berth("rm", "-f", "ext")


def test_a_lost_secret_fails_the_start_by_name(berth: Berth) -> None:
    env = dict(berth.env or os.environ, TOKEN="t0ken-" + os.urandom(8).hex())
    cid = berth("create", "--name", "lost", "--secret-env", "TOKEN", IMAGE, "true", env=env).out.strip()
    try:
        os.unlink(os.path.join(berth.root, "containers", cid, "bundle", "config.json"))
        err = berth("start", "lost", rc=None)
        assert err.returncode != 0 and "secret_env.TOKEN" in err.err and "recreate the container" in err.err, err.err
        assert env["TOKEN"] not in err.err
    finally:
        berth("rm", "-f", "lost")

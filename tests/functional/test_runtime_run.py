# SPDX-License-Identifier: GPL-3.0-or-later
"""bin/berth-runtime on the real kernel, with bundles made by ``runc spec`` over a busybox rootfs.

What a container sees (PID 1, hostname, capabilities, no_new_privs, seccomp, its mount table,
masked and read-only paths), a terminal through --console-socket, a joined network namespace,
exec, pause/resume, kill --all, errors, and that nothing is left behind on the host afterwards.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import tempfile
import time
import typing as t
import uuid

import pytest

from tests.support import images

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(REPO, "bin", "berth-runtime")
CGROUP_ROOT = "/sys/fs/cgroup"

pytestmark = [
    pytest.mark.functional,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc makes the reference bundles (runc spec)"),
]


# ---------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> str:
    return images.busybox_rootfs(tmp_path_factory.mktemp("rt-busybox") / "rootfs")


@pytest.fixture(scope="module")
def state_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("rt-state"))


class Runtime:
    def __init__(self, root: str) -> None:
        self.root = root

    def __call__(self, *args: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess:
        # files, not pipes: a created container inherits our stdio and would hold a pipe open (as with runc)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.run([BIN, "--root", self.root, *args], timeout=timeout, stdin=subprocess.DEVNULL,
                                  stdout=out, stderr=err, check=False)
            out.seek(0)
            err.seek(0)
            proc.stdout, proc.stderr = out.read(), err.read()
        if check and proc.returncode != 0:
            raise AssertionError(f"berth-runtime {' '.join(args)} failed ({proc.returncode}): {proc.stderr!r}")
        return proc

    def state(self, cid: str) -> dict:
        return json.loads(self("state", cid).stdout)


@pytest.fixture
def rt(state_root: str) -> t.Iterator[Runtime]:
    runtime = Runtime(state_root)
    yield runtime
    # a test that failed half-way must not leave containers (processes, cgroups) behind
    for cid in os.listdir(state_root):
        runtime("delete", "--force", cid, check=False)


def new_id() -> str:
    return "t-" + uuid.uuid4().hex[:10]


def make_bundle(tmp_path: t.Any, rootfs: str, args: list[str], edit: t.Callable[[dict], None] | None = None) -> str:
    bundle = tmp_path / ("bundle-" + uuid.uuid4().hex[:6])
    bundle.mkdir()
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)
    with open(bundle / "config.json") as fh:
        spec = json.load(fh)
    spec["root"]["path"] = rootfs
    spec["process"]["terminal"] = False
    spec["process"]["args"] = args
    if edit:
        edit(spec)
    with open(bundle / "config.json", "w") as fh:
        json.dump(spec, fh)
    return str(bundle)


def cgroup_dirs(cid: str) -> list[str]:
    out = []
    for name in os.listdir(CGROUP_ROOT):
        d = os.path.join(CGROUP_ROOT, name, cid)
        if os.path.isdir(os.path.join(CGROUP_ROOT, name)) and not os.path.islink(os.path.join(CGROUP_ROOT, name)):
            out.append(d)
    return out


def assert_no_leftovers(cid: str, bundle: str, state_root: str) -> None:
    with open("/proc/self/mountinfo") as fh:
        leaked = [line for line in fh if bundle in line]
    assert not leaked, f"mounts left on the host: {leaked}"
    left = [d for d in cgroup_dirs(cid) if os.path.exists(d)]
    assert not left, f"cgroups left: {left}"
    assert not os.path.exists(os.path.join(state_root, cid))


def procs_with(marker: str) -> list[int]:
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    if marker.encode() in fh.read().replace(b"\0", b" "):
                        out.append(int(pid))
            except OSError:
                pass
    return out


def wait_for(cond: t.Callable[[], bool], timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


# ---------------------------------------------------------------- run: what the container sees
PROBE = r"""
echo "pid=$$"
echo "hostname=$(hostname)"
grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\t' | sed 's/:/=/'
echo "keys=$(wc -c < /proc/keys)"
echo "firmware=$(ls /sys/firmware | wc -l)"
touch /sys/x 2>/dev/null && echo sys=rw || echo sys=ro
touch /probe 2>/dev/null && echo root=rw || echo root=ro
echo "nofile=$(ulimit -n)"
echo "null=$(echo hi > /dev/null && echo ok)"
cat /proc/self/mountinfo | awk '{print "mount=" $5 " " $6 " " $9}'
exit 7
"""


def parse_probe(out: str) -> tuple[dict[str, str], dict[str, str]]:
    values, mounts = {}, {}
    for line in out.splitlines():
        key, dummy, value = line.partition("=")
        if key == "mount":
            point, opts, fstype = value.split(" ")
            mounts[point] = f"{fstype} {opts}"
        elif key:
            values[key] = value
    return values, mounts


def test_run_what_the_container_sees(tmp_path: t.Any, rootfs: str, rt: Runtime, state_root: str) -> None:
    cid = new_id()
    bundle = make_bundle(tmp_path, rootfs, ["sh", "-c", PROBE])
    proc = rt("run", "--bundle", bundle, cid, check=False)
    assert proc.returncode == 7, proc.stderr
    values, mounts = parse_probe(proc.stdout.decode())
    assert values["pid"] == "1"
    assert values["hostname"] == "runc"
    # runc spec: CAP_AUDIT_WRITE(29), CAP_KILL(5), CAP_NET_BIND_SERVICE(10)
    assert values["CapEff"] == f"{(1 << 29) | (1 << 5) | (1 << 10):016x}"
    assert values["CapBnd"] == values["CapEff"]
    assert values["NoNewPrivs"] == "1"
    assert values["Seccomp"] == "0"
    assert values["keys"] == "0"  # masked: /dev/null bound over it
    assert values["firmware"] == "0"  # masked directory: empty read-only tmpfs
    assert values["sys"] == "ro" and values["root"] == "ro"
    assert values["nofile"] == "1024"
    assert values["null"] == "ok"
    assert mounts["/"].split(" ")[1].startswith("ro")
    assert mounts["/proc"].startswith("proc ")
    assert mounts["/dev"].startswith("tmpfs ")
    assert mounts["/dev/pts"].startswith("devpts ")
    assert mounts["/sys"].startswith("sysfs ro")
    assert mounts["/sys/fs/cgroup"].split(" ")[1].startswith("ro")
    assert mounts["/proc/sys"].split(" ")[1].startswith("ro")
    assert_no_leftovers(cid, bundle, state_root)


@pytest.mark.parametrize("nnp", [True, False], ids=["after-no-new-privs", "before-the-user-switch"])
def test_seccomp_filter_is_loaded(tmp_path: t.Any, rootfs: str, rt: Runtime, nnp: bool) -> None:
    def edit(spec: dict) -> None:
        spec["process"]["noNewPrivileges"] = nnp
        spec["process"]["user"] = {"uid": 65534, "gid": 65534}
        spec["root"]["readonly"] = False
        spec["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
        }

    script = "grep -E 'Seccomp:|NoNewPrivs:' /proc/self/status; mkdir /tmp/blocked 2>&1; echo rc=$?"
    proc = rt("run", "-b", make_bundle(tmp_path, rootfs, ["sh", "-c", script], edit), new_id())
    out = proc.stdout.decode()
    assert "Seccomp:\t2" in out and f"NoNewPrivs:\t{int(nnp)}" in out
    assert "Operation not permitted" in out and "rc=1" in out


def test_user_cwd_env_and_caps_of_a_non_root_process(tmp_path: t.Any, rootfs: str, rt: Runtime) -> None:
    def edit(spec: dict) -> None:
        spec["process"]["user"] = {"uid": 65534, "gid": 65534, "additionalGids": [10]}
        spec["process"]["cwd"] = "/var/empty/sub"
        spec["process"]["env"].append("GREETING=hello world")
        caps = ["CAP_NET_BIND_SERVICE"]
        spec["process"]["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps,
                                           "inheritable": caps, "ambient": caps}

    script = "id; pwd; echo $GREETING; echo HOME=$HOME; grep -E 'Cap(Eff|Amb)' /proc/self/status"
    out = rt("run", "-b", make_bundle(tmp_path, rootfs, ["sh", "-c", script], edit), new_id()).stdout.decode()
    assert "uid=65534(nobody) gid=65534(nobody) groups=10" in out
    assert "/var/empty/sub" in out and "hello world" in out
    assert "HOME=/nonexistent" in out
    assert f"CapEff:\t{1 << 10:016x}" in out and f"CapAmb:\t{1 << 10:016x}" in out


def test_missing_executable_is_a_clear_error_and_leaves_nothing(tmp_path: t.Any, rootfs: str, rt: Runtime,
                                                                state_root: str) -> None:
    cid = new_id()
    bundle = make_bundle(tmp_path, rootfs, ["no-such-binary"])
    proc = rt("run", "-b", bundle, cid, check=False)
    assert proc.returncode == 1
    assert 'exec: "no-such-binary": executable file not found in $PATH' in proc.stderr.decode()
    assert_no_leftovers(cid, bundle, state_root)


def test_too_high_rlimit_is_refused_with_both_values(tmp_path: t.Any, rootfs: str, rt: Runtime) -> None:
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    bundle = make_bundle(tmp_path, rootfs, ["true"], lambda s: s["process"].update(
        rlimits=[{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": hard * 4}]))
    proc = rt("run", "-b", bundle, new_id(), check=False)
    if proc.returncode == 0:
        pytest.skip("this process may raise hard limits (CAP_SYS_RESOURCE)")
    err = proc.stderr.decode()
    assert "spec.process.rlimits[0].hard" in err and str(hard * 4) in err and str(hard) in err


# ---------------------------------------------------------------- lifecycle through the CLI
def test_create_start_exec_pause_kill_all_delete(tmp_path: t.Any, rootfs: str, rt: Runtime, state_root: str) -> None:
    cid = new_id()
    marker = "9" + uuid.uuid4().hex[:6].translate(str.maketrans("abcdef", "123456"))
    bundle = make_bundle(tmp_path, rootfs, ["sh", "-c", f"sleep {marker} & sleep {marker}1"],
                         lambda s: s["process"]["env"].append("SPEC_ONLY=from-the-bundle"))
    pid_file = str(tmp_path / "pid")
    rt("create", "--bundle", bundle, "--pid-file", pid_file, cid)
    # the state keeps no process env (it may hold secrets); exec reads the bundle's, as runc does
    with open(os.path.join(state_root, cid, "state.json")) as fh:
        assert "from-the-bundle" not in fh.read()
    st = rt.state(cid)
    assert st["status"] == "created" and st["id"] == cid and st["bundle"] == bundle
    with open(pid_file) as fh:
        assert int(fh.read()) == st["pid"]
    rt("start", cid)
    assert rt.state(cid)["status"] == "running"
    assert wait_for(lambda: len(procs_with(f"sleep {marker}")) >= 2)  # the two sleeps (sh may exec the last)

    # exec joins the PID namespace: PID 1 is the container's process (sh exec'd its last command)
    proc = rt("exec", cid, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; ps -o pid,comm")
    out = proc.stdout.decode()
    assert out.startswith(f"sleep {marker}1 ")
    assert [line.split() for line in out.splitlines()[2:]] == [["1", "sleep"], ["2", "sleep"], ["3", "ps"]]
    assert rt("exec", cid, "sh", "-c", "exit 5", check=False).returncode == 5
    assert rt("exec", cid, "sh", "-c", "echo $SPEC_ONLY").stdout == b"from-the-bundle\n"

    rt("pause", cid)
    assert rt.state(cid)["status"] == "paused"
    with open(os.path.join(CGROUP_ROOT, "freezer", cid, "freezer.state")) as fh:
        assert fh.read().strip() == "FROZEN"
    assert rt("exec", cid, "true", check=False).returncode == 1  # no exec into a paused container
    rt("resume", cid)
    assert rt.state(cid)["status"] == "running"

    delete = rt("delete", cid, check=False)
    assert delete.returncode == 1 and "not stopped" in delete.stderr.decode()

    rt("kill", "--all", cid, "KILL")
    assert wait_for(lambda: rt.state(cid)["status"] == "stopped")
    assert wait_for(lambda: not procs_with(f"sleep {marker}"))
    rt("delete", cid)
    assert rt("state", cid, check=False).returncode == 1
    assert_no_leftovers(cid, bundle, state_root)


def test_kill_by_name_and_force_delete_of_a_running_container(tmp_path: t.Any, rootfs: str, rt: Runtime,
                                                              state_root: str) -> None:
    cid = new_id()
    bundle = make_bundle(tmp_path, rootfs, ["sh", "-c", "trap 'echo got TERM; exit 3' TERM; sleep 60 & wait"])
    rt("run", "-d", "-b", bundle, cid)
    assert rt.state(cid)["status"] == "running"
    rt("kill", cid, "SIGTERM")
    assert wait_for(lambda: rt.state(cid)["status"] == "stopped")
    rt("delete", cid)
    cid2 = new_id()
    rt("run", "-d", "-b", bundle, cid2)
    rt("delete", "--force", cid2)
    assert_no_leftovers(cid2, bundle, state_root)
    assert rt("delete", "--force", cid2).returncode == 0  # runc: forced delete of nothing is fine


def test_list_formats(tmp_path: t.Any, rootfs: str, rt: Runtime) -> None:
    cid = new_id()
    rt("create", "-b", make_bundle(tmp_path, rootfs, ["true"]), cid)
    try:
        listed = json.loads(rt("list", "--format", "json").stdout)
        assert {"id": cid, "status": "created"}.items() <= {k: v for s in listed if s["id"] == cid
                                                            for k, v in s.items()}.items()
        assert cid in rt("list").stdout.decode()
        assert cid in rt("list", "-q").stdout.decode().split()
    finally:
        rt("delete", cid)


# ---------------------------------------------------------------- terminal, network namespace
def test_terminal_through_the_console_socket(tmp_path: t.Any, rootfs: str, rt: Runtime) -> None:
    cid = new_id()

    def edit(spec: dict) -> None:
        spec["process"]["terminal"] = True
        spec["process"]["consoleSize"] = {"height": 33, "width": 101}

    bundle = make_bundle(tmp_path, rootfs, ["sh", "-c", "tty; stty size; read line; echo got:$line"], edit)
    sock_path = str(tmp_path / "console.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(1)
    try:
        rt("create", "-b", bundle, "--console-socket", sock_path, cid)
        conn, dummy = server.accept()
        with conn:
            _msg, fds, _flags, _addr = socket.recv_fds(conn, 1024, 1)
        assert len(fds) == 1
        master = fds[0]
        try:
            rt("start", cid)
            os.write(master, b"ping\n")
            out = b""
            end = time.monotonic() + 5
            while b"got:ping" not in out and time.monotonic() < end:
                if select.select([master], [], [], 0.2)[0]:
                    try:
                        out += os.read(master, 4096)
                    except OSError:
                        break
        finally:
            os.close(master)
        text = out.decode(errors="replace")
        assert "/dev/pts/0" in text and "33 101" in text and "got:ping" in text
    finally:
        server.close()
        rt("delete", "--force", cid)


@pytest.fixture
def netns() -> t.Iterator[str]:
    if shutil.which("ip") is None:
        pytest.skip("iproute2 (ip) is needed to make a network namespace")
    name = "berth-rt-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield f"/run/netns/{name}"
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


def test_join_an_existing_network_namespace(tmp_path: t.Any, rootfs: str, rt: Runtime, netns: str) -> None:
    def edit(spec: dict) -> None:
        for ns in spec["linux"]["namespaces"]:
            if ns["type"] == "network":
                ns["path"] = netns
        spec["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}

    script = "readlink /proc/self/ns/net; cat /proc/sys/net/ipv4/ip_forward"
    out = rt("run", "-b", make_bundle(tmp_path, rootfs, ["sh", "-c", script], edit), new_id()).stdout.decode()
    assert out.split() == [f"net:[{os.stat(netns).st_ino}]", "1"]
    host = subprocess.run(["ip", "netns", "exec", os.path.basename(netns), "cat", "/proc/sys/net/ipv4/ip_forward"],
                          capture_output=True, check=True)
    assert host.stdout.strip() == b"1"  # the sysctl went to the joined namespace


def test_host_sees_no_leaked_mounts_after_many_runs(tmp_path: t.Any, rootfs: str, rt: Runtime) -> None:
    with open("/proc/self/mountinfo") as fh:
        before = len(fh.readlines())
    bundle = make_bundle(tmp_path, rootfs, ["true"])
    for dummy in range(3):
        rt("run", "-b", bundle, new_id())
    with open("/proc/self/mountinfo") as fh:
        assert len(fh.readlines()) == before


# ---------------------------------------------------------------- hooks
def test_hooks_run_in_order_with_the_state_on_stdin(tmp_path: t.Any, rootfs: str, rt: Runtime) -> None:
    log = tmp_path / "hooks.log"
    hook = tmp_path / "hook.sh"
    hook.write_text(f"#!/bin/sh\necho \"$1 $(readlink /proc/self/ns/mnt) $(cat)\" >> {log}\n")
    hook.chmod(0o755)
    cid = new_id()

    def edit(spec: dict) -> None:
        spec["hooks"] = {kind: [{"path": str(hook), "args": ["hook.sh", kind]}]
                         for kind in ("prestart", "createRuntime", "createContainer", "poststart", "poststop")}
        # startContainer resolves inside the container: a tmpfs there receives the state
        spec["hooks"]["startContainer"] = [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /dev/shm/state"]}]

    bundle = make_bundle(tmp_path, rootfs, ["cat", "/dev/shm/state"], edit)
    out = rt("run", "-b", bundle, cid).stdout
    inside = json.loads(out)
    assert inside["id"] == cid and inside["status"] == "running" and inside["bundle"] == bundle
    lines = log.read_text().splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["prestart", "createRuntime", "createContainer", "poststart",
                                                         "poststop"]
    host_mnt = os.readlink("/proc/self/ns/mnt")
    states = {}
    for line in lines:
        kind, mnt, doc = line.split(" ", 2)
        states[kind] = json.loads(doc)
        # runtime-namespace hooks run on the host, createContainer in the container's mount namespace
        assert (mnt == host_mnt) == (kind != "createContainer"), line
        assert states[kind]["id"] == cid and states[kind]["pid"] == inside["pid"] or kind == "poststop"
    assert states["createRuntime"]["status"] == "creating"
    assert states["poststart"]["status"] == "running"
    assert states["poststop"]["status"] == "stopped"


def test_a_failing_prestart_hook_fails_create(tmp_path: t.Any, rootfs: str, rt: Runtime, state_root: str) -> None:
    cid = new_id()
    bundle = make_bundle(tmp_path, rootfs, ["true"], lambda s: s.update(
        hooks={"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 3"]}]}))
    proc = rt("create", "-b", bundle, cid, check=False)
    assert proc.returncode == 1
    assert b"createRuntime hook #0 /bin/sh: exit status 3: nope" in proc.stderr
    assert_no_leftovers(cid, bundle, state_root)


# ---------------------------------------------------------------- user namespace, foreground terminal
@pytest.fixture(scope="module")
def public_rootfs() -> t.Iterator[str]:
    """A rootfs owned by the mapped root (uid 100000) in a directory it can reach (pytest's tree is 0700)."""
    top = tempfile.mkdtemp(prefix="berth-rt-userns-")
    os.chmod(top, 0o755)
    try:
        root = images.busybox_rootfs(os.path.join(top, "rootfs"))
        for dirpath, dirnames, filenames in os.walk(root):
            for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
                os.lchown(name, 100000, 100000)
        yield root
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_user_namespace_with_id_mappings_and_exec(tmp_path: t.Any, public_rootfs: str, rt: Runtime,
                                                  state_root: str) -> None:
    rootfs = public_rootfs

    def edit(spec: dict) -> None:
        spec["linux"]["namespaces"].append({"type": "user"})
        spec["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        spec["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]

    cid = new_id()
    bundle = make_bundle(tmp_path, rootfs, ["sleep", "30"], edit)
    rt("run", "-d", "-b", bundle, cid)
    try:
        pid = rt.state(cid)["pid"]
        with open(f"/proc/{pid}/status") as fh:
            uids = [line.split()[1] for line in fh if line.startswith("Uid:")]
        assert uids == ["100000"]  # root inside is 100000 outside
        out = rt("exec", cid, "sh", "-c", "id -u; cat /proc/self/uid_map; echo x > /dev/null && echo null-ok")
        lines = out.stdout.decode().split("\n")
        assert lines[0] == "0" and lines[1].split() == ["0", "100000", "65536"] and lines[2] == "null-ok"
    finally:
        rt("delete", "--force", cid)
    assert_no_leftovers(cid, bundle, state_root)


def test_foreground_run_with_a_terminal_and_no_console_socket(tmp_path: t.Any, rootfs: str, rt: Runtime,
                                                              state_root: str) -> None:
    import pty

    bundle = make_bundle(tmp_path, rootfs, ["sh", "-c", "tty; read x; echo got:$x; exit 4"],
                         lambda s: s["process"].update(terminal=True))
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover
        os.execv(BIN, [BIN, "--root", state_root, "run", "-b", bundle, new_id()])
    out = b""
    try:
        end = time.monotonic() + 10
        sent = False
        while time.monotonic() < end and b"got:" not in out:
            if not sent and b"/dev/pts/" in out:
                os.write(fd, b"abc\r")
                sent = True
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    break
    finally:
        dummy, status = os.waitpid(pid, 0)
        os.close(fd)
    assert b"/dev/pts/0" in out and b"got:abc" in out
    assert os.WEXITSTATUS(status) == 4

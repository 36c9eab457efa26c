# SPDX-License-Identifier: GPL-3.0-or-later
"""The init's file-system steps and the namespace order, against a recording fake of the syscall seam.

``RecordingSyscalls`` is youki's ``syscall/test.rs`` in Python: every call becomes a typed record
(``Mount``, ``Umount``, ``PivotRoot``, ...) so a test can assert the exact sequence, flags and targets.
Plain file work (mkdir, symlink) really happens, in a temporary rootfs; nothing needs root.
"""
from __future__ import annotations

import os
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.runtime import init, namespaces, rootfs
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime import syscalls as sc
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime.cgroups.resources import cgroup_resources
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime.sync import Msg


class Mount(t.NamedTuple):
    source: str | None
    target: str
    fstype: str | None
    flags: int
    data: str | None


class Umount(t.NamedTuple):
    target: str
    flags: int


class PivotRoot(t.NamedTuple):
    new_root: str
    put_old: str


class Chroot(t.NamedTuple):
    path: str


class Unshare(t.NamedTuple):
    flags: int


class Setns(t.NamedTuple):
    path: str
    nstype: int


class Hostname(t.NamedTuple):
    name: str


class Domainname(t.NamedTuple):
    name: str


class Prctl(t.NamedTuple):
    option: int
    args: tuple[int, ...]


class Mknod(t.NamedTuple):
    path: str
    mode: int
    device: int


class Chown(t.NamedTuple):
    path: str
    uid: int
    gid: int


class Chdir(t.NamedTuple):
    path: str


class Fchdir(t.NamedTuple):
    path: str


class RecordingSyscalls:
    """Records every call; ``fail={(call, target): errno}`` makes the next such call raise like the kernel."""

    def __init__(self, fail: dict[tuple[str, str], int] | None = None) -> None:
        self.calls: list[t.Any] = []
        self.fail = fail or {}

    def _maybe_fail(self, call: str, target: str) -> None:
        err = self.fail.pop((call, target), None)
        if err:
            raise OSError(err, f"{call} {target}: {os.strerror(err)}")

    def mounts(self) -> list[Mount]:
        return [c for c in self.calls if isinstance(c, Mount)]

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
        self._maybe_fail("mount", target)
        self.calls.append(Mount(source, target, fstype, flags, data))

    def umount2(self, target: str, flags: int) -> None:
        self.calls.append(Umount(target, flags))

    def pivot_root(self, new_root: str, put_old: str) -> None:
        self.calls.append(PivotRoot(new_root, put_old))

    def chroot(self, path: str) -> None:
        self.calls.append(Chroot(path))

    def unshare(self, flags: int) -> None:
        self.calls.append(Unshare(flags))

    def setns(self, fd: int, nstype: int) -> None:
        self.calls.append(Setns(os.readlink(f"/proc/self/fd/{fd}"), nstype))

    def sethostname(self, name: str) -> None:
        self.calls.append(Hostname(name))

    def setdomainname(self, name: str) -> None:
        self.calls.append(Domainname(name))

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        self.calls.append(Prctl(option, (arg2, arg3, arg4, arg5)))
        return 0

    def mknod(self, path: str, mode: int, device: int) -> None:
        self._maybe_fail("mknod", path)
        self.calls.append(Mknod(path, mode, device))

    def chown(self, path: str, uid: int, gid: int) -> None:
        self.calls.append(Chown(path, uid, gid))

    def chdir(self, path: str) -> None:
        self.calls.append(Chdir(path))

    def fchdir(self, fd: int) -> None:
        self.calls.append(Fchdir(os.readlink(f"/proc/self/fd/{fd}")))


class FakeChannel:
    def __init__(self) -> None:
        self.sent: list[int] = []

    def send(self, kind: int, payload: t.Any = None) -> None:
        self.sent.append(kind)

    def expect(self, kind: int, timeout: t.Any = -1.0) -> t.Any:
        self.sent.append(-kind)
        return None


NOSUID, NODEV, NOEXEC, RDONLY = sc.MS_NOSUID, sc.MS_NODEV, sc.MS_NOEXEC, sc.MS_RDONLY
BIND, REC, REMOUNT = sc.MS_BIND, sc.MS_REC, sc.MS_REMOUNT


@pytest.fixture
def bundle(tmp_path: t.Any) -> str:
    root = tmp_path / "bundle"
    (root / "rootfs" / "bin").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "data" / "file.txt").write_text("x")
    # a symlink that points out of the rootfs must resolve *inside* it
    os.symlink("/etc/escape", root / "rootfs" / "link")
    return str(root)


@pytest.fixture(autouse=True)
def no_host_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    """statvfs of host paths would make the expected flags depend on this machine."""
    monkeypatch.setattr(rootfs, "_locked_flags", lambda path: 0)


def small_spec(bundle: str) -> dict:
    return {
        "ociVersion": "1.0.2",
        "process": {"args": ["sh"], "cwd": "/work", "env": []},
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "box",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
            {"destination": "/data", "type": "bind", "source": os.path.join(bundle, "data"),
             "options": ["rbind", "ro", "nosuid", "rprivate"]},
            {"destination": "/link/file.txt", "type": "bind", "source": "data/file.txt", "options": ["bind"]},
        ],
        "linux": {
            "namespaces": [{"type": "mount"}, {"type": "pid"}, {"type": "uts"}],
            "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600,
                         "uid": 0, "gid": 0}],
            "maskedPaths": ["/proc/kcore", "/proc/acpi", "/proc/missing"],
            "readonlyPaths": ["/proc/sys", "/proc/gone"],
        },
    }


def run_fs_steps(spec: dict, bundle: str, sys_: RecordingSyscalls,
                 sources: list[rootfs.CgroupSource] | None = None, no_pivot: bool = False) -> FakeChannel:
    rootfs_path = os.path.join(bundle, "rootfs")
    cfg = init.InitConfig("c1", spec, bundle, rootfs_path, namespaces.plan(spec["linux"]["namespaces"]),
                          no_pivot=no_pivot)
    cfg.cgroup_sources = sources
    chan = FakeChannel()
    init.build_rootfs(cfg, chan, sys_, rootfs.Progress())
    return chan


def test_mount_sequence_of_a_small_spec(bundle: str) -> None:
    sys_ = RecordingSyscalls(fail={("mount", "/proc/acpi"): 20, ("mount", "/proc/missing"): 2,
                                   ("mount", "/proc/gone"): 2})
    r = os.path.join(bundle, "rootfs")
    sources = [rootfs.CgroupSource("cpu", "/sys/fs/cgroup/cpu/c1", False, "cpu"),
               rootfs.CgroupSource("memory", "/sys/fs/cgroup/memory/c1", False, "memory")]
    run_fs_steps(small_spec(bundle), bundle, sys_, sources)
    cg = f"{r}/sys/fs/cgroup"
    v1_bind = BIND | REC | NOSUID | NODEV | NOEXEC | RDONLY
    assert sys_.mounts() == [
        # 1. propagation of / and the rootfs bind
        Mount(None, "/", None, sc.MS_SLAVE | REC, None),
        Mount(r, r, "bind", BIND | REC, None),
        # 2. the spec's mounts, in order
        Mount("proc", f"{r}/proc", "proc", 0, None),
        Mount("tmpfs", f"{r}/dev", "tmpfs", NOSUID | sc.MS_STRICTATIME, "mode=755,size=65536k"),
        Mount("devpts", f"{r}/dev/pts", "devpts", NOSUID | NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"),
        Mount("sysfs", f"{r}/sys", "sysfs", NOSUID | NOEXEC | NODEV | RDONLY, None),
        Mount("tmpfs", cg, "tmpfs", NOSUID | NODEV | NOEXEC, "mode=755"),
        Mount("/sys/fs/cgroup/cpu/c1", f"{cg}/cpu", "bind", BIND | REC, None),
        Mount("/sys/fs/cgroup/cpu/c1", f"{cg}/cpu", None, (v1_bind | REMOUNT) & ~REC, None),
        Mount("/sys/fs/cgroup/memory/c1", f"{cg}/memory", "bind", BIND | REC, None),
        Mount("/sys/fs/cgroup/memory/c1", f"{cg}/memory", None, (v1_bind | REMOUNT) & ~REC, None),
        Mount("tmpfs", cg, None, REMOUNT | NOSUID | NODEV | NOEXEC | RDONLY, "mode=755"),
        Mount(f"{bundle}/data", f"{r}/data", "bind", BIND | REC, None),
        Mount(None, f"{r}/data", None, sc.MS_PRIVATE | REC, None),
        Mount(f"{bundle}/data", f"{r}/data", None, BIND | REMOUNT | RDONLY | NOSUID, None),
        # the symlink /link -> /etc/escape is followed inside the rootfs
        Mount(f"{bundle}/data/file.txt", f"{r}/etc/escape/file.txt", "bind", BIND, None),
        # 4. pivot_root(".", "."), then the old root is made rslave before it is detached
        Mount(None, ".", None, sc.MS_SLAVE | REC, None),
        # 5. read-only root, read-only paths, masked paths
        Mount(None, "/", None, BIND | REMOUNT | RDONLY, None),
        Mount("/proc/sys", "/proc/sys", None, BIND | REC, None),
        Mount("/proc/sys", "/proc/sys", None, BIND | REMOUNT | RDONLY, None),
        Mount("/dev/null", "/proc/kcore", None, BIND, None),
        Mount("tmpfs", "/proc/acpi", "tmpfs", RDONLY, None),  # a directory: bind of /dev/null gave ENOTDIR
    ]
    assert os.path.isfile(f"{r}/etc/escape/file.txt") and not os.path.exists("/etc/escape")


def test_pivot_root_and_hostname_order(bundle: str) -> None:
    sys_ = RecordingSyscalls()
    run_fs_steps(small_spec(bundle), bundle, sys_, [])
    r = os.path.join(bundle, "rootfs")
    tail = [c for c in sys_.calls if not isinstance(c, (Mknod, Chown))]
    i = tail.index(PivotRoot(".", "."))
    assert tail[i - 1] == Fchdir(r)
    assert tail[i + 1:i + 5] == [Fchdir("/"), Mount(None, ".", None, sc.MS_SLAVE | REC, None),
                                 Umount(".", sc.MNT_DETACH), Chdir("/")]
    # hostname after the pivot and the read-only root, before the read-only paths
    h = tail.index(Hostname("box"))
    assert tail.index(Mount(None, "/", None, BIND | REMOUNT | RDONLY, None)) < h
    assert h < tail.index(Mount("/proc/sys", "/proc/sys", None, BIND | REC, None))


def test_devices_symlinks_and_cwd(bundle: str) -> None:
    sys_ = RecordingSyscalls()
    run_fs_steps(small_spec(bundle), bundle, sys_, [])
    r = os.path.join(bundle, "rootfs")
    nodes = [c for c in sys_.calls if isinstance(c, Mknod)]
    assert [n.path for n in nodes] == [f"{r}/dev/{d}" for d in ("fuse", "null", "zero", "full", "random", "urandom",
                                                                "tty")]
    assert nodes[0] == Mknod(f"{r}/dev/fuse", 0o020000 | 0o600, os.makedev(10, 229))
    assert nodes[1].device == os.makedev(1, 3) and nodes[1].mode == 0o020000 | 0o666
    assert Chown(f"{r}/dev/fuse", 0, 0) in sys_.calls
    assert os.readlink(f"{r}/dev/ptmx") == "pts/ptmx"
    assert os.readlink(f"{r}/dev/fd") == "/proc/self/fd"
    assert os.readlink(f"{r}/dev/stderr") == "/proc/self/fd/2"
    assert os.path.isdir(f"{r}/work")


def test_mknod_refused_falls_back_to_binding_host_nodes(bundle: str) -> None:
    r = os.path.join(bundle, "rootfs")
    sys_ = RecordingSyscalls(fail={("mknod", f"{r}/dev/fuse"): 1})
    run_fs_steps(small_spec(bundle), bundle, sys_, [])
    binds = [m for m in sys_.mounts() if m.fstype == "bind" and m.target.startswith(f"{r}/dev/")]
    assert [m.source for m in binds] == ["/dev/fuse", "/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                         "/dev/urandom", "/dev/tty"]
    assert all(m.flags == BIND for m in binds)


def test_bind_over_dev_skips_device_setup(bundle: str) -> None:
    spec = small_spec(bundle)
    spec["mounts"] = [{"destination": "/dev", "type": "bind", "source": "/dev", "options": ["rbind"]}]
    sys_ = RecordingSyscalls()
    run_fs_steps(spec, bundle, sys_, [])
    assert not [c for c in sys_.calls if isinstance(c, Mknod)]


def test_no_pivot_moves_the_root_and_chroots(bundle: str) -> None:
    sys_ = RecordingSyscalls()
    run_fs_steps(small_spec(bundle), bundle, sys_, [], no_pivot=True)
    r = os.path.join(bundle, "rootfs")
    i = sys_.calls.index(Chdir(r))
    assert sys_.calls[i:i + 4] == [Chdir(r), Mount(r, "/", None, sc.MS_MOVE, None), Chroot("."), Chdir("/")]
    assert not [c for c in sys_.calls if isinstance(c, PivotRoot)]


def test_hooks_are_requested_from_the_parent_before_the_pivot(bundle: str) -> None:
    spec = small_spec(bundle)
    spec["hooks"] = {"createRuntime": [{"path": "/bin/true"}]}
    sys_ = RecordingSyscalls()
    chan = run_fs_steps(spec, bundle, sys_, [])
    assert chan.sent == [Msg.HOOKS, -Msg.HOOKS_DONE]


def test_read_only_dev_is_remounted_after_devices(bundle: str) -> None:
    spec = small_spec(bundle)
    spec["mounts"][1]["options"].append("ro")
    sys_ = RecordingSyscalls()
    run_fs_steps(spec, bundle, sys_, [])
    r = os.path.join(bundle, "rootfs")
    dev = [m for m in sys_.mounts() if m.target == f"{r}/dev"]
    assert dev[0].flags & RDONLY == 0
    assert dev[1] == Mount(None, f"{r}/dev", None, NOSUID | sc.MS_STRICTATIME | RDONLY | REMOUNT | RDONLY, None)
    last_mknod = max(i for i, c in enumerate(sys_.calls) if isinstance(c, Mknod))
    assert sys_.calls.index(dev[1]) > last_mknod


def test_cgroup2_only_host_binds_the_container_cgroup(bundle: str) -> None:
    spec = small_spec(bundle)
    sys_ = RecordingSyscalls()
    own = os.path.join(bundle, "data")  # stands for /sys/fs/cgroup/<path>
    run_fs_steps(spec, bundle, sys_, [rootfs.CgroupSource("", own, True)])
    r = os.path.join(bundle, "rootfs")
    cg = [m for m in sys_.mounts() if m.target == f"{r}/sys/fs/cgroup"]
    assert cg[0] == Mount(own, f"{r}/sys/fs/cgroup", "bind", BIND | REC, None)
    assert cg[1].flags & RDONLY and cg[1].flags & REMOUNT


# ---------------------------------------------------------------- option parsing and paths
@pytest.mark.parametrize(
    "options, flags, propagation, data",
    [
        (["ro", "nosuid", "nodev"], RDONLY | NOSUID | NODEV, [], ""),
        (["rw", "suid", "dev", "exec"], 0, [], ""),
        (["ro", "rw"], 0, [], ""),
        (["rbind", "rprivate", "slave"], BIND | REC, [sc.MS_PRIVATE | REC, sc.MS_SLAVE], ""),
        (["mode=755", "size=65536k", "nosuid"], NOSUID, [], "mode=755,size=65536k"),
        (["defaults", "tmpcopyup"], 0, [], ""),
        (["noatime", "atime"], 0, [], ""),
    ],
)
def test_parse_options(options: list[str], flags: int, propagation: list[int], data: str) -> None:
    got = rootfs.parse_options(options)
    assert (got.flags, got.propagation, got.data) == (flags, propagation, data)


def test_secure_join_stays_inside_the_root(tmp_path: t.Any) -> None:
    root = tmp_path / "r"
    (root / "a" / "b").mkdir(parents=True)
    os.symlink("../../../../..", root / "a" / "up")
    os.symlink("/a/b", root / "abs")
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    r = str(root)
    assert rootfs.secure_join(r, "/a/up/etc/passwd") == f"{r}/etc/passwd"
    assert rootfs.secure_join(r, "../../x") == f"{r}/x"
    assert rootfs.secure_join(r, "/abs/c") == f"{r}/a/b/c"
    assert rootfs.secure_join(r, "/") == r
    assert rootfs.secure_join(r, "/missing/../a") == f"{r}/a"
    with pytest.raises(OSError, match="too many levels"):
        rootfs.secure_join(r, "/loop1")


def test_cgroup_sources_on_a_hybrid_host(tmp_path: t.Any) -> None:
    proc = tmp_path / "self"
    proc.mkdir()
    (proc / "cgroup").write_text("9:name=systemd:/\n4:memory:/user/c1\n2:cpu,cpuacct:/c1\n1:pids:/c1\n0::/\n")
    (proc / "mountinfo").write_text(
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
        "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
        "50 23 0:50 / /mnt/with\\040space rw - ext4 /dev/x rw\n")
    got = rootfs.cgroup_sources(str(proc), cgroups_path="c1")
    assert [(s.name, s.path, s.controllers) for s in got] == [
        ("cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct/c1", "cpu,cpuacct"),
        ("memory", "/sys/fs/cgroup/memory/user/c1", "memory"),
        ("pids", "/sys/fs/cgroup/pids/c1", "pids"),
    ]


def test_allowed_device_rules_follow_the_spec_rules() -> None:
    res = cgroup_resources({"devices": [{"allow": False, "access": "rwm"}], "pids": {"limit": 5}})
    assert res["devices"][0] == {"allow": False, "access": "rwm"}
    assert {"allow": True, "type": "c", "major": 136, "access": "rwm"} in res["devices"]
    assert res["pids"] == {"limit": 5}
    assert cgroup_resources(None) == {}


# ---------------------------------------------------------------- namespaces
def test_namespace_plan_orders_and_flags() -> None:
    p = namespaces.plan([{"type": "pid"}, {"type": "network", "path": "/run/netns/x"}, {"type": "ipc"},
                         {"type": "uts"}, {"type": "mount"}, {"type": "user"}, {"type": "cgroup"}])
    assert p.new_user and p.fork
    assert p.join == [("network", "/run/netns/x")]
    assert p.unshare == ["mount", "uts", "ipc", "cgroup", "pid"]
    sys_ = RecordingSyscalls()
    namespaces.unshare_user(sys_)
    namespaces.unshare_rest(p, sys_)
    assert sys_.calls == [Unshare(sc.CLONE_NEWUSER), Unshare(sc.CLONE_NEWNS), Unshare(sc.CLONE_NEWUTS),
                          Unshare(sc.CLONE_NEWIPC), Unshare(sc.CLONE_NEWCGROUP), Unshare(sc.CLONE_NEWPID)]


def test_join_opens_every_path_first_user_first_mount_last(tmp_path: t.Any) -> None:
    paths = {}
    for name in ("user", "mnt", "net", "pid"):
        paths[name] = str(tmp_path / name)
        open(paths[name], "w").close()
    p = namespaces.plan([{"type": "mount", "path": paths["mnt"]}, {"type": "network", "path": paths["net"]},
                         {"type": "pid", "path": paths["pid"]}, {"type": "user", "path": paths["user"]}])
    assert not p.new_user and p.fork and not p.unshare
    sys_ = RecordingSyscalls()
    namespaces.join(namespaces.open_paths(p), sys_)
    # the network namespace before the user one: a bridge container's is the engine's (the host's user
    # namespace owns it), which cannot be joined from inside the container's user namespace
    assert sys_.calls == [Setns(paths["net"], sc.CLONE_NEWNET), Setns(paths["user"], sc.CLONE_NEWUSER),
                          Setns(paths["pid"], sc.CLONE_NEWPID), Setns(paths["mnt"], sc.CLONE_NEWNS)]


def test_join_takes_a_refused_network_namespace_after_the_user_one(tmp_path: t.Any) -> None:
    """A network namespace that the container's user namespace owns may refuse the early setns (not
    privileged in its owner): it is joined in the given order, after the user namespace."""
    paths = {}
    for name in ("user", "net"):
        paths[name] = str(tmp_path / name)
        open(paths[name], "w").close()

    class RefusesNetFirst(RecordingSyscalls):
        def setns(self, fd: int, nstype: int) -> None:
            if nstype == sc.CLONE_NEWNET and not any(c.nstype == sc.CLONE_NEWUSER for c in self.calls
                                                     if isinstance(c, Setns)):
                raise PermissionError(1, "Operation not permitted")
            super().setns(fd, nstype)

    sys_ = RefusesNetFirst()
    p = namespaces.plan([{"type": "network", "path": paths["net"]}, {"type": "user", "path": paths["user"]}])
    namespaces.join(namespaces.open_paths(p), sys_)
    assert sys_.calls == [Setns(paths["user"], sc.CLONE_NEWUSER), Setns(paths["net"], sc.CLONE_NEWNET)]


def test_join_names_the_missing_namespace_path(tmp_path: t.Any) -> None:
    p = namespaces.plan([{"type": "network", "path": str(tmp_path / "nope")}])
    with pytest.raises(FileNotFoundError, match="network namespace .*nope"):
        namespaces.open_paths(p)


def test_exec_plan_joins_the_init_namespaces(tmp_path: t.Any) -> None:
    proc = tmp_path / "proc"
    for pid in ("42", "self"):
        (proc / pid / "ns").mkdir(parents=True)
    for name in ("mnt", "pid", "net", "user"):
        (proc / "42" / "ns" / name).write_text("")
    os.link(proc / "42" / "ns" / "user", proc / "self" / "ns" / "user")  # same inode: already in it
    p = namespaces.exec_plan(42, [{"type": "pid"}, {"type": "mount"}, {"type": "network"}, {"type": "user"}],
                             proc=str(proc))
    assert p.join == [("network", f"{proc}/42/ns/net"), ("pid", f"{proc}/42/ns/pid"), ("mount", f"{proc}/42/ns/mnt")]
    assert p.fork and not p.unshare


@pytest.mark.parametrize("userns", [False, True])
def test_user_namespace_binds_a_mounted_rootfs_and_host_devices(bundle: str, userns: bool,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """An overlay rootfs is already a mount point; in a user namespace its copy is locked (pivot_root
    refuses it), so it is bound onto itself anyway, and devices are host nodes bound, never mknod'ed."""
    monkeypatch.setattr(rootfs, "_is_mount_point", lambda path: True)
    spec = small_spec(bundle)
    if userns:
        spec["linux"]["namespaces"].insert(0, {"type": "user"})
    sys_ = RecordingSyscalls()
    run_fs_steps(spec, bundle, sys_, [])
    r = os.path.join(bundle, "rootfs")
    assert (Mount(r, r, "bind", BIND | REC, None) in sys_.mounts()) is userns
    nodes = [c for c in sys_.calls if isinstance(c, Mknod)]
    binds = [m.source for m in sys_.mounts() if m.fstype == "bind" and m.target.startswith(f"{r}/dev/")]
    if userns:
        assert nodes == [] and "/dev/null" in binds and "/dev/fuse" in binds
    else:
        assert len(nodes) == 7 and binds == []

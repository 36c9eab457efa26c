# SPDX-License-Identifier: GPL-3.0-or-later
"""User namespaces end to end: ``userns-remap``, ``userns_mode``, the remapped-layer cache, three runtimes.

Every test reads and writes a copy of /etc (``HostFiles``) under a temporary directory, never the host's
/etc/passwd, group, subuid or subgid (a fixture checks they are unchanged). The data root lives below a
directory other users can traverse (/tmp/berth-userns-*, 0755): pytest's own tree is 0700, which the
remapped root could not cross (one test checks the error that names it).
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.api import Engine, Stdio
from ansible_collections.berth.engine.plugins.module_utils.engine.config.userns import HostFiles
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import (
    ConfigError,
    EngineError,
    InvalidOption,
    StoreError,
)
from ansible_collections.berth.engine.plugins.module_utils.engine.options.container import normalise_options
from ansible_collections.berth.engine.plugins.module_utils.engine.core.layout import Layout
from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor import idmap
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime.syscalls import LinuxSyscalls
from ansible_collections.berth.engine.plugins.module_utils.engine.store import remap
from tests.support.accounts import remap_accounts
from tests.support.images import docker_archive

pytestmark = [pytest.mark.functional, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

UID, GID = 200000, 300000  # the test account's ranges: different, so a swapped uid/gid shows
RUNTIMES = [
    "berth",
    pytest.param("runc", marks=pytest.mark.skipif(not shutil.which("runc"), reason="runc missing")),
    pytest.param("crun", marks=pytest.mark.skipif(not shutil.which("crun"), reason="crun missing")),
]
HOST_FILES = ("/etc/passwd", "/etc/group", "/etc/subuid", "/etc/subgid", "/etc/shadow", "/etc/gshadow")


def _snapshot() -> dict[str, bytes]:
    out = {}
    for path in HOST_FILES:
        try:
            with open(path, "rb") as fh:
                out[path] = fh.read()
        except FileNotFoundError:
            out[path] = b""
    return out


class Env:
    """A public top directory: etc/ (a copy of the account databases), daemon.json, root/."""

    def __init__(self, top: str) -> None:
        self.top = top
        self.etc = os.path.join(top, "etc")
        self.root = os.path.join(top, "root")
        self.config = os.path.join(top, "daemon.json")
        remap_accounts(top, UID, GID)

    def write(self, name: str, text: str) -> None:
        with open(os.path.join(self.etc, name), "w") as fh:
            fh.write(text)

    def engine(self, **daemon: t.Any) -> Engine:
        with open(self.config, "w") as fh:
            json.dump(daemon, fh)
        return Engine.open(data_root=self.root, config_path=self.config, lock_timeout=60,
                           host_files=HostFiles(self.top))


@pytest.fixture
def env(rootfs_tar: str) -> t.Iterator[Env]:
    before = _snapshot()
    top = tempfile.mkdtemp(prefix="berth-userns-")
    os.chmod(top, 0o755)
    e = Env(top)
    try:
        yield e
    finally:
        if os.path.isdir(e.root):
            eng = Engine.open(data_root=e.root, config_path=e.config, lock_timeout=60, host_files=HostFiles(top))
            for item in eng.containers.list(all=True):
                try:
                    eng.containers.remove(item["Id"], force=True)
                except EngineError:
                    pass
        with open("/proc/self/mountinfo") as fh:
            leaked = [ln for ln in fh if top in ln]
        shutil.rmtree(top, ignore_errors=True)
        assert leaked == [], f"leaked mounts: {leaked}"
        assert _snapshot() == before, "the host's account databases changed"


def _layers(root: str, idmapped: bool) -> None:
    """Decide the probe of supervisor/idmap.py: idmapped layers (where the kernel has them) or copies."""
    if idmapped and not idmap.supported(Layout(root), LinuxSyscalls()):
        pytest.skip("no idmapped overlay layers on this kernel or file system")
    os.makedirs(os.path.join(root, "runtime"), exist_ok=True)
    with open(os.path.join(root, "runtime", "idmap.json"), "w") as fh:
        json.dump({"kernel": os.uname().release, "supported": idmapped}, fh)


def _remap_engine(env: Env, rootfs_tar: str, idmapped: bool) -> Engine:
    _layers(env.root, idmapped)
    eng = env.engine(**{"userns-remap": "remap"})
    eng.images.import_(rootfs_tar, "bb:1")
    return eng


@pytest.fixture
def remapped(env: Env, rootfs_tar: str) -> Engine:
    """Remapping with layer copies (store/remap.py): what kernels without idmapped overlay layers get."""
    return _remap_engine(env, rootfs_tar, idmapped=False)


@pytest.fixture
def idmapped(env: Env, rootfs_tar: str) -> Engine:
    """Remapping with idmapped layers (supervisor/idmap.py), skipped where the kernel cannot."""
    return _remap_engine(env, rootfs_tar, idmapped=True)


def _opts(runtime: str = "berth", command: t.Sequence[str] = ("sleep", "60"), **more: t.Any) -> dict:
    if runtime != "berth":  # runc cannot exec into the engine's network namespace from a user namespace
        more.setdefault("network_mode", "none")
    return normalise_options({"image": "bb:1", "command": list(command), "runtime": runtime, **more})


def _exec(eng: Engine, cid: str, script: str) -> tuple[int, str]:
    r, w = os.pipe()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            data = os.read(r, 65536)
            if not data:
                break
            chunks.append(data)

    th = threading.Thread(target=drain)
    th.start()
    try:
        code = eng.containers.exec(cid, ["sh", "-c", script], stdio=Stdio(None, w, w))
    finally:
        os.close(w)
        th.join(10)
        os.close(r)
    return code, b"".join(chunks).decode()


def _status_ids(pid: int) -> tuple[str, str]:
    with open(f"/proc/{pid}/status") as fh:
        lines = dict(ln.split(":", 1) for ln in fh if ":" in ln)
    return lines["Uid"].split()[0], lines["Gid"].split()[0]


# ---------------------------------------------------------------- a remapped container, three runtimes
@pytest.mark.parametrize("layers", ["copies", "idmapped"])
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_remapped_container(request: t.Any, env: Env, runtime: str, layers: str) -> None:
    eng = request.getfixturevalue("remapped" if layers == "copies" else "idmapped")
    cid = eng.containers.create(_opts(runtime), name=f"u-{runtime}")
    eng.containers.start(cid)
    pid = eng.containers.inspect(cid)["State"]["Pid"]
    assert _status_ids(pid) == (str(UID), str(GID))  # the host sees the mapped root
    script = ("id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; stat -c %u:%g:%a /bin/busybox /; "
              "echo written > /root/new && cat /root/new; stat -c %u:%g /etc/hostname; "
              "echo ok > /etc/hostname && echo hostname-writable; ls -l /dev/null /dev/zero | wc -l; "
              "echo x > /dev/null && echo null-ok; grep -E '^(CapEff|Seccomp):' /proc/self/status; "
              "for f in /proc/kcore /proc/keys /proc/timer_list; do [ -e $f ] && "
              "[ \"$(head -c 1 $f 2>/dev/null | wc -c)\" != 0 ] && echo shown=$f; done; echo masked; "
              "touch /sys/x 2>/dev/null && echo sys=rw || echo sys=ro; ls /sys/fs/cgroup | wc -l")
    code, out = _exec(eng, cid, script)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "0" and lines[1] == "0"
    assert lines[2].split() == ["0", str(UID), "65536"] and lines[3].split() == ["0", str(GID), "65536"]
    assert lines[4].startswith("0:0:755") and lines[5].startswith("0:0:")  # the image's files are root's
    assert lines[6] == "written"
    assert lines[7] == "0:0" and lines[8] == "hostname-writable"
    assert lines[9] == "2" and lines[10] == "null-ok"
    assert "CapEff:\t00000000a80425fb" in out and "Seccomp:\t2" in out
    assert "shown=" not in out and "masked" in out and "sys=ro" in out
    assert int(lines[-1]) > 0  # cgroup hierarchies are mounted
    # on the host, the container's new file belongs to the mapped root
    upper = eng.containers.inspect(cid)["GraphDriver"]["Data"]["UpperDir"]
    st = os.stat(os.path.join(upper, "root", "new"))
    assert (st.st_uid, st.st_gid) == (UID, GID)
    eng.containers.stop(cid, timeout=1)
    eng.containers.remove(cid)


def test_idmapped_layers_copy_nothing_and_leave_no_mount(idmapped: Engine, env: Env) -> None:
    eng = idmapped
    cid = eng.containers.create(_opts(command=["sh", "-c", "stat -c %u:%g /bin/busybox; echo $$ > /root/pid; sleep 60"]),
                                name="idm")
    for dummy in range(2):  # a second start mounts again
        eng.containers.start(cid)
        code, out = _exec(eng, cid, "stat -c %u:%g /bin/busybox /; touch /bin/new && stat -c %u:%g /bin/new")
        assert code == 0 and out.split() == ["0:0", "0:0", "0:0"], out
        eng.containers.stop(cid, timeout=1)
    assert not os.path.exists(os.path.join(env.root, "layers-remap"))  # nothing copied
    cdir = os.path.join(env.root, "containers", cid)
    assert not os.path.exists(os.path.join(cdir, "idmapped"))  # the attached clones are gone again
    upper = os.path.join(cdir, "upper")
    for rel in ("bin/new", "root/pid"):  # written by the container: the mapped root's on the host
        st = os.stat(os.path.join(upper, rel))
        assert (st.st_uid, st.st_gid) == (UID, GID), rel
    (layer,) = os.listdir(os.path.join(env.root, "layers", "sha256"))
    assert eng.system.df()["LayersSize"] == eng.store.layers.size("sha256:" + layer)  # no copy takes room
    with open("/proc/self/mountinfo") as fh:
        assert [ln for ln in fh if env.root in ln] == []  # stopped: nothing mounted, no idmapped clone left
    eng.containers.remove(cid)


def _many_layers_archive(path: str, rootfs_tar: str, n: int) -> str:
    """A docker-archive of busybox plus *n* one-file layers (each a ``/layers/<i>`` file)."""
    import io
    import tarfile

    with open(rootfs_tar, "rb") as fh:
        layers = [fh.read()]
    for i in range(n):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
            data = f"layer {i}\n".encode()
            info = tarfile.TarInfo(f"layers/{i}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        layers.append(buf.getvalue())
    return docker_archive(path, layers, "tall:1")


@pytest.mark.parametrize("layers", ["copies", "idmapped"])
def test_remapped_image_with_a_long_layer_stack(request: t.Any, env: Env, rootfs_tar: str, tmp_path: t.Any,
                                                layers: str) -> None:
    """70 layers: the lowerdir option no longer fits in a page (idmapped clones are mounted from their
    directory with relative names; copies through the <root>/l/ links)."""
    eng = request.getfixturevalue("remapped" if layers == "copies" else "idmapped")
    eng.images.load(_many_layers_archive(str(tmp_path / "tall.tar"), rootfs_tar, 70))
    script = "cat /layers/0 /layers/69; stat -c %u /layers/69 /bin/busybox"
    opts = normalise_options({"image": "tall:1", "command": ["sh", "-c", script]})
    r, w = os.pipe()
    res = eng.containers.run(opts, detach=False, remove=True, stdio=Stdio(None, w, w))
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        out = fh.read().decode()
    assert res.exit_code == 0 and out.split() == ["layer", "0", "layer", "69", "0", "0"], out


@pytest.mark.parametrize("layers", ["copies", "idmapped"])
def test_volumes_of_a_remapped_container(request: t.Any, env: Env, layers: str) -> None:
    """Copy-up keeps the owners the remapped container sees (the host sees the mapped ones), and a new empty
    volume belongs to the mapped root, which can write to it."""
    eng = request.getfixturevalue("remapped" if layers == "copies" else "idmapped")
    cid = eng.containers.create(_opts(volumes=["tools:/bin", "fresh:/data"]), name="vols")
    eng.containers.start(cid)
    code, out = _exec(eng, cid, "stat -c %u:%g /bin/busybox /data; touch /bin/new /data/new && echo written")
    assert (code, out.split()) == (0, ["0:0", "0:0", "written"]), out
    tools, fresh = (eng.volumes.inspect(n)["Mountpoint"] for n in ("tools", "fresh"))
    st = os.stat(os.path.join(tools, "busybox"))
    assert (st.st_uid, st.st_gid) == (UID, GID)
    st = os.stat(fresh)
    assert (st.st_uid, st.st_gid) == (UID, GID)
    eng.containers.remove(cid, force=True)
    for name in ("tools", "fresh"):
        eng.volumes.remove(name)


@pytest.mark.parametrize("layers", ["copies", "idmapped"])
def test_export_and_diff_show_the_containers_own_owners(request: t.Any, env: Env, layers: str) -> None:
    """docker export maps a remapped container's host IDs back to its own: root's files are 0:0 in the tar,
    whether the container runs, or is stopped and its layers are mounted just for the export."""
    import io
    import tarfile

    eng = request.getfixturevalue("remapped" if layers == "copies" else "idmapped")
    script = "mkdir /app; echo hi > /app/f; chown -R 1000:1001 /app; touch /root/new; exec sleep 60"
    cid = eng.containers.create(_opts(command=["sh", "-c", script]), name="exp")
    eng.containers.start(cid)
    _exec(eng, cid, "while [ ! -e /root/new ]; do sleep 0.05; done")

    def owners() -> dict[str, tuple[int, int]]:
        buf = io.BytesIO()
        eng.containers.export(cid, buf)
        buf.seek(0)
        with tarfile.open(fileobj=buf) as tf:
            return {m.name: (m.uid, m.gid) for m in tf.getmembers()}

    running = owners()
    eng.containers.stop(cid, timeout=1)
    stopped = owners()
    for got in (running, stopped):
        assert got["bin/busybox"] == (0, 0) and got["root/new"] == (0, 0) and got["etc/passwd"] == (0, 0)
        assert got["app"] == (1000, 1001) and got["app/f"] == (1000, 1001)
    changed = {(c["Kind"], c["Path"]) for c in eng.containers.diff(cid)}
    assert {(1, "/app"), (1, "/app/f"), (1, "/root/new"), (0, "/root")} <= changed
    with open("/proc/self/mountinfo") as fh:
        assert [ln for ln in fh if env.root in ln] == []
    assert (layers == "copies") == os.path.exists(os.path.join(env.root, "layers-remap"))
    eng.containers.remove(cid)


def test_idmapped_refused_at_start_falls_back_to_copies(idmapped: Engine, env: Env,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe said yes, the kernel says no at a start (another file system, a changed kernel): the copies
    are made and used, and the next engine probes again."""
    def refuse(self: t.Any, fd: int, userns_fd: int) -> None:
        raise OSError(errno.EINVAL, f"mount_setattr fd {fd}: Invalid argument")

    monkeypatch.setattr(LinuxSyscalls, "mount_setattr_idmap", refuse)
    eng = idmapped
    res = eng.containers.run(_opts(command=["sh", "-c", "test $(stat -c %u /bin/busybox) = 0"]), detach=False,
                             remove=True)
    assert res.exit_code == 0
    assert os.listdir(os.path.join(env.root, "layers-remap", f"{UID}.{GID}-65536"))  # the copies
    assert not os.path.exists(os.path.join(env.root, "runtime", "idmap.json"))  # forgotten: probed again


def test_inspect_info_and_the_cache(remapped: Engine, env: Env, rootfs_tar: str) -> None:
    eng = remapped
    first = eng.containers.create(_opts(command=["true"]), name="one")
    info = eng.containers.inspect(first)
    assert info["HostConfig"]["UsernsMode"] == ""
    maps = info["Berth"]["IdMappings"]
    assert maps["User"] == "remap" and maps["uidMappings"] == [{"containerID": 0, "hostID": UID, "size": 65536}]
    assert maps["gidMappings"] == [{"containerID": 0, "hostID": GID, "size": 65536}]
    assert "name=userns" in eng.system.info()["SecurityOptions"]
    cache = os.path.join(env.root, "layers-remap", f"{UID}.{GID}-65536")
    (layer,) = os.listdir(cache)
    meta = os.path.join(cache, layer, "remap.json")
    stamp = os.stat(meta).st_mtime_ns
    busybox = os.stat(os.path.join(cache, layer, "diff", "bin", "busybox"))
    assert (busybox.st_uid, busybox.st_gid) == (UID, GID)
    original = os.stat(os.path.join(env.root, "layers", "sha256", layer, "diff", "bin", "busybox"))
    assert (original.st_uid, original.st_gid) == (0, 0)  # the image's own layer is untouched
    # a second container with the same mapping shares the copy
    second = eng.containers.create(_opts(command=["true"]), name="two")
    assert eng.containers.run(_opts(command=["true"]), detach=False, remove=True).exit_code == 0
    assert os.listdir(cache) == [layer] and os.stat(meta).st_mtime_ns == stamp
    # the container directory: reachable by the mapped root's group, owned files
    cdir = os.path.join(env.root, "containers", second)
    st = os.stat(cdir)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, GID, 0o710)
    for name in ("upper", "work", "rootfs", "hostname", "hosts", "resolv.conf"):
        st = os.stat(os.path.join(cdir, name))
        assert (st.st_uid, st.st_gid) == (UID, GID), name
    # system df counts the copy: it takes the layer's room again
    layer_size = eng.store.layers.size("sha256:" + layer)
    assert layer_size > 0 and eng.system.df()["LayersSize"] == 2 * layer_size
    # garbage collection keeps the copies containers use ...
    eng.containers.remove(first)
    assert eng.images.prune()["ImagesDeleted"] == []
    assert os.path.exists(meta)
    # ... and deletes the others, while the image and its layer stay
    eng.containers.remove(second)
    eng.images.prune()
    assert not os.path.exists(os.path.join(cache, layer))
    assert eng.system.df()["LayersSize"] == layer_size
    assert os.path.exists(os.path.join(env.root, "layers", "sha256", layer, "layer.json"))
    # the next container makes the copy again; removing the image deletes it with the layer
    third = eng.containers.create(_opts(command=["true"]))
    assert os.path.exists(meta)
    eng.containers.remove(third)
    eng.images.remove("bb:1")
    assert not os.path.exists(os.path.join(cache, layer))
    assert not os.path.exists(os.path.join(env.root, "layers", "sha256", layer))


def test_userns_mode_host_opts_out(remapped: Engine, env: Env) -> None:
    eng = remapped
    res = eng.containers.run(_opts(command=["sh", "-c", "cat /proc/self/uid_map; test $(stat -c %u /bin/busybox) = 0"],
                                   userns_mode="host"), detach=False, remove=True)
    assert res.exit_code == 0
    cid = eng.containers.create(_opts(command=["true"], userns_mode="host", privileged=True))
    assert eng.containers.inspect(cid)["HostConfig"]["UsernsMode"] == "host"
    assert eng.containers.inspect(cid)["Berth"]["IdMappings"] is None
    assert not os.path.exists(os.path.join(env.root, "layers-remap"))  # no copy for host containers


@pytest.mark.parametrize(
    "more, field",
    [({"privileged": True}, "privileged"), ({"network_mode": "host"}, "network_mode"), ({"pid_mode": "host"}, "pid_mode")],
)
def test_docker_rules_with_remap(remapped: Engine, more: dict, field: str) -> None:
    with pytest.raises(InvalidOption) as err:
        remapped.containers.create(_opts(command=["true"], **more))
    assert err.value.field == field and "userns_mode=host" in str(err.value)
    assert remapped.containers.list(all=True) == []


def test_private_without_remap_and_errors(env: Env, rootfs_tar: str) -> None:
    eng = env.engine()
    eng.images.import_(rootfs_tar, "bb:1")
    # no remap configured: a plain container has no user namespace
    cid = eng.containers.create(_opts(command=["true"]))
    assert eng.containers.inspect(cid)["Berth"]["IdMappings"] is None
    # private uses the default account (here present in the copy of /etc, with its ranges)
    with open(os.path.join(env.etc, "passwd"), "a") as fh:
        fh.write("berthremap:x:2001:2001::/nonexistent:/usr/sbin/nologin\n")
    with open(os.path.join(env.etc, "group"), "a") as fh:
        fh.write("berthremap:x:2001:\n")
    env.write("subgid", "berthremap:400000:65536\n")
    env.write("subuid", "berthremap:500000:65536\n")
    cid = eng.containers.create(_opts(command=["true"], userns_mode="private"))
    maps = eng.containers.inspect(cid)["Berth"]["IdMappings"]
    assert maps["uidMappings"][0]["hostID"] == 500000 and maps["gidMappings"][0]["hostID"] == 400000
    assert eng.containers.run(_opts(command=["sh", "-c", "grep -q 500000 /proc/self/uid_map"], userns_mode="private"),
                              detach=False, remove=True).exit_code == 0
    # a remap that names nobody: the error names the key and the value
    bad = env.engine(**{"userns-remap": "nosuchuser"})
    with pytest.raises(ConfigError) as cerr:
        bad.containers.create(_opts(command=["true"]))
    assert cerr.value.key == "userns-remap" and "nosuchuser" in str(cerr.value)


def test_default_account_is_created_in_the_copy(env: Env, rootfs_tar: str) -> None:
    """``userns-remap: default`` runs useradd/usermod --prefix against the copy of /etc."""
    if not shutil.which("useradd") and not os.path.exists("/usr/sbin/useradd"):
        pytest.skip("useradd missing")
    env.write("subuid", "someone:100000:65536\n")  # taken: the default range moves past it
    env.write("subgid", "")
    eng = env.engine(**{"userns-remap": "default"})
    eng.images.import_(rootfs_tar, "bb:1")
    cid = eng.containers.create(_opts(command=["true"]))
    maps = eng.containers.inspect(cid)["Berth"]["IdMappings"]
    assert maps["User"] == "berthremap"
    assert maps["uidMappings"] == [{"containerID": 0, "hostID": 165536, "size": 65536}]
    assert maps["gidMappings"] == [{"containerID": 0, "hostID": 100000, "size": 65536}]
    with open(os.path.join(env.etc, "passwd")) as fh:
        assert any(ln.startswith("berthremap:") for ln in fh)
    # a second create finds everything in place (no second range)
    eng.containers.create(_opts(command=["true"]))
    with open(os.path.join(env.etc, "subuid")) as fh:
        assert fh.read().count("berthremap") == 1


def test_data_root_below_a_private_directory(tmp_path: t.Any, rootfs_tar: str) -> None:
    top = tmp_path / "top"  # pytest's tree: 0700, the remapped root cannot cross it
    etc = top / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("remap:x:2000:2000::/:/bin/false\n")
    (etc / "group").write_text("remap:x:2000:\n")
    (etc / "subuid").write_text(f"remap:{UID}:65536\n")
    (etc / "subgid").write_text(f"remap:{GID}:65536\n")
    (top / "daemon.json").write_text(json.dumps({"userns-remap": "remap"}))
    eng = Engine.open(data_root=str(top / "root"), config_path=str(top / "daemon.json"), host_files=HostFiles(str(top)))
    eng.images.import_(rootfs_tar, "bb:1")
    with pytest.raises(ConfigError) as err:
        eng.containers.create(_opts(command=["true"]))
    assert err.value.key == "data-root" and "o+x" in str(err.value)
    assert eng.containers.list(all=True) == []


# ---------------------------------------------------------------- the shifted copy itself
def test_shift_copy_keeps_everything_and_whiteouts_work(tmp_path: t.Any) -> None:
    src = tmp_path / "src"
    (src / "dir" / "opaque").mkdir(parents=True)
    (src / "dir" / "opaque" / "kept").write_text("kept")
    os.setxattr(src / "dir" / "opaque", "trusted.overlay.opaque", b"y")
    (src / "suid").write_bytes(b"#!/bin/sh\n")
    os.chown(src / "suid", 0, 0)
    os.chmod(src / "suid", 0o4755)
    (src / "sgid-dir").mkdir()
    os.chmod(src / "sgid-dir", 0o2775)
    (src / "data").write_bytes(os.urandom(300000))
    os.chown(src / "data", 1000, 50)
    os.link(src / "data", src / "dir" / "hardlink")
    try:
        os.setxattr(src / "data", "user.note", b"hello")
        user_xattrs = True
    except OSError as exc:  # tmpfs before Linux 6.6 has no user.* xattrs
        if exc.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        user_xattrs = False
    os.setxattr(src / "suid", "security.capability",
                bytes.fromhex("0100000200200000000000000000000000000000"))  # cap_net_bind_service
    os.mknod(src / "gone", stat.S_IFCHR | 0o600, os.makedev(0, 0))  # an overlay whiteout
    os.mknod(src / "fifo", stat.S_IFIFO | 0o640)
    os.symlink("data", src / "link")
    os.lchown(src / "link", 7, 8)
    os.utime(src / "data", ns=(1_000_000_000, 2_000_000_000))

    def shift(uid: int, gid: int) -> tuple[int, int]:
        if uid >= 65536 or gid >= 65536:
            raise ValueError("outside")
        return uid + UID, gid + GID

    dst = str(tmp_path / "dst")
    assert remap.shift_copy(str(src), dst, shift) == 10
    st = os.lstat(os.path.join(dst, "suid"))
    assert stat.S_IMODE(st.st_mode) == 0o4755 and (st.st_uid, st.st_gid) == (UID, GID)
    assert os.getxattr(os.path.join(dst, "suid"), "security.capability")[:4] in (
        bytes.fromhex("01000002"), bytes.fromhex("01000003"))
    assert stat.S_IMODE(os.stat(os.path.join(dst, "sgid-dir")).st_mode) == 0o2775
    data = os.stat(os.path.join(dst, "data"))
    assert (data.st_uid, data.st_gid) == (1000 + UID, 50 + GID) and data.st_mtime_ns == 2_000_000_000
    assert data.st_ino == os.stat(os.path.join(dst, "dir", "hardlink")).st_ino and data.st_nlink == 2
    with open(os.path.join(dst, "data"), "rb") as a, open(src / "data", "rb") as b:
        assert a.read() == b.read()
    if user_xattrs:
        assert os.getxattr(os.path.join(dst, "data"), "user.note") == b"hello"
    assert os.getxattr(os.path.join(dst, "dir", "opaque"), "trusted.overlay.opaque") == b"y"
    gone = os.lstat(os.path.join(dst, "gone"))
    assert stat.S_ISCHR(gone.st_mode) and gone.st_rdev == 0
    assert stat.S_ISFIFO(os.lstat(os.path.join(dst, "fifo")).st_mode)
    link = os.lstat(os.path.join(dst, "link"))
    assert os.readlink(os.path.join(dst, "link")) == "data" and (link.st_uid, link.st_gid) == (7 + UID, 8 + GID)
    top = os.lstat(dst)
    assert (top.st_uid, top.st_gid) == (os.lstat(src).st_uid + UID, os.lstat(src).st_gid + GID)

    # the whiteout and the opaque directory still work as a lower layer below another one
    lower = tmp_path / "lower"
    (lower / "dir" / "opaque").mkdir(parents=True)
    (lower / "dir" / "opaque" / "hidden").write_text("x")
    (lower / "gone").write_text("x")
    merged = tmp_path / "merged"
    merged.mkdir()
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={dst}:{lower}", str(merged)], check=True)
    try:
        assert not os.path.exists(merged / "gone")
        assert sorted(os.listdir(merged / "dir" / "opaque")) == ["kept"]
    finally:
        subprocess.run(["umount", str(merged)], check=True)

    # an owner the mapping does not cover is an error naming the file
    os.chown(src / "data", 70000, 0)
    with pytest.raises(StoreError) as err:
        remap.shift_copy(str(src), str(tmp_path / "dst2"), shift, "layer sha256:x")
    assert "/data is owned by 70000:0" in str(err.value)


def test_remapped_layers_are_complete_before_use_and_go_with_their_layer(tmp_path: t.Any) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.engine.core.layout import Layout
    from ansible_collections.berth.engine.plugins.module_utils.engine.store.layers import LayerStore

    layout = Layout(str(tmp_path / "root"))
    diff_id = "sha256:" + "ab" * 32
    os.makedirs(os.path.join(layout.layer_diff(diff_id), "bin"))
    with open(os.path.join(layout.layer_diff(diff_id), "bin", "sh"), "w") as fh:
        fh.write("sh")
    with open(layout.layer_meta(diff_id), "w") as fh:
        fh.write("{}")
    cache = remap.RemappedLayers(layout, "7.8-10", lambda u, g: (u + 7, g + 8))
    # a leftover without remap.json (a crash before the rename completed it) is not used but replaced
    os.makedirs(os.path.join(layout.remap_layer_diff("7.8-10", diff_id), "junk"))
    assert not cache.complete(diff_id)
    (path,) = cache.ensure([diff_id])
    assert path == layout.remap_layer_diff("7.8-10", diff_id)
    assert sorted(os.listdir(path)) == ["bin"] and os.stat(os.path.join(path, "bin", "sh")).st_uid == 7
    assert cache.complete(diff_id) and os.listdir(layout.tmp_dir) == []
    with open(layout.remap_layer_meta("7.8-10", diff_id)) as fh:
        assert json.load(fh) == {"diff_id": diff_id, "key": "7.8-10", "entries": 2}
    assert cache.ensure([diff_id]) == [path]  # reused
    with pytest.raises(StoreError):
        remap.RemappedLayers(layout, "../x", lambda u, g: (u, g))
    with pytest.raises(StoreError):
        cache.ensure(["sha256:" + "cd" * 32])  # no such layer
    LayerStore(layout, None).remove(diff_id)  # type: ignore[arg-type]
    assert not os.path.exists(layout.remap_layer_dir("7.8-10", diff_id))
    assert not os.path.exists(layout.layer_dir(diff_id))


def test_nothing_of_it_is_loaded_when_remapping_is_off(tmp_path: t.Any, rootfs_tar: str) -> None:
    """The start path of a plain container never imports config/userns.py or store/remap.py."""
    import sys

    script = f"""
import sys
from ansible_collections.berth.engine.plugins.module_utils.engine.api import Engine
from ansible_collections.berth.engine.plugins.module_utils.engine.options.container import normalise_options
eng = Engine.open(data_root={str(tmp_path / 'root')!r}, config_path={str(tmp_path / 'daemon.json')!r})
eng.images.import_({rootfs_tar!r}, "bb:1")
res = eng.containers.run(normalise_options({{"image": "bb:1", "command": ["true"]}}), detach=False, remove=True)
base = "ansible_collections.berth.engine.plugins.module_utils.engine."
print(res.exit_code, sorted(m for m in (base + "config.userns", base + "store.remap") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    assert out.split("\n")[-2] == "0 []"


@pytest.mark.parametrize("layers", ["copies", "idmapped"])
def test_cp_maps_owners_through_the_containers_mapping(request: t.Any, env: Env, layers: str,
                                                       tmp_path: t.Any) -> None:
    """docker cp into a remapped container: files belong to the container's root as mapped, ``-a`` maps
    the source's owners through the mapping; out of it with ``-a``: the owners the container sees."""
    import io
    import tarfile

    eng = request.getfixturevalue("remapped" if layers == "copies" else "idmapped")
    cid = eng.containers.create(_opts(command=["sh", "-c", "touch /ready; exec sleep 60"]), name="cp")
    src = tmp_path / "f"
    src.write_bytes(b"f\n")
    os.chown(src, 1000, 1001)
    eng.containers.cp_to(cid, str(src), "/stopped-plain")  # stopped: through an overlay mounted for it
    eng.containers.cp_to(cid, str(src), "/stopped-archive", archive=True)
    eng.containers.start(cid)
    _exec(eng, cid, "while [ ! -e /ready ]; do sleep 0.05; done")
    eng.containers.cp_to(cid, str(src), "/running-plain")
    eng.containers.cp_to(cid, str(src), "/running-archive", archive=True)
    rc, out = _exec(eng, cid, "stat -c %u:%g /stopped-plain /stopped-archive /running-plain /running-archive")
    assert (rc, out.split()) == (0, ["0:0", "1000:1001", "0:0", "1000:1001"])
    buf = io.BytesIO()
    eng.containers.cp_from(cid, "/running-archive", buf, archive=True)
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tf:
        assert [(m.name, m.uid, m.gid) for m in tf.getmembers()] == [("running-archive", 1000, 1001)]
    eng.containers.remove(cid, force=True)
    with open("/proc/self/mountinfo") as fh:
        assert [ln for ln in fh if env.root in ln] == []

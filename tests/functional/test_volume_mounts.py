# SPDX-License-Identifier: GPL-3.0-or-later
"""Volumes and mounts in real containers: named volumes outlive containers, copy-up happens once, ro is
read-only, a tmpfs keeps to its size, removal is refused while in use, rm -v removes anonymous volumes only,
prune keeps what is in use, binds never cover the data root."""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.api import Engine, Stdio
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import (
    EngineError, InvalidOption, NotFound, VolumeInUse,
)
from ansible_collections.berth.engine.plugins.module_utils.engine.options.container import normalise_options
from tests.support.attached import run_attached

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def data_image_tar(busybox_rootfs: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """busybox plus /data (a file owned by 1000:1001, mode 0640, an xattr; a directory 0700) and /etc/app."""
    root = str(tmp_path_factory.mktemp("data-image") / "rootfs")
    shutil.copytree(busybox_rootfs, root, symlinks=True)
    os.makedirs(root + "/data/sub")
    with open(root + "/data/seed.txt", "w") as fh:
        fh.write("from the image\n")
    os.chown(root + "/data/seed.txt", 1000, 1001)
    os.chmod(root + "/data/seed.txt", 0o640)
    os.setxattr(root + "/data/seed.txt", "user.origin", b"image")
    os.chmod(root + "/data/sub", 0o700)
    os.makedirs(root + "/etc/app")
    with open(root + "/etc/app/app.conf", "w") as fh:
        fh.write("conf\n")
    path = root + ".tar"
    # GNU tar records xattrs (SCHILY.xattr.*), which Python's tarfile does not
    subprocess.run(["tar", "--xattrs", "--xattrs-include=user.*", "-C", root, "-cf", path, "."], check=True)
    return path


@pytest.fixture
def eng(tmp_path: t.Any, rootfs_tar: str, data_image_tar: str) -> t.Iterator[Engine]:
    root = str(tmp_path / "root")
    engine = Engine.open(data_root=root, config_path=str(tmp_path / "daemon.json"), lock_timeout=60)
    engine.images.import_(rootfs_tar, "bb:1")
    engine.images.import_(data_image_tar, "data:1")
    engine.images.import_(data_image_tar, "withvol:1", changes=["VOLUME /data"])
    yield engine
    for item in engine.containers.list(all=True):
        try:
            engine.containers.remove(item["Id"], force=True, volumes=True)
        except EngineError:
            pass
    for volume in engine.volumes.list():
        engine.volumes.remove(volume["Name"], force=True)
    with open("/proc/self/mountinfo") as fh:
        assert [ln for ln in fh if root in ln] == []


def run(eng: Engine, script: str, image: str = "bb:1", name: str | None = None, remove: bool = True,
        **params: t.Any) -> tuple[int, str, str]:
    """An attached ``sh -c script``; returns (exit code, stdout, stderr)."""
    opts = normalise_options({"image": image, "command": ["sh", "-c", script], **params})
    res, out, err = run_attached(lambda w_out, w_err: eng.containers.run(
        opts, name=name, detach=False, stdio=Stdio(None, w_out, w_err), remove=remove))
    return res.exit_code, out, err


def test_named_volume_outlives_its_container(eng: Engine) -> None:
    code, _out, err = run(eng, "echo kept > /srv/page.html", volumes=["site:/srv"])
    assert code == 0, err
    assert eng.volumes.inspect("site")["Labels"] == {}  # made by the mount: a named, not an anonymous volume
    code, out, err = run(eng, "cat /srv/page.html", volumes=["site:/srv/"])
    assert (code, out) == (0, "kept\n"), err


def test_copy_up_once_with_owners_modes_xattrs(eng: Engine) -> None:
    script = "stat -c '%n %u:%g %a' /data/seed.txt /data/sub; cat /data/seed.txt; rmdir /data/sub"
    code, out, err = run(eng, script, image="data:1", volumes=["vol:/data"])
    assert code == 0, err
    assert "/data/seed.txt 1000:1001 640" in out and "/data/sub 0:0 700" in out and "from the image" in out
    data = eng.volumes.inspect("vol")["Mountpoint"]
    assert os.getxattr(data + "/seed.txt", "user.origin") == b"image"
    assert not os.path.exists(data + "/sub")  # the container removed it
    code, out, err = run(eng, "ls /data", image="data:1", volumes=["vol:/data"])
    assert (code, out) == (0, "seed.txt\n"), err  # never copied again


def test_nocopy_and_bind_and_ro(eng: Engine, tmp_path: t.Any) -> None:
    code, out, err = run(eng, "ls -A /data; echo x > /data/f && echo rw", image="data:1",
                         mounts=[{"type": "volume", "source": "empty", "target": "/data",
                                  "volume_options": {"nocopy": True}}])
    assert (code, out) == (0, "rw\n"), err
    host = str(tmp_path / "host")
    code, out, err = run(eng, "cat /h/f; echo y > /h/g || echo refused", volumes=["empty:/h:ro"])
    assert code == 0 and out == "x\nrefused\n", err
    code, _out, err = run(eng, "echo z > /mnt/b/new", volumes=[f"{host}/made:/mnt/b"])  # -v makes the host dir
    assert code == 0, err
    assert open(host + "/made/new").read() == "z\n"
    with pytest.raises(InvalidOption, match="bind source path does not exist"):
        run(eng, "true", mounts=[{"type": "bind", "source": host + "/missing", "target": "/m"}])
    with pytest.raises(InvalidOption, match="may not cover the engine's data root"):
        run(eng, "true", volumes=[f"{os.path.dirname(eng.root)}:/m"])
    with pytest.raises(InvalidOption, match="may not cover the engine's data root"):
        run(eng, "true", mounts=[{"type": "bind", "source": eng.root + "/volumes", "target": "/m"}])


def test_tmpfs_mount_keeps_its_size(eng: Engine) -> None:
    script = ("stat -c %a /t; dd if=/dev/zero of=/t/a bs=1k count=64 2>/dev/null && echo fits; "
              "dd if=/dev/zero of=/t/b bs=1k count=2048 2>/dev/null || echo full")
    tmpfs = {"type": "tmpfs", "target": "/t", "tmpfs_size": "1m", "tmpfs_mode": "0700"}
    code, out, err = run(eng, script, mounts=[tmpfs])
    assert (code, out) == (0, "700\nfits\nfull\n"), err


def test_tmpfs_volume_driver_option(eng: Engine) -> None:
    eng.volumes.create("fast", driver_options={"type": "tmpfs", "o": "size=1m"})
    code, out, err = run(eng, "echo a > /f/a; dd if=/dev/zero of=/f/b bs=1k count=2048 2>/dev/null || echo full",
                         volumes=["fast:/f"])
    assert (code, out) == (0, "full\n"), err
    code, out, err = run(eng, "cat /f/a", volumes=["fast:/f"])
    assert (code, out) == (0, "a\n"), err
    eng.volumes.remove("fast")  # unmounts it


def test_anonymous_volumes_rm_v_and_prune(eng: Engine) -> None:
    code, _out, err = run(eng, "echo 1 > /data/n; echo 2 > /cache/n", image="withvol:1", name="keep",
                          remove=False, volumes=["named:/named", "/cache"])
    assert code == 0, err
    record = eng.containers.inspect("keep")
    anon = sorted(m["Name"] for m in record["Mounts"] if m["Type"] == "volume" and m["Name"] != "named")
    assert len(anon) == 2 and all(len(n) == 64 for n in anon)  # image VOLUME /data and bare -v /cache
    with pytest.raises(VolumeInUse, match="in use by container.s. keep"):
        eng.volumes.remove("named")
    assert eng.volumes.prune(all=True)["VolumesDeleted"] == []  # all in use by the stopped container
    eng.containers.remove("keep", volumes=True)
    assert [v["Name"] for v in eng.volumes.list()] == ["named"]  # rm -v: anonymous ones only

    code, _out, err = run(eng, "true", image="withvol:1", name="again", remove=False)
    assert code == 0, err
    eng.containers.remove("again")
    left = [v["Name"] for v in eng.volumes.list(filters={"dangling": True})]
    assert len(left) == 2 and "named" in left  # rm without -v: the anonymous volume stays, dangling
    pruned = eng.volumes.prune()["VolumesDeleted"]
    assert len(pruned) == 1 and pruned[0] != "named"
    assert [v["Name"] for v in eng.volumes.list()] == ["named"]


def _removed(eng: Engine, cid: str) -> None:
    """Wait until the ``--rm`` container *cid* is gone (its monitor removes it)."""
    try:
        eng.containers.wait(cid, condition="removed")
    except NotFound:
        pass


@pytest.mark.parametrize("runtime", ["berth", pytest.param("runc", marks=pytest.mark.skipif(
    not shutil.which("runc"), reason="runc missing"))])
def test_detached_rm_container_takes_its_anonymous_volumes(eng: Engine, runtime: str) -> None:
    """docker run -d --rm: the container's anonymous volumes go with it (the monitor marks them, the volume
    component removes them), unless another container mounts them; named volumes stay."""
    opts = normalise_options({"image": "withvol:1", "command": ["sh", "-c", "echo x > /cache/f"],
                              "volumes": ["named:/named", "/cache"], "runtime": runtime})
    _removed(eng, eng.containers.run(opts, detach=True, remove=True).id)
    assert [v["Name"] for v in eng.volumes.list()] == ["named"]

    # stopped, and its anonymous volumes shared through volumes_from: those stay, dangling once unused
    opts = normalise_options({"image": "withvol:1", "command": ["sleep", "600"], "volumes": ["/cache"],
                              "runtime": runtime})
    cid = eng.containers.run(opts, name="src", detach=True, remove=True).id
    anon = sorted(m["Name"] for m in eng.containers.inspect(cid)["Mounts"] if m["Type"] == "volume")
    eng.containers.create(normalise_options({"image": "bb:1", "command": ["true"], "volumes_from": ["src"]}),
                          name="user")
    eng.containers.stop("src", timeout=0)
    _removed(eng, cid)
    assert sorted(v["Name"] for v in eng.volumes.list()) == sorted(anon + ["named"])
    eng.containers.remove("user", volumes=True)  # not its own anonymous volumes: they stay
    assert sorted(eng.volumes.prune()["VolumesDeleted"]) == anon


def test_rm_of_a_stopped_rm_container_keeps_its_volumes_unless_v(eng: Engine) -> None:
    """An --rm container that never ran is removed as any other: ``rm`` keeps its anonymous volumes (dangling),
    ``rm -v`` takes them, as documented in volumes.rst."""
    opts = normalise_options({"image": "withvol:1", "command": ["true"], "auto_remove": True})
    eng.containers.create(opts, name="kept")
    kept = [m["Name"] for m in eng.containers.inspect("kept")["Mounts"]]
    eng.containers.remove("kept")
    assert [v["Name"] for v in eng.volumes.list(filters={"dangling": True})] == kept
    eng.containers.create(opts, name="taken")
    eng.containers.remove("taken", volumes=True)
    assert [v["Name"] for v in eng.volumes.list()] == kept


def test_prune_waits_for_creates_between_their_volumes_and_records(eng: Engine, monkeypatch: t.Any) -> None:
    """10 creates hold between ensuring their volumes and writing their records while a prune runs: the
    prune waits for them (the volumes' use locks), then finds every volume in use. Deterministic: the creates
    go on only once the prune waits for a lock (or has finished, without the locks)."""
    from ansible_collections.berth.engine.plugins.module_utils.engine.core import locks
    from ansible_collections.berth.engine.plugins.module_utils.engine.services.containers import create

    count = 10
    ensured = [threading.Event() for dummy in range(count)]
    go = threading.Event()
    write_files, wait = create._write_files, locks._wait

    def paused(svc: t.Any, record: t.Any) -> None:
        ensured[int(record.name.split("-")[1])].set()
        go.wait()
        write_files(svc, record)

    def waiting(*args: t.Any) -> None:
        go.set()  # the prune waits for a lock a create holds: let the creates write their records
        wait(*args)

    monkeypatch.setattr(create, "_write_files", paused)
    monkeypatch.setattr(locks, "_wait", waiting)
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            eng.containers.create(normalise_options({"image": "withvol:1", "command": ["true"], "volumes": [
                "shared:/shared", f"own{i}:/own", "/cache"]}), name=f"c-{i}")
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
            ensured[i].set()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for event in ensured:
        event.wait()
    pruned = eng.volumes.prune(all=True)
    go.set()
    for thread in threads:
        thread.join()
    assert errors == []
    assert pruned["VolumesDeleted"] == []
    names = {m["Name"] for i in range(count) for m in eng.containers.inspect(f"c-{i}")["Mounts"]}
    assert len(names) == 1 + 3 * count  # shared, own<i>, the image's /data and /cache of each
    assert names <= {v["Name"] for v in eng.volumes.list()}


def test_volumes_from(eng: Engine) -> None:
    code, _out, err = run(eng, "echo shared > /srv/f", name="src", remove=False, volumes=["shared:/srv"])
    assert code == 0, err
    code, out, err = run(eng, "cat /srv/f; echo no > /srv/f || echo refused", volumes_from=["src:ro"])
    assert (code, out) == (0, "shared\nrefused\n"), err
    eng.containers.remove("src")


def test_system_df_counts_volumes(eng: Engine) -> None:
    code, _out, err = run(eng, "head -c 5000 /dev/zero > /v/f", volumes=["big:/v"])
    assert code == 0, err
    volumes = {v["Name"]: v["UsageData"] for v in eng.system.df()["Volumes"]}
    assert volumes["big"] == {"Size": 5000, "RefCount": 0}
    assert eng.system.prune()["SpaceReclaimed"] >= 0 and eng.volumes.exists("big")  # system prune keeps volumes


RUNTIMES = ["berth", pytest.param("runc", marks=pytest.mark.skipif(not shutil.which("runc"), reason="runc missing"))]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_read_only_rootfs_with_volumes(eng: Engine, runtime: str) -> None:
    """Mounts work on a read-only root file system, with berth-runtime's bundles and with runc's."""
    script = "echo a > /data/f && echo data-rw; echo b > /etc/f 2>/dev/null || echo etc-ro; cat /data/f"
    code, out, err = run(eng, script, image="data:1", read_only=True, runtime=runtime,
                         volumes=[f"ro-{runtime}:/data"], mounts=[{"type": "tmpfs", "target": "/run/x"}])
    assert (code, out) == (0, "data-rw\netc-ro\na\n"), err


def _exec(eng: Engine, cid: str, script: str) -> str:
    code, out, err = run_attached(lambda w_out, w_err: eng.containers.exec(
        cid, ["sh", "-c", script], stdio=Stdio(None, w_out, w_err)))
    assert code == 0, err
    return out


@pytest.mark.parametrize("propagation, seen", [("rprivate", False), ("rslave", True)])
def test_bind_propagation(eng: Engine, tmp_path: t.Any, propagation: str, seen: bool) -> None:
    """A mount made on the host below a bind source after the start reaches an rslave bind, not an rprivate one."""
    src = str(tmp_path / "shared")
    os.makedirs(src + "/later")
    subprocess.run(["mount", "--bind", src, src], check=True)
    try:
        subprocess.run(["mount", "--make-rshared", src], check=True)
        opts = normalise_options({"image": "bb:1", "command": ["sleep", "60"],
                                  "mounts": [{"type": "bind", "source": src, "target": "/h",
                                              "propagation": propagation}]})
        cid = eng.containers.create(opts, name=f"prop-{propagation}")
        eng.containers.start(cid)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "later", src + "/later"], check=True)
        try:
            with open(src + "/later/marker", "w") as fh:
                fh.write("from the host\n")
            out = _exec(eng, cid, "cat /h/later/marker 2>/dev/null || echo unseen")
            assert out == ("from the host\n" if seen else "unseen\n")
        finally:
            eng.containers.remove(cid, force=True)
            subprocess.run(["umount", src + "/later"], check=True)
    finally:
        subprocess.run(["umount", "-l", src], check=True)


@pytest.mark.skipif(not shutil.which("mkfs.ext4"), reason="mkfs.ext4 missing")
def test_block_device_volume(eng: Engine, tmp_path: t.Any) -> None:
    """``type=ext4,device=…``: the file system is mounted on the volume at its first use (a file system image
    stands in for the device: mount(8) sets up the loop device) and unmounted when the volume is removed."""
    image = str(tmp_path / "disk.img")
    with open(image, "wb") as fh:
        fh.truncate(8 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", image], check=True)
    eng.volumes.create("disk", driver_options={"type": "ext4", "device": image})
    code, out, err = run(eng, "echo on-disk > /d/f; grep -c ' /d ext4 ' /proc/mounts", volumes=["disk:/d"])
    assert (code, out) == (0, "1\n"), err
    eng.volumes.remove("disk")
    if shutil.which("debugfs"):  # written to the device's file system, which outlives the volume
        check = subprocess.run(["debugfs", "-R", "cat /f", image], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, check=False)
        assert check.stdout == b"on-disk\n"

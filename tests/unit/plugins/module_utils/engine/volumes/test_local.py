# SPDX-License-Identifier: GPL-3.0-or-later
"""``volumes.local``: volume records, driver options, mounts through the injected runner, and copy-up (owners,
modes, xattrs; once; a copy cut short finished by the next mount, never taken for the volume's own content)."""
from __future__ import annotations

import os
import subprocess
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.core.layout import Layout
from ansible_collections.berth.engine.plugins.module_utils.engine.core.locks import flock
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import (
    InvalidOption, NotFound, UntrustedPath, VolumeError,
)
from ansible_collections.berth.engine.plugins.module_utils.engine.volumes import (
    ANONYMOUS_LABEL, LocalVolumes, check_driver_options,
)
from ansible_collections.berth.engine.plugins.module_utils.engine.volumes.local import STAGING


@pytest.fixture
def layout(tmp_path: t.Any) -> Layout:
    os.chmod(tmp_path, 0o755)
    return Layout(str(tmp_path / "root"))


@pytest.fixture
def vols(layout: Layout) -> LocalVolumes:
    return LocalVolumes(layout, lock_timeout=5)


def _tree(root: str) -> dict[str, tuple[int, int, int, bytes | None]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            data = open(path, "rb").read() if os.path.isfile(path) and not os.path.islink(path) else None
            out[os.path.relpath(path, root)] = (st.st_uid, st.st_gid, st.st_mode, data)
    return out


def _image_dir(tmp_path: t.Any) -> str:
    src = str(tmp_path / "image" / "data")
    os.makedirs(src + "/sub")
    with open(src + "/a.txt", "w") as fh:
        fh.write("from the image")
    with open(src + "/sub/b.bin", "wb") as fh:
        fh.write(b"\0" * 4096)
    os.chown(src + "/a.txt", 1000, 1001)
    os.chmod(src + "/a.txt", 0o640)
    os.chown(src + "/sub", 100000, 100000)
    os.chmod(src, 0o1777)
    os.chown(src, 33, 33)
    os.setxattr(src + "/a.txt", "user.origin", b"image")
    os.symlink("a.txt", src + "/link")
    return src


def test_create_get_list_remove(vols: LocalVolumes, layout: Layout) -> None:
    volume, created = vols.create("data", labels={"app": "web"})
    assert created and volume.name == "data" and volume.labels == {"app": "web"} and volume.created_at
    again, created = vols.create("data", labels={"other": "x"})
    assert not created and again == volume  # an existing volume is returned as it is (Docker)
    assert os.stat(layout.volume_record("data")).st_mode & 0o777 == 0o600
    anon, dummy = vols.create(None)
    assert anon.anonymous and anon.labels == {ANONYMOUS_LABEL: ""} and len(anon.name) == 64
    assert [v.name for v in vols.list()] == sorted(["data", anon.name])
    vols.remove("data")
    assert not os.path.exists(layout.volume_dir("data"))
    with pytest.raises(NotFound, match="No such volume: data"):
        vols.get("data")


def test_remove_asks_keep_under_the_use_lock(vols: LocalVolumes, layout: Layout) -> None:
    vols.create("v1")
    seen = []

    def keep(name: str) -> bool:
        with pytest.raises(Exception, match="volume-v1.use.lock"):  # held exclusively by remove
            with flock(layout.volume_use_lock(name), shared=True, timeout=0):
                pass
        seen.append(name)
        return True

    assert vols.remove("v1", keep) is False and vols.exists("v1") and seen == ["v1"]
    with vols.claim() as claim:
        claim.create("v2")
        anon, created = claim.create()
        assert created and anon.anonymous
        with pytest.raises(Exception, match="volume-v2.use.lock"):  # a removal waits for the claim
            LocalVolumes(layout, lock_timeout=0).remove("v2")
    assert vols.remove("v2", lambda n: False) is True and not vols.exists("v2")


def test_orphans_wait_for_their_container_and_keep_used_ones(vols: LocalVolumes, layout: Layout) -> None:
    for name in ("a1", "a2", "a3"):
        vols.create(name, anonymous=True)
    os.makedirs(layout.container_dir("c" * 64))
    for name, owner in (("a1", "c" * 64), ("a2", "d" * 64), ("a3", "d" * 64)):
        with open(layout.volume_orphaned(name), "w") as fh:
            fh.write(owner)
    assert vols.orphans() == ["a2", "a3"]  # a1's container is still being removed
    assert vols.remove_orphans(lambda n: n == "a3") == ["a2"]
    assert vols.names() == ["a1", "a3"] and vols.orphans() == []  # a3 is in use: an ordinary volume now


def test_a_record_others_could_write_is_refused(vols: LocalVolumes, layout: Layout) -> None:
    vols.create("data")
    os.chmod(layout.volume_record("data"), 0o666)
    with pytest.raises(UntrustedPath, match="refusing to use volume record .*/volumes/data/volume.json"):
        vols.get("data")


@pytest.mark.parametrize("name", ["x", "-ab", "a/b", "..", "a b", ""])
def test_bad_names(vols: LocalVolumes, name: str) -> None:
    with pytest.raises(InvalidOption, match="for name"):
        vols.create(name)


@pytest.mark.parametrize("options, field", [
    ({"type": "none", "device": "/srv"}, "driver_options.o"),
    ({"type": "none", "o": "bind"}, "driver_options.device"),
    ({"type": "ext4", "device": "sdb"}, "driver_options.device"),
    ({"o": "size=1m"}, "driver_options.type"),
    ({"colour": "red"}, "driver_options.colour"),
    ({"type": "tmp fs"}, "driver_options.type"),
])
def test_bad_driver_options(options: dict, field: str) -> None:
    with pytest.raises(InvalidOption, match=f"for {field}:"):
        check_driver_options(options)


def test_good_driver_options() -> None:
    tmpfs = {"type": "tmpfs", "o": "size=64m,mode=1777"}
    assert check_driver_options(tmpfs) == {"o": "size=64m,mode=1777", "type": "tmpfs"}
    assert check_driver_options({"type": "none", "o": "bind", "device": "/srv"})["device"] == "/srv"
    assert check_driver_options({"type": "xfs", "device": "/dev/sdb1"})["type"] == "xfs"


def test_driver_mount_through_runner(layout: Layout) -> None:
    calls = []

    def run(argv: list, **_kw: t.Any) -> subprocess.CompletedProcess:
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 1 if argv[0] == "mount" else 0, b"", b"mount: no such device")

    vols = LocalVolumes(layout, 5, run=run)
    vols.create("tmp", options={"type": "tmpfs", "o": "size=1m"})
    with pytest.raises(VolumeError, match="volume tmp: mount: mount: no such device"):
        vols.mountpoint("tmp")
    assert calls == [["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", layout.volume_data("tmp")]]
    vols.create("plain")
    assert vols.mountpoint("plain") == layout.volume_data("plain") and len(calls) == 1  # nothing to mount


def test_copy_up_keeps_owners_modes_xattrs_once(vols: LocalVolumes, layout: Layout, tmp_path: t.Any) -> None:
    src = _image_dir(tmp_path)
    vols.create("data")
    assert vols.copy_up("data", src) is True
    data = layout.volume_data("data")
    assert _tree(data) == _tree(src)
    st = os.stat(data)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (33, 33, 0o1777)  # the root takes the directory's
    assert os.getxattr(data + "/a.txt", "user.origin") == b"image"
    assert os.path.exists(layout.volume_copied("data")) and not os.path.exists(layout.volume_copying("data"))
    os.unlink(data + "/a.txt")  # the volume is the container's now: the image's content never comes back
    assert vols.copy_up("data", src) is False
    assert not os.path.exists(data + "/a.txt")


def test_no_copy_into_a_volume_with_content(vols: LocalVolumes, layout: Layout, tmp_path: t.Any) -> None:
    src = _image_dir(tmp_path)
    vols.create("data")
    data = layout.volume_data("data")
    with open(data + "/mine", "w") as fh:
        fh.write("mine")
    assert vols.copy_up("data", src) is False
    assert os.listdir(data) == ["mine"] and vols.copied_up("data")


def test_empty_volume_takes_owner_without_source(vols: LocalVolumes, layout: Layout) -> None:
    vols.create("data")
    assert vols.copy_up("data", None, owner=(100000, 100000)) is False
    st = os.stat(layout.volume_data("data"))
    assert (st.st_uid, st.st_gid) == (100000, 100000)


def test_copy_cut_short_is_finished(vols: LocalVolumes, layout: Layout, tmp_path: t.Any) -> None:
    """What a kill halfway leaves: ``copying-up``, some entries moved in, a half-filled staging directory."""
    src = _image_dir(tmp_path)
    vols.create("data")
    data = layout.volume_data("data")
    with open(layout.volume_copying("data"), "w"):
        pass
    subprocess.run(["cp", "-a", src + "/a.txt", data + "/a.txt"], check=True)
    os.makedirs(os.path.join(data, STAGING, "sub"))
    assert vols.copy_up("data", src) is True
    assert _tree(data) == _tree(src)
    assert vols.copied_up("data") and not os.path.exists(layout.volume_copying("data"))


def test_staging_without_marker_is_not_content(vols: LocalVolumes, layout: Layout, tmp_path: t.Any) -> None:
    """A staging directory alone is not content of the volume's own: the volume is still empty."""
    src = _image_dir(tmp_path)
    vols.create("data")
    os.makedirs(os.path.join(layout.volume_data("data"), STAGING, "partial"))
    assert vols.copy_up("data", src) is True
    assert _tree(layout.volume_data("data")) == _tree(src)

# SPDX-License-Identifier: GPL-3.0-or-later
"""``berth diff`` and ``berth export`` on real containers: a two-layer image with whiteouts and an opaque
directory in its top layer, containers that add, change and delete files on top of it.

One data root and image for the module (bin/berth in a subprocess, and the engine in-process for what the
command line cannot reach); each test removes its containers, and no mount may stay behind.
"""
from __future__ import annotations

import io
import os
import subprocess
import tarfile
import time
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.api import Engine
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import InvalidOption, StoreError
from ansible_collections.berth.engine.plugins.module_utils.engine.store import changes
from tests.support.cli import Berth, scratch
from tests.support.images import docker_archive

pytestmark = [pytest.mark.functional]

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGE = "layered:1"
MTIME = 1_600_000_000

if os.geteuid() != 0:
    pytest.skip("needs root: containers and overlay mounts", allow_module_level=True)

#: What the containers do to the image (busybox sh). Layer 1 of the image deleted /srv/x (whiteout) and
#: replaced /opt and /lib/mods (opaque: /opt/app and /lib/mods/a do not show).
SCRIPT = """set -e
echo added > /added.txt; chown 1234:5678 /added.txt; chmod 640 /added.txt
echo changed >> /etc/passwd
rm /etc/motd
rm -rf /var/lib/gone
rm -rf /data/old; mkdir /data/old; echo n > /data/old/b; echo c > /data/old/c
ln -s /etc/passwd /link
mkdir -p /new/deep; touch /new/deep/f
echo x > /srv/x
rm -rf /opt/new
rm -rf /lib/mods; mkdir /lib/mods; touch /lib/mods/c
mkfifo /fifo
ln /added.txt /hard
mknod /null2 c 1 3
"""

EXPECTED_DIFF = """\
A /added.txt
C /data
C /data/old
D /data/old/a
C /data/old/b
A /data/old/c
C /etc
D /etc/motd
C /etc/passwd
A /fifo
A /hard
C /lib
C /lib/mods
D /lib/mods/b
A /lib/mods/c
A /link
A /new
A /new/deep
A /new/deep/f
A /null2
C /opt
D /opt/new
C /srv
A /srv/x
C /var
C /var/lib
D /var/lib/gone
"""

PRESENT = ("added.txt", "bin/busybox", "data/keep", "data/old/b", "data/old/c", "etc/group", "etc/passwd", "fifo",
           "hard", "lib/mods/c", "link", "new/deep/f", "null2", "opt", "srv/x")
ABSENT = ("etc/motd", "var/lib/gone", "var/lib/gone/f", "data/old/a", "lib/mods/a", "lib/mods/b", "opt/new",
          "opt/app", "opt/app/conf")


# ------------------------------------------------------------------ the image
def _add(tf: tarfile.TarFile, name: str, data: bytes | None = None, mode: int | None = None) -> None:
    ti = tarfile.TarInfo(name)
    ti.mtime = MTIME
    if data is None:
        ti.type, ti.mode = tarfile.DIRTYPE, 0o755 if mode is None else mode
        tf.addfile(ti)
    else:
        ti.size, ti.mode = len(data), 0o644 if mode is None else mode
        tf.addfile(ti, io.BytesIO(data))


def _layers(rootfs: str) -> list[bytes]:
    base = io.BytesIO()
    with tarfile.open(fileobj=base, mode="w") as tf:
        tf.add(rootfs, arcname=".")
        for d in ("data", "data/old", "var", "var/lib", "var/lib/gone", "srv", "opt", "opt/app", "lib", "lib/mods"):
            _add(tf, d)
        for f in ("data/keep", "data/old/a", "data/old/b", "var/lib/gone/f", "srv/x", "opt/app/conf", "lib/mods/a"):
            _add(tf, f, f"{f}\n".encode())
    top = io.BytesIO()
    with tarfile.open(fileobj=top, mode="w") as tf:
        for d in ("etc", "srv", "opt", "lib", "lib/mods"):
            _add(tf, d)
        _add(tf, "etc/motd", b"motd\n")
        _add(tf, "srv/.wh.x", b"")
        _add(tf, "opt/.wh..wh..opq", b"")
        _add(tf, "opt/new", b"new\n")
        _add(tf, "lib/mods/.wh..wh..opq", b"")
        _add(tf, "lib/mods/b", b"b\n")
    return [base.getvalue(), top.getvalue()]


# ------------------------------------------------------------------ the command line
@pytest.fixture(scope="module")
def berth(busybox_rootfs: str, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Berth]:
    base = tmp_path_factory.mktemp("export-diff")
    b = scratch(base)
    b("load", "-i", docker_archive(base / "layered.tar", _layers(busybox_rootfs), IMAGE))
    yield b
    leftovers = b("ps", "-aq", "--no-trunc").stdout.decode().split()
    if leftovers:
        b("rm", "-f", *leftovers, rc=None)
    assert not leftovers, "every test removes its containers"
    assert mounts(b) == [], "no mount stays behind"


@pytest.fixture
def eng(berth: Berth) -> Engine:
    return Engine.open(data_root=berth.root, config_path=berth.config, lock_timeout=60)


def mounts(b: Berth) -> list[str]:
    with open("/proc/self/mountinfo") as fh:
        return [line for line in fh if b.root in line]


def members(raw: bytes) -> tuple[dict[str, tarfile.TarInfo], dict[str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        found = {m.name: m for m in tf.getmembers()}
        data = {m.name: tf.extractfile(m).read() for m in found.values() if m.isreg()}  # type: ignore[union-attr]
    return found, data


def check_export(raw: bytes) -> dict[str, tarfile.TarInfo]:
    """What every export of a container that ran SCRIPT holds."""
    found, data = members(raw)
    assert not [n for n in found if n.startswith(("/", "./")) or n == "."]
    assert [n for n in PRESENT if n not in found] == []
    assert [n for n in ABSENT if n in found] == []
    added = found["added.txt"]
    assert (added.mode, added.uid, added.gid, data["added.txt"]) == (0o640, 1234, 5678, b"added\n")
    assert found["hard"].islnk() and found["hard"].linkname == "added.txt"
    assert found["link"].issym() and found["link"].linkname == "/etc/passwd"
    assert found["fifo"].isfifo()
    assert found["null2"].ischr() and (found["null2"].devmajor, found["null2"].devminor) == (1, 3)
    assert found["bin/sh"].issym() and found["bin/busybox"].mode == 0o755
    assert found["tmp"].mode == 0o1777
    assert data["etc/passwd"].endswith(b"changed\n") and data["data/old/b"] == b"n\n"
    assert data["data/keep"] == b"data/keep\n" and found["data/keep"].mtime == MTIME
    assert not [n for n, m in found.items() if m.ischr() and (m.devmajor, m.devminor) == (0, 0)]  # no whiteouts
    assert b"trusted.overlay" not in raw
    return found


def run_script(berth: Berth, name: str) -> None:
    res = berth("run", "--name", name, IMAGE, "sh", "-c", SCRIPT, rc=None)
    assert res.returncode == 0, res.err + res.stdout.decode()


# ------------------------------------------------------------------ diff
def test_diff_of_a_stopped_container(berth: Berth, eng: Engine) -> None:
    run_script(berth, "changer")
    try:
        assert berth("diff", "changer").stdout.decode() == EXPECTED_DIFF
        assert berth("container", "diff", "changer").stdout.decode() == EXPECTED_DIFF
        api = eng.containers.diff("changer")
        assert api[:2] == [{"Path": "/added.txt", "Kind": 1}, {"Path": "/data", "Kind": 0}]
        assert {"Path": "/etc/motd", "Kind": 2} in api
    finally:
        berth("rm", "changer")


def test_diff_of_a_new_container_is_empty_and_mountpoints_are_no_changes(berth: Berth) -> None:
    berth("create", "--name", "fresh", IMAGE)
    try:
        assert berth("diff", "fresh").stdout == b""
        berth("start", "fresh")  # makes /proc, /dev, /sys, /etc/hosts ... in the upper dir to mount on
        berth("wait", "fresh")
        assert berth("diff", "fresh").stdout == b""
    finally:
        berth("rm", "fresh")


def test_mount_targets_the_image_has_are_not_copied_up(tmp_path: t.Any) -> None:
    """The bind targets the runtime makes (/etc/hosts ...) exist in many images: making sure they exist
    must not copy the image's file into the container's layer (an overlay copies up on open for write)."""
    from ansible_collections.berth.engine.plugins.module_utils.engine.runtime import rootfs
    from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor import overlay
    from ansible_collections.berth.engine.plugins.module_utils.engine.runtime.syscalls import (
        MNT_DETACH,
        LinuxSyscalls,
    )

    lower, upper, work, merged = (tmp_path / n for n in ("lower", "upper", "work", "merged"))
    (lower / "etc").mkdir(parents=True)
    (lower / "etc" / "hosts").write_text("127.0.0.1 from-the-image\n")
    sys_ = LinuxSyscalls()
    overlay.mount_rootfs(sys_, str(tmp_path), [str(lower)], str(upper), str(work), str(merged), str(tmp_path))
    try:
        rootfs.create_file(str(merged / "etc" / "hosts"))
        rootfs.create_file(str(merged / "etc" / "hostname"))
        assert (merged / "etc" / "hosts").read_text() == "127.0.0.1 from-the-image\n"
    finally:
        sys_.umount2(str(merged), MNT_DETACH)
    assert not (upper / "etc" / "hosts").exists()  # not copied up
    assert (upper / "etc" / "hostname").read_bytes() == b""  # a missing one is made, in the upper dir


# ------------------------------------------------------------------ export
def test_export_of_a_stopped_container(berth: Berth) -> None:
    run_script(berth, "stopped")
    try:
        before = mounts(berth)
        raw = berth("export", "stopped").stdout
        found = check_export(raw)
        assert "ready" not in found
        assert mounts(berth) == before == []  # the read-only overlay is gone again
        assert berth("container", "export", "stopped").stdout == raw  # the same bytes each time
        names = subprocess.run(["tar", "-tf", "-"], input=raw, capture_output=True, check=True).stdout.decode()
        assert "data/old/\n" in names and names.startswith("added.txt\n")  # directories end in "/"
        assert berth("diff", "stopped").stdout.decode() == EXPECTED_DIFF  # nothing was changed by exporting
    finally:
        berth("rm", "stopped")


def test_export_of_a_running_container(berth: Berth) -> None:
    berth("run", "-d", "--name", "live", IMAGE, "sh", "-c", SCRIPT + "touch /ready; exec sleep 300")
    try:
        deadline = time.monotonic() + 20
        while b"A /ready\n" not in berth("diff", "live").stdout:
            assert time.monotonic() < deadline, "the container did not finish its changes"
            time.sleep(0.1)
        before = mounts(berth)
        assert len(before) == 2  # its rootfs and its network namespace (the default bridge)
        found = check_export(berth("export", "live").stdout)
        assert "ready" in found
        assert mounts(berth) == before
        assert berth("diff", "live").stdout.decode() == "".join(
            sorted(EXPECTED_DIFF.splitlines(keepends=True) + ["A /ready\n"], key=lambda x: x[2:]))
    finally:
        berth("rm", "-f", "live")
    assert mounts(berth) == []


def test_export_to_a_file_is_atomic_and_imports_again(berth: Berth, tmp_path: t.Any) -> None:
    run_script(berth, "tofile")
    out = tmp_path / "out" / "fs.tar"
    out.parent.mkdir()
    out.write_bytes(b"old")
    try:
        berth("export", "nope", "-o", str(out), rc=1)
        assert out.read_bytes() == b"old" and os.listdir(out.parent) == ["fs.tar"]
        res = berth("export", "-o", str(out), "tofile")
        assert res.stdout == b""
        assert os.listdir(out.parent) == ["fs.tar"]  # the temporary file was renamed
        check_export(out.read_bytes())
        berth("container", "export", "--output", "rel.tar", "tofile", cwd=str(tmp_path))
        assert (tmp_path / "rel.tar").read_bytes() == out.read_bytes()
        # what export writes, import reads: the container's files as an image
        berth("import", str(out), "exported:1")
        res = berth("run", "--rm", "exported:1", "sh", "-c",
                    "cat /data/old/b /added.txt; ls /opt; stat -c %u:%g /added.txt")
        assert res.stdout == b"n\nadded\n1234:5678\n"
    finally:
        berth("rm", "tofile")
        berth("rmi", "exported:1")


def test_failed_export_leaves_the_file_as_it_was(berth: Berth, eng: Engine, tmp_path: t.Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    berth("create", "--name", "broken", IMAGE)
    out = tmp_path / "fs.tar"
    out.write_bytes(b"old")

    def fail(fd: int, fh: t.BinaryIO, owner: t.Any = None) -> int:
        fh.write(b"partial" * 1000)
        raise StoreError("cannot read /etc: I/O error")

    monkeypatch.setattr(changes, "write_tar", fail)
    try:
        with pytest.raises(StoreError, match="I/O error"):
            eng.containers.export_file("broken", str(out))
        assert out.read_bytes() == b"old" and os.listdir(tmp_path) == ["fs.tar"]
        assert mounts(berth) == []
        with pytest.raises(InvalidOption, match="is a directory"):
            eng.containers.export_file("broken", str(tmp_path))
    finally:
        berth("rm", "broken")


def test_export_does_not_enter_other_file_systems(tmp_path: t.Any) -> None:
    root = tmp_path / "root"
    (root / "mnt").mkdir(parents=True)
    (root / "f").write_text("1")
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(root / "mnt")], check=True)
    try:
        (root / "mnt" / "inside").write_text("x")
        fd = os.open(str(root), os.O_RDONLY | os.O_DIRECTORY)
        out = io.BytesIO()
        try:
            changes.write_tar(fd, out)
        finally:
            os.close(fd)
    finally:
        subprocess.run(["umount", str(root / "mnt")], check=True)
    assert list(members(out.getvalue())[0]) == ["f", "mnt"]


# ------------------------------------------------------------------ bad input
def test_missing_container_and_terminal(berth: Berth, tmp_path: t.Any) -> None:
    never = str(tmp_path / "never.tar")
    for argv in (["diff", "nope"], ["export", "nope"], ["container", "export", "-o", never, "nope"]):
        res = berth(*argv, rc=1)
        assert (res.stdout, res.err) == (b"", "Error: No such container: nope\n"), argv
    assert os.listdir(tmp_path) == []
    assert "CONTAINER" in berth("export", rc=125).err
    berth("create", "--name", "tty", IMAGE)
    master, slave = os.openpty()
    try:
        res = berth("export", "tty", stdout=slave, rc=1)
        assert res.err == "Error: cowardly refusing to save to a terminal. Use the -o flag or redirect\n"
        os.set_blocking(master, False)
        try:
            written = os.read(master, 1024)
        except BlockingIOError:
            written = b""
        assert written == b""
    finally:
        os.close(master)
        os.close(slave)
        berth("rm", "tty")

# SPDX-License-Identifier: GPL-3.0-or-later
"""``berth cp`` on real containers, both ways, running and stopped: files, directories, ``-a``, ``-`` tar
streams, Docker's destination rules, and symlinks in the container that point out of it (to ``/`` and
``../../..``), which must never let a copy read or write the host's files.
"""
from __future__ import annotations

import io
import os
import tarfile
import time
import typing as t

import pytest

from tests.support.cli import Berth, scratch_with_busybox

pytestmark = [pytest.mark.functional]

IMAGE = "cpimg:1"
#: What every container makes before a copy: a file, a directory, and symlinks out of its root.
SCRIPT = ("mkdir -p /data/sub && echo one > /data/a && echo two > /data/sub/b && chown -R 1234:5678 /data && "
          "echo f > /file && ln -s / /up && ln -s ../../../.. /dotdot && ln -s /etc /etcl; ")


@pytest.fixture(scope="module")
def berth(busybox_rootfs: str, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Berth]:
    b = scratch_with_busybox(tmp_path_factory.mktemp("cp"), busybox_rootfs, IMAGE)
    yield b
    leftovers = b("ps", "-aq", "--no-trunc").stdout.decode().split()
    if leftovers:
        b("rm", "-f", *leftovers, rc=None)
    assert not leftovers, "every test removes its containers"
    with open("/proc/self/mountinfo") as fh:
        assert [line for line in fh if b.root in line] == [], "no mount stays behind"


@pytest.fixture(params=["stopped", "running"])
def ctr(request: t.Any, berth: Berth) -> t.Iterator[str]:
    name = f"cp-{request.param}"
    if request.param == "stopped":
        berth("run", "--name", name, IMAGE, "sh", "-c", SCRIPT)
    else:
        berth("run", "-d", "--name", name, IMAGE, "sh", "-c", SCRIPT + "touch /ready; exec sleep 300")
        deadline = time.monotonic() + 20
        while b"A /ready\n" not in berth("diff", name).stdout:
            assert time.monotonic() < deadline, "the container did not finish its changes"
            time.sleep(0.1)
    yield name
    berth("rm", "-f", name)


def cat(berth: Berth, name: str, path: str) -> tuple[bytes, tarfile.TarInfo]:
    """A file of the container, read back through an export."""
    with tarfile.open(fileobj=io.BytesIO(berth("export", name).stdout)) as tf:
        member = tf.getmember(path)
        return tf.extractfile(member).read(), member  # type: ignore[union-attr]


def test_copy_out_a_directory_and_a_file(berth: Berth, ctr: str, tmp_path: t.Any) -> None:
    berth("cp", f"{ctr}:/data", str(tmp_path / "new"))  # a new name: the directory becomes it
    assert (tmp_path / "new" / "a").read_bytes() == b"one\n"
    assert (tmp_path / "new" / "sub" / "b").read_bytes() == b"two\n"
    assert os.stat(tmp_path / "new" / "a").st_uid == 0  # the caller's, without -a
    (tmp_path / "into").mkdir()
    berth("container", "cp", "-a", f"{ctr}:/data", str(tmp_path / "into"))  # an existing dir: by name
    st = os.stat(tmp_path / "into" / "data" / "sub" / "b")
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    (tmp_path / "content").mkdir()
    berth("cp", f"{ctr}:/data/.", str(tmp_path / "content"))  # /. : the content
    assert sorted(os.listdir(tmp_path / "content")) == ["a", "sub"]
    berth("cp", f"{ctr}:/file", str(tmp_path / "f.txt"))
    assert (tmp_path / "f.txt").read_bytes() == b"f\n"
    berth("cp", f"{ctr}:/data/a", str(tmp_path / "f.txt"))  # an existing file is overwritten
    assert (tmp_path / "f.txt").read_bytes() == b"one\n"
    berth("cp", f"{ctr}:/file", str(tmp_path / "into"))
    assert (tmp_path / "into" / "file").read_bytes() == b"f\n"


def test_copy_out_as_a_tar_stream(berth: Berth, ctr: str) -> None:
    raw = berth("cp", f"{ctr}:/data", "-").stdout
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        names = sorted(tf.getnames())
        uid = tf.getmember("data/a").uid
    assert names == ["data", "data/a", "data/sub", "data/sub/b"]
    assert uid == 1234


def test_copy_in_a_file_and_a_directory(berth: Berth, ctr: str, tmp_path: t.Any) -> None:
    src = tmp_path / "src"
    (src / "deep").mkdir(parents=True)
    (src / "deep" / "x").write_bytes(b"x\n")
    (src / "y").write_bytes(b"y\n")
    os.chown(src / "y", 4321, 8765)
    berth("cp", str(src), f"{ctr}:/data")  # an existing dir: by name
    berth("cp", "-a", str(src / "y"), f"{ctr}:/y-archived")
    berth("cp", str(src / "y"), f"{ctr}:/file")  # an existing file is overwritten
    berth("cp", str(src) + "/.", f"{ctr}:/tmp")
    assert cat(berth, ctr, "data/src/deep/x")[0] == b"x\n"
    data, member = cat(berth, ctr, "data/src/y")
    assert (data, member.uid, member.gid) == (b"y\n", 0, 0)  # the container's root, without -a
    assert (cat(berth, ctr, "y-archived")[1].uid, cat(berth, ctr, "y-archived")[1].gid) == (4321, 8765)
    assert cat(berth, ctr, "file")[0] == b"y\n"
    assert cat(berth, ctr, "tmp/deep/x")[0] == b"x\n"


def test_copy_in_a_tar_stream(berth: Berth, ctr: str) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("streamed/z")
        info.size = 2
        tf.addfile(info, io.BytesIO(b"z\n"))
    berth("cp", "-", f"{ctr}:/data", input=buf.getvalue())
    assert cat(berth, ctr, "data/streamed/z")[0] == b"z\n"


def test_symlinks_out_of_the_container_stay_inside(berth: Berth, ctr: str, tmp_path: t.Any) -> None:
    host = tmp_path / "host"
    host.mkdir()
    marker = host / "marker"
    marker.write_bytes(b"host\n")
    src = tmp_path / "payload"
    src.write_bytes(b"payload\n")
    # writes through /up and /dotdot land in the container's /etc, never in the host's
    for link in ("up", "dotdot"):
        victim = f"/etc/berth-cp-test-{link}"
        berth("cp", str(src), f"{ctr}:/{link}{victim}")
        assert not os.path.lexists(victim)
        assert cat(berth, ctr, victim.lstrip("/"))[0] == b"payload\n"
    berth("cp", str(host), f"{ctr}:/dotdot/")  # into the directory the link names: the container's root
    assert cat(berth, ctr, "host/marker")[0] == b"host\n"
    # reads through them read the container's files, not the host's
    out = tmp_path / "out"
    berth("cp", f"{ctr}:/dotdot{marker}", str(out), rc=1)
    assert not out.exists()
    for link in ("up", "dotdot"):
        berth("cp", f"{ctr}:/{link}/etc/passwd", str(out))
        assert out.read_bytes() == cat(berth, ctr, "etc/passwd")[0]
    berth("cp", "-L", f"{ctr}:/etcl", str(tmp_path / "etc-copy"))
    assert (tmp_path / "etc-copy" / "passwd").read_bytes() == out.read_bytes()
    assert marker.read_bytes() == b"host\n"


def test_missing_source_or_destination(berth: Berth, ctr: str, tmp_path: t.Any) -> None:
    res = berth("cp", f"{ctr}:/nope", str(tmp_path / "x"), rc=1)
    assert f"Could not find the file /nope in container {ctr}" in res.err
    res = berth("cp", str(tmp_path / "nope"), f"{ctr}:/tmp", rc=1)
    assert "no such file or directory" in res.err
    res = berth("cp", f"{ctr}:/file", str(tmp_path / "no" / "dir" / "x"), rc=1)
    assert "does not exist" in res.err
    (tmp_path / "f").write_bytes(b"")
    res = berth("cp", str(tmp_path / "f"), f"{ctr}:/no/such/x", rc=1)
    assert f"No such container:path: {ctr}:/no/such/x" in res.err
    res = berth("cp", f"{ctr}:/file", str(tmp_path / "missing") + "/", rc=1)
    assert "does not exist" in res.err
    res = berth("cp", "nosuch:/x", str(tmp_path), rc=1)
    assert "No such container: nosuch" in res.err
    assert not (tmp_path / "x").exists()


def test_exactly_one_side_is_a_container(berth: Berth, tmp_path: t.Any) -> None:
    assert "must specify at least one container source" in berth("cp", str(tmp_path), "x", rc=125).err
    assert "copying between containers is not supported" in berth("cp", "a:/x", "b:/y", rc=125).err


def test_copy_out_the_whole_root(berth: Berth, ctr: str, tmp_path: t.Any) -> None:
    berth("cp", f"{ctr}:/", str(tmp_path / "root"))
    assert (tmp_path / "root" / "data" / "sub" / "b").read_bytes() == b"two\n"
    assert os.readlink(tmp_path / "root" / "up") == "/"

# SPDX-License-Identifier: GPL-3.0-or-later
"""store.unpack against the real kernel: ownership, devices, xattrs, whiteouts, overlayfs, hostile tars."""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
import time
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.core.digest import HashingReader
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import StoreError, UnsafeLayer
from ansible_collections.berth.engine.plugins.module_utils.engine.store import decompress, unpack

pytestmark = [
    pytest.mark.functional,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown, mknod, trusted xattrs)"),
]

LAYER = "sha256:" + "ab" * 32
T1 = 1_600_000_000
CAPABILITY = b"\x01\x00\x00\x02" + (1 << 13).to_bytes(4, "little") + bytes(12)  # cap_net_raw+ep


# --------------------------------------------------------------------------- building tars


def entry(name: str, kind: str = "file", data: bytes = b"", **attrs: t.Any) -> tuple[tarfile.TarInfo, bytes]:
    """One tar member: kind is file, dir, symlink, hardlink, chr, blk or fifo."""
    types = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
             "hardlink": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE}
    info = tarfile.TarInfo(name)
    info.type = types[kind]
    info.mode = 0o755 if kind == "dir" else 0o644
    info.mtime = T1
    info.size = len(data) if kind == "file" else 0
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def tar(*entries: tuple[tarfile.TarInfo, bytes], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for info, data in entries:
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def extract(data: bytes, dest: str, layer: str = LAYER) -> int:
    os.makedirs(dest, exist_ok=True)
    return unpack.extract_layer(t.cast(t.BinaryIO, io.BytesIO(data)), dest, layer)


# --------------------------------------------------------------------------- metadata


def test_every_entry_type_with_its_metadata(tmp_path: t.Any) -> None:
    cap = {"SCHILY.xattr.security.capability": CAPABILITY.decode("utf-8", "surrogateescape"),
           "SCHILY.xattr.user.note": "hi"}
    data = tar(
        entry("./", "dir", mode=0o700),
        entry("usr/", "dir", mtime=T1 + 1),
        entry("usr/bin/", "dir", mode=0o750, uid=10, gid=20, mtime=T1 + 2),
        entry("usr/bin/su", data=b"setuid", mode=0o4755, uid=0, gid=0, mtime=T1 + 3),
        entry("usr/bin/sg", data=b"setgid", mode=0o2711, uid=1, gid=2),
        entry("usr/bin/ping", data=b"ping", mode=0o755, pax_headers=cap),
        entry("usr/bin/sh", "symlink", linkname="busybox", uid=33, gid=44, mtime=T1 + 4),
        entry("usr/bin/su2", "hardlink", linkname="usr/bin/su"),
        entry("tmp/", "dir", mode=0o1777, mtime=T1 + 5),
        entry("dev/null", "chr", devmajor=1, devminor=3, mode=0o666, gid=5),
        entry("dev/loop0", "blk", devmajor=7, devminor=0, mode=0o660, gid=6),
        entry("run/fifo", "fifo", mode=0o620, uid=7),
        entry("float", data=b"f", mtime=T1 + 0.25),
        entry("deep/ly/implicit/file", data=b"x" * 70000),
    )
    dest = str(tmp_path / "layer")
    os.mkdir(dest, 0o711)

    assert extract(data, dest) == 6 + 6 + 4 + 1 + 70000

    def st(rel: str) -> os.stat_result:
        return os.lstat(os.path.join(dest, rel))

    assert stat.S_IMODE(st("").st_mode) == 0o711  # the root entry is not applied, as in Docker
    assert (stat.S_IMODE(st("usr/bin").st_mode), st("usr/bin").st_uid, st("usr/bin").st_gid) == (0o750, 10, 20)
    assert stat.S_IMODE(st("usr/bin/su").st_mode) == 0o4755
    assert (stat.S_IMODE(st("usr/bin/sg").st_mode), st("usr/bin/sg").st_uid, st("usr/bin/sg").st_gid) == (0o2711, 1, 2)
    assert stat.S_IMODE(st("tmp").st_mode) == 0o1777
    assert open(os.path.join(dest, "usr/bin/su"), "rb").read() == b"setuid"
    # mtimes, directories included (their children were created after them)
    assert st("usr/bin/su").st_mtime_ns == (T1 + 3) * 10**9
    assert st("usr").st_mtime_ns == (T1 + 1) * 10**9
    assert st("usr/bin").st_mtime_ns == (T1 + 2) * 10**9
    assert st("tmp").st_mtime_ns == (T1 + 5) * 10**9
    assert st("float").st_mtime_ns == (T1 * 10**9) + 250_000_000
    # xattrs, the file capability survives chown
    ping = os.path.join(dest, "usr/bin/ping")
    assert os.getxattr(ping, "security.capability") == CAPABILITY
    assert os.getxattr(ping, "user.note") == b"hi"
    # symlink: own owner and mtime (lchown, lutimes)
    sh = st("usr/bin/sh")
    assert stat.S_ISLNK(sh.st_mode) and os.readlink(os.path.join(dest, "usr/bin/sh")) == "busybox"
    assert (sh.st_uid, sh.st_gid, sh.st_mtime_ns) == (33, 44, (T1 + 4) * 10**9)
    # hardlink
    assert st("usr/bin/su2").st_ino == st("usr/bin/su").st_ino and st("usr/bin/su").st_nlink == 2
    # devices and FIFOs
    null = st("dev/null")
    assert stat.S_ISCHR(null.st_mode) and (os.major(null.st_rdev), os.minor(null.st_rdev)) == (1, 3)
    assert (stat.S_IMODE(null.st_mode), null.st_gid) == (0o666, 5)
    loop = st("dev/loop0")
    assert stat.S_ISBLK(loop.st_mode) and (os.major(loop.st_rdev), os.minor(loop.st_rdev)) == (7, 0)
    fifo = st("run/fifo")
    assert stat.S_ISFIFO(fifo.st_mode) and (stat.S_IMODE(fifo.st_mode), fifo.st_uid) == (0o620, 7)
    # parents missing from the tar are made 0755 root:root
    implicit = st("deep/ly")
    assert (stat.S_IMODE(implicit.st_mode), implicit.st_uid, implicit.st_gid) == (0o755, 0, 0)
    assert st("deep/ly/implicit/file").st_size == 70000


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT], ids=["pax", "gnu"])
def test_long_names_and_link_targets(tmp_path: t.Any, fmt: int) -> None:
    long_dir = "/".join(["d" * 60] * 5)
    data = tar(
        entry(f"{long_dir}/{'f' * 120}", data=b"long"),
        entry(f"{long_dir}/hard", "hardlink", linkname=f"{long_dir}/{'f' * 120}"),
        entry("sym", "symlink", linkname="/" + "t" * 300),
        fmt=fmt,
    )
    dest = str(tmp_path / "layer")
    extract(data, dest)
    assert open(os.path.join(dest, long_dir, "f" * 120), "rb").read() == b"long"
    assert os.stat(os.path.join(dest, long_dir, "hard")).st_nlink == 2
    assert os.readlink(os.path.join(dest, "sym")) == "/" + "t" * 300


def test_overlay_xattrs_come_only_from_whiteouts(tmp_path: t.Any) -> None:
    forged = {"SCHILY.xattr.trusted.overlay.redirect": "/elsewhere", "SCHILY.xattr.trusted.overlay.opaque": "y"}
    dest = str(tmp_path / "layer")
    extract(tar(entry("d/", "dir", pax_headers=forged), entry("d/x", data=b"x", pax_headers=forged)), dest)
    for rel in ("d", "d/x"):
        assert not [n for n in os.listxattr(os.path.join(dest, rel)) if n.startswith("trusted.overlay.")]


@pytest.mark.skipif(not shutil.which("tar"), reason="needs GNU tar")
@pytest.mark.parametrize("fmt", ["gnu", "posix"])
def test_sparse_files_from_gnu_tar(tmp_path: t.Any, fmt: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "sparse", "wb") as fh:
        fh.write(b"head")
        fh.seek(3 << 20)
        fh.write(b"tail")
    archive = subprocess.run(["tar", "-C", str(src), f"--format={fmt}", "--sparse", "-cf", "-", "sparse"],
                             check=True, capture_output=True).stdout
    dest = str(tmp_path / "layer")
    assert extract(archive, dest) == (3 << 20) + 4
    with open(os.path.join(dest, "sparse"), "rb") as fh:
        assert fh.read() == (src / "sparse").read_bytes()


# --------------------------------------------------------------------------- whiteouts


def _is_whiteout(path: str) -> bool:
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def test_whiteouts_become_overlay_whiteouts(tmp_path: t.Any) -> None:
    data = tar(
        entry(".wh.a", uid=5),
        entry("gone/.wh.x"),
        entry("d/", "dir"),
        entry("d/.wh..wh..opq"),
        entry("e/.wh..wh..opq"),
        entry(".wh..wh..opq"),
        entry("d/y", data=b"y"),
        entry(".wh..wh.plnk/", "dir"),
        entry(".wh..wh.plnk/12.34", data=b"aufs"),
        entry("k/.wh..wh.aufs", data=b"aufs"),
    )
    dest = str(tmp_path / "layer")
    assert extract(data, dest) == 1
    assert _is_whiteout(os.path.join(dest, "a")) and os.lstat(os.path.join(dest, "a")).st_uid == 5
    assert _is_whiteout(os.path.join(dest, "gone/x"))
    for opaque in ("d", "e", ""):
        assert os.getxattr(os.path.join(dest, opaque), "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(dest)) == ["a", "d", "e", "gone"]  # aufs metadata and .wh. files never written
    assert os.listdir(os.path.join(dest, "d")) == ["y"]


def test_whiteout_replaces_an_earlier_entry(tmp_path: t.Any) -> None:
    dest = str(tmp_path / "layer")
    extract(tar(entry("w/", "dir"), entry("w/c", data=b"c"), entry(".wh.w")), dest)
    assert _is_whiteout(os.path.join(dest, "w"))


@pytest.mark.parametrize("name", [".wh..", "d/.wh...", "d/.wh."])
def test_whiteout_of_dot_names_is_refused(tmp_path: t.Any, name: str) -> None:
    with pytest.raises(UnsafeLayer) as info:
        extract(tar(entry(name)), str(tmp_path / "layer"))
    assert info.value.member == name


def _mount_overlay(lowers: list[str], target: str) -> None:
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", "lowerdir=" + ":".join(lowers), target],
                   check=True, capture_output=True)


def test_two_layers_in_a_real_overlay(tmp_path: t.Any) -> None:
    lower = tar(entry("a", data=b"a"), entry("b", data=b"b"), entry("d/", "dir"), entry("d/x", data=b"x"))
    upper = tar(entry(".wh.a"), entry("d/", "dir"), entry("d/.wh..wh..opq"), entry("d/y", data=b"y"))
    l1, l2, merged = str(tmp_path / "l1"), str(tmp_path / "l2"), str(tmp_path / "merged")
    extract(gzip.decompress(gzip.compress(lower)), l1, "sha256:" + "01" * 32)
    extract(upper, l2, "sha256:" + "02" * 32)
    os.mkdir(merged)
    _mount_overlay([l2, l1], merged)
    try:
        assert sorted(os.listdir(merged)) == ["b", "d"]
        assert os.listdir(os.path.join(merged, "d")) == ["y"]
        assert open(os.path.join(merged, "b"), "rb").read() == b"b"
    finally:
        subprocess.run(["umount", merged], check=True)


# --------------------------------------------------------------------------- replacing entries


def test_later_members_replace_earlier_ones(tmp_path: t.Any) -> None:
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    data = tar(
        entry("f", data=b"one"),
        entry("f", data=b"two"),
        entry("d/", "dir"),
        entry("d/c", data=b"c"),
        entry("d/sub/", "dir"),
        entry("d", data=b"now a file"),
        entry("g", data=b"file"),
        entry("g/", "dir"),
        entry("g/c", data=b"c"),
        entry("m/", "dir", mode=0o700),
        entry("m/c", data=b"c"),
        entry("m/", "dir", mode=0o755, mtime=T1 + 9),
        entry("s", "symlink", linkname=str(sentinel)),
        entry("s/", "dir"),
        entry("s/c", data=b"c"),
        entry("h", data=b"old"),
        entry("h2", "hardlink", linkname="h"),
        entry("h", data=b"new"),
    )
    dest = str(tmp_path / "layer")
    extract(data, dest)

    def read(rel: str) -> bytes:
        with open(os.path.join(dest, rel), "rb") as fh:
            return fh.read()

    assert read("f") == b"two"
    assert read("d") == b"now a file"
    assert read("g/c") == b"c"
    assert os.listdir(os.path.join(dest, "m")) == ["c"]
    assert stat.S_IMODE(os.stat(os.path.join(dest, "m")).st_mode) == 0o755
    assert os.stat(os.path.join(dest, "m")).st_mtime_ns == (T1 + 9) * 10**9
    assert not os.path.islink(os.path.join(dest, "s")) and read("s/c") == b"c"
    assert os.listdir(sentinel) == []
    assert (read("h"), read("h2")) == (b"new", b"old")


def test_member_below_a_replaced_directory_is_refused(tmp_path: t.Any) -> None:
    data = tar(entry("d/", "dir"), entry("d", data=b"file"), entry("d/c", data=b"c"))
    with pytest.raises(UnsafeLayer, match="not a directory") as info:
        extract(data, str(tmp_path / "layer"))
    assert info.value.member == "d/c"


# --------------------------------------------------------------------------- hostile layers


def snapshot(root: str, skip: str) -> list[tuple[str, int, bytes]]:
    """Everything below *root* except *skip*: names, modes and contents (regular files by their SHA-256:
    *root* may hold other tests' large files)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) != skip]
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            content = b""
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as fh:
                    content = hashlib.file_digest(fh, "sha256").digest() if hasattr(hashlib, "file_digest") \
                        else hashlib.sha256(fh.read()).digest()
            elif stat.S_ISLNK(st.st_mode):
                content = os.readlink(path).encode()
            out.append((path, st.st_mode, content))
    return sorted(out)


def _hostile_cases(sentinel: str) -> dict[str, tuple[list[tuple[tarfile.TarInfo, bytes]], str]]:
    """case id -> (members, name of the member that must be refused)."""
    return {
        "dotdot": ([entry("../evil", data=b"x")], "../evil"),
        "dotdot-into-sentinel": ([entry("../sentinel/keep", data=b"pwned")], "../sentinel/keep"),
        "nested-dotdot": ([entry("a/", "dir"), entry("a/../../evil", data=b"x")], "a/../../evil"),
        "absolute-dotdot": ([entry("/../evil", data=b"x")], "/../evil"),
        "symlink-to-root": ([entry("link", "symlink", linkname="/"), entry("link/evil", data=b"x")], "link/evil"),
        "symlink-up": ([entry("link", "symlink", linkname="../.."), entry("link/evil", data=b"x")], "link/evil"),
        "symlink-to-sentinel": (
            [entry("link", "symlink", linkname=sentinel), entry("link/keep", data=b"pwned")], "link/keep"),
        "symlink-deep-parent": (
            [entry("a/l", "symlink", linkname=sentinel), entry("a/l/x/y", data=b"x")], "a/l/x/y"),
        "dir-through-symlink": ([entry("link", "symlink", linkname=sentinel), entry("link/sub/", "dir")],
                                "link/sub"),  # tarfile drops the slash
        "symlink-through-symlink": (
            [entry("link", "symlink", linkname=sentinel), entry("link/keep", "symlink", linkname="/etc/shadow")],
            "link/keep"),
        "device-through-symlink": (
            [entry("link", "symlink", linkname=sentinel), entry("link/keep", "chr", devmajor=1, devminor=3)],
            "link/keep"),
        "whiteout-through-symlink": (
            [entry("link", "symlink", linkname=sentinel), entry("link/.wh.keep")], "link/.wh.keep"),
        "opaque-through-symlink": (
            [entry("link", "symlink", linkname=sentinel), entry("link/.wh..wh..opq")], "link/.wh..wh..opq"),
        "hardlink-absolute": ([entry("pw", "hardlink", linkname="/etc/passwd")], "pw"),
        "hardlink-escape": ([entry("out", "hardlink", linkname="../sentinel/keep")], "out"),
        "hardlink-through-symlink": (
            [entry("d", "symlink", linkname=sentinel), entry("x", "hardlink", linkname="d/keep")], "x"),
        "hardlink-named-through-symlink": (
            [entry("d", "symlink", linkname=sentinel), entry("f", data=b"f"),
             entry("d/f2", "hardlink", linkname="f")], "d/f2"),
        "hardlink-to-directory": ([entry("dir/", "dir"), entry("x", "hardlink", linkname="dir")], "x"),
        "hardlink-to-missing": ([entry("x", "hardlink", linkname="nothing")], "x"),
        "hardlink-to-symlink-then-through-it": (
            [entry("a", "symlink", linkname=sentinel), entry("b", "hardlink", linkname="a"),
             entry("b/keep", data=b"pwned")], "b/keep"),
        "nul-in-name": ([entry("ok", pax_headers={"path": "a\0b"})], "a\0b"),
        "nul-in-symlink": ([entry("s", "symlink", pax_headers={"linkpath": "/a\0b"})], "s"),
        "whiteout-parent": ([entry(".wh.x/y", data=b"y")], ".wh.x/y"),
        "root-replaced": ([entry("./", data=b"file")], "./"),
    }


_CASE_IDS = list(_hostile_cases("/sentinel"))


@pytest.mark.parametrize("case", _CASE_IDS)
def test_hostile_layer_is_refused_and_nothing_outside_changes(tmp_path: t.Any, case: str) -> None:
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "keep").write_bytes(b"original")
    members, bad_member = _hostile_cases(str(sentinel))[case]
    dest = str(tmp_path / "layer")
    os.mkdir(dest)
    outside = str(tmp_path.parent)
    before = snapshot(outside, dest)
    host_root = sorted(os.listdir("/"))

    with pytest.raises(UnsafeLayer) as info:
        extract(tar(*members), dest)

    assert info.value.layer == LAYER and info.value.member == bad_member
    assert LAYER in str(info.value) and repr(bad_member) in str(info.value)
    assert snapshot(outside, dest) == before
    assert sorted(os.listdir("/")) == host_root
    assert not os.path.lexists("/evil") and not os.path.lexists("/etc/evil")


def test_absolute_names_land_inside_the_layer(tmp_path: t.Any) -> None:
    with open("/etc/passwd", "rb") as fh:
        passwd = hashlib.sha256(fh.read()).hexdigest()
    dest = str(tmp_path / "layer")
    extract(tar(entry("/etc/evil", data=b"inside"), entry("/etc/passwd", data=b"root::0:0::/:/bin/sh\n"),
                entry("//./etc/../etc/evil2", data=b"inside")), dest)
    assert open(os.path.join(dest, "etc/evil"), "rb").read() == b"inside"
    assert sorted(os.listdir(os.path.join(dest, "etc"))) == ["evil", "evil2", "passwd"]
    assert not os.path.lexists("/etc/evil") and not os.path.lexists("/etc/evil2")
    with open("/etc/passwd", "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == passwd


def test_symlinks_may_point_anywhere_and_are_not_followed(tmp_path: t.Any) -> None:
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "keep").write_bytes(b"original")
    data = tar(
        entry("abs", "symlink", linkname=str(sentinel / "keep"), uid=9, mode=0o777),
        entry("abs", data=b"replaced the link, not its target"),
        entry("rel", "symlink", linkname="../sentinel", pax_headers={"SCHILY.xattr.user.x": "refused on symlinks"}),
    )
    dest = str(tmp_path / "layer")
    extract(data, dest)
    assert (sentinel / "keep").read_bytes() == b"original"
    assert os.stat(sentinel / "keep").st_uid == 0
    assert open(os.path.join(dest, "abs"), "rb").read() == b"replaced the link, not its target"
    assert os.readlink(os.path.join(dest, "rel")) == "../sentinel"


# --------------------------------------------------------------------------- streams and errors


def test_stream_is_read_up_to_the_end_marker_and_the_caller_drains_it(tmp_path: t.Any) -> None:
    data = tar(entry("a", data=b"a" * 5000)) + b"\0" * 4096 + b"trailing"
    raw = gzip.compress(data)
    raw_hash = HashingReader(io.BytesIO(raw))
    media_type = "application/vnd.oci.image.layer.v1.tar+gzip"
    diff_hash = HashingReader(decompress.open_decompressed(t.cast(t.BinaryIO, raw_hash), media_type))
    dest = str(tmp_path / "layer")
    os.mkdir(dest)
    assert unpack.extract_layer(t.cast(t.BinaryIO, diff_hash), dest, LAYER) == 5000
    diff_hash.drain()
    raw_hash.drain()
    assert diff_hash.digest == "sha256:" + hashlib.sha256(data).hexdigest()
    assert raw_hash.digest == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_zstd_layer(tmp_path: t.Any) -> None:
    zstandard = pytest.importorskip("zstandard")
    raw = zstandard.ZstdCompressor().compress(tar(entry("z/", "dir"), entry("z/f", data=b"zstd")))
    dest = str(tmp_path / "layer")
    os.mkdir(dest)
    assert unpack.extract_layer(decompress.open_decompressed(io.BytesIO(raw)), dest, LAYER) == 4
    assert open(os.path.join(dest, "z/f"), "rb").read() == b"zstd"


@pytest.mark.parametrize("data", [b"", bytes(1024), bytes(10240)], ids=["empty-stream", "end-marker", "record"])
def test_empty_layers(tmp_path: t.Any, data: bytes) -> None:
    dest = str(tmp_path / "layer")
    assert extract(data, dest) == 0
    assert os.listdir(dest) == []


@pytest.mark.parametrize(
    "data, match",
    [
        (b"this is not a tar archive at all" * 20, "unreadable tar stream"),
        (tar(entry("a", data=b"x" * 3000))[:1500], "unreadable tar stream"),
        (tar(entry("ok", data=b"1"), entry("big", data=b"x" * 3000))[:2000], "near member 'big'"),
    ],
    ids=["garbage", "truncated-first", "truncated-later"],
)
def test_unreadable_streams_raise_store_errors(tmp_path: t.Any, data: bytes, match: str) -> None:
    with pytest.raises(StoreError, match=match) as info:
        extract(data, str(tmp_path / "layer"))
    assert LAYER in str(info.value) and not isinstance(info.value, UnsafeLayer)


def test_unsupported_member_type_is_refused(tmp_path: t.Any) -> None:
    info, dummy = entry("vol")
    info.type = b"V"
    with pytest.raises(UnsafeLayer, match="unsupported type"):
        extract(tar((info, b"")), str(tmp_path / "layer"))


def test_destination_must_be_empty(tmp_path: t.Any) -> None:
    dest = tmp_path / "layer"
    dest.mkdir()
    (dest / "old").write_text("x")
    with pytest.raises(StoreError, match="not empty"):
        extract(tar(entry("a")), str(dest))
    with pytest.raises(StoreError, match="cannot use extraction directory"):
        unpack.extract_layer(io.BytesIO(tar(entry("a"))), str(tmp_path / "missing"), LAYER)


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="needs a tmpfs at /dev/shm")
def test_many_small_files_throughput() -> None:
    """A smoke check against accidental quadratic behaviour (the real figures are in the report).

    It runs on tmpfs so that it measures this code rather than the disk.
    """
    count = 5000
    members = [entry(f"d{i % 50:02d}/", "dir") for i in range(50)]
    members += [entry(f"d{i % 50:02d}/f{i}", data=b"%d" % i * 20) for i in range(count)]
    raw = gzip.compress(tar(*members), compresslevel=1)
    dest = tempfile.mkdtemp(prefix="berth-unpack-", dir="/dev/shm")
    try:
        start = time.process_time()  # processor time: this code's work, however busy the host is
        unpack.extract_layer(decompress.open_decompressed(io.BytesIO(raw)), dest, LAYER)
        rate = count / max(time.process_time() - start, 1e-3)
        assert len(os.listdir(os.path.join(dest, "d07"))) == count // 50
    finally:
        shutil.rmtree(dest)
    assert rate > 2000, f"{rate:.0f} files/s"

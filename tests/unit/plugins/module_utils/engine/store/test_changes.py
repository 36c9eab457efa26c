# SPDX-License-Identifier: GPL-3.0-or-later
"""store/changes.py on plain directories: overlay whiteouts and opaque dirs in ``diff``, and the tar of ``export``.

Whiteouts (0:0 character devices) need CAP_MKNOD and ``trusted.*`` xattrs CAP_SYS_ADMIN: these tests run as root.
"""
from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.errors import StoreError
from ansible_collections.berth.engine.plugins.module_utils.engine.store import changes

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts and trusted.* xattrs need root")

# A tree: path -> spec. "dir", "opaque" (a directory with trusted.overlay.opaque=y), "wh" (a whiteout),
# "link:TARGET" (a symlink), anything else: a file with that content.
Tree = t.Mapping[str, str]
DIR_MTIME = 1_000_000_000


def make(root: t.Any, tree: Tree) -> str:
    root = str(root)
    os.makedirs(root, exist_ok=True)
    for rel, spec in sorted(tree.items()):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if spec in ("dir", "opaque"):
            os.makedirs(path, exist_ok=True)
            if spec == "opaque":
                os.setxattr(path, changes.OPAQUE_XATTR, b"y")
        elif spec == "wh":
            os.mknod(path, stat.S_IFCHR | 0o000, 0)
        elif spec.startswith("link:"):
            os.symlink(spec[5:], path)
        else:
            with open(path, "w") as fh:
                fh.write(spec)
    for dirpath, dummy, dummy2 in os.walk(root):
        os.utime(dirpath, (DIR_MTIME, DIR_MTIME))  # every tree's directories alike: only what a test changes differs
    return root


def run_diff(tmp_path: t.Any, lowers: t.Sequence[Tree], upper: Tree, mountpoints: t.Sequence[str] = ()) -> list[str]:
    dirs = [make(tmp_path / f"l{i}", tree) for i, tree in enumerate(lowers)]
    up = make(tmp_path / "upper", upper)
    return [f"{kind} {path}" for kind, path in changes.diff(up, dirs, mountpoints)]


BASE = {"etc": "dir", "etc/passwd": "root", "etc/group": "root", "usr": "dir", "usr/lib": "dir",
        "usr/lib/a": "a", "usr/lib/b": "b", "var": "dir", "var/old": "dir", "var/old/x": "x"}

CASES: list[tuple[str, list[Tree], Tree, list[str]]] = [
    ("nothing", [BASE], {}, []),
    ("added file, new dir", [BASE], {"new": "dir", "new/f": "1", "top": "t"}, ["A /new", "A /new/f", "A /top"]),
    ("changed file lists its parent", [BASE], {"etc": "dir", "etc/passwd": "root2"}, ["C /etc", "C /etc/passwd"]),
    ("deleted file", [BASE], {"etc": "dir", "etc/group": "wh"}, ["C /etc", "D /etc/group"]),
    ("deleted directory is one line", [BASE], {"var": "dir", "var/old": "wh"}, ["C /var", "D /var/old"]),
    ("deleted then recreated directory (opaque)", [BASE],
     {"usr": "dir", "usr/lib": "opaque", "usr/lib/b": "b2", "usr/lib/c": "c"},
     ["C /usr", "C /usr/lib", "D /usr/lib/a", "C /usr/lib/b", "A /usr/lib/c"]),
    ("a directory made again below an opaque one is replaced too", [BASE],
     {"usr": "opaque", "usr/lib": "dir", "usr/lib/a": "a2"},
     ["C /usr", "C /usr/lib", "C /usr/lib/a", "D /usr/lib/b"]),
    ("whiteout of a name the image lacks is nothing", [BASE], {"etc": "dir", "etc/ghost": "wh"}, []),
    ("file replaced by a directory", [BASE], {"etc": "dir", "etc/passwd": "opaque", "etc/passwd/x": "1"},
     ["C /etc", "C /etc/passwd", "A /etc/passwd/x"]),
    ("directory replaced by a file", [BASE], {"var": "dir", "var/old": "now a file"}, ["C /var", "C /var/old"]),
    ("a lower whiteout hides the name: making it again is an add",
     [{"etc": "dir", "etc/motd": "wh"}, BASE], {"etc": "dir", "etc/passwd": "wh", "etc/motd": "m"},
     ["C /etc", "A /etc/motd", "D /etc/passwd"]),
    ("a lower whiteout of a name the upper deletes again: nothing to delete",
     [{"etc": "dir", "etc/group": "wh"}, BASE], {"etc": "dir", "etc/group": "wh"}, []),
    ("a lower opaque dir hides what is below it",
     [{"usr": "dir", "usr/lib": "opaque", "usr/lib/z": "z"}, BASE],
     {"usr": "dir", "usr/lib": "opaque", "usr/lib/n": "n"},
     ["C /usr", "C /usr/lib", "A /usr/lib/n", "D /usr/lib/z"]),
    ("a name in a higher layer hides its whiteout below",
     [{"etc": "dir", "etc/group": "g2"}, {"etc": "dir", "etc/group": "wh"}, BASE],
     {"etc": "dir", "etc/group": "wh"}, ["C /etc", "D /etc/group"]),
    ("symlink added", [BASE], {"ln": "link:/etc/passwd"}, ["A /ln"]),
    ("sorted by bytes like docker", [BASE], {"a-b": "1", "a": "dir", "a/b": "2"}, ["A /a", "A /a-b", "A /a/b"]),
    ("no layers at all", [], {"f": "1"}, ["A /f"]),
]


@pytest.mark.parametrize("lowers, upper, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_diff(tmp_path: t.Any, lowers: list[Tree], upper: Tree, expected: list[str]) -> None:
    assert run_diff(tmp_path, lowers, upper) == expected


def test_directory_metadata_counts_but_not_for_mountpoint_parents(tmp_path: t.Any) -> None:
    lower = make(tmp_path / "l0", BASE)
    up = make(tmp_path / "upper", {"etc": "dir", "usr": "dir", "var": "dir"})
    for d in ("etc", "usr", "var"):
        st = os.stat(os.path.join(lower, d))
        os.utime(os.path.join(up, d), ns=(st.st_atime_ns, st.st_mtime_ns))
    assert changes.diff(up, [lower]) == []
    os.chmod(os.path.join(up, "usr"), 0o700)  # mode
    os.utime(os.path.join(up, "var"), (1, 1))  # mtime
    os.utime(os.path.join(up, "etc"), (1, 1))  # mtime of a directory that holds a mountpoint: not compared
    assert changes.diff(up, [lower], ["/etc/hosts"]) == [("C", "/usr"), ("C", "/var")]


def test_runtime_mountpoints_are_no_changes(tmp_path: t.Any) -> None:
    mountpoints = ["/proc", "/dev", "/etc/hosts", "/etc/resolv.conf", "/run/x/y"]
    upper = {"proc": "dir", "dev": "dir", "etc": "dir", "etc/hosts": "", "etc/resolv.conf": "copied up",
             "run": "dir", "run/x": "dir", "run/x/y": "dir"}
    # /etc and /run: the image lacks them, made only to hold mountpoints (Docker's init layer has them)
    assert run_diff(tmp_path, [{"bin": "dir"}], upper, mountpoints) == []


def test_runtime_mountpoints_keep_real_changes_around_them(tmp_path: t.Any) -> None:
    upper = {"etc": "dir", "etc/hosts": "", "etc/new": "1", "proc": "dir", "proc/leftover": "x",
             "dev": "wh"}
    assert run_diff(tmp_path, [{"dev": "dir", "etc": "dir"}], upper, ["/proc", "/dev", "/etc/hosts"]) == [
        "D /dev", "C /etc", "A /etc/new", "C /proc", "A /proc/leftover"]


def test_image_lookups(tmp_path: t.Any) -> None:
    top = make(tmp_path / "top", {"d": "opaque", "d/n": "n", "gone": "wh", "f": "dir"})
    base = make(tmp_path / "base", {"d": "dir", "d/o": "o", "gone": "g", "f": "file", "keep": "k"})
    st, dirs = changes.image_entry([top, base], "d")
    assert st is not None and stat.S_ISDIR(st.st_mode) and dirs == [os.path.join(top, "d")]
    assert changes.image_entry([top, base], "gone") == (None, [])
    st, dirs = changes.image_entry([top, base], "f")  # a directory over a file: the file does not show
    assert stat.S_ISDIR(st.st_mode) and dirs == [os.path.join(top, "f")]
    assert changes.image_entry([top, base], "missing") == (None, [])
    assert changes.image_names([top, base]) == ["d", "f", "keep"]
    assert changes.image_names(dirs) == []


def test_missing_upper_dir_is_a_store_error(tmp_path: t.Any) -> None:
    with pytest.raises(StoreError, match="upper dir"):
        changes.diff(str(tmp_path / "nope"), [])


# ------------------------------------------------------------------ export
def export(root: str) -> tuple[list[tarfile.TarInfo], dict[str, bytes], bytes]:
    out = io.BytesIO()
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        count = changes.write_tar(fd, out)
    finally:
        os.close(fd)
    raw = out.getvalue()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        members = tf.getmembers()
        data = {m.name: tf.extractfile(m).read() for m in members if m.isreg()}  # type: ignore[union-attr]
    assert count == len(members)
    return members, data, raw


def test_export_tar_of_a_tree(tmp_path: t.Any) -> None:
    import socket

    root = make(tmp_path / "root", {"bin": "dir", "bin/sh": "#!", "etc": "dir", "etc/conf": "c", "ln": "link:bin/sh",
                                    "wh": "wh", "z": "dir", "a-b": "x"})
    os.link(os.path.join(root, "bin/sh"), os.path.join(root, "z/sh-again"))
    os.chown(os.path.join(root, "etc/conf"), 1234, 5678)
    os.chmod(os.path.join(root, "etc/conf"), 0o4751)
    os.utime(os.path.join(root, "etc/conf"), (1_600_000_000.7, 1_600_000_000.7))
    os.mkfifo(os.path.join(root, "fifo"))
    os.mknod(os.path.join(root, "null"), stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.setxattr(os.path.join(root, "bin"), changes.OPAQUE_XATTR, b"y")
    os.setxattr(os.path.join(root, "bin/sh"), "user.other", b"1")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(os.path.join(root, "sock"))
    sock.close()
    members, data, raw = export(root)
    by = {m.name: m for m in members}
    # byte order, each directory's entries before the next one's; no root entry, no whiteout, no socket
    assert [m.name for m in members] == ["a-b", "bin", "bin/sh", "etc", "etc/conf", "fifo", "ln", "null", "z",
                                         "z/sh-again"]
    conf = by["etc/conf"]
    assert (conf.uid, conf.gid, conf.mode, conf.mtime, conf.uname, conf.gname) == (1234, 5678, 0o4751,
                                                                                   1_600_000_000, "", "")
    assert data["etc/conf"] == b"c" and data["bin/sh"] == b"#!"
    assert by["ln"].issym() and by["ln"].linkname == "bin/sh"
    assert by["z/sh-again"].islnk() and by["z/sh-again"].linkname == "bin/sh"
    assert by["fifo"].isfifo()
    assert by["null"].ischr() and (by["null"].devmajor, by["null"].devminor) == (1, 3)
    assert not any(m.pax_headers for m in members)  # neither overlay's xattrs nor others
    assert b"trusted.overlay" not in raw and b"./" not in raw[:100]
    names = subprocess.run(["tar", "-tf", "-"], input=raw, capture_output=True, check=True).stdout.decode().split()
    assert "bin/" in names and "z/" in names  # directories end in "/"


def test_export_keeps_file_capabilities(tmp_path: t.Any) -> None:
    root = make(tmp_path / "root", {"ping": "elf"})
    cap = bytes.fromhex("0100000200200000000000000000000000000000")  # cap_net_raw+ep, VFS_CAP_REVISION_2
    try:
        os.setxattr(os.path.join(root, "ping"), changes.CAPABILITY_XATTR, cap)
    except OSError as exc:
        pytest.skip(f"cannot set file capabilities here: {exc}")
    members, dummy, dummy2 = export(root)
    (ping,) = members
    assert ping.pax_headers["SCHILY.xattr." + changes.CAPABILITY_XATTR].encode("utf-8", "surrogateescape") == cap


def test_export_pads_a_file_that_shrinks_while_read(tmp_path: t.Any) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abcdef")
    fd = os.open(str(path), os.O_RDONLY)
    try:
        reader = changes._Exactly(fd, 10)
        assert reader.read(4) == b"abcd"
        assert reader.read(100) == b"ef\0\0\0\0"
        assert reader.read(10) == b""
        os.lseek(fd, 0, os.SEEK_SET)
        assert changes._Exactly(fd, 3).read(8) == b"abc"  # grew: only what the header promised
    finally:
        os.close(fd)

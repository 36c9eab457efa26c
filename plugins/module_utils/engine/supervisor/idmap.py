# SPDX-License-Identifier: GPL-3.0-or-later
"""Idmapped image layers for containers in a user namespace (``userns-remap``, ``userns_mode: private``).

A remapped container's root is a host uid such as 100000, so the image's files, owned by host root, must
look owned by 100000. Where the kernel can (Linux 5.19+ and a file system with idmapped mounts: ext4,
xfs, btrfs, tmpfs 6.3+ ...), nothing is copied: each layer directory is cloned as a detached mount
(``open_tree``), idmapped through a user namespace holding the container's mapping (``mount_setattr``
``MOUNT_ATTR_IDMAP``), attached under the container directory (``move_mount``) for overlayfs to take as a
lower dir, and detached again as soon as the overlay is mounted: overlayfs keeps private clones of its
layers, so no mount is left to clean up. Podman does the same. The container's writes land in its upper
dir as the mapped host IDs, exactly as over the copies.

Elsewhere the engine falls back to layer copies with shifted owners (``store/remap.py``). Which one a
host gets is probed once per kernel release and data root (a throw-away idmapped overlay in ``tmp/``)
and remembered in ``<root>/runtime/idmap.json``; a start whose idmapped mount still fails falls back too.
"""
from __future__ import annotations

import errno
import os

from ..core import fs
from ..runtime import CLONE_NEWUSER, MNT_DETACH, OPEN_TREE_CLONE

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time: ``berth run`` may mount through here
    import typing as t

    from ..core.layout import Layout
    from ..runtime import Syscalls

#: What a kernel or file system without idmapped (overlay lower) mounts answers.
UNSUPPORTED = frozenset({errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP,
                         errno.EBADF, errno.E2BIG})


def map_text(ranges: t.Iterable[t.Any]) -> str:
    """``/proc/PID/uid_map`` text of ``IdMap`` ranges (container_id, host_id, size)."""
    return "".join(f"{r.container_id} {r.host_id} {r.size}\n" for r in ranges)


def userns_fd(uid_map: str, gid_map: str, syscalls: Syscalls) -> int:
    """A close-on-exec fd of a new user namespace with these maps (held by a child that exits at once)."""
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover  (the child: reports through the pipe, or by dying)
        try:
            os.close(ready_r)
            os.close(done_w)
            syscalls.unshare(CLONE_NEWUSER)
            os.write(ready_w, b"1")
            os.read(done_r, 1)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(done_r)
    try:
        if os.read(ready_r, 1) != b"1":
            raise OSError(errno.EPERM, "unshare(CLONE_NEWUSER) failed: user namespaces are not available")
        for name, text in (("uid_map", uid_map), ("gid_map", gid_map)):
            with open(f"/proc/{pid}/{name}", "w", encoding="ascii") as fh:
                fh.write(text)
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_r)
        os.close(done_w)
        os.waitpid(pid, 0)


class IdmappedLayers:
    """``with IdmappedLayers(...) as lower:`` the layer dirs (top first) idmapped and attached under *where*
    (``where/0``, ``where/1`` ...); on leaving, detached and the directories removed. Mount the overlay
    inside the block: it keeps its own clones."""

    def __init__(self, syscalls: Syscalls, layers: t.Sequence[str], uid_map: str, gid_map: str, where: str) -> None:
        self.syscalls = syscalls
        self.layers = list(layers)
        self.uid_map = uid_map
        self.gid_map = gid_map
        self.where = where
        self.attached: list[str] = []

    def __enter__(self) -> list[str]:
        try:
            ns = userns_fd(self.uid_map, self.gid_map, self.syscalls)
            try:
                fs.ensure_dir(self.where, 0o700)
                for i, layer in enumerate(self.layers):
                    fd = self.syscalls.open_tree(layer, OPEN_TREE_CLONE)
                    try:
                        self.syscalls.mount_setattr_idmap(fd, ns)
                        point = os.path.join(self.where, str(i))
                        fs.ensure_dir(point, 0o700)
                        self.syscalls.move_mount(fd, point)
                        self.attached.append(point)
                    finally:
                        os.close(fd)
            finally:
                os.close(ns)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return list(self.attached)

    def __exit__(self, *exc: t.Any) -> None:
        for point in reversed(self.attached):
            try:
                self.syscalls.umount2(point, MNT_DETACH)
            except OSError:
                pass
        self.attached = []
        fs.rmtree(self.where)


def supported(layout: Layout, syscalls: Syscalls, probe: t.Callable[[], bool] | None = None) -> bool:
    """Whether containers on this data root can get idmapped layers: remembered per kernel release, else
    probed (*probe* replaces the real probe in tests)."""
    marker = os.path.join(layout.runtime_state_dir, "idmap.json")
    release = os.uname().release
    known = fs.read_json(marker)
    if isinstance(known, dict) and known.get("kernel") == release and isinstance(known.get("supported"), bool):
        return bool(known["supported"])
    ok = probe() if probe is not None else _probe(layout, syscalls)
    fs.ensure_dir(layout.runtime_state_dir, 0o700)
    fs.atomic_write_json(marker, {"kernel": release, "supported": ok}, fsync=False)
    return ok


def forget(layout: Layout) -> None:
    """Probe again next time (a start found the idmapped mount refused after all)."""
    fs.remove_quietly(os.path.join(layout.runtime_state_dir, "idmap.json"))


def _probe(layout: Layout, syscalls: Syscalls) -> bool:
    """An idmapped lower dir under an overlay, in the data root's ``tmp/``, mounted and taken down."""
    from .overlay import options

    fs.ensure_dir(layout.tmp_dir, 0o700)
    base = os.path.join(layout.tmp_dir, f"idmap-probe-{os.getpid()}-{os.urandom(4).hex()}")
    lower, upper, work, target = (os.path.join(base, n) for n in ("lower", "upper", "work", "mnt"))
    for d in (lower, upper, work, target):
        fs.ensure_dir(d, 0o700)
    with open(os.path.join(lower, "f"), "wb"):
        pass  # owned by root: must show as 100000 through the overlay
    try:
        with IdmappedLayers(syscalls, [lower], "0 100000 1\n", "0 100000 1\n", os.path.join(base, "idmapped")) as low:
            syscalls.mount("overlay", target, "overlay", 0, options(low, upper, work))
            try:
                st = os.stat(os.path.join(target, "f"))
            finally:
                syscalls.umount2(target, MNT_DETACH)
            return (st.st_uid, st.st_gid) == (100000, 100000)
    except OSError as exc:
        if exc.errno in UNSUPPORTED:
            return False
        raise
    finally:
        fs.rmtree(base)

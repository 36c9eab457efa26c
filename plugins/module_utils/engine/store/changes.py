# SPDX-License-Identifier: GPL-3.0-or-later
"""A container's files against its image: ``docker diff`` and ``docker export``.

* :func:`diff` compares a container's overlayfs upper dir with the image's layer dirs (top first,
  overlay's ``lowerdir`` order) as they are on disk, nothing mounted, and names what the container
  added (``A``), changed (``C``) and deleted (``D``).
* :func:`write_tar` streams the tree below an open directory as the tar ``docker export`` writes. The
  caller hands it the merged view: a container's mounted rootfs, or a read-only overlay of its upper dir
  over the image layers (services/containers/export.py mounts it).

Overlayfs on disk (kernel ``Documentation/filesystems/overlayfs.rst``; the layer dirs are written the
same way by store/unpack.py, the marks named in store/whiteouts.py): a character device 0:0 is a whiteout
(the name is deleted), a directory with the xattr ``trusted.overlay.opaque=y`` is opaque (nothing below it
in lower layers shows through).

How :func:`diff` follows Docker (moby ``pkg/archive/changes.go``, its overlay differ), and where it does
not:

* An entry of the upper dir that the image does not have is ``A``; one it has is ``C`` (a non-directory
  is only ever in the upper dir because it was written, or its metadata changed); a whiteout of an entry
  of the image is ``D``.
* A directory the image has too is ``C`` when its mode, owner or mtime differ (mtimes compared as moby's
  ``sameFsTime``), or when something below it changed: every parent directory of a change is listed.
* An opaque directory: Docker reports it as deleted (``D``) and then its new content; here it is ``C``,
  and each entry the image had in it and the container did not make again is ``D`` (so the output says
  what was deleted). Below an opaque directory the image's content is hidden, so a directory made
  again there is treated as opaque too.
* *mountpoints*: what the runtime creates in the upper dir to mount on (``/proc``, ``/etc/hosts`` ...).
  Docker keeps those in the container's init layer, below the one it diffs, so they never show; here
  such an entry (if it is not a whiteout) is no change of its own, and a directory made only to hold one
  (``/etc`` in an image without it) counts as one the image has, whose mtime is not compared (making
  the mountpoint changed it). Their content, should there be any, is compared as usual.
"""
from __future__ import annotations

import errno
import os
import stat
import tarfile
import typing as t

from ..errors import StoreError
from .whiteouts import OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX

ADDED = "A"
CHANGED = "C"
DELETED = "D"

#: The one xattr ``docker export`` writes (moby ``ReadSecurityXattrToTarHeader``).
CAPABILITY_XATTR = "security.capability"

_GONE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)
_COPY = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK

Change = t.Tuple[str, str]  # (kind: "A" | "C" | "D", absolute path in the container)


# =============================================================================== overlay on disk
def is_whiteout(st: os.stat_result) -> bool:
    """A 0:0 character device: overlayfs's mark of a deleted name."""
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str) -> bool:
    """A directory with ``trusted.overlay.opaque=y``: the lower layers' content below it is hidden."""
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError as exc:
        if exc.errno in _GONE:
            return None
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError as exc:
        if exc.errno in _GONE:
            return []
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None


def image_entry(dirs: t.Sequence[str], name: str) -> tuple[os.stat_result | None, list[str]]:
    """What the image has at ``<dir>/name``, given its layer dirs *dirs* at the parent (top first).

    Returns the entry's lstat (None when the image has no such entry) and, for a directory, the layer dirs
    that make it up (top first; none past an opaque one, nor past a layer where the name is not a
    directory or is whited out): the *dirs* of its own entries.
    """
    found: os.stat_result | None = None
    below: list[str] = []
    for d in dirs:
        path = os.path.join(d, name)
        st = _lstat(path)
        if st is None:
            continue
        if is_whiteout(st):
            break
        if found is None:
            found = st
        if not (stat.S_ISDIR(st.st_mode) and stat.S_ISDIR(found.st_mode)):
            break
        below.append(path)
        if is_opaque(path):
            break
    return found, below


def image_names(dirs: t.Sequence[str]) -> list[str]:
    """The names the image has in the directory made of the layer dirs *dirs* (top first), sorted."""
    present: dict[str, bool] = {}
    for d in dirs:
        for name in _listdir(d):
            if name not in present:
                st = _lstat(os.path.join(d, name))
                present[name] = st is not None and not is_whiteout(st)
    return sorted((n for n, here in present.items() if here), key=os.fsencode)


def _same_time(a_ns: int, b_ns: int) -> bool:
    """moby ``sameFsTime``: equal, or the same second when either side has no sub-second part."""
    if a_ns == b_ns:
        return True
    return a_ns // 1_000_000_000 == b_ns // 1_000_000_000 and (a_ns % 1_000_000_000 == 0 or b_ns % 1_000_000_000 == 0)


def _dir_changed(st: os.stat_result, image: os.stat_result, compare_mtime: bool) -> bool:
    if (st.st_mode, st.st_uid, st.st_gid) != (image.st_mode, image.st_uid, image.st_gid):
        return True
    return compare_mtime and not _same_time(st.st_mtime_ns, image.st_mtime_ns)


# =============================================================================== diff
class _Differ:
    def __init__(self, mountpoints: t.Iterable[str]) -> None:
        self.mountpoints = {"/" + p.strip("/") for p in mountpoints if p.strip("/")}
        self.holders: set[str] = set()  # the directories above the mountpoints (not "/")
        for p in self.mountpoints:
            parent = os.path.dirname(p)
            while parent != "/":
                self.holders.add(parent)
                parent = os.path.dirname(parent)
        self.found: dict[str, str] = {}

    def walk(self, upper: str, rel: str, image_dirs: list[str], replaced: bool) -> None:
        """The entries of the upper dir *upper* (the container's path *rel*); *image_dirs*: the image's
        layer dirs of that directory; *replaced*: the image's content of it is hidden (opaque)."""
        names = sorted(_listdir(upper), key=os.fsencode)
        if replaced:  # what the image had here and the container did not make again is deleted
            here = set(names)
            for name in image_names(image_dirs):
                if name not in here:
                    self.found[f"{rel}/{name}"] = DELETED
        for name in names:
            path = f"{rel}/{name}"
            full = os.path.join(upper, name)
            st = _lstat(full)
            if st is None:  # gone meanwhile (a running container)
                continue
            image, below = image_entry(image_dirs, name)
            if is_whiteout(st):
                if image is not None:
                    self.found[path] = DELETED
                continue
            if not stat.S_ISDIR(st.st_mode):
                if path not in self.mountpoints:
                    self.found[path] = ADDED if image is None else CHANGED
                continue
            opaque = replaced or is_opaque(full)
            if path in self.mountpoints or (image is None and path in self.holders):
                pass  # made by the runtime to mount on (Docker's init layer): no change of its own
            elif image is None:
                self.found[path] = ADDED
            elif not stat.S_ISDIR(image.st_mode):
                self.found[path] = CHANGED  # a directory where the image has a file
            elif opaque or _dir_changed(st, image, compare_mtime=path not in self.holders):
                self.found[path] = CHANGED
            if image is None or not stat.S_ISDIR(image.st_mode):
                below, opaque = [], False
            self.walk(full, path, below, opaque)

    def result(self) -> list[Change]:
        found = self.found
        for path in list(found):
            parent = os.path.dirname(path)
            while parent != "/" and parent not in found:
                found[parent] = CHANGED
                parent = os.path.dirname(parent)
        return [(found[p], p) for p in sorted(found, key=os.fsencode)]


def diff(upper: str, lowers: t.Sequence[str], mountpoints: t.Iterable[str] = ()) -> list[Change]:
    """``docker diff``: ``[(kind, path)]`` of the container's upper dir *upper* against the image layer dirs
    *lowers* (top first), sorted by path as Docker sorts them (byte order). *kind* is :data:`ADDED`,
    :data:`CHANGED` or :data:`DELETED`; *path* is absolute. *mountpoints* are the paths the runtime
    makes in the upper dir to mount on (see the module docstring)."""
    if not os.path.isdir(upper):
        raise StoreError(f"the container's upper dir {upper} is missing")
    differ = _Differ(mountpoints)
    differ.walk(upper, "", list(lowers), False)
    return differ.result()


# =============================================================================== export
class _Exactly:
    """*size* bytes of the open file *fd*: zeros after an early end, nothing past *size* (a running
    container may change a file while it is read; the tar header already promised *size*)."""

    def __init__(self, fd: int, size: int) -> None:
        self._fd = fd
        self._left = size

    def read(self, n: int = -1) -> bytes:
        """Exactly *n* bytes (tarfile's copy refuses fewer), or what is left of *size*."""
        if n is None or n < 0 or n > self._left:
            n = self._left
        chunks = []
        got = 0
        while got < n:
            data = os.read(self._fd, min(n - got, _COPY))
            if not data:
                chunks.append(b"\0" * (n - got))
                break
            chunks.append(data)
            got += len(data)
        self._left -= n
        return b"".join(chunks)


def _header(name: str, st: os.stat_result) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.mode = stat.S_IMODE(st.st_mode)
    ti.uid = st.st_uid
    ti.gid = st.st_gid
    ti.uname = ti.gname = ""
    ti.mtime = int(st.st_mtime)  # whole seconds, as moby writes them (no PAX header for every file)
    return ti


class _TarTree:
    """Writes the tree below a directory fd into an open tarfile."""

    def __init__(self, tf: tarfile.TarFile, root_fd: int,
                 owner: t.Callable[[int, int], tuple[int, int]] | None = None,
                 layer: bool = False, skip: t.AbstractSet[str] = frozenset()) -> None:
        self.tf = tf
        self.owner = owner
        #: an overlay upper dir as a layer: whiteouts as ``.wh.<name>``, opaque directories marked
        self.layer = layer
        self.skip = skip
        self.root_dev = os.fstat(root_fd).st_dev
        self.root_fd = root_fd
        self.links: dict[tuple[int, int], str] = {}
        self.count = 0

    @staticmethod
    def _names(dfd: int, where: str) -> list[str]:
        try:
            return sorted(os.listdir(dfd), key=os.fsencode)
        except OSError as exc:
            raise StoreError(f"cannot read /{where}: {exc.strerror or exc}") from None

    def write(self, name: str | None = None) -> None:
        # Depth-first in byte order, each directory's entries before the next directory's (moby walks with
        # filepath.Walk); an explicit stack, so deep trees need no recursion.
        stack: list[tuple[int, str, t.Iterator[str]]] = []
        if name is None:
            stack.append((self.root_fd, "", iter(self._names(self.root_fd, ""))))
        else:  # the entry *name* of the root (and its tree): what ``docker cp`` archives
            top = self._entry(self.root_fd, "", name)
            if top is not None:
                stack.append((top, name + "/", iter(self._names(top, name))))
        try:
            while stack:
                dfd, prefix, names = stack[-1]
                name = next(names, None)
                if name is None:
                    stack.pop()
                    if dfd != self.root_fd:
                        os.close(dfd)
                    continue
                child = self._entry(dfd, prefix, name)
                if child is not None:
                    stack.append((child, prefix + name + "/", iter(self._names(child, prefix + name))))
        finally:
            for dfd, dummy, dummy2 in stack:
                if dfd != self.root_fd:
                    os.close(dfd)

    def _entry(self, dfd: int, prefix: str, name: str) -> int | None:
        """Write one entry; returns the fd of a directory to enter next, or None."""
        arcname = prefix + name
        if arcname in self.skip:
            return None
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except OSError as exc:
            if exc.errno in _GONE:
                return None
            raise StoreError(f"cannot read /{arcname}: {exc.strerror or exc}") from None
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            ti = _header(arcname, st)
            ti.type = tarfile.DIRTYPE
            self._add(ti)
            if self.layer and _fd_opaque(dfd, name):
                marker = _header(arcname + "/" + WHITEOUT_OPAQUE, st)
                marker.type = tarfile.REGTYPE
                self._add(marker)
            if st.st_dev != self.root_dev:
                return None  # something mounted there: its mountpoint only
            try:
                return os.open(name, _DIR_FLAGS, dir_fd=dfd)
            except OSError as exc:
                if exc.errno in _GONE:
                    return None
                raise StoreError(f"cannot read /{arcname}: {exc.strerror or exc}") from None
        if self.layer and is_whiteout(st):
            ti = _header(prefix + WHITEOUT_PREFIX + name, st)
            ti.type = tarfile.REGTYPE
            self._add(ti)
            return None
        if stat.S_ISSOCK(mode) or is_whiteout(st):
            return None  # tar has no sockets; whiteouts are overlay's, not the container's
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in self.links:
            ti = _header(arcname, st)
            ti.type = tarfile.LNKTYPE
            ti.linkname = self.links[key]
            self._add(ti)
            return None
        if stat.S_ISREG(mode):
            if self._file(dfd, name, arcname) and st.st_nlink > 1:
                self.links[key] = arcname
            return None
        ti = _header(arcname, st)
        if stat.S_ISLNK(mode):
            ti.type = tarfile.SYMTYPE
            try:
                ti.linkname = os.readlink(name, dir_fd=dfd)
            except OSError as exc:
                if exc.errno in _GONE + (errno.EINVAL,):
                    return None
                raise StoreError(f"cannot read /{arcname}: {exc.strerror or exc}") from None
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            ti.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            ti.devmajor = os.major(st.st_rdev)
            ti.devminor = os.minor(st.st_rdev)
        elif stat.S_ISFIFO(mode):
            ti.type = tarfile.FIFOTYPE
        else:
            return None
        self._add(ti)
        if st.st_nlink > 1:
            self.links[key] = arcname
        return None

    def _file(self, dfd: int, name: str, arcname: str) -> bool:
        """Write a regular file (header from the open file's fstat); False when it is gone."""
        try:
            fd = os.open(name, _FILE_FLAGS, dir_fd=dfd)
        except OSError as exc:
            if exc.errno in _GONE:
                return False
            raise StoreError(f"cannot read /{arcname}: {exc.strerror or exc}") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return False  # replaced meanwhile
            ti = _header(arcname, st)
            ti.type = tarfile.REGTYPE
            ti.size = st.st_size
            try:
                cap = os.getxattr(fd, CAPABILITY_XATTR)
            except OSError:
                cap = None
            if cap:
                ti.pax_headers = {"SCHILY.xattr." + CAPABILITY_XATTR: cap.decode("utf-8", "surrogateescape")}
            self._add(ti, _Exactly(fd, st.st_size))
        finally:
            os.close(fd)
        return True

    def _add(self, ti: tarfile.TarInfo, data: t.Any = None) -> None:
        if self.owner is not None:
            ti.uid, ti.gid = self.owner(ti.uid, ti.gid)
        self.tf.addfile(ti, data)
        self.count += 1


def _fd_opaque(dfd: int, name: str) -> bool:
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=dfd)
    except OSError:
        return False
    try:
        return os.getxattr(fd, OPAQUE_XATTR) == b"y"
    except OSError:
        return False
    finally:
        os.close(fd)


def write_layer_tar(upper: str, out: t.BinaryIO, skip: t.Iterable[str] = ()) -> int:
    """A container's overlayfs upper dir *upper* as a layer tar written to *out*: :func:`write_tar`'s
    entries, plus the OCI whiteouts: a deleted name as an empty ``.wh.<name>``, an opaque directory
    followed by ``<dir>/.wh..wh..opq`` (what ``docker commit`` and each build step store). *skip*: paths
    (absolute in the container) left out with what is below them, the runtime's mountpoints."""
    names = {p.strip("/") for p in skip}
    fd = os.open(upper, _DIR_FLAGS)
    try:
        tf = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8")
        tree = _TarTree(tf, fd, None, layer=True, skip=names)
        tree.write()
        tf.close()
    finally:
        os.close(fd)
    return tree.count


def write_tar(root_fd: int, out: t.BinaryIO, owner: t.Callable[[int, int], tuple[int, int]] | None = None,
              name: str | None = None) -> int:
    """``docker export``: the tree below the open directory *root_fd* as a tar stream written to *out*
    (never seeked; left open); returns the number of entries.

    As moby writes it: names relative to the root, without ``/`` or ``./`` in front and without an entry
    for the root itself, directories ending in ``/``, each directory's entries in byte order; owner,
    mode, whole-second mtime, symlink targets, device numbers as on disk, no user or group names; a
    file's later names are hard links to its first; ``security.capability`` as a PAX xattr record.
    Sockets and whiteouts are left out; a directory on another file system (mounted below the root) is
    written, not entered. PAX format, so long names and large IDs fit. *owner* translates each entry's
    ``(uid, gid)`` (a user-namespaced container's host IDs back to its own, as Docker's export does).
    With *name*, only that entry of *root_fd* and, for a directory, its tree (``docker cp`` out).
    """
    tf = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8")
    tree = _TarTree(tf, root_fd, owner)
    tree.write(name)
    tf.close()
    return tree.count

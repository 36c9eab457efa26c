# SPDX-License-Identifier: GPL-3.0-or-later
"""Image layers with their owners shifted into a user namespace mapping (``userns-remap``), for kernels
without idmapped overlay layers (elsewhere supervisor/idmap.py mounts the layers idmapped: nothing is copied).

A remapped container's root is a host uid such as 100000: the image's files, owned by host root, would be
``nobody`` inside. Docker keeps a second store under ``<data-root>/<uid>.<gid>``; Berth keeps one cache
directory per mapping beside the layers, filled lazily, shared by every container with that mapping::

    layers-remap/<mapping key>/<diffid-hex>/diff/        the shifted copy (an overlayfs lower dir)
    layers-remap/<mapping key>/<diffid-hex>/remap.json   {diff_id, key, entries}: written inside the
                                                         staging dir, so a visible copy is complete

A copy is made in ``tmp/`` and renamed into place holding the gc lock (shared: prune and image removal
take it exclusively) and a per-(mapping, layer) lock, like a layer download. It keeps contents, modes
(setuid/setgid included: set after the chown that clears them), xattrs (``security.capability`` and the
overlay whiteout marks ``trusted.overlay.opaque``: set after the chown that drops them), hard links within
the layer, device nodes and FIFOs (overlay whiteouts are 0:0 character devices), symlinks and timestamps;
each uid/gid goes through *shift*. File content is cloned when the file system can (``FICLONE``), else
copied in the kernel (``copy_file_range``).

:func:`remove_layer` deletes the copies of a layer for every mapping (called when the layer is deleted);
:func:`sweep` deletes the copies garbage collection does not keep (their layer is gone, or no container
uses them).
"""
from __future__ import annotations

import errno
import os
import stat as _stat
import typing as t

from ..core import fs
from ..core.layout import Layout
from ..core.locks import flock
from ..errors import StoreError

#: (uid, gid) on the host of the image's (uid, gid); ValueError when the mapping does not cover one.
Shift = t.Callable[[int, int], t.Tuple[int, int]]

FICLONE = 0x40049409
_XATTR_SKIP = (errno.ENOTSUP, errno.EOPNOTSUPP)
_COPY_CHUNK = 1 << 30


class RemappedLayers:
    """The remapped copies of one mapping (*key*, e.g. ``100000.100000-65536``)."""

    def __init__(self, layout: Layout, key: str, shift: Shift, lock_timeout: float | None = 600.0) -> None:
        if not key or "/" in key or key.startswith("."):
            raise StoreError(f"invalid remapped-layer cache name {key!r}")
        self.layout = layout
        self.key = key
        self.shift = shift
        self.lock_timeout = lock_timeout

    def complete(self, diff_id: str) -> bool:
        return os.path.exists(self.layout.remap_layer_meta(self.key, diff_id))

    def ensure(self, diff_ids: t.Sequence[str]) -> list[str]:
        """The remapped ``diff`` directories of *diff_ids* (same order), created where missing."""
        missing = [d for d in diff_ids if not self.complete(d)]
        if missing:
            fs.ensure_dir(self.layout.locks_dir, 0o700)
            with flock(self.layout.gc_lock, shared=True, timeout=self.lock_timeout):
                for diff_id in missing:
                    self._create(diff_id)
        return [self.layout.remap_layer_diff(self.key, d) for d in diff_ids]

    def _create(self, diff_id: str) -> None:
        with flock(self.layout.object_lock(f"remap-{self.key}", diff_id), timeout=self.lock_timeout):
            if self.complete(diff_id):
                return  # another caller made it meanwhile
            source = self.layout.layer_diff(diff_id)
            if not os.path.exists(self.layout.layer_meta(diff_id)):
                raise StoreError(f"layer {diff_id} is missing from the store {self.layout.root}")
            fs.ensure_dir(self.layout.tmp_dir, 0o700)
            stage = fs.staging_path(self.layout.tmp_dir, "remap")
            os.mkdir(stage, 0o700)
            try:
                entries = shift_copy(source, os.path.join(stage, "diff"), self.shift, f"layer {diff_id}")
                meta = {"diff_id": diff_id, "key": self.key, "entries": entries}
                fs.atomic_write_json(os.path.join(stage, "remap.json"), meta, mode=0o600, pretty=False)
                dest = self.layout.remap_layer_dir(self.key, diff_id)
                fs.ensure_dir(os.path.dirname(dest), 0o700)
                fs.rmtree(dest)  # an incomplete leftover (no remap.json)
                os.rename(stage, dest)
            except BaseException:
                fs.rmtree(stage)
                raise


def remove_layer(layout: Layout, diff_id: str) -> None:
    """Delete the remapped copies of *diff_id* in every mapping (the caller is deleting the layer)."""
    try:
        keys = os.listdir(layout.remap_root)
    except FileNotFoundError:
        return
    for key in keys:
        fs.discard(layout.remap_layer_dir(key, diff_id), layout.tmp_dir)


def sweep(layout: Layout, keep: t.Callable[[str, str], bool]) -> int:
    """Delete the remapped copies ``keep(mapping key, diff_id)`` refuses and empty mapping directories;
    returns how many copies were deleted. Caller holds the gc lock exclusively."""
    try:
        keys = os.listdir(layout.remap_root)
    except FileNotFoundError:
        return 0
    count = 0
    for key in keys:
        kdir = layout.remap_dir(key)
        try:
            names = os.listdir(kdir)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for name in names:
            if not keep(key, "sha256:" + name):
                fs.discard(os.path.join(kdir, name), layout.tmp_dir)
                count += 1
        try:
            os.rmdir(kdir)
        except OSError:
            pass
    return count


def copies(layout: Layout) -> list[tuple[str, str]]:
    """(mapping key, diff_id) of every complete remapped copy."""
    out = []
    try:
        keys = sorted(os.listdir(layout.remap_root))
    except FileNotFoundError:
        return out
    for key in keys:
        try:
            names = sorted(os.listdir(layout.remap_dir(key)))
        except (FileNotFoundError, NotADirectoryError):
            continue
        out.extend((key, "sha256:" + n) for n in names
                   if os.path.exists(layout.remap_layer_meta(key, "sha256:" + n)))
    return out


# ---------------------------------------------------------------- the copy
def shift_copy(source: str, dest: str, shift: Shift, label: str = "layer") -> int:
    """Copy the tree *source* to *dest* (which must not exist) with every owner shifted; returns the
    number of entries copied. Never follows symlinks."""
    copier = _Copier(shift, label, source)
    st = os.lstat(source)
    os.mkdir(dest, 0o700)
    copier.tree(source, dest)
    copier.meta(source, dest, st)
    return copier.count


class _Copier:
    def __init__(self, shift: Shift, label: str, top: str) -> None:
        self.shift = shift
        self.label = label
        self.top = top
        self.count = 0
        self.links: dict[tuple[int, int], str] = {}

    def tree(self, src: str, dst: str) -> None:
        with os.scandir(src) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            s = entry.path
            d = os.path.join(dst, entry.name)
            st = entry.stat(follow_symlinks=False)
            self.count += 1
            mode = st.st_mode
            if _stat.S_ISDIR(mode):
                os.mkdir(d, 0o700)
                self.tree(s, d)
                self.meta(s, d, st)
                continue
            if st.st_nlink > 1:
                first = self.links.get((st.st_dev, st.st_ino))
                if first is not None:
                    os.link(first, d, follow_symlinks=False)
                    continue
                self.links[(st.st_dev, st.st_ino)] = d
            if _stat.S_ISREG(mode):
                _copy_file(s, d)
            elif _stat.S_ISLNK(mode):
                os.symlink(os.readlink(s), d)
            elif _stat.S_ISCHR(mode) or _stat.S_ISBLK(mode) or _stat.S_ISFIFO(mode) or _stat.S_ISSOCK(mode):
                os.mknod(d, _stat.S_IFMT(mode) | 0o600, st.st_rdev)
            else:  # pragma: no cover - nothing else exists on Linux
                raise StoreError(f"{self.label}: {s} has an unknown file type {oct(mode)}")
            self.meta(s, d, st)

    def meta(self, src: str, dst: str, st: os.stat_result) -> None:
        """Owner, then mode (chown clears setuid/setgid), then xattrs (chown drops security.capability),
        then times."""
        try:
            uid, gid = self.shift(st.st_uid, st.st_gid)
        except ValueError as exc:
            rel = os.path.relpath(src, self.top)
            raise StoreError(f"{self.label}: /{rel} is owned by {st.st_uid}:{st.st_gid}, which the user "
                             f"namespace mapping does not cover ({exc})") from None
        link = _stat.S_ISLNK(st.st_mode)
        os.chown(dst, uid, gid, follow_symlinks=False)
        if not link:
            os.chmod(dst, _stat.S_IMODE(st.st_mode))
        _copy_xattrs(src, dst)
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _copy_xattrs(src: str, dst: str) -> None:
    try:
        names = os.listxattr(src, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in _XATTR_SKIP:
            return
        raise
    for name in names:
        try:
            os.setxattr(dst, name, os.getxattr(src, name, follow_symlinks=False), follow_symlinks=False)
        except OSError as exc:
            if exc.errno not in _XATTR_SKIP:
                raise OSError(exc.errno, f"copy xattr {name} to {dst}: {exc.strerror}") from None


def _copy_file(src: str, dst: str) -> None:
    """Clone (FICLONE) or copy in the kernel (copy_file_range), falling back to read/write."""
    fin = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fout = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            size = os.fstat(fin).st_size
            if size and not _clone(fin, fout):
                _copy_range(fin, fout, size)
        finally:
            os.close(fout)
    finally:
        os.close(fin)


def _clone(fin: int, fout: int) -> bool:
    import fcntl

    try:
        fcntl.ioctl(fout, FICLONE, fin)
        return True
    except OSError:
        return False


def _copy_range(fin: int, fout: int, size: int) -> None:
    done = 0
    use_range = hasattr(os, "copy_file_range")
    while done < size:
        if use_range:
            try:
                n = os.copy_file_range(fin, fout, min(_COPY_CHUNK, size - done))  # type: ignore[attr-defined]
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                    raise
                use_range = False
                continue
        else:
            data = os.read(fin, 1 << 20)
            n = len(data)
            view = memoryview(data)
            while view:
                view = view[os.write(fout, view):]
        if n == 0:
            break  # the file shrank meanwhile
        done += n

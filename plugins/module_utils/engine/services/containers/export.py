# SPDX-License-Identifier: GPL-3.0-or-later
"""The container's filesystem: ``diff`` (its changes to the image) and ``export`` (all of it, as a tar).

Both work on a container in any state, under its lock; the guard is that it still exists once the lock is
held (``records.still_there``): a container removed meanwhile is NotFound.
"""
from __future__ import annotations

import os
import typing as t

from ...core import fs
from ...errors import EngineError, InvalidOption
from ...supervisor import lifecycle
from . import _common, records

if t.TYPE_CHECKING:
    from .records import ContainerRecord
    from .service import ContainerService

#: What the runtime makes in a container's upper dir to mount on (runtime/spec.py: the default mounts and
#: the engine's /etc files; ``diff`` adds spec.INIT_PATH). Docker keeps these in the container's init
#: layer, so ``docker diff`` never lists them; neither does :func:`diff`.
RUNTIME_MOUNTPOINTS = ("/proc", "/sys", "/dev", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf")


def diff(svc: ContainerService, name: str) -> list[dict[str, t.Any]]:
    """``docker diff``: what the container changed of its image's files, ``[{"Path", "Kind"}]`` sorted by
    path, ``Kind`` as in Docker's API (0 changed, 1 added, 2 deleted). Read from the upper dir beside the
    image layers, nothing mounted; the mountpoints the runtime makes there are no changes (store/changes.py)."""
    from ...supervisor import INIT_PATH
    from ...store import changes

    cid = records.require(svc, name)
    record = records.load(svc, cid)
    mountpoints = RUNTIME_MOUNTPOINTS + (INIT_PATH,)
    with lifecycle.locked(svc.layout, cid, svc.lock_timeout):
        records.still_there(svc, cid, name)
        found = changes.diff(svc.layout.upper(cid), _common.layers_of(svc, record, shifted=False), mountpoints)
    kinds = {changes.CHANGED: 0, changes.ADDED: 1, changes.DELETED: 2}
    return [{"Path": path, "Kind": kinds[kind]} for kind, path in found]


def export(svc: ContainerService, name: str, out: t.BinaryIO) -> int:
    """``docker export``: the container's whole filesystem (the image layers with its changes, flattened)
    as a tar stream written to *out* (store/changes.py ``write_tar``); returns the number of entries.

    A container whose rootfs is mounted (running, paused) is read through it: a directory fd opened under
    the container lock, which is then released (the monitor records an exit under it), and which keeps
    reading what the kernel keeps of the mount should the container stop meanwhile. Otherwise the upper
    dir and the image layers are mounted read-only for the export (:func:`_readonly_rootfs`), and the lock
    is held until the tar is written, so that the container cannot start meanwhile.
    """
    from ...supervisor import overlay
    from ...store import changes

    cid = records.require(svc, name)
    record = records.load(svc, cid)
    owner: t.Callable[[int, int], tuple[int, int]] | None = None
    if record.userns:  # the host IDs of a user-namespaced container back to its own, as Docker does
        from ...config.userns import IdMapping, to_container

        m = IdMapping.from_json(record.userns)

        def back(uid: int, gid: int) -> tuple[int, int]:
            return to_container(uid, m.uids), to_container(gid, m.gids)

        owner = back
    with lifecycle.locked(svc.layout, cid, svc.lock_timeout):
        records.still_there(svc, cid, name)
        rootfs = svc.layout.rootfs(cid)
        if not overlay.is_mounted(rootfs):
            fd = _readonly_rootfs(svc, record)
            try:
                return changes.write_tar(fd, out, owner)
            finally:
                os.close(fd)
        fd = os.open(rootfs, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return changes.write_tar(fd, out, owner)
    finally:
        os.close(fd)


def export_file(svc: ContainerService, name: str, path: str) -> int:
    """:func:`export` into the file *path*, atomically: written to a temporary file beside it, renamed over
    it once complete and synced; a failed export leaves *path* as it was."""
    cid = records.require(svc, name)
    if os.path.isdir(path):
        raise InvalidOption("output", path, "is a directory; name the archive file to write")
    try:
        target = fs.AtomicFile(path)
    except OSError as exc:
        raise InvalidOption("output", path, f"cannot write there: {exc.strerror or exc}") from None
    with target as fh:
        return export(svc, cid, fh)


class _Hashing:
    """A binary sink that hashes what passes through it to *out* (None: only hashes)."""

    def __init__(self, out: t.BinaryIO | None) -> None:
        import hashlib

        self.out = out
        self.hash = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        if self.out is not None:
            self.out.write(data)
        return len(data)


class _Same(Exception):
    """The new export equals the file already there: the temporary file is dropped."""


def export_file_if_changed(svc: ContainerService, name: str, path: str, dry_run: bool = False) -> bool:
    """:func:`export_file`, unless *path* already holds this export byte for byte (a stopped container's
    export is the same tar while its files do not change). Returns whether *path* changed; with *dry_run*
    the export is only hashed, and the return value says whether it would change."""
    from ...core.digest import sha256_file

    records.require(svc, name)
    if os.path.isdir(path):
        raise InvalidOption("path", path, "is a directory; name the archive file to write")
    before = str(sha256_file(path)) if os.path.isfile(path) else None
    if dry_run:
        sink = _Hashing(None)
        export(svc, name, t.cast(t.BinaryIO, sink))
        return "sha256:" + sink.hash.hexdigest() != before
    try:
        target = fs.AtomicFile(path)
    except OSError as exc:
        raise InvalidOption("path", path, f"cannot write there: {exc.strerror or exc}") from None
    try:
        with target as fh:
            sink = _Hashing(fh)
            export(svc, name, t.cast(t.BinaryIO, sink))
            if "sha256:" + sink.hash.hexdigest() == before:
                raise _Same()
    except _Same:
        return False
    return True


def _readonly_rootfs(svc: ContainerService, record: ContainerRecord, writable: bool = False) -> int:
    """A directory fd of the read-only overlay of the container's upper dir over its image layers
    (*writable*: the read-write one, through the upper and work dirs, as the container's start mounts it).

    The mount is detached (``MNT_DETACH``) as soon as the fd is open: the kernel keeps it for the fd
    and drops it when the fd is closed, so no mount is left behind whatever happens to this process.
    """
    from ...supervisor import overlay
    from ...runtime import LinuxSyscalls

    cid = record.id
    idmapped = bool(record.userns) and _common.idmap_supported(svc)
    layers = _common.layers_of(svc, record, shifted=not idmapped)
    empty = fs.ensure_dir(os.path.join(svc.layout.root, "empty"), 0o755)
    target = os.path.join(svc.layout.container_dir(cid), f"export-{os.urandom(6).hex()}")
    os.mkdir(target, 0o700)
    syscalls = LinuxSyscalls()

    def mount(lower: list[str], base: str | None = None) -> None:
        if writable:
            overlay.mount_rootfs(syscalls, svc.layout.root, lower, svc.layout.upper(cid), svc.layout.work(cid),
                                 target, empty, base=base)
            return
        overlay.mount_readonly(syscalls, svc.layout.root, [svc.layout.upper(cid), *lower], target, empty,
                               base=base)

    try:
        fd = -1
        try:
            if idmapped:  # the layers as the container sees them, as its start mounts them
                where = os.path.join(svc.layout.container_dir(cid), f"idmapped-{os.urandom(6).hex()}")
                with _common.idmapped_layers(syscalls, record, layers, where) as mapped:
                    mount(mapped, base=where)
            else:
                mount(layers)
            fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise EngineError(f"cannot mount the filesystem of container {record.name}: "
                              f"{exc.strerror or exc}") from None
        finally:
            try:
                lifecycle.unmount_below(target, include_self=True)
            except BaseException:
                if fd >= 0:
                    os.close(fd)
                raise
        return fd
    finally:
        try:
            os.rmdir(target)
        except OSError:
            pass  # still mounted: unmount_below raised, naming it

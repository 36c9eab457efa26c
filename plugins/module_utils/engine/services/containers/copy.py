# SPDX-License-Identifier: GPL-3.0-or-later
"""``docker cp``: files between a container and the host, both ways, as a tar stream.

Every path inside the container is resolved by the kernel in a forked child chrooted into the container's
root (:func:`_in_root`): ``..`` stops at the root and symlinks (absolute ones too) resolve inside it, and
this holds even while the container's own processes swap directories for symlinks, which a check made
beforehand in the engine (``secure_join``) could not promise. The host side of a copy out is extracted
the same way, in a child chrooted at the destination's parent, so an archive from the container cannot
write beyond it either. The tar is written by store/changes.py ``write_tar`` (as ``docker export``).

A running container is copied through its mounted rootfs; a stopped one through the overlay of its upper
dir over its image layers, mounted for the copy (read-write to copy in) and detached at once
(export.py ``_readonly_rootfs``), under the container lock so that it cannot start meanwhile.
"""
from __future__ import annotations

import os
import shutil
import stat
import tarfile
import typing as t

from ...errors import EngineError
from ...supervisor import lifecycle
from . import records

if t.TYPE_CHECKING:
    from .service import ContainerService

Owner = t.Callable[[int, int], t.Tuple[int, int]]


def cp_from(svc: ContainerService, name: str, src: str, dest: str | t.BinaryIO, archive: bool = False,
            follow_link: bool = False) -> None:
    """Copy *src* of the container to the host path *dest*, or as a tar stream to the binary file *dest*.

    As ``docker cp CONTAINER:SRC DEST``: a directory *src* ending in ``/.`` copies its content; *dest* an
    existing directory receives *src* by its name, else *src* is saved as *dest* (whose parent must exist).
    *archive* keeps the owners (as the container sees them), else the files belong to the caller.
    """
    from ...store import changes

    owner = _owners(svc, name, to_host=False)

    def write(out: t.BinaryIO) -> None:
        parent, base = _split(src)
        if follow_link and base:
            resolved = os.path.realpath(src)  # in the chroot: the link's target inside the container
            parent, base = _split(resolved)
        try:
            dfd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.stat(base or ".", dir_fd=dfd, follow_symlinks=False)
            except OSError:
                os.close(dfd)
                raise
        except OSError:
            raise EngineError(f"Could not find the file {src} in container {name}") from None
        try:
            if base:
                changes.write_tar(dfd, out, owner, name=base)
            else:  # the root itself
                changes.write_tar(dfd, out, owner)
        finally:
            os.close(dfd)

    if not isinstance(dest, str):
        _with_rootfs(svc, name, False, lambda fd: _pipe(fd, write, None, sink=dest))
        return
    dest = os.path.abspath(dest) + ("/" if dest.endswith(("/", "/.")) else "")
    host_parent = os.path.dirname(dest.rstrip("/")) or "/"
    if not os.path.isdir(host_parent):
        raise EngineError(f"destination directory {host_parent} does not exist")
    mine = (os.getuid(), os.getgid())
    extract = _extractor(os.path.basename(dest.rstrip("/")) + ("/" if dest.endswith("/") else ""),
                         src.endswith("/."), None if archive else (lambda uid, gid: mine), dest,
                         whole=_split(src)[1] == "")

    def both(root_fd: int) -> None:
        host_fd = os.open(host_parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            _pipe(root_fd, write, (host_fd, extract))
        finally:
            os.close(host_fd)

    _with_rootfs(svc, name, False, both)


def cp_to(svc: ContainerService, name: str, src: str | t.BinaryIO, dest: str, archive: bool = False,
          follow_link: bool = False) -> None:
    """Copy the host path *src*, or the tar stream read from the binary file *src*, to *dest* in the
    container (``docker cp SRC CONTAINER:DEST``, same rules as :func:`cp_from`; a tar stream is extracted
    into the existing directory *dest*). The files belong to the container's root (as its user namespace
    maps it) unless *archive*, which keeps their owners, mapped through the container's mapping."""
    from ...store import changes

    records.require(svc, name)
    to_host = _owners(svc, name, to_host=True)
    root = to_host(0, 0) if to_host else (0, 0)
    owner: Owner | None = to_host if archive else (lambda uid, gid: root)
    if isinstance(src, str):
        if follow_link:
            src = os.path.realpath(src)
        parent, base = _split(os.path.abspath(src))
        if not os.path.lexists(os.path.join(parent, base)):
            raise EngineError(f"lstat {src}: no such file or directory")
        extract = _extractor(dest, src.endswith("/."), owner, f"{name}:{dest}")

        def feed(out: t.BinaryIO) -> None:
            dfd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                changes.write_tar(dfd, out, None, name=base or None)
            finally:
                os.close(dfd)

        def both(root_fd: int) -> None:
            host_fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            _pipe(host_fd, feed, (root_fd, extract), close_src=True)

        _with_rootfs(svc, name, True, both)
        return
    extract = _extractor(dest, False, owner, f"{name}:{dest}", stream=True)
    _with_rootfs(svc, name, True, lambda fd: _pipe(-1, None, (fd, extract), source=src))


# ============================================================================ the two sides
def _split(path: str) -> tuple[str, str]:
    """(parent, name) of an absolute *path* (a trailing ``/.`` dropped); name "" for the root."""
    path = os.path.normpath(path)
    parent, base = os.path.split(path)
    return parent or "/", base


def _owners(svc: ContainerService, name: str, to_host: bool) -> Owner | None:
    """The container's ID mapping as a function of ``(uid, gid)``: to the host's IDs, or back."""
    record = records.load(svc, records.require(svc, name))
    if not record.userns:
        return None
    from ...config.userns import IdMapping, to_container
    from ...config.userns import to_host as host_id

    m = IdMapping.from_json(record.userns)
    if to_host:
        return lambda uid, gid: (host_id(uid, m.uids), host_id(gid, m.gids))
    return lambda uid, gid: (to_container(uid, m.uids), to_container(gid, m.gids))


def _extractor(dest: str, content_only: bool, owner: Owner | None, shown: str,
               stream: bool = False, whole: bool = False) -> t.Callable[[t.BinaryIO], None]:
    """What extracts a ``docker cp`` archive at *dest*, run where *dest* resolves safely (a chroot).

    The archive's first entry is the source: a directory goes into an existing directory *dest* by its
    name (its content with *content_only*), or becomes *dest*; a file goes into a directory *dest* or is
    saved as *dest*. *stream*: a tar from the user, extracted as it is into the existing directory *dest*.
    *whole*: the archive of a container's root (no entry of its own), whose content goes to *dest*.
    """

    def extract(stream_in: t.BinaryIO) -> None:
        try:
            tf = tarfile.open(fileobj=stream_in, mode="r|")
        except tarfile.ReadError:
            return  # nothing came: the producing side says why
        with tf:
            first = tf.next()
            if first is None:
                return
            is_dir = os.path.isdir(dest)
            top = "" if whole else first.name.split("/")[0]
            src_dir = whole or (first.isdir() and first.name.rstrip("/") == top)
            only_content = content_only or whole
            if stream:
                if not is_dir:
                    raise EngineError(f"destination {shown} must be a directory")
                target, rename = dest, None
            elif is_dir:
                target, rename = dest, ("" if only_content and src_dir else None)
            elif dest.endswith("/"):
                raise EngineError(f"destination directory {shown} does not exist")
            elif os.path.lexists(dest) and src_dir:
                raise EngineError(f"cannot copy a directory to a file: {shown}")
            else:
                target, rename = os.path.dirname(dest.rstrip("/")) or "/", os.path.basename(dest.rstrip("/"))
                if not os.path.isdir(target):
                    raise EngineError(f"No such container:path: {shown}")
            member: tarfile.TarInfo | None = first
            while member is not None:
                del tf.members[:]
                if rename is not None:
                    member.name = _renamed(member.name, top, rename)
                    if member.islnk():
                        member.linkname = _renamed(member.linkname, top, rename)
                if member.name:
                    if owner is not None:
                        member.uid, member.gid = owner(member.uid, member.gid)
                    path = os.path.join(target, member.name)
                    if not member.isdir() and os.path.lexists(path) and not stat.S_ISDIR(os.lstat(path).st_mode):
                        os.unlink(path)  # a symlink there is replaced, not followed
                    tf.extract(member, target, numeric_owner=True)
                member = tf.next()

    return extract


def _renamed(name: str, top: str, new: str) -> str:
    rest = name[len(top):].lstrip("/") if top and (name == top or name.startswith(top + "/")) else name
    if not new:
        return rest
    return f"{new}/{rest}" if rest else new


# ============================================================================ processes
def _with_rootfs(svc: ContainerService, name: str, writable: bool, work: t.Callable[[int], None]) -> None:
    """Run *work* with a directory fd of the container's root, under the container lock."""
    from ...supervisor import overlay
    from .export import _readonly_rootfs

    cid = records.require(svc, name)
    record = records.load(svc, cid)
    with lifecycle.locked(svc.layout, cid, svc.lock_timeout):
        records.still_there(svc, cid, name)
        rootfs = svc.layout.rootfs(cid)
        if overlay.is_mounted(rootfs):
            fd = os.open(rootfs, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        else:
            fd = _readonly_rootfs(svc, record, writable=writable)
        try:
            work(fd)
        finally:
            os.close(fd)


def _in_root(root_fd: int, work: t.Callable[[], None]) -> tuple[int, int]:
    """Fork a child that chroots into *root_fd* and runs *work*; returns (pid, fd of its error text)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.close(r)
            os.fchdir(root_fd)
            os.chroot(".")
            os.chdir("/")
            work()
            code = 0
        except BaseException as exc:  # pylint: disable=broad-except
            text = str(exc) if isinstance(exc, EngineError) else f"{exc.__class__.__name__}: {exc}"
            os.write(w, text.encode("utf-8", "replace")[:4000])
        finally:
            os._exit(code)
    os.close(w)
    return pid, r


def _reap(pid: int, err_fd: int) -> str | None:
    with os.fdopen(err_fd, "rb") as fh:
        text = fh.read().decode("utf-8", "replace")
    dummy, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 0:
        return None
    return text or "copy failed"


def _pipe(src_root: int, produce: t.Callable[[t.BinaryIO], None] | None,
          consumer: tuple[int, t.Callable[[t.BinaryIO], None]] | None, sink: t.BinaryIO | None = None,
          source: t.BinaryIO | None = None, close_src: bool = False) -> None:
    """*produce* a tar in a child chrooted at *src_root* (or read it from *source*) and feed it to
    *consumer* ``(root fd, extract)`` in a child chrooted there (or write it to *sink*)."""
    r, w = os.pipe()
    children = []
    try:
        if produce is not None:
            def run_producer() -> None:
                os.close(r)
                with os.fdopen(w, "wb") as out:
                    produce(out)
            children.append(_in_root(src_root, run_producer))
            if close_src:
                os.close(src_root)
        if consumer is not None:
            root_fd, extract = consumer

            def run_consumer() -> None:
                os.close(w)
                with os.fdopen(r, "rb") as inp:
                    extract(inp)
                    while inp.read(1 << 16):
                        pass
            children.append(_in_root(root_fd, run_consumer))
        if source is not None:
            os.close(r)
            r = -1
            with os.fdopen(w, "wb") as out:
                w = -1
                shutil.copyfileobj(source, out)
        else:
            os.close(w)
            w = -1
        if sink is not None:
            with os.fdopen(r, "rb") as inp:
                r = -1
                shutil.copyfileobj(inp, sink)
    except BrokenPipeError:
        pass  # the consumer failed: its error says why
    finally:
        for fd in (r, w):
            if fd >= 0:
                os.close(fd)
        errors = [e for e in (_reap(pid, err) for pid, err in children) if e is not None]
    if errors:  # the cause, not the other side's broken pipe
        raise EngineError(next((e for e in errors if not e.startswith("BrokenPipeError")), errors[0]))

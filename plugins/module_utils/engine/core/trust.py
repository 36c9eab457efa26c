# SPDX-License-Identifier: GPL-3.0-or-later
"""The data root is root's alone: the engine's umask, the owners and modes of its tree, trusted reads.

The engine runs as root and reads back, imports and executes what it wrote under the data root:
container records name the command to run and what to mount, the seccomp cache is the filter a
container gets, ``lib/<hash>/`` is Python that monitors import. A file that another user could have
written is a way to root, so three rules hold everywhere:

1. **umask.** :func:`set_umask` gives the process umask 022, whatever it inherited: nothing the engine
   makes comes out writable by group or others (``umask 000`` made ``lib/`` 0777 and its files 0666).
2. **The tree.** :func:`secure_root` runs on every ``Engine.open``: each directory above the data root
   (symlinks resolved) is root's and not writable by group or others (a sticky one such as ``/tmp``
   is fine: others cannot rename root's entries in it); the data root is root's, and tightened to
   0711 when group or others may write to it (a tmpfs mounted with its default mode 1777); each of the
   engine's top-level directories is root's (a disposable one that is not, ``lib/`` or ``tmp/``, is
   deleted; any other is refused) and loses group and other write bits. About a dozen ``lstat`` calls.
3. **Reads.** :func:`open_trusted` opens with ``O_NOFOLLOW`` and checks the open file: owned by root,
   not writable by group or others. Every record, state file, cache, lock and socket that the engine
   acts on goes through it (``fs.read_json`` does), so what was planted while a tree was exposed is
   refused with :class:`~..errors.UntrustedPath`, naming the file and how to fix it.

"Root" is the effective user of the engine: root in production, the same user in tests.
On the start path: ``os`` and ``stat`` constants only (no imports at call time).
"""
from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    from .layout import Layout

UMASK = 0o022
ROOT_MODE = 0o711
_S_IFMT = 0o170000
_S_IFDIR = 0o040000
_S_IFLNK = 0o120000
_S_ISVTX = 0o1000
_WRITABLE_BY_OTHERS = 0o022

#: Top-level entries of the data root that hold nothing but what the engine can remake.
DISPOSABLE = ("lib", "tmp", "buildcache")
#: Every top-level directory the engine owns (layout.py names them).
TOP_LEVEL = ("blobs", "layers", "layers-remap", "images", "tmp", "locks", "containers", "names", "runtime",
             "lib", "empty", "volumes", "networks", "buildcache")


def set_umask() -> int:
    """Umask 022 for this process; returns the old one."""
    return os.umask(UMASK)


def owner() -> int:
    return os.geteuid()


def problem(st: os.stat_result, uid: int | None = None) -> str | None:
    """Why a file with status *st* may not be trusted, or None."""
    if st.st_uid != (owner() if uid is None else uid):
        return f"owned by uid {st.st_uid}, not {'root' if owner() == 0 else f'uid {owner()}'}"
    if st.st_mode & _WRITABLE_BY_OTHERS and st.st_mode & _S_IFMT != _S_IFLNK:
        return f"writable by group or others (mode {st.st_mode & 0o7777:04o})"
    return None


def _refuse(path: str, why: str, what: str = "file") -> t.NoReturn:
    from ..errors import UntrustedPath

    raise UntrustedPath(path, why, what)


def check_fd(fd: int, path: str, what: str = "file") -> os.stat_result:
    """fstat *fd* (open as *path*) and refuse it unless root's and not writable by others."""
    st = os.fstat(fd)
    why = problem(st)
    if why:
        _refuse(path, why, what)
    return st


def open_trusted(path: str, flags: int = os.O_RDONLY, what: str = "file") -> int:
    """``os.open`` of an existing file of the engine's, refused (:class:`UntrustedPath`) when it is a
    symlink, not root's or writable by group or others. ``FileNotFoundError`` passes through."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: the last component is a symlink
            _refuse(path, "a symbolic link", what)
        raise
    try:
        check_fd(fd, path, what)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_trusted(path: str, what: str = "file") -> bytes:
    """The content of a trusted file (:func:`open_trusted`)."""
    fd = open_trusted(path, what=what)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def check_path(path: str, what: str = "file") -> os.stat_result:
    """lstat *path* (a socket, a directory...) and refuse it unless root's and not writable by others."""
    st = os.lstat(path)
    why = problem(st)
    if why:
        _refuse(path, why, what)
    if st.st_mode & _S_IFMT == _S_IFLNK:
        _refuse(path, "a symbolic link", what)
    return st


def check_ancestors(path: str) -> str:
    """Refuse *path* unless every directory above it is root's and not writable by group or others, or
    sticky like ``/tmp`` (then the next component must be root's: checked as the next one, or by the
    caller for *path* itself). Returns the real path."""
    real = os.path.realpath(path)
    current = "/"
    for name in [p for p in real.split("/") if p]:
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            break
        why = _dir_problem(st)
        if why:
            _refuse(current, f"{why}: whoever can write to it can replace the data root {path}", "directory")
        current = os.path.join(current, name)
    return real


def _dir_problem(st: os.stat_result) -> str | None:
    if st.st_uid not in (0, owner()):
        return f"owned by uid {st.st_uid}"
    if st.st_mode & _WRITABLE_BY_OTHERS and not (st.st_mode & _S_IFMT == _S_IFDIR and st.st_mode & _S_ISVTX):
        return f"writable by group or others (mode {st.st_mode & 0o7777:04o})"
    return None  # sticky (/tmp): others cannot rename or remove root's entries; the next one is checked next


def secure_root(layout: Layout, create: bool = False) -> bool:
    """Rule 2 of the module docstring for *layout*'s data root: the directories above it, the root
    itself (made with mode 0711 when *create*) and its top-level directories. False when the root does
    not exist (and *create* is false): nothing below it to check."""
    root = layout.root
    check_ancestors(root)
    try:
        st = os.lstat(root)
    except FileNotFoundError:
        if not create:
            return False
        os.makedirs(os.path.dirname(root), 0o755, exist_ok=True)
        try:
            os.mkdir(root, ROOT_MODE)
        except FileExistsError:
            pass
        st = os.lstat(root)
    if st.st_mode & _S_IFMT != _S_IFDIR:
        _refuse(root, "not a directory" if st.st_mode & _S_IFMT != _S_IFLNK else "a symbolic link", "data root")
    if st.st_uid != owner():
        _refuse(root, f"owned by uid {st.st_uid}: another user may have put anything in it", "data root")
    if st.st_mode & (_WRITABLE_BY_OTHERS | _S_ISVTX):
        os.chmod(root, ROOT_MODE)
    for name in TOP_LEVEL:
        path = os.path.join(root, name)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        is_dir = st.st_mode & _S_IFMT == _S_IFDIR
        if st.st_uid != owner() or not is_dir:
            if name in DISPOSABLE:
                from .fs import rmtree

                rmtree(path)  # through file descriptors, never following a link
                continue
            _refuse(path, f"owned by uid {st.st_uid}" if is_dir else "not a directory", "directory")
        if st.st_mode & (_WRITABLE_BY_OTHERS | _S_ISVTX):
            os.chmod(path, st.st_mode & 0o755 & ~_WRITABLE_BY_OTHERS)
    return True

# SPDX-License-Identifier: GPL-3.0-or-later
"""The kernel seam of the runtime: every mount/namespace/root syscall goes through a ``Syscalls`` object.

``LinuxSyscalls`` calls libc through ctypes (``CDLL(None)``: the interpreter is linked against libc, so
no ``find_library`` and its subprocess/``re`` imports on the start path). Each call retries ``EINTR``
and raises ``OSError(errno, "<call> <path>: <strerror>")`` naming the syscall and the path (runc
``internal/linux/linux.go``). Unit tests pass a recording fake instead (youki ``syscall/test.rs``).

Calls that only touch ordinary files (mkdir, symlink, open) stay plain ``os`` calls in the callers:
they are safe in a temporary directory, so the fake does not need them.
"""
from __future__ import annotations

import ctypes
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t  # noqa: F401  (only for type checkers: importing typing costs ~14 ms at start)
    from typing import Protocol
else:
    Protocol = object

# ---------------------------------------------------------------- mount(2) flags
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000
MS_LAZYTIME = 0x2000000
#: Propagation flags (mount(2) with only these changes the propagation of an existing mount).
MS_PROPAGATION = MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE

# ---------------------------------------------------------------- umount2(2) flags
MNT_FORCE = 0x1
MNT_DETACH = 0x2
MNT_EXPIRE = 0x4
UMOUNT_NOFOLLOW = 0x8

# ---------------------------------------------------------------- clone/unshare/setns flags
CLONE_NEWTIME = 0x80
CLONE_NEWNS = 0x20000
CLONE_NEWCGROUP = 0x2000000
CLONE_NEWUTS = 0x4000000
CLONE_NEWIPC = 0x8000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# ---------------------------------------------------------------- prctl(2) options
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
PR_SET_NO_NEW_PRIVS = 38

# ---------------------------------------------------------------- the mount API (Linux 5.2+, 5.12+ for setattr)
#: One number on every architecture (the syscall table was unified at 424).
SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429
SYS_MOUNT_SETATTR = 442
OPEN_TREE_CLONE = 0x1
AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_IDMAP = 0x100000

#: pivot_root has no glibc wrapper: syscall(SYS_pivot_root, new_root, put_old).
SYS_PIVOT_ROOT = {
    "x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "ppc64": 203, "s390x": 217,
    "i686": 217, "i386": 217, "armv7l": 218, "armv6l": 218, "loongarch64": 41, "mips64": 5151,
}


class Syscalls(Protocol):
    """What the runtime needs from the kernel besides plain file operations."""

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None: ...
    def umount2(self, target: str, flags: int) -> None: ...
    def pivot_root(self, new_root: str, put_old: str) -> None: ...
    def chroot(self, path: str) -> None: ...  # only for --no-pivot (MS_MOVE + chroot, like runc)
    def unshare(self, flags: int) -> None: ...
    def setns(self, fd: int, nstype: int) -> None: ...
    def sethostname(self, name: str) -> None: ...
    def setdomainname(self, name: str) -> None: ...
    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int: ...
    def mknod(self, path: str, mode: int, device: int) -> None: ...
    def chown(self, path: str, uid: int, gid: int) -> None: ...
    def chdir(self, path: str) -> None: ...
    def fchdir(self, fd: int) -> None: ...
    def open_tree(self, path: str, flags: int) -> int: ...
    def mount_setattr_idmap(self, fd: int, userns_fd: int) -> None: ...
    def move_mount(self, fd: int, target: str) -> None: ...


def _c(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def _raise(call: str, what: str) -> None:
    err = ctypes.get_errno()
    raise OSError(err, f"{call} {what}: {os.strerror(err)}")


def _load_libc() -> ctypes.CDLL:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mount  # noqa: B018  (raises AttributeError when the process image has no libc symbols)
        return libc
    except (OSError, AttributeError):
        return ctypes.CDLL("libc.so.6", use_errno=True)


class LinuxSyscalls:
    """The real kernel, through libc."""

    def __init__(self) -> None:
        libc = _load_libc()
        self._libc = libc
        cp, ul, ci = ctypes.c_char_p, ctypes.c_ulong, ctypes.c_int
        libc.mount.argtypes = [cp, cp, cp, ul, cp]
        libc.umount2.argtypes = [cp, ci]
        libc.unshare.argtypes = [ci]
        libc.setns.argtypes = [ci, ci]
        libc.sethostname.argtypes = [cp, ctypes.c_size_t]
        libc.setdomainname.argtypes = [cp, ctypes.c_size_t]
        libc.prctl.argtypes = [ci, ul, ul, ul, ul]
        libc.syscall.restype = ctypes.c_long
        machine = os.uname().machine
        self._sys_pivot_root = SYS_PIVOT_ROOT.get(machine)

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
        args = (_c(source), _c(target), _c(fstype), flags, _c(data))
        while self._libc.mount(*args) < 0:
            if ctypes.get_errno() != 4:  # EINTR
                _raise("mount", f"{source or ''} on {target}" if source else target)

    def umount2(self, target: str, flags: int) -> None:
        path = _c(target)
        while self._libc.umount2(path, flags) < 0:
            if ctypes.get_errno() != 4:
                _raise("umount2", target)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        if self._sys_pivot_root is None:
            raise OSError(38, f"pivot_root {new_root}: no syscall number known for {os.uname().machine}")
        nr = ctypes.c_long(self._sys_pivot_root)
        a, b = ctypes.c_char_p(_c(new_root)), ctypes.c_char_p(_c(put_old))
        while self._libc.syscall(nr, a, b) < 0:
            if ctypes.get_errno() != 4:
                _raise("pivot_root", f"{new_root} {put_old}")

    def chroot(self, path: str) -> None:
        _retry(os.chroot, "chroot", path, path)

    def unshare(self, flags: int) -> None:
        while self._libc.unshare(flags) < 0:
            if ctypes.get_errno() != 4:
                _raise("unshare", hex(flags))

    def setns(self, fd: int, nstype: int) -> None:
        while self._libc.setns(fd, nstype) < 0:
            if ctypes.get_errno() != 4:
                try:
                    what = os.readlink(f"/proc/self/fd/{fd}")
                except OSError:
                    what = f"fd {fd}"
                _raise("setns", what)

    def sethostname(self, name: str) -> None:
        raw = name.encode()
        if self._libc.sethostname(raw, len(raw)) < 0:
            _raise("sethostname", repr(name))

    def setdomainname(self, name: str) -> None:
        raw = name.encode()
        if self._libc.setdomainname(raw, len(raw)) < 0:
            _raise("setdomainname", repr(name))

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        ret = self._libc.prctl(option, arg2, arg3, arg4, arg5)
        if ret < 0:
            _raise("prctl", str(option))
        return int(ret)

    def mknod(self, path: str, mode: int, device: int) -> None:
        _retry(os.mknod, "mknod", path, path, mode, device)

    def chown(self, path: str, uid: int, gid: int) -> None:
        _retry(os.chown, "chown", path, path, uid, gid)

    def chdir(self, path: str) -> None:
        _retry(os.chdir, "chdir", path, path)

    def fchdir(self, fd: int) -> None:
        _retry(os.fchdir, "fchdir", str(fd), fd)

    def open_tree(self, path: str, flags: int) -> int:
        """A detached copy of the mount at *path* (``OPEN_TREE_CLONE``), as a close-on-exec fd."""
        return self._syscall("open_tree", path, SYS_OPEN_TREE, ctypes.c_int(AT_FDCWD), _c(path),
                             ctypes.c_uint(flags | os.O_CLOEXEC))

    def mount_setattr_idmap(self, fd: int, userns_fd: int) -> None:
        """Idmap the detached mount *fd* through the user namespace *userns_fd* (``MOUNT_ATTR_IDMAP``)."""
        attr = (ctypes.c_uint64 * 4)(MOUNT_ATTR_IDMAP, 0, 0, userns_fd)  # struct mount_attr
        self._syscall("mount_setattr", f"fd {fd}", SYS_MOUNT_SETATTR, ctypes.c_int(fd), b"",
                      ctypes.c_uint(AT_EMPTY_PATH), attr, ctypes.c_size_t(ctypes.sizeof(attr)))

    def move_mount(self, fd: int, target: str) -> None:
        """Attach the detached mount *fd* at *target*."""
        self._syscall("move_mount", target, SYS_MOVE_MOUNT, ctypes.c_int(fd), b"", ctypes.c_int(AT_FDCWD),
                      _c(target), ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH))

    def _syscall(self, call: str, what: str, nr: int, *args: t.Any) -> int:
        while True:
            ret = self._libc.syscall(ctypes.c_long(nr), *args)
            if ret >= 0:
                return int(ret)
            if ctypes.get_errno() != 4:
                _raise(call, what)


def _retry(func: t.Callable[..., t.Any], call: str, what: str, *args: t.Any) -> None:
    while True:
        try:
            func(*args)
            return
        except InterruptedError:
            continue
        except OSError as exc:
            raise OSError(exc.errno, f"{call} {what}: {os.strerror(exc.errno or 0)}") from None

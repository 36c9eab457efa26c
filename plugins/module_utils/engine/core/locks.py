# SPDX-License-Identifier: GPL-3.0-or-later
"""flock(2)-based locks that serialise berth operations on one host.

Locks are advisory and tied to an open file description, so they vanish when
the holding process dies (SIGKILL included): a crash never leaves a stale lock.
"""
from __future__ import annotations

import errno
import fcntl
import os
import time

from . import trust

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing (nor contextlib) at run time: every container start takes a lock
    import typing as t

DEFAULT_TIMEOUT = 600.0


class flock:  # noqa: N801  (used as a function: ``with flock(path):``)
    """Hold an exclusive (or *shared*) lock on *path* for the ``with`` body.

    Waits up to *timeout* seconds (``None`` waits forever) and then raises
    :class:`LockTimeout` naming the lock file.
    """

    __slots__ = ("path", "shared", "timeout", "fd")

    def __init__(self, path: str, shared: bool = False, timeout: float | None = DEFAULT_TIMEOUT) -> None:
        self.path = path
        self.shared = shared
        self.timeout = timeout
        self.fd = -1

    def __enter__(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            trust.check_fd(fd, self.path, "lock file")  # another user's file could be held forever
            op = fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX
            try:
                fcntl.flock(fd, op | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
                _wait(fd, op, self.path, self.timeout)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd

    def __exit__(self, *exc: t.Any) -> None:
        os.close(self.fd)
        self.fd = -1


def _wait(fd: int, op: int, path: str, timeout: float | None) -> None:
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            fcntl.flock(fd, op | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
        if deadline is not None and time.monotonic() >= deadline:
            from ..errors import LockTimeout  # on failure only: a monitor's exit takes locks too

            raise LockTimeout(path, timeout or 0.0)
        time.sleep(delay)
        delay = min(delay * 2, 0.1)

# SPDX-License-Identifier: GPL-3.0-or-later
"""flock(2)-based locks that serialise berth operations on one host.

Locks are advisory and tied to an open file description, so they vanish when
the holding process dies (SIGKILL included): a crash never leaves a stale lock.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
import typing as t

from ..errors import LockTimeout

DEFAULT_TIMEOUT = 600.0


@contextlib.contextmanager
def flock(path: str, shared: bool = False, timeout: float | None = DEFAULT_TIMEOUT) -> t.Iterator[None]:
    """Hold an exclusive (or *shared*) lock on *path* for the ``with`` body.

    Waits up to *timeout* seconds (``None`` waits forever) and then raises
    :class:`LockTimeout` naming the lock file.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        op = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(fd, op | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            _wait(fd, op, path, timeout)
        yield
    finally:
        os.close(fd)


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
            raise LockTimeout(path, timeout or 0.0)
        time.sleep(delay)
        delay = min(delay * 2, 0.1)

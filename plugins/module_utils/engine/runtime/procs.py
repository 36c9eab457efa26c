# SPDX-License-Identifier: GPL-3.0-or-later
"""Waiting for the runtime's own children: what ``oci.BerthRuntime`` and ``external.ExternalRuntime`` share.

On the start path: the standard library's ``os`` only (``time`` when a wait polls).
"""
from __future__ import annotations

import os

SIGKILL = 9


def reap_within(pid: int, timeout: float) -> bool:
    """Poll-reap our child *pid* for up to *timeout* seconds; True once it is reaped (or not ours)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            got, _status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return True
        if got:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def is_child(pid: int) -> bool:
    """*pid* is a child of this process (its parent pid in /proc is ours)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return False
    try:
        return int(stat[stat.rindex(b")") + 2 :].split()[1]) == os.getpid()
    except (ValueError, IndexError):
        return False


def reap(pid: int, wait: bool = True) -> int | None:
    """waitpid *pid* if it is our child; returns its wait status (None when not our child)."""
    while True:
        try:
            got, status = os.waitpid(pid, 0 if wait else os.WNOHANG)
            return status if got else None
        except ChildProcessError:
            return None
        except InterruptedError:
            continue

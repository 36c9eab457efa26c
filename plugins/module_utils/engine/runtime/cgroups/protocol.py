# SPDX-License-Identifier: GPL-3.0-or-later
"""The cgroup manager protocol, for type checkers and tests (``base`` re-exports it on first use).

Kept apart from ``base`` because a ``typing.Protocol`` needs ``typing`` at run time (~14 ms to import on
the test hosts), and ``base`` is on every container start.
"""
from __future__ import annotations

import typing as t

#: OCI ``linux.resources``; the managers read only the keys they support.
Resources = t.Mapping[str, t.Any]


class CgroupManager(t.Protocol):
    """One container's cgroup (on v1: one directory per controller hierarchy)."""

    #: the cgroup path relative to the hierarchy root, e.g. "/berth/<id>"
    path: str

    def create(self) -> None: ...

    def apply(self, resources: Resources) -> None: ...

    def update(self, resources: Resources) -> None: ...

    def add_pid(self, pid: int) -> None: ...

    def freeze(self) -> None: ...

    def thaw(self) -> None: ...

    def frozen(self) -> bool: ...

    def pids(self) -> list[int]: ...

    def stats(self) -> dict: ...

    def oom_killed(self) -> bool: ...

    def destroy(self, kill: bool = False) -> None: ...

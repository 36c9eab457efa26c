# SPDX-License-Identifier: GPL-3.0-or-later
"""A private copy of the account databases with a ``remap`` user for ``userns-remap`` (``HostFiles(top)``
reads ``top/etc``): tests and benchmarks never touch the host's /etc."""
from __future__ import annotations

import os
import shutil


def remap_accounts(top: str, uid: int, gid: int, size: int = 65536) -> str:
    """``top/etc`` with the host's passwd, group, shadow, gshadow, a ``remap`` user and group, and its
    subordinate ranges from *uid* and *gid*; returns the etc directory."""
    etc = os.path.join(top, "etc")
    os.makedirs(etc)
    for name in ("passwd", "group", "shadow", "gshadow"):
        if os.path.exists(f"/etc/{name}"):
            shutil.copy(f"/etc/{name}", os.path.join(etc, name))
    with open(os.path.join(etc, "passwd"), "a") as fh:
        fh.write("remap:x:2000:2000::/nonexistent:/usr/sbin/nologin\n")
    with open(os.path.join(etc, "group"), "a") as fh:
        fh.write("remap:x:2000:\n")
    for name, start in (("subuid", uid), ("subgid", gid)):
        with open(os.path.join(etc, name), "w") as fh:
            fh.write(f"remap:{start}:{size}\n")
    return etc

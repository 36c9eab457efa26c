# SPDX-License-Identifier: GPL-3.0-or-later
"""Looking through what the engine wrote under a data root."""
from __future__ import annotations

import os


def files_holding(root: str, needle: bytes) -> list[str]:
    """The files under *root* holding *needle*, relative to it, sorted; mount points (a running container's
    rootfs) are not entered nor read (a bridge container's network namespace file), symlinks not followed."""
    out = []
    for top, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not os.path.ismount(os.path.join(top, d))]
        for name in files:
            path = os.path.join(top, name)
            if os.path.islink(path) or not os.path.isfile(path) or os.path.ismount(path):
                continue
            with open(path, "rb") as fh:
                if needle in fh.read():
                    out.append(os.path.relpath(path, root))
    return sorted(out)

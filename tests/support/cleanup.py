# SPDX-License-Identifier: GPL-3.0-or-later
"""Removing a scratch directory that tools mounted things under (podman binds its overlay directory,
docker leaves layer mounts behind when killed): unmount what lies below it, deepest first, then delete."""
from __future__ import annotations

import os
import shutil
import subprocess


def mounts_below(path: str) -> list[str]:
    """Mount points at or below *path* (from /proc/self/mountinfo), deepest first."""
    top = os.path.realpath(path).rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as fh:
        for line in fh:
            point = line.split()[4].replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n") \
                .replace("\\134", "\\")
            if (point + "/").startswith(top):
                found.append(point)
    return sorted(set(found), key=lambda p: p.count("/"), reverse=True)


def remove_tree(path: str) -> None:
    """Unmount (lazily) everything mounted below *path*, then delete it; never raises."""
    for point in mounts_below(path):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    shutil.rmtree(path, ignore_errors=True)

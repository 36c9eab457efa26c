# SPDX-License-Identifier: GPL-3.0-or-later
"""Which cgroup layout a host uses, and the matching manager.

- ``v2``: the unified hierarchy is mounted at the root (``<root>/cgroup.controllers`` exists);
- ``hybrid``: v1 controllers under the root plus a cgroup2 mount at ``<root>/unified``
  (systemd's hybrid mode; the test hosts here: only ``hugetlb`` bound to it);
- ``v1``: v1 controllers only.

Berth drives v1 and hybrid hosts through the v1 controllers and ignores the unified mount,
as runc does.  The root is a parameter so tests can point it at a fake tree.
"""
from __future__ import annotations

import os

from .base import CgroupError, Host

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time (see base.py)
    from .protocol import CgroupManager

LAYOUTS = ("v1", "v2", "hybrid")


def layout(root: str = "/sys/fs/cgroup") -> str:
    """``"v1"``, ``"v2"`` or ``"hybrid"`` for the cgroupfs at *root*; CgroupError when none is there."""
    if os.path.isfile(os.path.join(root, "cgroup.controllers")):
        return "v2"
    from .v1 import mounts

    if mounts(root):
        if os.path.isfile(os.path.join(root, "unified", "cgroup.controllers")):
            return "hybrid"
        return "v1"
    raise CgroupError(root, "no cgroup filesystem found (neither cgroup2 nor v1 controllers are mounted here)")


_detect_layout = layout  # manager() has a parameter of the same name


def io_weight_supported(root: str = "/sys/fs/cgroup") -> bool:
    """Whether a block I/O weight can be set here (Docker's ``SysInfo.BlkioWeight``).

    v2: the ``io`` controller is available; v1/hybrid: the blkio hierarchy has ``blkio.weight`` (CFQ)
    or ``blkio.bfq.weight`` (BFQ). Kernels with neither scheduler have no such file (this test host).
    """
    try:
        kind = layout(root)
    except CgroupError:
        return False
    if kind == "v2":
        try:
            with open(os.path.join(root, "cgroup.controllers")) as fh:
                return "io" in fh.read().split()
        except OSError:
            return False
    from .v1 import mounts

    d = mounts(root).get("blkio")
    return bool(d) and any(os.path.exists(os.path.join(d, f)) for f in ("blkio.weight", "blkio.bfq.weight"))


def manager(
    cgroups_path: str,
    root: str = "/sys/fs/cgroup",
    layout: str | None = None,
    host: Host | None = None,
) -> CgroupManager:
    """The manager for *cgroups_path* (OCI ``linux.cgroupsPath``, e.g. ``/berth/<id>``) on this host."""
    kind = layout or _detect_layout(root)
    if kind == "v2":
        from .v2 import V2Manager

        return V2Manager(cgroups_path, root, host)
    if kind in ("v1", "hybrid"):
        from .v1 import V1Manager

        return V1Manager(cgroups_path, root, host)
    raise CgroupError(root, f"unknown cgroup layout {kind!r} (expected one of {', '.join(LAYOUTS)})")

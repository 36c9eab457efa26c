# SPDX-License-Identifier: GPL-3.0-or-later
"""OCI ``linux.resources`` as the cgroup managers apply them: the device rules every container gets, and
memory plus swap, whose arithmetic lives here alone.

Memory and swap, three spellings of one limit::

    Docker options                OCI memory.swap         cgroup v1                     cgroup v2
    memory, memory_swap           (memory + swap)         memory.memsw.limit_in_bytes   memory.swap.max
    100M, unset                   200M                    200M                          100M
    100M, 150M                    150M                    150M                          50M
    100M, -1                      -1                      -1                            max

:func:`memory_swap_total` goes from the options to the OCI value (the spec), :func:`swap_v2` from the OCI
value to cgroup v2's swap-only file (v1 writes the total as it is). Start path: imports nothing at
import time (``engine.errors`` only when it refuses).
"""
from __future__ import annotations

UNLIMITED = -1

#: Device cgroup rules every container gets after the spec's own (runc specconv ``AllowedDevices``):
#: mknod of anything, the default devices, /dev/pts/* and /dev/ptmx.
ALLOWED_DEVICE_RULES = (
    {"allow": True, "type": "c", "access": "m"},
    {"allow": True, "type": "b", "access": "m"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
)


def cgroup_resources(resources: dict | None) -> dict:
    """``linux.resources`` with :data:`ALLOWED_DEVICE_RULES` appended to a device rule list, as runc
    does, so a ``runc spec`` bundle (deny all) still has working /dev/null, ptys and mknod."""
    out = dict(resources or {})
    if out.get("devices"):
        out["devices"] = list(out["devices"]) + [dict(r) for r in ALLOWED_DEVICE_RULES]
    return out


def memory_swap_total(memory: int | None, memory_swap: int | None) -> int | None:
    """OCI ``memory.swap`` (memory+swap) from Docker's options; None: no swap limit to set.

    ``memory_swap`` unset with a memory limit: as much swap as memory (Docker's default), so twice the
    memory in all; -1: unlimited; otherwise the total as given.
    """
    if memory_swap:
        return memory_swap
    if memory and memory > 0:
        return 2 * memory
    return None


def swap_v2(memory_swap: int | None, memory: int | None) -> int | None:
    """memory.swap.max from the OCI memory+swap total (runc ConvertMemorySwapToCgroupV2Value): the total
    minus the memory limit.

    Returns -1 for "max", None when unset.
    """
    memory = memory or 0
    memory_swap = memory_swap or 0
    if memory == UNLIMITED and memory_swap == 0:
        return UNLIMITED
    if memory_swap in (UNLIMITED, 0):
        return None if memory_swap == 0 else UNLIMITED
    from ...errors import InvalidOption

    if memory in (0, UNLIMITED):
        raise InvalidOption("memory_swap", memory_swap, "a swap limit needs a memory limit")
    if memory < 0:
        raise InvalidOption("memory", memory, "invalid memory limit")
    if memory_swap < memory:
        raise InvalidOption("memory_swap", memory_swap,
                            f"memory+swap limit must be at least the memory limit ({memory})")
    return memory_swap - memory

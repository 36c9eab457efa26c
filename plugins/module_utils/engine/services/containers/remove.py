# SPDX-License-Identifier: GPL-3.0-or-later
"""``remove`` and ``prune``, and the lock files removed containers leave behind.

The guard comes first: a running container is removed only with *force* (stopped first), else
``InvalidState`` (``lifecycle.require``).
"""
from __future__ import annotations

import os
import typing as t

from ...core import fs
from ...errors import EngineError, NotFound
from ...supervisor import ContainerState, ContainerStatus, lifecycle
from . import _common, records

if t.TYPE_CHECKING:
    from .service import ContainerService


def remove(svc: ContainerService, name: str, force: bool = False, volumes: bool = False) -> bool:
    """Remove the container; with *volumes* (``docker rm -v``) its anonymous volumes too, unless another
    container mounts them. Named volumes always stay."""
    from .stop import stop

    cid = records.lookup(svc, name)
    if cid is None:
        return False
    record = records.load(svc, cid)
    state = records.state(svc, cid)
    if state.status.active:
        if not force:
            lifecycle.require(state.status, "remove", name=record.name)
        stop(svc, cid, timeout=0)
    runtime = _common.oci_runtime(svc, record.runtime)

    def mark(s: ContainerState) -> ContainerState:
        return s.transition(ContainerStatus.REMOVING) if s.status is not ContainerStatus.REMOVING else s

    try:
        lifecycle.update(svc.layout, cid, mark, timeout=svc.lock_timeout)
    except NotFound:
        return True
    try:
        runtime.delete(cid, force=True)
    except EngineError:
        pass
    if any(os.path.lexists(svc.layout.container_file(cid, n)) for n in ("netns", "network.json")):
        svc.networks.teardown_container(cid)  # its addresses, port rules, namespace; peers' hosts files
    lifecycle.remove_container_files(svc.layout, cid)
    if volumes and record.mounts:
        from ...supervisor import anonymous_volumes
        from .mounts import remove_anonymous

        remove_anonymous(svc, anonymous_volumes(record.mounts))
    return True


def prune(svc: ContainerService, filters: t.Mapping[str, t.Any] | None = None) -> dict[str, t.Any]:
    from ...core import timefmt
    from .. import filters as filters_

    flt = filters_.normalise(filters, ("until", "label"))
    deleted = []
    reclaimed = 0
    until = filters_.until(flt.get("until"))
    for cid, record, state in records.each(svc):
        if state.status.active:
            continue
        if until is not None and not (timefmt.parse_rfc3339(record.created) or 0) < until:
            continue
        if "label" in flt and not filters_.labels_match(flt["label"], record.options.get("labels") or {}):
            continue
        size = fs.dir_size(svc.layout.upper(cid))
        if remove(svc, cid):
            deleted.append(cid)
            reclaimed += size
    return {"ContainersDeleted": deleted, "SpaceReclaimed": reclaimed}


def sweep_locks(svc: ContainerService) -> int:
    """Delete the lock files of containers that no longer exist (a caller that locked a container
    while it was being removed made one again); returns how many. One that is held stays."""
    from ...core.locks import flock

    layout = svc.layout
    try:
        names = os.listdir(layout.locks_dir)
    except FileNotFoundError:
        return 0
    count = 0
    for name in names:
        if not (name.startswith("container-") and name.endswith(".lock")):
            continue
        cid = name[len("container-"):-len(".lock")]
        if os.path.isdir(layout.container_dir(cid)):
            continue
        try:
            with flock(layout.container_lock(cid), timeout=0):
                if not os.path.isdir(layout.container_dir(cid)):
                    os.unlink(layout.container_lock(cid))
                    count += 1
        except (EngineError, FileNotFoundError):
            continue
    return count

# SPDX-License-Identifier: GPL-3.0-or-later
"""``update`` (resources and the restart policy, in place) and ``rename``.

The guards: only ``options.container.UPDATABLE`` options change in place (checked before the lock is
taken); a running or paused container gets the new resources through its OCI runtime's ``update`` (runc's
and crun's own, ``BerthRuntime.update`` for Berth's: the runtime owns the container's cgroup), any other
only in its record.
"""
from __future__ import annotations

import typing as t

from ...core import fs
from ...errors import InvalidOption
from ...options import container as copts
from ...supervisor import ContainerStatus, lifecycle
from . import _common, records

if t.TYPE_CHECKING:
    from .records import ContainerRecord
    from .service import ContainerService


def update(svc: ContainerService, name: str, options: t.Mapping[str, t.Any]) -> bool:
    """Change resources and the restart policy in place (``docker update``)."""
    cid = records.require(svc, name)
    bad = [k for k in options if k not in copts.UPDATABLE]
    if bad:
        raise InvalidOption(bad[0], _common.shown(options)[bad[0]],
                            "cannot be updated in place (the container must be recreated)")
    with lifecycle.locked(svc.layout, cid, svc.lock_timeout):
        record = records.load(svc, cid)
        merged = dict(record.options)
        for key, value in options.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        if merged == record.options:
            return False
        copts.check_options(merged)
        state = records.state(svc, cid)
        if state.status in (ContainerStatus.RUNNING, ContainerStatus.PAUSED):
            _apply_resources(svc, record, merged)
        updated = record.replace(options=merged)
        fs.atomic_write_json(svc.layout.container_config(cid), updated.to_json(), mode=0o600)
    return True


def _apply_resources(svc: ContainerService, record: ContainerRecord, options: t.Mapping[str, t.Any]) -> None:
    from ...supervisor import spec as specmod

    resources = specmod.resources(_common.applicable(options))
    _common.oci_runtime(svc, record.runtime).update(record.id, resources)


def rename(svc: ContainerService, name: str, new_name: str) -> None:
    cid = records.require(svc, name)
    new_name = copts.container_name(new_name, "new_name")
    record = records.load(svc, cid)
    if new_name == record.name:
        return
    with lifecycle.locked(svc.layout, cid, svc.lock_timeout):
        records.link_name(svc, cid, new_name)
        updated = record.replace(name=new_name)
        fs.atomic_write_json(svc.layout.container_config(cid), updated.to_json(), mode=0o600)
        fs.remove_quietly(svc.layout.name_link(record.name))

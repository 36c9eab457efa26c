# SPDX-License-Identifier: GPL-3.0-or-later
"""``network connect`` and ``network disconnect``: a container's networks changed in place.

The record's ``networks`` (and ``network_mode``) option says what the container joins, so a later start
and the ``container`` module see the change; a started container's namespace is wired at once
(``NetworkService.attach_endpoint``/``detach_endpoint``), under the container lock.
"""
from __future__ import annotations

import typing as t

from ...core import fs
from ...errors import Conflict, NotFound
from ...options import container as copts
from ...supervisor import lifecycle
from . import records

if t.TYPE_CHECKING:
    from .service import ContainerService


def connect(svc: ContainerService, name: str, network: str, aliases: t.Sequence[str] = (),
            ipv4_address: str | None = None) -> bool:
    from ..networks import SPECIAL_MODES, container_networks

    if network in SPECIAL_MODES:
        raise Conflict(f"container cannot be connected to network {network}: it is not a bridge network")
    cid = records.require(svc, name)
    nets = svc.networks
    canonical = nets.inspect(network)["Name"] if network != "bridge" else "bridge"
    entry = copts.networks([{"name": canonical, "aliases": list(aliases), "ipv4_address": ipv4_address}],
                           "networks")[0]
    with lifecycle.locked(svc.layout, cid, svc.lock_timeout):
        record = records.load(svc, cid)
        mode = record.options.get("network_mode") or "bridge"
        if mode in SPECIAL_MODES or mode.startswith("container:"):
            raise Conflict(f"container {record.name} uses network_mode {mode}: it cannot join a bridge network")
        joined = {n["name"] for n in container_networks(record.options)}
        endpoint = (nets.endpoints(cid).get("networks") or {}).get(canonical)
        if canonical in joined and endpoint is not None:
            if sorted(endpoint.get("aliases") or []) == entry["aliases"]:
                return False
            raise Conflict(f"container {record.name} is already connected to network {canonical}")
        nets.ensure(canonical)
        if canonical not in joined or endpoint is None:
            nets.attach_endpoint(cid, record.name, entry)
        options = dict(record.options)
        listed = [n for n in options.get("networks") or () if n["name"] != canonical]
        options["networks"] = listed + [entry]
        fs.atomic_write_json(svc.layout.container_config(cid), record.replace(options=options).to_json(), mode=0o600)
    return True


def disconnect(svc: ContainerService, name: str, network: str, force: bool = False) -> bool:
    from ..networks import DEFAULT_NETWORK, container_networks

    cid = records.require(svc, name)
    nets = svc.networks
    try:
        canonical = nets.inspect(network)["Name"]
    except NotFound:
        if not force:
            raise
        canonical = network
    with lifecycle.locked(svc.layout, cid, svc.lock_timeout):
        record = records.load(svc, cid)
        joined = {n["name"] for n in container_networks(record.options)}
        detached = nets.detach_endpoint(cid, canonical)
        if canonical not in joined and not detached:
            if force:
                return False
            raise Conflict(f"container {record.name} is not connected to network {canonical}")
        options = dict(record.options)
        options["networks"] = [n for n in options.get("networks") or () if n["name"] != canonical]
        if not options["networks"]:
            del options["networks"]
        if (options.get("network_mode") or DEFAULT_NETWORK) in (canonical, "default" if canonical == "bridge" else ""):
            # its first network: Docker leaves the container without it; the next start joins what is left
            rest = [n["name"] for n in options.get("networks") or ()]
            options["network_mode"] = rest[0] if rest else "none"
        fs.atomic_write_json(svc.layout.container_config(cid), record.replace(options=options).to_json(), mode=0o600)
    return True

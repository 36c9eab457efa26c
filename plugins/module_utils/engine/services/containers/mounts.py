# SPDX-License-Identifier: GPL-3.0-or-later
"""A container's mounts: resolved at create into the record, prepared at every start.

:func:`resolve` turns the normalised ``volumes``, ``mounts`` and ``volumes_from`` options and the image's
``VOLUME`` paths into the record's ``Mounts`` (Docker's inspect shape plus ``NoCopy`` and ``Anonymous``)::

    {"Type": "volume", "Name", "Source": <data root>/volumes/<name>/_data, "Destination", "RW", "Propagation",
     "NoCopy", "Anonymous"}
    {"Type": "bind", "Source": host path, "Destination", "RW", "Propagation"}
    {"Type": "tmpfs", "Destination", "RW", "Options": ["size=...", "mode=..."]}

Named volumes that do not exist are created, anonymous ones are made (one per bare ``-v /path`` and per image
``VOLUME`` no other mount covers); a ``-v`` host path that is missing is created, a ``--mount`` one is an
error; no bind may cover the data root. :func:`prepare` runs at every start, once the rootfs is mounted: a
volume's driver file system is mounted and its first use copies the image's content in (``volumes/local.py``).

Imported only by containers that have mounts (``create`` and ``start`` look at the record first).
"""
from __future__ import annotations

import os
import posixpath
import typing as t

from ...errors import InvalidOption, NotFound
from . import records

if t.TYPE_CHECKING:
    from ...volumes import VolumeClaim
    from .service import ContainerService


def wanted(opts: t.Mapping[str, t.Any]) -> bool:
    """Whether *opts* ask for mounts of this module (the start path of a plain ``run`` never imports it)."""
    return bool(opts.get("volumes") or opts.get("mounts") or opts.get("volumes_from"))


def resolve(svc: ContainerService, opts: t.Mapping[str, t.Any], image_cfg: t.Mapping[str, t.Any],
            dry: bool = False, claim: VolumeClaim | None = None) -> list[dict[str, t.Any]]:
    """The record's ``Mounts`` for *opts* and the image config *image_cfg*; with *dry* nothing is created
    (check mode: a volume that would be made is named ``<new>``, a missing ``-v`` host path stays missing).
    Otherwise the volumes are ensured under *claim*'s use locks (the caller holds them until the record is
    written; a claim of its own here when None)."""
    if claim is None and not dry:
        with svc.volumes.claim() as own:
            return resolve(svc, opts, image_cfg, claim=own)
    requested = [(m, "volumes") for m in opts.get("volumes") or ()] + [(m, "mounts") for m in opts.get("mounts") or ()]
    taken = {m["target"] for m, dummy in requested} | set(opts.get("tmpfs") or {})
    out: list[dict[str, t.Any]] = []
    for ref in opts.get("volumes_from") or ():
        name, _sep, mode = ref.rpartition(":")
        cid = records.lookup(svc, name)
        if cid is None:
            raise InvalidOption("volumes_from", ref, f"no such container: {name}")
        for mount in records.load(svc, cid).mounts:
            if mount["Destination"] in taken:
                continue
            taken.add(mount["Destination"])
            # the other container's anonymous volumes stay its own: rm -v of this one leaves them
            out.append(dict(mount, RW=mount.get("RW", True) and mode != "ro", Anonymous=False))
            if claim is not None and mount.get("Type") == "volume":
                claim.hold(mount["Name"])
    for path in sorted((image_cfg.get("Volumes") or {})):
        target = posixpath.normpath(path) if str(path).startswith("/") else ""
        if target and target != "/" and target not in taken:
            taken.add(target)
            requested.append(({"type": "volume", "source": "", "target": target, "read_only": False,
                               "nocopy": False, "labels": {}}, "image VOLUME"))
    made: list[str] = []
    try:
        for mount, field in requested:
            out.append(_resolve_one(svc, mount, field, claim, made))
    except BaseException:
        if claim is not None:
            claim.release()  # a removal takes the use locks itself
        for name in made:
            svc.volumes.remove(name)
        raise
    return sorted(out, key=lambda m: m["Destination"])


def _resolve_one(svc: ContainerService, mount: t.Mapping[str, t.Any], field: str, claim: VolumeClaim | None,
                 made: list[str]) -> dict[str, t.Any]:
    dry = claim is None
    kind, target, rw = mount["type"], mount["target"], not mount["read_only"]
    if kind == "volume":
        name = mount["source"]
        if dry:
            name = name or "<new>"
        else:
            volume, created = claim.create(name or None, labels=mount.get("labels"))  # type: ignore[union-attr]
            if created:
                made.append(volume.name)
            name = volume.name
        return {"Type": "volume", "Name": name, "Source": svc.layout.volume_data(name), "Destination": target,
                "RW": rw, "Propagation": "", "NoCopy": bool(mount.get("nocopy")), "Anonymous": not mount["source"]}
    if kind == "bind":
        source = mount["source"]
        check_bind_source(svc, source, field)
        if not os.path.exists(source):
            if not mount.get("create"):
                raise InvalidOption(field, source, "bind source path does not exist")
            if not dry:
                os.makedirs(source, 0o755, exist_ok=True)  # docker run -v creates it
        return {"Type": "bind", "Source": source, "Destination": target, "RW": rw,
                "Propagation": mount.get("propagation") or "rprivate"}
    options = [f"mode={mount['tmpfs_mode']}"]
    if mount.get("tmpfs_size"):
        options.append(f"size={mount['tmpfs_size']}")
    return {"Type": "tmpfs", "Destination": target, "RW": rw, "Options": options}


def check_bind_source(svc: ContainerService, source: str, field: str) -> None:
    """A bind may not cover the engine's data root: not the root itself, nothing above it, nothing in it."""
    real = os.path.realpath(source)
    root = os.path.realpath(svc.layout.root)
    if real == root or root.startswith(real.rstrip("/") + "/") or real.startswith(root + "/"):
        raise InvalidOption(field, source, f"a bind mount may not cover the engine's data root {root}")


def prepare(svc: ContainerService, record: t.Any, rootfs: str) -> None:
    """At every start, once *rootfs* is mounted: each volume exists (one removed with force is made again,
    as Docker does), its driver file system is mounted, and its first mount copies the image's content in
    (unless ``nocopy``): owners as the rootfs shows them, i.e. remapped under user namespaces."""
    from ...runtime import secure_join

    owner = None
    if record.userns:
        from ...config.userns import IdMapping

        mapping = IdMapping.from_json(record.userns)
        owner = (mapping.root_uid, mapping.root_gid)
    for mount in record.mounts:
        if mount.get("Type") != "volume":
            continue
        name = mount["Name"]
        if not svc.volumes.exists(name):
            svc.volumes.create(name)
        if owner is not None:
            svc.volumes.let_traverse(name)
        if svc.volumes.copied_up(name):
            svc.volumes.mountpoint(name)
            continue
        source = None
        if not mount.get("NoCopy"):
            try:
                source = secure_join(rootfs, mount["Destination"])
            except OSError:
                source = None
        svc.volumes.copy_up(name, source, owner=owner)


def remove_anonymous(svc: ContainerService, names: t.Sequence[str]) -> list[str]:
    """Remove the anonymous volumes *names* that no other container uses (checked under each volume's use
    lock); returns the removed ones."""
    removed = []
    for name in names:
        try:
            if svc.volumes.remove(name, lambda n: bool(records.volume_users(svc).get(n))):
                removed.append(name)
        except NotFound:
            continue
    return removed

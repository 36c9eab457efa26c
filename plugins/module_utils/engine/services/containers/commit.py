# SPDX-License-Identifier: GPL-3.0-or-later
"""``docker commit``: a container's changes as a new image on top of its image.

The layer is the container's upper dir with its whiteouts (``services/build.py`` ``layer_of``, the same
as a build step's); the config is the image's with the container's effective settings (command,
entrypoint, env, user, working dir, labels, stop signal: ``options.container.effective``,
secrets never), then ``changes`` applied as ``--change`` lines; the history entry carries the author, the
message and the container's command. Taken under the container's lock; a running container is not
paused (Berth has no ``--pause``): what it writes meanwhile may or may not be in the layer.
"""
from __future__ import annotations

import copy
import tempfile
import time
import typing as t

from ...core import fs
from ...core.digest import sha256_file
from ...core.instructions import apply_changes
from ...core.reference import ImageReference
from ...errors import InvalidReference
from ...options import container as copts
from ...supervisor import lifecycle
from . import records

if t.TYPE_CHECKING:
    from .service import ContainerService

#: Effective option -> the image config key it becomes.
_KEYS = (("command", "Cmd"), ("entrypoint", "Entrypoint"), ("user", "User"), ("working_dir", "WorkingDir"),
         ("labels", "Labels"), ("stop_signal", "StopSignal"))


def commit(svc: ContainerService, name: str, reference: str | None = None, author: str = "", message: str = "",
           changes: t.Sequence[str] = ()) -> str:
    """Commit container *name* as a new image (tagged *reference* when given); returns the image ID."""
    image_id, dummy = _commit(svc, name, reference, author, message, changes, reuse=False, dry_run=False)
    return image_id or ""


def commit_if_changed(svc: ContainerService, name: str, reference: str, author: str = "", message: str = "",
                      changes: t.Sequence[str] = (), dry_run: bool = False) -> tuple[str | None, bool]:
    """:func:`commit`, unless *reference* already names an image with the same layers (the container's
    image's plus a layer with the same digest as the container's changes now), config, author and
    message: then nothing is written. Returns (image ID, changed); with *dry_run* nothing is written
    either way and the image ID is None when a commit would make a new image."""
    return _commit(svc, name, reference, author, message, changes, reuse=True, dry_run=dry_run)


def _commit(svc: ContainerService, name: str, reference: str | None, author: str, message: str,
            changes: t.Sequence[str], reuse: bool, dry_run: bool) -> tuple[str | None, bool]:
    from ..build import commit_image, layer_of

    ref = ImageReference.parse(reference, field="reference") if reference else None
    if ref is not None and (ref.digest or ref.tagged is None):
        raise InvalidReference(reference or "", "a commit is tagged with repository:tag, not a digest", "reference")
    cid = records.require(svc, name)
    record = records.load(svc, cid)
    base = svc.store.verified_config(record.image)
    config = _config(record.options, base.get("config") or {}, changes)
    eff = copts.effective(record.options, base.get("config") or {})
    args = [*(eff.get("entrypoint") or []), *(eff.get("command") or [])]  # what the container ran
    entry: dict[str, t.Any] = {"created_by": " ".join(args)}
    if author:
        entry["author"] = author
    if message:
        entry["comment"] = message
    svc.store.ensure()
    work = tempfile.mkdtemp(prefix="commit-", dir=svc.layout.tmp_dir)
    try:
        with svc.store.gc_lock(shared=True):
            with lifecycle.locked(svc.layout, cid, svc.lock_timeout):
                records.still_there(svc, cid, name)
                layer = layer_of(svc, cid, work)
            if reuse and ref is not None and ref.tagged:
                same = _same_commit(svc, ref.tagged, record.image, str(sha256_file(layer)), config, author, message)
                if same is not None:
                    return same, False
            if dry_run:
                return None, True
            now = time.time()
            created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e9):09d}Z"
            entry["created"] = created
            cfg = {k: v for k, v in base.items() if k not in ("config", "history", "rootfs", "container_config")}
            cfg.update({"config": config, "created": created, "container": cid,
                        "history": list(base.get("history") or []) + [entry], "rootfs": base.get("rootfs")})
            if author:
                cfg["author"] = author
            image_id = commit_image(svc.store, record.image, cfg, layer)
            if ref is not None and ref.tagged:
                svc.store.set_refs(image_id, [ref.tagged])
    finally:
        fs.rmtree(work)
    return image_id, True


def _config(options: t.Mapping[str, t.Any], image_cfg: t.Mapping[str, t.Any], changes: t.Sequence[str]) -> dict[str, t.Any]:
    """The committed image's container config: the image's, with the container's effective settings
    (never its secrets), then *changes*."""
    eff = copts.effective(options, image_cfg)
    config = copy.deepcopy(dict(image_cfg))
    for option, key in _KEYS:
        value = eff.get(option)
        if value not in (None, "", [], {}):
            config[key] = value
    env = eff.get("env") or {}
    if env:
        config["Env"] = [f"{k}={v}" for k, v in env.items()]
    return apply_changes(config, list(changes))


def _same_commit(svc: ContainerService, tag: str, parent: str, diff_id: str, config: t.Mapping[str, t.Any],
                 author: str, message: str) -> str | None:
    """The image *tag* names when it is this commit already, else None."""
    existing = svc.store.lookup(tag)
    if existing is None or not svc.store.complete(existing):
        return None
    layers = [x.diff_id for x in svc.store.get(existing).layers]
    if layers != [x.diff_id for x in svc.store.get(parent).layers] + [diff_id]:
        return None
    cfg = svc.store.verified_config(existing)
    last = (cfg.get("history") or [{}])[-1]
    if cfg.get("config") != config or cfg.get("author", "") != author or last.get("comment", "") != message:
        return None
    return existing

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
    from ..build import commit_image, layer_of

    ref = ImageReference.parse(reference, field="reference") if reference else None
    if ref is not None and (ref.digest or ref.tagged is None):
        raise InvalidReference(reference or "", "a commit is tagged with repository:tag, not a digest", "reference")
    cid = records.require(svc, name)
    record = records.load(svc, cid)
    base = svc.store.verified_config(record.image)
    image_cfg = base.get("config") or {}
    eff = copts.effective(record.options, image_cfg)
    config = copy.deepcopy(image_cfg)
    for option, key in _KEYS:
        value = eff.get(option)
        if value not in (None, "", [], {}):
            config[key] = value
    env = eff.get("env") or {}
    if env:
        config["Env"] = [f"{k}={v}" for k, v in env.items()]
    config = apply_changes(config, list(changes))
    now = time.time()
    created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e9):09d}Z"
    args = [*(eff.get("entrypoint") or []), *(eff.get("command") or [])]
    entry: dict[str, t.Any] = {"created": created, "created_by": " ".join(args)}
    if author:
        entry["author"] = author
    if message:
        entry["comment"] = message
    cfg = {k: v for k, v in base.items() if k not in ("config", "history", "rootfs", "container_config")}
    cfg.update({"config": config, "created": created, "container": cid,
                "history": list(base.get("history") or []) + [entry], "rootfs": base.get("rootfs")})
    if author:
        cfg["author"] = author
    svc.store.ensure()
    work = tempfile.mkdtemp(prefix="commit-", dir=svc.layout.tmp_dir)
    try:
        with svc.store.gc_lock(shared=True):
            with lifecycle.locked(svc.layout, cid, svc.lock_timeout):
                records.still_there(svc, cid, name)
                layer = layer_of(svc, cid, work)
            image_id = commit_image(svc.store, record.image, cfg, layer)
            if ref is not None and ref.tagged:
                svc.store.set_refs(image_id, [ref.tagged])
    finally:
        fs.rmtree(work)
    return image_id


__all__ = ["commit"]

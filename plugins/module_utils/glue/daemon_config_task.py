# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``daemon_config`` task: one call to the engine's daemon.json editor (``engine.api.daemon_config``).

It opens no engine (``run_task(..., open_engine=False)``): the file it manages may be one the engine
cannot load (invalid JSON to repair with ``force``), or another engine's (``/etc/docker/daemon.json``).
"""
from __future__ import annotations

import typing as t

from ..engine import api
from ..engine.options.common import engine_kwargs

if t.TYPE_CHECKING:
    from .runner import TaskContext


def daemon_config(ctx: TaskContext) -> dict[str, t.Any]:
    p = ctx.params
    service = api.daemon_config(p["path"], p.get("data_root") or None, engine_kwargs(p)["lock_timeout"])
    res = service.configure(
        config=p.get("config"),
        keys=p.get("keys") or (),
        state=p["state"],
        replace=bool(p.get("replace")),
        allow_unknown_keys=bool(p.get("allow_unknown_keys")),
        force=bool(p.get("force")),
        backup=bool(p.get("backup")),
        check_mode=ctx.check_mode,
    )
    for warning in res.warnings:
        ctx.warn(warning)
    for pending in res.pending_changes:
        ctx.warn(f"{pending['key']}: {pending['how']} (containers: {', '.join(pending['containers'])})")
    result: dict[str, t.Any] = {
        "changed": res.changed,
        "path": res.path,
        "config": res.after,
        "pending_changes": [dict(p) for p in res.pending_changes],
        "diff": {"before": res.before_text, "after": res.after_text,
                 "before_header": res.path, "after_header": res.path},
    }
    if res.backup_file:
        result["backup_file"] = res.backup_file
    return result

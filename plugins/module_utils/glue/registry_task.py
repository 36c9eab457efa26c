# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``registry`` and ``registry_info`` tasks.

``registry`` deploys a Distribution registry as a Berth container::

    plan      the registry service translates the options into container options (image, REGISTRY_* environment,
              storage volume, network) and the registry's files (htpasswd, TLS certificate and key)
    files     written when they differ (check mode: only predicted); a password whose stored hash still
              matches is not hashed again
    container converged by the container task (create, recreate on a changed option, update, start), with
              restart=true when only the files changed: the registry reads them when it starts
    wait      until /v2/ answers (200, or 401 with users); not in check mode

``absent`` removes the container (its named volume or host directory stays) and the registry's files.
A container of the same name that this module did not create is never taken over.
"""
from __future__ import annotations

import os
import typing as t

from ..engine.errors import InvalidOption
from ..engine.options.container import CONTAINER_TASK_OPTIONS
from .container_task import _inspect, container  # the container task's own lookup
from .runner import TaskContext

_LABEL = "berth.registry"


def registry(ctx: TaskContext) -> dict[str, t.Any]:
    p = ctx.params
    svc = ctx.engine.registries
    name = p["name"]
    current = _inspect(ctx, name)
    if current is not None and ((current.get("Config") or {}).get("Labels") or {}).get(_LABEL) != name:
        raise InvalidOption("name", name, "a container of that name exists that the registry module did not "
                                          "create; remove it or choose another name")
    if p["state"] == "absent":
        result = container(_container_ctx(ctx, {"name": name, "state": "absent"}))
        files = svc.directory(name)
        if os.path.isdir(files):
            result["actions"].append(f"Removed {files}")
            if not ctx.check_mode:
                svc.remove_files(name)
        return {"changed": bool(result["actions"]), "actions": result["actions"], "diff": result["diff"],
                "url": None, "container": {}}

    plan = svc.plan(p)
    if not ctx.check_mode:
        svc.write_files(plan)
    wanted = dict(plan.container, state="started", restart=bool(plan.files_changed and current is not None),
                  pull="missing")
    result = container(_container_ctx(ctx, wanted))
    actions = list(result["actions"])
    diff = dict(result["diff"])
    if plan.files_changed:
        actions.insert(0, f"Wrote {', '.join(plan.files_changed)} of registry {name}")
        diff.setdefault("before", {})["files"] = "(as stored)"
        diff.setdefault("after", {})["files"] = f"{', '.join(plan.files_changed)} changed"
    if plan.users_before != plan.users_after:
        # how many: Ansible masks the user names (``users`` is no_log as a whole)
        diff.setdefault("before", {})["users"] = len(plan.users_before)
        diff.setdefault("after", {})["users"] = len(plan.users_after)
    if not ctx.check_mode:
        svc.wait_ready(plan.host, float(p.get("wait_timeout") or 60.0))
    return {"changed": bool(result["changed"] or plan.files_changed), "actions": actions, "diff": diff,
            "url": plan.url, "container": result.get("container") or {}}


def registry_info(ctx: TaskContext) -> dict[str, t.Any]:
    p = ctx.params
    tags = ctx.engine.registries.catalog(p["registry_url"], p.get("repositories"), p["page_size"])
    return {"changed": False, "repositories": [{"name": k, "tags": v} for k, v in tags.items()]}


def _container_ctx(ctx: TaskContext, options: t.Mapping[str, t.Any]) -> TaskContext:
    """The context of the container task that runs the registry: its defaults, overridden by *options*."""
    params = CONTAINER_TASK_OPTIONS.defaults()
    params.update(options)
    return TaskContext(engine=ctx.engine, params=params, check_mode=ctx.check_mode, diff_mode=True,
                       warnings=ctx.warnings)

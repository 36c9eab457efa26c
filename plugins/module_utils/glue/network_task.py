# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``network`` and ``network_info`` tasks: desired state in, result dict out.

community.docker's ``docker_network`` semantics, with two choices made safer (documented in the module):
- a network whose driver, addresses, ``internal``, MTU, a named driver option or a named label differs is
  removed and created again, as community.docker does; while containers use it this needs ``force``
  (which disconnects them; the ones ``connected`` names are connected again), else the task fails naming
  the containers and what differs;
- ``connected`` left out leaves the network's containers alone (community.docker disconnects them all
  unless ``appends``); given, the containers it names are connected and, without ``appends``, the others
  disconnected.
``state=absent`` removes the network; while containers use it that needs ``force`` (which disconnects
them), else the task fails naming them. Check mode walks the same decisions and predicts the result.
"""
from __future__ import annotations

import typing as t

from ..engine.errors import Conflict, NotFound
from ..engine.options.compare import Diff
from ..engine.options.network import desired_spec, option_differences, predicted, shown

if t.TYPE_CHECKING:
    from .runner import TaskContext

DIFF_KINDS = {"driver_options": "dict", "labels": "dict", "connected": "set"}


def _container_name(ctx: TaskContext, ref: str) -> str:
    cid = ctx.engine.containers.lookup(ref)
    if cid is None:
        raise NotFound("container", ref)
    return str(ctx.engine.containers.inspect(cid)["Name"]).lstrip("/")


def _in_use(name: str, users: t.Iterable[str], why: str) -> Conflict:
    return Conflict(f"network {name} is in use by container(s): {', '.join(sorted(users))}; {why}")


def network(ctx: TaskContext) -> dict[str, t.Any]:
    p = ctx.params
    svc = ctx.engine.networks
    name = p["name"]
    current = svc.inspect(name) if svc.exists(name) else None
    users = sorted(set(ctx.engine.containers.network_users(current["Name"]))) if current else []
    actions: list[str] = []
    after: dict[str, t.Any] | None = current
    connected_after = list(users)
    recreated = False
    if p.get("state") == "absent":
        after, connected_after = None, []
        if current is not None:
            if users and not p.get("force"):
                raise _in_use(name, users, "force=true disconnects them")
            for user in users:
                actions.append(f"Disconnected container {user}")
                if not ctx.check_mode:
                    svc.disconnect(user, name, force=True)
            actions.append(f"Removed network {name}")
            if not ctx.check_mode:
                svc.remove(name)
    else:
        spec = desired_spec(p)
        wanted = None if p.get("connected") is None else sorted({_container_name(ctx, c) for c in p["connected"]})
        differs = option_differences(current, spec) if current is not None else []
        if differs:
            if users and not p.get("force"):
                raise _in_use(name, users, f"recreating it ({', '.join(differs)} differ) needs force=true, "
                                           "which disconnects them")
            for user in users:
                actions.append(f"Disconnected container {user}")
                if not ctx.check_mode:
                    svc.disconnect(user, name, force=True)
            actions.append(f"Removed network {name} ({', '.join(differs)} differ)")
            recreated, connected_after = True, []
            if not ctx.check_mode:
                svc.remove(name)
        if current is None or recreated:
            actions.append(f"Created network {name}")
            after = predicted(spec) if ctx.check_mode else svc.create(spec)
        if wanted is not None:
            for container in wanted:
                if container not in connected_after:
                    actions.append(f"Connected container {container}")
                    if not ctx.check_mode:
                        svc.connect(container, name)
            extra = [] if p.get("appends") else [c for c in connected_after if c not in wanted]
            for container in extra:
                actions.append(f"Disconnected container {container}")
                if not ctx.check_mode:
                    svc.disconnect(container, name)
            connected_after = sorted((set(connected_after) | set(wanted)) - set(extra))
        if not ctx.check_mode and actions:
            after = svc.inspect(name)
    diff = Diff()
    before_shown, after_shown = shown(current, users), shown(after, connected_after)
    for key in ("exists", "driver", "driver_options", "subnet", "gateway", "ip_range", "internal", "mtu", "labels",
                "connected"):
        diff.add(key, before_shown.get(key), after_shown.get(key), kind=DIFF_KINDS.get(key, "value"))
    if recreated:
        diff.add("recreated", False, True)
    return {"changed": bool(actions), "actions": actions, "diff": diff.as_dict(), "network": dict(after or {})}


def network_info(ctx: TaskContext) -> dict[str, t.Any]:
    svc = ctx.engine.networks
    name = ctx.params["name"]
    if not svc.exists(name):
        return {"changed": False, "exists": False, "network": None}
    return {"changed": False, "exists": True, "network": svc.inspect(name)}

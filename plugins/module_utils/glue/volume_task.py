# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``volume`` and ``volume_info`` tasks: desired state in, result dict out.

``recreate`` follows community.docker: ``never`` leaves an existing volume as it is, ``options-changed``
removes and creates it again when the driver, a driver option or a label the task names differs,
``always`` does so every time. A volume in use is never removed (the error names the containers). Check
mode walks the same decisions and predicts the result; the diff tracks ``exists``, ``driver``,
``driver_options`` and ``labels``.
"""
from __future__ import annotations

import typing as t

from ..engine.options.compare import Diff
from ..engine.options.volume import option_differences

if t.TYPE_CHECKING:
    from .runner import TaskContext


def _strings(value: t.Any) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in (value or {}).items()}


def _shown(volume: t.Mapping[str, t.Any] | None) -> dict[str, t.Any]:
    if not volume:
        return {"exists": False}
    return {"exists": True, "driver": volume.get("Driver") or "local", "driver_options": dict(volume.get("Options") or {}),
            "labels": dict(volume.get("Labels") or {})}


def volume(ctx: TaskContext) -> dict[str, t.Any]:
    p = ctx.params
    svc = ctx.engine.volumes
    name = p["name"]
    current = svc.inspect(name) if svc.exists(name) else None
    actions: list[str] = []
    after: dict[str, t.Any] | None = current
    recreated = False
    if p.get("state") == "absent":
        after = None
        if current is not None:
            actions.append(f"Removed volume {name}")
            if not ctx.check_mode:
                svc.remove(name)
    else:
        driver = p.get("driver") or "local"
        options, labels = _strings(p.get("driver_options")), _strings(p.get("labels"))
        svc.check(name, driver=driver, driver_options=options, labels=labels)
        differs = option_differences(current, driver, options, labels) if current is not None else []
        recreate = p.get("recreate") or "never"
        if current is not None and (recreate == "always" or (differs and recreate == "options-changed")):
            actions.append(f"Removed volume {name}" + (f" ({', '.join(differs)} differ)" if differs else ""))
            recreated = True
            if not ctx.check_mode:
                svc.remove(name)
        if current is None or recreated:
            actions.append(f"Created volume {name}")
            if ctx.check_mode:
                after = {"Name": name, "Driver": driver, "Options": options, "Labels": labels}
            else:
                after = svc.create(name, driver=driver, driver_options=options, labels=labels)
    diff = Diff()
    before_shown, after_shown = _shown(current), _shown(after)
    for key in ("exists", "driver", "driver_options", "labels"):
        diff.add(key, before_shown.get(key), after_shown.get(key), kind="dict" if key in ("driver_options", "labels") else "value")
    if recreated:
        diff.add("recreated", False, True)
    return {"changed": bool(actions), "actions": actions, "diff": diff.as_dict(), "volume": dict(after or {})}


def volume_info(ctx: TaskContext) -> dict[str, t.Any]:
    svc = ctx.engine.volumes
    name = ctx.params["name"]
    if not svc.exists(name):
        return {"changed": False, "exists": False, "volume": None}
    return {"changed": False, "exists": True, "volume": svc.inspect(name, usage=True)}

# SPDX-License-Identifier: GPL-3.0-or-later
"""``berth volume create|ls|inspect|rm|prune``: docker's volume commands."""
from __future__ import annotations

import typing as t

from ...engine.errors import EngineError
from .. import render
from ..context import UsageError
from .images import _filters, _format, confirm

if t.TYPE_CHECKING:
    from ..context import Context

_HEADERS = {"Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT", "Labels": "LABELS",
            "Scope": "SCOPE", "Size": "SIZE", "Links": "LINKS", "Group": "GROUP", "Availability": "AVAILABILITY",
            "Status": "STATUS"}
_PRUNE = "WARNING! This will remove anonymous local volumes not used by at least one container."
_PRUNE_ALL = "WARNING! This will remove all local volumes not used by at least one container."


def _pairs(values: t.Sequence[str], flag: str, prog: str) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not key:
            raise UsageError(f'invalid argument "{item}" for "{flag}" flag: expected KEY=VALUE', prog)
        out[key] = value if sep else ""
    return out


def create(ctx: Context) -> int:
    a = ctx.args
    prog = a._parser.prog
    if a.name and a.name_flag and a.name != a.name_flag:
        raise UsageError("conflicting options: either specify --name or provide positional arg, not both", prog)
    volume = ctx.engine.volumes.create(a.name or a.name_flag, driver=a.driver,
                                       driver_options=_pairs(a.opt, "--opt", prog),
                                       labels=_pairs(a.label, "--label", prog))
    ctx.out(volume["Name"])
    return 0


def _item(volume: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """Docker's volume formatter fields (``--format``; ``json`` prints exactly these): Size and Links only with
    usage data, Group, Availability and Status (cluster volumes) N/A."""
    usage = volume.get("UsageData") or {}
    return {"Availability": "N/A", "Driver": volume["Driver"], "Group": "N/A",
            "Labels": ",".join(f"{k}={v}" for k, v in sorted((volume.get("Labels") or {}).items())),
            "Links": str(usage["RefCount"]) if "RefCount" in usage else "N/A", "Mountpoint": volume["Mountpoint"],
            "Name": volume["Name"], "Scope": volume["Scope"],
            "Size": render.human_size(usage["Size"]) if "Size" in usage else "N/A", "Status": "N/A"}


def ls(ctx: Context) -> int:
    a = ctx.args
    found = ctx.engine.volumes.list(filters=_filters(a.filter, a._parser.prog) or None)
    if a.quiet:
        for volume in found:
            ctx.out(volume["Name"])
        return 0
    fmt = a.format or "table"
    if fmt == "table":
        rows = [["DRIVER", "VOLUME NAME"]] + [[v["Driver"], v["Name"]] for v in found]
        ctx.stdout.write(render.table(rows))
        return 0
    ctx.stdout.write(_format(fmt, [_item(v) for v in found], _HEADERS, a._parser.prog))
    return 0


def inspect(ctx: Context) -> int:
    return ctx.inspect_each(ctx.args.names, ctx.engine.volumes.inspect)


def rm(ctx: Context) -> int:
    a = ctx.args
    rc = 0
    for name in a.names:
        try:
            if ctx.engine.volumes.remove(name, force=a.force):
                ctx.out(name)
        except EngineError as exc:
            rc = ctx.error(exc)
    return rc


def prune(ctx: Context) -> int:
    a = ctx.args
    flt = _filters(a.filter, a._parser.prog)
    if not a.force and not confirm(ctx, _PRUNE_ALL if a.all else _PRUNE):
        return 0
    report = ctx.engine.volumes.prune(all=a.all, filters=flt or None)
    if report["VolumesDeleted"]:
        ctx.out("Deleted Volumes:")
        for name in report["VolumesDeleted"]:
            ctx.out(name)
        ctx.out()
    ctx.out(f"Total reclaimed space: {render.human_size(int(report.get('SpaceReclaimed') or 0))}")
    return 0

# SPDX-License-Identifier: GPL-3.0-or-later
"""``berth network create|ls|inspect|rm|connect|disconnect|prune`` and ``berth port``."""
from __future__ import annotations

import typing as t

from ...engine.errors import EngineError
from .. import render
from ..context import Context, UsageError


def _pairs(values: t.Sequence[str], flag: str, prog: str) -> dict[str, str]:
    out = {}
    for value in values or ():
        key, sep, val = value.partition("=")
        if not key:
            raise UsageError(f"invalid argument {value!r} for {flag}: KEY=VALUE expected", prog)
        out[key] = val if sep else ""
    return out


def create(ctx: Context) -> int:
    a = ctx.args
    prog = a._parser.prog
    for flag, values in (("--subnet", a.subnet), ("--gateway", a.gateway), ("--ip-range", a.ip_range)):
        if len(values) > 1:
            raise UsageError(f"{flag}: one IPv4 subnet per network is supported", prog)
    spec = {
        "name": a.name, "driver": a.driver, "internal": a.internal,
        "subnet": (a.subnet or [None])[0], "gateway": (a.gateway or [None])[0], "ip_range": (a.ip_range or [None])[0],
        "labels": _pairs(a.label, "--label", prog), "options": _pairs(a.opt, "--opt", prog),
    }
    record = ctx.engine.networks.create(spec)
    ctx.out(record["Id"])
    return 0


def ls(ctx: Context) -> int:
    a = ctx.args
    found = ctx.engine.networks.list()
    if a.quiet:
        for net in found:
            ctx.out(net["Id"] if a.no_trunc else net["Id"][:12])
        return 0
    rows = [["NETWORK ID", "NAME", "DRIVER", "SCOPE"]]
    rows += [[net["Id"] if a.no_trunc else net["Id"][:12], net["Name"], net["Driver"], net["Scope"]] for net in found]
    ctx.stdout.write(render.table(rows))
    return 0


def inspect(ctx: Context) -> int:
    return ctx.inspect_each(ctx.args.names, ctx.engine.networks.inspect)


def rm(ctx: Context) -> int:
    rc = 0
    for name in ctx.args.names:
        try:
            if not ctx.engine.networks.remove(name):
                from ...engine.errors import NotFound

                raise NotFound("network", name)
        except EngineError as exc:
            rc = ctx.error(exc)
            continue
        ctx.out(name)
    return rc


def prune(ctx: Context) -> int:
    if not ctx.args.force:
        from .images import confirm

        if not confirm(ctx, "WARNING! This will remove all custom networks not used by at least one container."):
            return 0
    removed = ctx.engine.networks.prune()
    if removed:
        ctx.out("Deleted Networks:")
        for name in removed:
            ctx.out(name)
    return 0


def connect(ctx: Context) -> int:
    a = ctx.args
    ctx.engine.networks.connect(a.container, a.network, aliases=a.alias, ipv4_address=a.ip)
    return 0


def disconnect(ctx: Context) -> int:
    a = ctx.args
    ctx.engine.networks.disconnect(a.container, a.network, force=a.force)
    return 0


def port(ctx: Context) -> int:
    """``docker port CONTAINER [PRIVATE_PORT[/PROTO]]``: ``80/tcp -> 0.0.0.0:8080`` per mapping."""
    a = ctx.args
    settings = ctx.engine.containers.inspect(a.container).get("NetworkSettings") or {}
    wanted = a.private_port
    if wanted and "/" not in wanted:
        wanted += "/tcp"
    found = False
    for key, bindings in sorted((settings.get("Ports") or {}).items(), key=lambda kv: _port_key(kv[0])):
        if not bindings or (wanted and key != wanted):
            continue
        for binding in bindings:
            found = True
            host = f"{binding['HostIp']}:{binding['HostPort']}"
            ctx.out(host if wanted else f"{key} -> {host}")
    if wanted and not found:
        raise EngineError(f"No public port '{wanted}' published for {a.container}")
    return 0


def _port_key(key: str) -> tuple[int, str]:
    port, _slash, proto = key.partition("/")
    return (int(port) if port.isdigit() else 0, proto)

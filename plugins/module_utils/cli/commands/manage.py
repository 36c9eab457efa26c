# SPDX-License-Identifier: GPL-3.0-or-later
"""Container verbs that change a container's state or record: stop, restart, kill, pause, unpause, rm,
rename, update, container prune and system restore."""
from __future__ import annotations

import typing as t

from .. import render
from ..context import UsageError
from ..flags import RESOURCE_FLAGS
from ...engine.errors import EngineError, InvalidOption
from ...engine.options import container as copts
from . import images as images_cmd
from .run_options import update_options, warn_host

if t.TYPE_CHECKING:
    from ..context import Context


def _each(ctx: Context, names: t.Sequence[str], action: t.Callable[[str], t.Any], echo: bool = True) -> int:
    """Run *action* per name like docker: print the name on success, ``Error: …`` otherwise; exit 1 if any failed."""
    rc = 0
    for name in names:
        try:
            action(name)
        except EngineError as exc:
            ctx.error(exc)
            rc = 1
            continue
        if echo:
            ctx.out(name)
    return rc


def _signal(ctx: Context, value: str | None, flag: str) -> str | None:
    """A signal flag's value normalised (``9``, ``kill``, ``SIGKILL`` -> ``SIGKILL``)."""
    if value is None or value == "":
        return None
    try:
        return str(copts.signal_name(value, "signal"))
    except InvalidOption as exc:
        raise UsageError(f'invalid argument "{value}" for "{flag}" flag: {exc.reason}', ctx.args._parser.prog) from None


def stop(ctx: Context) -> int:
    a = ctx.args
    sig = _signal(ctx, a.signal, "-s, --signal")
    svc = ctx.engine.containers
    return _each(ctx, a.names, lambda n: svc.stop(n, timeout=a.time, signal=sig))


def restart(ctx: Context) -> int:
    a = ctx.args
    svc = ctx.engine.containers
    return _each(ctx, a.names, lambda n: svc.restart(n, timeout=a.time))


def kill(ctx: Context) -> int:
    a = ctx.args
    sig = _signal(ctx, a.signal, "-s, --signal") or "SIGKILL"
    svc = ctx.engine.containers
    return _each(ctx, a.names, lambda n: svc.kill(n, signal=sig))


def pause(ctx: Context) -> int:
    return _each(ctx, ctx.args.names, ctx.engine.containers.pause)


def unpause(ctx: Context) -> int:
    return _each(ctx, ctx.args.names, ctx.engine.containers.unpause)


def rm(ctx: Context) -> int:
    a = ctx.args
    svc = ctx.engine.containers
    rc = 0
    for name in a.names:
        try:
            removed = svc.remove(name, force=a.force, volumes=a.volumes)
        except EngineError as exc:
            ctx.error(exc)
            rc = 1
            continue
        if not removed:
            # docker rm -f of a missing container says so but does not fail.
            ctx.err(f"Error: No such container: {name}")
            if not a.force:
                rc = 1
            continue
        ctx.out(name)
    return rc


def rename(ctx: Context) -> int:
    ctx.engine.containers.rename(ctx.args.old, ctx.args.new)
    return 0


def update(ctx: Context) -> int:
    a = ctx.args
    opts = update_options(a, RESOURCE_FLAGS)
    if not opts:

        raise UsageError("you must provide one or more flags when using this command", a._parser.prog)
    svc = ctx.engine.containers
    warn_host(ctx, opts)
    return _each(ctx, a.names, lambda n: svc.update(n, opts))


_PRUNE_WARNING = "WARNING! This will remove all stopped containers."


def prune(ctx: Context) -> int:
    a = ctx.args
    flt = images_cmd._filters(a.filter, a._parser.prog)
    if not a.force and not images_cmd.confirm(ctx, _PRUNE_WARNING):
        return 0
    report = ctx.engine.containers.prune(filters=flt or None)
    deleted = report.get("ContainersDeleted") or []
    if deleted:
        ctx.out("Deleted Containers:")
        for cid in deleted:
            ctx.out(cid)
        ctx.out()
    ctx.out(f"Total reclaimed space: {render.human_size(int(report.get('SpaceReclaimed') or 0))}")
    return 0


def system_restore(ctx: Context) -> int:
    for cid in ctx.engine.containers.restore():
        ctx.out(cid)
    return 0

# SPDX-License-Identifier: GPL-3.0-or-later
"""``run``, ``create`` and ``start``: the verbs that make a container and run it (``berth run`` is the
start path: no typing at run time, ``render`` and the image verbs only when an image is pulled).

Each handler takes the :class:`~..context.Context`, calls ``ctx.engine.containers`` and prints what docker
prints, with docker's exit codes.
"""
from __future__ import annotations

import os

from ..context import PROG, UsageError, usage_error
from ..flags import RUN_FLAGS
from ...engine.errors import EngineError, InvalidOption, RuntimeFailure
from .interact import ENGINE_EXIT, _Attached, _fd, _isatty, _stdio, failure_exit_code
from .run_options import flag_error, normalised_options, warn_host

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time: ``berth run`` is a start-up path (engine/runtime/__init__.py)
    import typing as t

    from ..context import Context
    from ..flags import Flag


def _report(ctx: Context, verb: str, message: str, with_help: bool) -> None:
    """docker's ``reportError``: ``docker: <message>.`` (+ ``See 'docker run --help'.``)."""
    text = message.rstrip(".") + "."
    if with_help:
        text += f"\nSee '{PROG} {verb} --help'."
    ctx.err(f"{PROG}: {text}")


def _pull_if_needed(ctx: Context, args: t.Any) -> str:
    """docker run/create's pull: ``Unable to find image … locally`` then the pull, on stderr.

    Returns the pull policy to hand the service (``never`` once we pulled or were told not to).
    """
    policy = args.pull or "missing"
    if policy not in ("always", "missing", "never"):
        raise UsageError(f"invalid pull option: '{policy}': must be one of \"always\", \"missing\" or \"never\"",
                         args._parser.prog)
    if policy == "never":
        return "never"
    image = args.image
    if policy == "missing" and (ctx.engine.containers.local_image(image) is not None
                                or ctx.engine.images.resolve(image) is not None):
        return "never"
    from .. import render
    from . import images as images_cmd

    shown = image if images_cmd._has_tag_or_digest(image) else f"{image}:latest"
    if policy == "missing":
        ctx.err(f"Unable to find image '{shown}' locally")
    progress = None
    if not getattr(args, "quiet", False):
        tty = _isatty(_fd(ctx.stderr, 2))
        progress = render.Progress(ctx.stderr, tty=tty, width=_width(_fd(ctx.stderr, 2)) if tty else 200)
    try:
        result = ctx.engine.images.pull(image, platform=args.platform, on_event=images_cmd._PullEvents(progress))
    finally:
        if progress is not None:
            progress.finish(show_existing=False)
    if progress is not None:
        if result.repo_digest and "@" in result.repo_digest:
            ctx.err(f"Digest: {result.repo_digest.split('@', 1)[1]}")
        what = "Downloaded newer image for" if result.changed else "Image is up to date for"
        ctx.err(f"Status: {what} {result.familiar}")
    return "never"


def _width(fd: int) -> int:
    try:
        return os.get_terminal_size(fd).columns or 200
    except OSError:
        return 200


def _prepare(ctx: Context) -> tuple[dict[str, t.Any], str]:
    a = ctx.args
    opts = normalised_options(a, RUN_FLAGS, image=a.image, command=a.command)
    pull = _pull_if_needed(ctx, a)
    warn_host(ctx, opts)
    return opts, pull


def _refused(ctx: Context, verb: str, exc: EngineError, flags: t.Sequence[Flag]) -> int:
    """An engine error of run/create: a flag's bad value as a usage error, a start failure by docker's
    126/127 rule, anything else as ``berth: <error>.`` with the help hint; all before the container ran."""
    if ctx.args.debug:
        import traceback

        traceback.print_exc(file=ctx.stderr)
    if isinstance(exc, InvalidOption):
        message = flag_error(exc, ctx.args, flags)
        if message:
            return usage_error(ctx.stderr, ctx.args._parser.prog, message)
    if isinstance(exc, RuntimeFailure):
        _report(ctx, verb, str(exc), with_help=False)
        return failure_exit_code(exc)
    _report(ctx, verb, str(exc), with_help=True)
    return ENGINE_EXIT


def create(ctx: Context) -> int:
    try:
        opts, pull = _prepare(ctx)
        cid = ctx.engine.containers.create(opts, name=ctx.args.name, pull=pull)
    except EngineError as exc:
        return _refused(ctx, "create", exc, RUN_FLAGS)
    ctx.out(cid)
    return 0


def run(ctx: Context) -> int:
    a = ctx.args
    # docker's CheckTty: only a client that attaches stdin needs a terminal there (run -dit does not).
    if a.tty and a.interactive and not a.detach and not _isatty(_fd(ctx.stdin, 0)):
        ctx.err("the input device is not a TTY")
        return 1
    try:
        opts, pull = _prepare(ctx)
        if a.detach:
            result = ctx.engine.containers.run(opts, name=a.name, detach=True, remove=a.auto_remove, pull=pull)
            ctx.out(result.id)
            return 0
        ctx.stdout.flush()
        ctx.stderr.flush()
        return _run_attached(ctx, opts, pull)
    except EngineError as exc:
        return _refused(ctx, "run", exc, RUN_FLAGS)


def _run_attached(ctx: Context, opts: dict[str, t.Any], pull: str) -> int:
    a = ctx.args
    svc = ctx.engine.containers
    stdio = _stdio(ctx, a.interactive, a.tty)
    stdio.escape_keys()  # a bad --detach-keys fails before anything is created
    # Signals are proxied only once the service tells us the container (and its monitor): until then
    # SIGTERM/SIGHUP keep their default action and Ctrl-C stops waiting.
    attached = _Attached(svc.kill, stdio.stdin, bool(a.tty))
    with attached:
        result = svc.run(opts, name=a.name, detach=False, stdio=stdio, remove=a.auto_remove, pull=pull,
                         on_start=attached.on_start)
    return int(result.exit_code or 0)


def start(ctx: Context) -> int:
    a = ctx.args
    svc = ctx.engine.containers
    if a.attach or a.interactive:
        if len(a.names) > 1:
            ctx.err("Error: you cannot start and attach multiple containers at once")
            return 1
        name = a.names[0]
        info = svc.inspect(name)
        tty = bool((info.get("Config") or {}).get("Tty"))
        stdio = _stdio(ctx, a.interactive, tty)
        ctx.stdout.flush()
        attached = _Attached(svc.kill, stdio.stdin, tty)
        attached.container_id = info["Id"]
        with attached:
            try:
                handle = svc.start(name, stdio=stdio)
            except RuntimeFailure as exc:
                ctx.error(exc)
                return failure_exit_code(exc)
            if handle is None:  # already running: attach to it instead
                return int(svc.attach(info["Id"], stdio=stdio) or 0)
            attached.on_start(info["Id"], handle.monitor_pid)
            return int(svc.wait_attached(handle) or 0)
    failed = []
    for name in a.names:
        try:
            svc.start(name)
        except EngineError as exc:
            ctx.error(exc)
            failed.append(name)
            continue
        ctx.out(name)
    if failed:
        ctx.err(f"Error: failed to start containers: {', '.join(failed)}")
        return 1
    return 0

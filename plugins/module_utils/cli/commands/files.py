# SPDX-License-Identifier: GPL-3.0-or-later
"""Container verbs about the container's files: cp, diff and export."""
from __future__ import annotations

import os
import sys
import typing as t

from ..context import UsageError, binary_writer
from ...engine.errors import EngineError

if t.TYPE_CHECKING:
    from ..context import Context


#: ``docker diff``'s letter for each ``Kind`` of the API (0 changed, 1 added, 2 deleted).
_DIFF_KINDS = {0: "C", 1: "A", 2: "D"}


def diff(ctx: Context) -> int:
    write = binary_writer(ctx.stdout)
    for change in ctx.engine.containers.diff(ctx.args.name):
        path = os.fsencode(change["Path"])  # file names as they are, as docker prints them
        write(f"{_DIFF_KINDS[change['Kind']]} ".encode() + path + b"\n")
    return 0


def export(ctx: Context) -> int:
    a = ctx.args
    if a.output and a.output != "-":
        ctx.engine.containers.export_file(a.name, os.path.abspath(a.output))
        return 0
    if ctx.is_tty():
        raise EngineError("cowardly refusing to save to a terminal. Use the -o flag or redirect")

    ctx.stdout.flush()
    dst = getattr(ctx.stdout, "buffer", None) or sys.stdout.buffer
    ctx.engine.containers.export(a.name, dst)
    dst.flush()
    return 0


def _container_path(arg: str) -> tuple[str, str] | None:
    """``CONTAINER:PATH`` as (container, path); None for a local path (as docker: one starting with ``/``
    or ``.``, or without a colon, is local)."""
    if arg.startswith(("/", ".")) or ":" not in arg:
        return None
    name, path = arg.split(":", 1)
    return name, path


def cp(ctx: Context) -> int:
    """``docker cp``: exactly one of SRC and DEST is ``CONTAINER:PATH``; ``-`` is a tar stream."""
    a = ctx.args
    src, dest = _container_path(a.src), _container_path(a.dest)
    prog = a._parser.prog
    if (src is None) == (dest is None):
        what = "copying between containers is not supported" if src else "must specify at least one container source"
        raise UsageError(what, prog)
    containers = ctx.engine.containers
    if src is not None:
        name, path = src
        if a.dest == "-":
            if ctx.is_tty():
                raise EngineError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
            ctx.stdout.flush()
            out = getattr(ctx.stdout, "buffer", None) or sys.stdout.buffer
            containers.cp_from(name, _in_container(path), out, a.archive, a.follow_link)
            out.flush()
            return 0
        containers.cp_from(name, _in_container(path), a.dest, a.archive, a.follow_link)
        return 0
    name, path = dest  # type: ignore[misc]
    if a.src == "-":
        inp = getattr(ctx.stdin, "buffer", None) or sys.stdin.buffer
        containers.cp_to(name, inp, _in_container(path), a.archive, a.follow_link)
        return 0
    containers.cp_to(name, a.src, _in_container(path), a.archive, a.follow_link)
    return 0


def _in_container(path: str) -> str:
    """A container path, relative ones from its root (docker: from the working dir; berth: ``/``)."""
    return path if path.startswith("/") else "/" + path

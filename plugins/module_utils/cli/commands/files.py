# SPDX-License-Identifier: GPL-3.0-or-later
"""Container verbs about the container's files: diff and export."""
from __future__ import annotations

import os
import sys
import typing as t

from ..context import binary_writer
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

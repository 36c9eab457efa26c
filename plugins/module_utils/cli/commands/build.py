# SPDX-License-Identifier: GPL-3.0-or-later
"""``berth build`` (docker's classic builder output: ``Step 1/5 : FROM ...``, `` ---> Using cache``) and
``berth commit``."""
from __future__ import annotations

import os
import sys
import tarfile
import tempfile
import typing as t

from ..context import Context, UsageError


def _pairs(values: t.Sequence[str], flag: str, prog: str, from_env: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, eq, value = item.partition("=")
        if not key:
            raise UsageError(f"invalid argument {item!r} for {flag} flag: key is empty", prog)
        if not eq:
            if not from_env:
                raise UsageError(f"invalid argument {item!r} for {flag} flag: expected KEY=VALUE", prog)
            if key not in os.environ:
                continue  # docker: --build-arg KEY takes the value from the environment, if set
            value = os.environ[key]
        out[key] = value
    return out


def build(ctx: Context) -> int:
    a = ctx.args
    prog = a._parser.prog
    build_args = _pairs(a.build_arg, "--build-arg", prog, True)
    labels = _pairs(a.label, "--label", prog, False)
    context: str | None = a.context
    text = None
    spill = None
    if context == "-":  # a Dockerfile, or a context tarball, on standard input
        data = sys.stdin.buffer.read()
        fd, spill = tempfile.mkstemp(prefix="berth-build-", suffix=".tar")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if tarfile.is_tarfile(spill):
            context = spill
        else:
            context, text = None, data.decode("utf-8")
    elif "://" not in context and not context.startswith("git@") and "#" not in context:
        context = os.path.abspath(context)
    dockerfile = a.file
    if dockerfile and dockerfile != "-" and context and os.path.isdir(context):
        dockerfile = os.path.abspath(dockerfile)  # -f is relative to the working directory, as docker's
    if dockerfile == "-":
        dockerfile, text = None, sys.stdin.read()
    if a.platform and a.platform != ctx.engine.images.default_platform():
        raise UsageError(f"--platform {a.platform}: only this host's platform "
                         f"({ctx.engine.images.default_platform()}) can be built", prog)

    def say(line: str) -> None:
        if not a.quiet:
            ctx.out(line)
            ctx.stdout.flush()

    output_fd = None
    if not a.quiet:
        ctx.stdout.flush()
        output_fd = ctx.stdout.fileno()
    try:
        result = ctx.engine.build(context, dockerfile=dockerfile, dockerfile_text=text, tags=a.tag, build_args=build_args,
                                  target=a.target, no_cache=a.no_cache, pull=a.pull, labels=labels,
                                  network=a.network, say=say, output_fd=output_fd)
    finally:
        if spill is not None:
            os.unlink(spill)
    if a.quiet:
        ctx.out(result["image_id"])
    return 0


def commit(ctx: Context) -> int:
    a = ctx.args
    image_id = ctx.engine.containers.commit(a.name, a.reference, author=a.author, message=a.message,
                                            changes=a.change)
    ctx.out(image_id)
    return 0

# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``berth`` command: docker's image and container verbs on top of the engine facade.

The top of the CLI's import graph (a unit test keeps it free of cycles): ``context`` (Context,
usage errors) and ``flags`` (the flag tables) at the bottom, ``render`` beside them, then
``parser`` (argparse) and ``commands/*`` (the verb handlers), and this module over all of them.

The parser is declared in ``parser.py``, whole, so ``berth --help`` and usage
errors need no command module; the handler of a verb (``commands/<group>.py``)
and the engine are imported only when that verb runs. Nothing slow is imported
at start-up: the engine's stdlib-only error classes. ``berth run ...``, the
command whose start-up time is a headline number, is read by
``flags.parse_run`` from the same flag tables as argparse, but without it, whenever
it is an ordinary command line (anything else goes to argparse, which gives the
same result or docker's error); ``build`` and ``version`` likewise by ``flags.parse_simple``.

Exit codes follow docker: 0 on success, 125 for usage errors (unknown verb or
flag, missing argument), the engine error's ``exit_code`` (usually 1) when the
engine refuses, 130 on Ctrl-C.
"""
from __future__ import annotations

import os
import sys

from ..engine.errors import EngineError
from .context import PROG, USAGE_EXIT, Context, UnknownCommand, UsageError, usage_error
from .flags import parse_run, parse_simple

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time on the start path (see engine/runtime/__init__.py)
    import typing as t


# ---------------------------------------------------------------- dispatch
def _load_handler(target: str) -> t.Callable[[Context], int]:
    """Import the one command module a verb needs (static imports, so AnsiballZ-style finders see them)."""
    group, func = target.split(".", 1)
    if group == "run":
        from .commands import run as mod
    elif group == "images":
        from .commands import images as mod
    elif group == "system":
        from .commands import system as mod
    elif group == "query":
        from .commands import query as mod
    elif group == "networks":
        from .commands import networks as mod
    elif group == "manage":
        from .commands import manage as mod
    elif group == "interact":
        from .commands import interact as mod
    elif group == "files":
        from .commands import files as mod
    elif group == "volumes":
        from .commands import volumes as mod
    elif group == "build":
        from .commands import build as mod
    else:  # pragma: no cover - a parser/handler table mismatch
        raise RuntimeError(f"no command group {group!r}")
    return getattr(mod, func)  # type: ignore[no-any-return]


def version() -> str:
    try:
        from ..engine.api import VERSION
    except ImportError:  # pragma: no cover
        VERSION = "unknown"
    return f"Berth version {VERSION}"


def main(
    argv: t.Sequence[str] | None = None,
    stdout: t.TextIO | None = None,
    stderr: t.TextIO | None = None,
    stdin: t.TextIO | None = None,
) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    stdin = stdin or sys.stdin
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_run(argv) or parse_simple(argv)
    if args is None:
        parsed = _parse(argv, stderr)
        if isinstance(parsed, int):
            return parsed
        args = parsed
    if args.version:
        stdout.write(version() + "\n")
        return 0
    if args._run is None:
        # `berth`, `berth image`, `berth system`: help, like docker.
        args._parser.print_help(stdout)
        return 0
    return _dispatch(args, stdout, stderr, stdin)


def _parse(argv: list[str], stderr: t.TextIO) -> t.Any:
    """argparse's reading of *argv*, or the exit code of a usage error / ``--help`` (already printed)."""
    from .parser import build_parser

    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            sub = getattr(args, "_parser", parser)
            sub.error("unrecognized arguments: " + " ".join(extra))
    except UnknownCommand as exc:
        where = exc.prog[len(PROG):].strip()
        shown = f"{where} {exc.name}".strip()
        stderr.write(f"{PROG}: '{shown}' is not a {PROG} command.\nSee '{exc.prog} --help'\n")
        return USAGE_EXIT
    except UsageError as exc:
        return usage_error(stderr, exc.prog, exc.message)
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    return args


def _dispatch(args: t.Any, stdout: t.TextIO, stderr: t.TextIO, stdin: t.TextIO) -> int:
    ctx = Context(args, stdout, stderr, stdin)
    if os.geteuid() != 0:
        # Every verb opens the engine, which runs as root: without root, `ps` would list nothing, silently.
        stderr.write(f"Error: berth needs root: the engine runs as root, this is uid {os.geteuid()} "
                     "(run it with sudo, or as root)\n")
        return 1
    try:
        handler = _load_handler(args._run)
        rc = handler(ctx)
        stdout.flush()
        return int(rc or 0)
    except EngineError as exc:
        if args.debug:
            import traceback

            traceback.print_exc(file=stderr)
        return ctx.error(exc)
    except UsageError as exc:
        return usage_error(stderr, exc.prog if exc.prog != PROG else args._parser.prog, exc.message)
    except KeyboardInterrupt:
        stderr.write("\n")
        return 130
    except BrokenPipeError:
        # `berth images | head`: stop quietly, and keep Python from complaining at exit.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 141
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if args.debug:
            import traceback

            traceback.print_exc(file=stderr)
        else:
            stderr.write(f"Error: unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)\n")
        return 1

# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``berth`` command: docker's image verbs on top of the engine facade.

The parser is declared here, whole, so ``berth --help`` and usage errors need
no command module; the handler of a verb (``commands/<group>.py``) and the
engine are imported only when that verb runs. Nothing slow is imported at
start-up: argparse plus the engine's stdlib-only error classes.

Exit codes follow docker: 0 on success, 125 for usage errors (unknown verb or
flag, missing argument), the engine error's ``exit_code`` (usually 1) when the
engine refuses, 130 on Ctrl-C.
"""
from __future__ import annotations

import argparse
import os
import sys
import typing as t

from ..engine.errors import EngineError

PROG = "berth"
USAGE_EXIT = 125


class UsageError(Exception):
    """A command line the parser accepted but the verb cannot use (exit 125)."""

    def __init__(self, message: str, prog: str = PROG) -> None:
        super().__init__(message)
        self.message = message
        self.prog = prog


class _UnknownCommand(Exception):
    def __init__(self, prog: str, name: str) -> None:
        super().__init__(name)
        self.prog = prog
        self.name = name


class _Parser(argparse.ArgumentParser):
    """argparse with docker's error style: message, ``See 'berth VERB --help'.``, exit 125."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> t.NoReturn:
        raise UsageError(message, self.prog)

    def _check_value(self, action: argparse.Action, value: t.Any) -> None:
        # Refuse an unknown verb the way docker does instead of argparse's "invalid choice".
        if isinstance(action, argparse._SubParsersAction) and value not in (action.choices or {}):
            raise _UnknownCommand(self.prog, str(value))
        super()._check_value(action, value)  # type: ignore[misc]


class Context:
    """What a verb handler gets: its arguments, the streams, and the engine (opened on first use)."""

    def __init__(
        self,
        args: argparse.Namespace,
        stdout: t.TextIO,
        stderr: t.TextIO,
        stdin: t.TextIO,
    ) -> None:
        self.args = args
        self.stdout = stdout
        self.stderr = stderr
        self.stdin = stdin
        self._engine: t.Any = None

    @property
    def engine(self) -> t.Any:
        if self._engine is None:
            from ..engine.api import Engine

            root = os.path.abspath(self.args.root) if self.args.root else None
            self._engine = Engine.open(data_root=root, config_path=self.args.config)
        return self._engine

    def out(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def err(self, text: str) -> None:
        self.stderr.write(text + "\n")

    def error(self, exc: BaseException) -> int:
        """Report an engine error for one item and return its exit code (docker's rmi/inspect style)."""
        self.err(f"Error: {exc}")
        return int(getattr(exc, "exit_code", 1) or 1)

    def is_tty(self) -> bool:
        try:
            return self.stdout.isatty()
        except (AttributeError, ValueError):
            return False


# ---------------------------------------------------------------- the parser
def _handler(p: argparse.ArgumentParser, target: str) -> None:
    p.set_defaults(_run=target, _parser=p)


def _add_pull(p: argparse.ArgumentParser) -> None:
    p.add_argument("--platform", metavar="PLATFORM", help="Set platform if server is multi-platform capable (os/arch[/variant])")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    p.add_argument("name", metavar="NAME[:TAG|@DIGEST]")
    _handler(p, "images.pull")


def _add_images(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Show all images (default hides intermediate images)")
    p.add_argument("--digests", action="store_true", help="Show digests")
    p.add_argument("-f", "--filter", action="append", default=[], metavar="FILTER",
                   help="Filter output based on conditions provided (dangling=, reference=, before=, since=, label=)")
    p.add_argument("--format", metavar="FORMAT",
                   help="Format output: 'table', 'json', 'table {{.Field}}…' or '{{.Field}}…'")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    p.add_argument("repository", nargs="?", metavar="REPOSITORY[:TAG]")
    _handler(p, "images.images")


def _add_inspect(p: argparse.ArgumentParser, with_type: bool = False) -> None:
    p.add_argument("-f", "--format", metavar="FORMAT", help="Format output: 'json' or '{{.Field}}…'")
    if with_type:
        p.add_argument("--type", choices=["image"], help="Only inspect objects of the given type")
    p.add_argument("names", nargs="+", metavar="IMAGE")
    _handler(p, "images.inspect")


def _add_tag(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    p.add_argument("target", metavar="TARGET_IMAGE[:TAG]")
    _handler(p, "images.tag")


def _add_rmi(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="Force removal of the image")
    p.add_argument("names", nargs="+", metavar="IMAGE")
    _handler(p, "images.rmi")


def _add_prune(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Remove all unused images, not just dangling ones")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.add_argument("--filter", action="append", default=[], metavar="FILTER",
                   help='Provide filter values (e.g. "until=<timestamp>")')
    _handler(p, "images.prune")


def _add_load(p: argparse.ArgumentParser) -> None:
    p.add_argument("-i", "--input", metavar="FILE", help="Read from tar archive file (or OCI layout), instead of STDIN")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress the load output")
    _handler(p, "images.load")


def _add_save(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", metavar="FILE", help="Write to a file, instead of STDOUT")
    p.add_argument("--format", default="docker-archive", choices=["docker-archive", "oci-archive"],
                   help="Archive format (default docker-archive)")
    p.add_argument("names", nargs="+", metavar="IMAGE")
    _handler(p, "images.save")


def _add_import(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--change", action="append", default=[], metavar="CHANGE",
                   help="Apply Dockerfile instruction to the created image")
    p.add_argument("-m", "--message", default="", metavar="MESSAGE", help="Set commit message for imported image")
    p.add_argument("--platform", metavar="PLATFORM", help="Set platform (os/arch[/variant])")
    p.add_argument("file", metavar="FILE|-")
    p.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")
    _handler(p, "images.import_")


def _add_history(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", metavar="FORMAT", help="Format output: 'table', 'json' or a '{{.Field}}' template")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    p.add_argument("name", metavar="IMAGE")
    _handler(p, "images.history")


def _add_df(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", metavar="FORMAT", help="Format output: 'table' or 'json'")
    p.add_argument("-v", "--verbose", action="store_true", help="Show detailed information on space usage")
    _handler(p, "system.df")


# (names, adder, one-line help, usage) — shared by the top level and `berth image`.
_IMAGE_VERBS: t.List[t.Tuple[t.Sequence[str], t.Callable[[argparse.ArgumentParser], None], str, str]] = [
    (("history",), _add_history, "Show the history of an image", "IMAGE"),
    (("import",), _add_import, "Import the contents from a tarball to create a filesystem image",
     "[OPTIONS] FILE|- [REPOSITORY[:TAG]]"),
    (("inspect",), _add_inspect, "Display detailed information on one or more images", "[OPTIONS] IMAGE [IMAGE...]"),
    (("load",), _add_load, "Load an image from a tar archive or STDIN", "[OPTIONS]"),
    (("ls", "list"), _add_images, "List images", "[OPTIONS] [REPOSITORY[:TAG]]"),
    (("prune",), _add_prune, "Remove unused images", "[OPTIONS]"),
    (("pull",), _add_pull, "Download an image from a registry", "[OPTIONS] NAME[:TAG|@DIGEST]"),
    (("rm", "remove"), _add_rmi, "Remove one or more images", "[OPTIONS] IMAGE [IMAGE...]"),
    (("save",), _add_save, "Save one or more images to a tar archive (streamed to STDOUT by default)",
     "[OPTIONS] IMAGE [IMAGE...]"),
    (("tag",), _add_tag, "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]"),
]

_TOP_VERBS: t.List[t.Tuple[str, t.Callable[..., None], str, str]] = [
    ("history", _add_history, "Show the history of an image", "IMAGE"),
    ("images", _add_images, "List images", "[OPTIONS] [REPOSITORY[:TAG]]"),
    ("import", _add_import, "Import the contents from a tarball to create a filesystem image",
     "[OPTIONS] FILE|- [REPOSITORY[:TAG]]"),
    ("inspect", lambda p: _add_inspect(p, with_type=True), "Return low-level information on images",
     "[OPTIONS] IMAGE [IMAGE...]"),
    ("load", _add_load, "Load an image from a tar archive or STDIN", "[OPTIONS]"),
    ("pull", _add_pull, "Download an image from a registry", "[OPTIONS] NAME[:TAG|@DIGEST]"),
    ("rmi", _add_rmi, "Remove one or more images", "[OPTIONS] IMAGE [IMAGE...]"),
    ("save", _add_save, "Save one or more images to a tar archive (streamed to STDOUT by default)",
     "[OPTIONS] IMAGE [IMAGE...]"),
    ("tag", _add_tag, "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]"),
]


def _group(sub: t.Any, name: str, help_: str) -> t.Tuple[argparse.ArgumentParser, t.Any]:
    p = sub.add_parser(name, help=help_, description=help_, prog=f"{PROG} {name}", usage=f"{PROG} {name} COMMAND")
    p.set_defaults(_run=None, _parser=p)
    return p, p.add_subparsers(dest=f"{name}_verb", metavar="COMMAND", title="Commands")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        usage=f"{PROG} [OPTIONS] COMMAND",
        description="A daemonless container engine: docker's image commands on this host.",
        epilog=f"Run '{PROG} COMMAND --help' for more information on a command.",
    )
    parser.add_argument("--root", metavar="DIR", default=os.environ.get("BERTH_ROOT") or None,
                        help="Engine data root (env BERTH_ROOT; default: data-root in the config, else /var/lib/berth)")
    parser.add_argument("--config", metavar="FILE", default=os.environ.get("BERTH_CONFIG") or None,
                        help="Engine configuration (env BERTH_CONFIG; default /etc/berth/daemon.json)")
    parser.add_argument("-D", "--debug", action="store_true", help="Show tracebacks of errors")
    parser.add_argument("-v", "--version", action="store_true", help="Print version information and quit")
    parser.set_defaults(_run=None, _parser=parser)
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND", title="Commands")

    image, image_sub = _group(sub, "image", "Manage images")
    for names, add, help_, usage in _IMAGE_VERBS:
        p = image_sub.add_parser(names[0], aliases=list(names[1:]), help=help_, description=help_,
                                 prog=f"{PROG} image {names[0]}", usage=f"{PROG} image {names[0]} {usage}")
        add(p)
    system, system_sub = _group(sub, "system", "Manage Berth")
    _add_df(system_sub.add_parser("df", help="Show disk usage", description="Show Berth disk usage",
                                  prog=f"{PROG} system df", usage=f"{PROG} system df [OPTIONS]"))
    for name, add, help_, usage in _TOP_VERBS:
        add(sub.add_parser(name, help=help_, description=help_, prog=f"{PROG} {name}", usage=f"{PROG} {name} {usage}"))
    return parser


# ---------------------------------------------------------------- dispatch
def _load_handler(target: str) -> t.Callable[[Context], int]:
    """Import the one command module a verb needs (static imports, so AnsiballZ-style finders see them)."""
    group, func = target.split(".", 1)
    if group == "images":
        from .commands import images as mod
    elif group == "system":
        from .commands import system as mod
    else:  # pragma: no cover - a parser/handler table mismatch
        raise RuntimeError(f"no command group {group!r}")
    return t.cast("t.Callable[[Context], int]", getattr(mod, func))


def version() -> str:
    try:
        from ..engine.api import VERSION
    except ImportError:  # pragma: no cover
        VERSION = "unknown"
    return f"Berth version {VERSION}"


def _usage_error(stderr: t.TextIO, prog: str, message: str) -> int:
    if message.startswith("unrecognized arguments: "):
        first = message[len("unrecognized arguments: "):].split()[0]
        if first.startswith("-"):
            stderr.write(f"unknown flag: {first.split('=', 1)[0]}\nSee '{prog} --help'.\n")
        else:
            stderr.write(f'"{prog}" got an unexpected argument: {first}\nSee \'{prog} --help\'.\n')
        return USAGE_EXIT
    stderr.write(f"{prog}: {message}\nSee '{prog} --help'.\n")
    return USAGE_EXIT


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
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            sub = getattr(args, "_parser", parser)
            sub.error("unrecognized arguments: " + " ".join(extra))
    except _UnknownCommand as exc:
        where = exc.prog[len(PROG):].strip()
        shown = f"{where} {exc.name}".strip()
        stderr.write(f"{PROG}: '{shown}' is not a {PROG} command.\nSee '{exc.prog} --help'\n")
        return USAGE_EXIT
    except UsageError as exc:
        return _usage_error(stderr, exc.prog, exc.message)
    except SystemExit as exc:  # --help
        return int(exc.code or 0)

    if args.version:
        stdout.write(version() + "\n")
        return 0
    if args._run is None:
        # `berth`, `berth image`, `berth system`: help, like docker.
        args._parser.print_help(stdout)
        return 0

    ctx = Context(args, stdout, stderr, stdin)
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
        return _usage_error(stderr, exc.prog if exc.prog != PROG else args._parser.prog, exc.message)
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

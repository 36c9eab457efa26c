# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``berth`` command: docker's image and container verbs on top of the engine facade.

The parser is declared in ``parser.py``, whole, so ``berth --help`` and usage
errors need no command module; the handler of a verb (``commands/<group>.py``)
and the engine are imported only when that verb runs. Nothing slow is imported
at start-up: the engine's stdlib-only error classes. ``berth run ...``, the
command whose start-up time is a headline number, is parsed by
:func:`parse_run` without argparse whenever it is an ordinary command line
(anything else goes to argparse, which gives the same result or docker's error).

Exit codes follow docker: 0 on success, 125 for usage errors (unknown verb or
flag, missing argument), the engine error's ``exit_code`` (usually 1) when the
engine refuses, 130 on Ctrl-C.
"""
from __future__ import annotations

import os
import sys

from ..engine.errors import EngineError

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time on the start path (see engine/runtime/__init__.py)
    import typing as t

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


class Context:
    """What a verb handler gets: its arguments, the streams, and the engine (opened on first use)."""

    def __init__(
        self,
        args: t.Any,
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

    def out_inspected(self, items: t.Sequence[t.Any]) -> None:
        """``docker inspect`` output of *items* in the ``--format`` the verb was given."""
        from . import render

        try:
            lines = render.inspect_lines(items, self.args.format)
        except render.TemplateError as exc:
            raise UsageError(f"template parsing error: {exc}", self.args._parser.prog) from None
        for line in lines:
            self.out(line)

    def error(self, exc: BaseException) -> int:
        """Report an engine error for one item and return its exit code (docker's rmi/inspect style)."""
        self.err(f"Error: {exc}")
        return int(getattr(exc, "exit_code", 1) or 1)

    def is_tty(self) -> bool:
        try:
            return self.stdout.isatty()
        except (AttributeError, ValueError):
            return False


# ---------------------------------------------------------------- run/create/update flags
#: RunFlag kinds that collect every value given (argparse ``append``).
LIST_KINDS = ("list", "env", "map", "ulimit", "secret", "secret_file")


class RunFlag:
    """One ``run``/``create``/``update`` flag: how argparse reads it and which option it feeds.

    *option* is the option name ``normalise_options`` takes (``healthcheck.interval`` for a key of the
    healthcheck dict) or None for a flag the verb handles itself. *kind* says how the values become the
    option's value (commands/containers.py ``run_params``): ``flag`` (True), ``value`` (the string),
    ``list`` (every value), ``map`` (``KEY=VALUE`` values as a dict), ``env`` (``KEY=VALUE`` or ``KEY``
    from our environment), ``secret`` (``KEY`` only, the value from our environment), ``secret_file``
    (``--env-file`` format files, below ``secret``), ``ulimit`` (docker's ``name=soft[:hard]``),
    ``entrypoint`` (one argument, not split), ``health`` (a key of ``healthcheck``), ``cli`` (read by the verb).
    """

    __slots__ = ("flags", "dest", "option", "kind", "metavar", "help")

    def __init__(self, flags: tuple[str, ...], dest: str, option: str | None, kind: str, metavar: str | None,
                 help: str) -> None:  # noqa: A002  (the argparse keyword)
        self.flags = flags
        self.dest = dest
        self.option = option
        self.kind = kind
        self.metavar = metavar
        self.help = help

    def __repr__(self) -> str:
        return f"RunFlag({self.flags!r}, {self.dest!r}, {self.option!r}, {self.kind!r})"


def _rf(flags: tuple[str, ...], option: str | None, kind: str, help_: str,
        metavar: str | None = None, dest: str | None = None) -> RunFlag:
    if dest is None:
        dest = option.replace(".", "_") if option else flags[-1].lstrip("-").replace("-", "_")
    return RunFlag(flags, dest, option, kind, metavar, help_)


#: The resource flags of ``update`` (and of ``run``/``create``).
RESOURCE_FLAGS: list[RunFlag] = [
    _rf(("--blkio-weight",), "blkio_weight", "value", "Block IO (relative weight), between 10 and 1000, or 0 to disable",
        "UINT16"),
    _rf(("--cpu-period",), "cpu_period", "value", "Limit CPU CFS (Completely Fair Scheduler) period", "INT"),
    _rf(("--cpu-quota",), "cpu_quota", "value", "Limit CPU CFS (Completely Fair Scheduler) quota", "INT"),
    _rf(("-c", "--cpu-shares"), "cpu_shares", "value", "CPU shares (relative weight)", "INT"),
    _rf(("--cpus",), "cpus", "value", "Number of CPUs", "DECIMAL"),
    _rf(("--cpuset-cpus",), "cpuset_cpus", "value", "CPUs in which to allow execution (0-3, 0,1)", "STRING"),
    _rf(("--cpuset-mems",), "cpuset_mems", "value", "MEMs in which to allow execution (0-3, 0,1)", "STRING"),
    _rf(("-m", "--memory"), "memory", "value", "Memory limit", "BYTES"),
    _rf(("--memory-reservation",), "memory_reservation", "value", "Memory soft limit", "BYTES"),
    _rf(("--memory-swap",), "memory_swap", "value",
        "Swap limit equal to memory plus swap: '-1' to enable unlimited swap", "BYTES"),
    _rf(("--pids-limit",), "pids_limit", "value", "Tune container pids limit (set -1 for unlimited)", "INT"),
    _rf(("--restart",), "restart_policy", "value", "Restart policy to apply when a container exits", "STRING"),
]

#: ``run`` and ``create`` (``-d`` and ``--rm`` are read by the verb; create keeps ``--rm`` as auto_remove).
RUN_FLAGS: list[RunFlag] = [
    _rf(("-d", "--detach"), None, "cli", "Run container in background and print container ID"),
    _rf(("--rm",), "auto_remove", "flag", "Automatically remove the container when it exits"),
    _rf(("--name",), None, "cli", "Assign a name to the container", "STRING"),
    _rf(("-i", "--interactive"), "interactive", "flag", "Keep STDIN open even if not attached"),
    _rf(("-t", "--tty"), "tty", "flag", "Allocate a pseudo-TTY"),
    _rf(("-e", "--env"), "env", "env", "Set environment variables", "LIST"),
    _rf(("--env-file",), "env_file", "list", "Read in a file of environment variables", "LIST"),
    _rf(("--secret-env",), "secret_env", "secret",
        "Pass a secret environment variable by name; its value comes from our environment", "NAME"),
    _rf(("--secret-env-file",), "secret_env", "secret_file",
        "Read in a file of secret environment variables (values never shown nor recorded)", "LIST",
        dest="secret_env_file"),
    _rf(("-u", "--user"), "user", "value", "Username or UID (format: <name|uid>[:<group|gid>])", "STRING"),
    _rf(("-w", "--workdir"), "working_dir", "value", "Working directory inside the container", "STRING"),
    _rf(("-h", "--hostname"), "hostname", "value", "Container host name", "STRING"),
    _rf(("--domainname",), "domainname", "value", "Container NIS domain name", "STRING"),
    _rf(("--entrypoint",), "entrypoint", "entrypoint", "Overwrite the default ENTRYPOINT of the image", "STRING"),
    _rf(("--network", "--net"), "network_mode", "value", "Connect a container to a network (host or none)",
        "NETWORK"),
    _rf(("--init",), "init", "flag", "Run an init inside the container that forwards signals and reaps processes"),
    _rf(("--read-only",), "read_only", "flag", "Mount the container's root filesystem as read only"),
    _rf(("--privileged",), "privileged", "flag", "Give extended privileges to this container"),
    _rf(("--cap-add",), "capabilities", "list", "Add Linux capabilities", "LIST"),
    _rf(("--cap-drop",), "cap_drop", "list", "Drop Linux capabilities", "LIST"),
    _rf(("--security-opt",), "security_opts", "list", "Security Options", "LIST"),
    _rf(("--ulimit",), "ulimits", "ulimit", "Ulimit options", "ULIMIT"),
    _rf(("--sysctl",), "sysctls", "map", "Sysctl options", "MAP"),
    _rf(("--shm-size",), "shm_size", "value", "Size of /dev/shm", "BYTES"),
    _rf(("--stop-signal",), "stop_signal", "value", "Signal to stop the container", "STRING"),
    _rf(("--stop-timeout",), "stop_timeout", "value", "Timeout (in seconds) to stop a container", "INT"),
    _rf(("--log-driver",), "log_driver", "value", "Logging driver for the container", "STRING"),
    _rf(("--log-opt",), "log_options", "map", "Log driver options", "LIST"),
    _rf(("--runtime",), "runtime", "value", "Runtime to use for this container", "STRING"),
    _rf(("-l", "--label"), "labels", "map", "Set meta data on a container", "LIST"),
    *RESOURCE_FLAGS,
    _rf(("--cgroup-parent",), "cgroup_parent", "value", "Optional parent cgroup for the container", "STRING"),
    _rf(("--oom-kill-disable",), "oom_killer", "flag", "Disable OOM Killer"),
    _rf(("--oom-score-adj",), "oom_score_adj", "value", "Tune host's OOM preferences (-1000 to 1000)", "INT"),
    _rf(("--ipc",), "ipc_mode", "value", "IPC mode to use", "STRING"),
    _rf(("--pid",), "pid_mode", "value", "PID namespace to use", "STRING"),
    _rf(("--uts",), "uts", "value", "UTS namespace to use", "STRING"),
    _rf(("--userns",), "userns_mode", "value", "User namespace to use", "STRING"),
    _rf(("--group-add",), "groups", "list", "Add additional groups to join", "LIST"),
    _rf(("--health-cmd",), "healthcheck.test", "health", "Command to run to check health", "STRING"),
    _rf(("--health-interval",), "healthcheck.interval", "health", "Time between running the check (ms|s|m|h)",
        "DURATION"),
    _rf(("--health-timeout",), "healthcheck.timeout", "health",
        "Maximum time to allow one check to run (ms|s|m|h)", "DURATION"),
    _rf(("--health-retries",), "healthcheck.retries", "health",
        "Consecutive failures needed to report unhealthy", "INT"),
    _rf(("--health-start-period",), "healthcheck.start_period", "health",
        "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h)",
        "DURATION"),
    _rf(("--health-start-interval",), "healthcheck.start_interval", "health",
        "Time between running the check during the start period (ms|s|m|h)", "DURATION"),
    _rf(("--no-healthcheck",), None, "cli", "Disable any container-specified HEALTHCHECK"),
    _rf(("--device",), "devices", "list", "Add a host device to the container", "LIST"),
    _rf(("--tmpfs",), "tmpfs", "list", "Mount a tmpfs directory", "LIST"),
    _rf(("--pull",), None, "cli", 'Pull image before running ("always", "missing", "never")', "STRING"),
    _rf(("--platform",), None, "cli", "Set platform if server is multi-platform capable", "STRING"),
    _rf(("-q", "--quiet"), None, "cli", "Suppress the pull output"),
]


# ---------------------------------------------------------------- ``run`` without argparse
class _Args:
    """The parsed command line (what argparse's Namespace would hold)."""

    def __init__(self, **values: t.Any) -> None:
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"_Args({self.__dict__!r})"


class _RunParser:
    """What handlers use of ``args._parser`` when :func:`parse_run` parsed the command line."""

    def __init__(self, prog: str) -> None:
        self.prog = prog

    def error(self, message: str) -> t.NoReturn:
        raise UsageError(message, self.prog)

    def print_help(self, file: t.Any = None) -> None:  # pragma: no cover - never reached: --help falls back
        from .parser import build_parser

        build_parser().parse_known_args(["run", "--help"])


def _negative_number(text: str) -> bool:
    body = text[1:]
    return bool(body) and body.replace(".", "", 1).isdigit()


_RUN_INDEX: dict[str, RunFlag] | None = None


def parse_run(argv: t.Sequence[str]) -> _Args | None:
    """``[--root DIR] [--config FILE] [-D] run [FLAGS] IMAGE [COMMAND...]`` parsed without argparse.

    Returns the same values argparse's parser gives (the unit tests compare both on a table of command
    lines), or None for anything it does not fully understand: another verb, ``--help``, an unknown or
    abbreviated flag, ``--flag=`` on a switch, ``-eVALUE`` or ``-e=VALUE`` forms, a value that looks like
    a flag, ``--``, a missing image. argparse then parses the line and gives the result or docker's error.
    """
    global _RUN_INDEX
    n = len(argv)
    i = 0
    top = {"root": os.environ.get("BERTH_ROOT") or None, "config": os.environ.get("BERTH_CONFIG") or None,
           "debug": False, "version": False}
    while i < n and argv[i] != "run":
        arg = argv[i]
        key, eq, value = arg.partition("=")
        if key in ("--root", "--config"):
            if not eq:
                i += 1
                if i >= n or argv[i].startswith("-"):
                    return None
                value = argv[i]
            top[key[2:]] = value
        elif arg in ("-D", "--debug"):
            top["debug"] = True
        else:
            return None
        i += 1
    if i >= n:
        return None
    i += 1
    if _RUN_INDEX is None:
        _RUN_INDEX = {name: f for f in RUN_FLAGS for name in f.flags}
    index = _RUN_INDEX
    values: dict[str, t.Any] = {}
    switches = set()
    for f in RUN_FLAGS:
        if f.kind == "flag" or (f.kind == "cli" and f.metavar is None):  # store_true (parser._add_run_flags)
            switches.add(f.dest)
            values[f.dest] = False
        else:
            values[f.dest] = [] if f.kind in LIST_KINDS else None

    def take(f: RunFlag, value: str) -> None:
        if isinstance(values[f.dest], list):
            values[f.dest].append(value)
        else:
            values[f.dest] = value

    while i < n:
        arg = argv[i]
        if not arg.startswith("-") or arg == "-":
            break
        if arg.startswith("--"):
            key, eq, value = arg.partition("=")
            f = index.get(key)
            if f is None:
                return None
            if f.dest in switches:
                if eq:
                    return None
                values[f.dest] = True
                i += 1
                continue
            if not eq:
                i += 1
                if i >= n or (argv[i].startswith("-") and not _negative_number(argv[i])):
                    return None
                value = argv[i]
            take(f, value)
            i += 1
            continue
        # short flags: -d, -e VALUE, or a cluster of switches (-it, -dit) whose last may take a value
        for pos in range(1, len(arg)):
            f = index.get("-" + arg[pos])
            if f is None:
                return None
            if f.dest in switches:
                values[f.dest] = True
                continue
            if pos != len(arg) - 1:
                return None  # -eVALUE: argparse's rules for those are subtle; let it decide
            i += 1
            if i >= n or (argv[i].startswith("-") and not _negative_number(argv[i])):
                return None
            take(f, argv[i])
        i += 1
    if i >= n or "--" in argv[i:]:
        return None
    prog = f"{PROG} run"
    return _Args(**top, verb="run", image=argv[i], command=list(argv[i + 1:]), _run="containers.run",
                 _parser=_RunParser(prog), **values)


# ---------------------------------------------------------------- dispatch
def _load_handler(target: str) -> t.Callable[[Context], int]:
    """Import the one command module a verb needs (static imports, so AnsiballZ-style finders see them)."""
    group, func = target.split(".", 1)
    if group == "images":
        from .commands import images as mod
    elif group == "system":
        from .commands import system as mod
    elif group == "containers":
        from .commands import containers as mod
    else:  # pragma: no cover - a parser/handler table mismatch
        raise RuntimeError(f"no command group {group!r}")
    return getattr(mod, func)  # type: ignore[no-any-return]


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
    args = parse_run(argv)
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
    except _UnknownCommand as exc:
        where = exc.prog[len(PROG):].strip()
        shown = f"{where} {exc.name}".strip()
        stderr.write(f"{PROG}: '{shown}' is not a {PROG} command.\nSee '{exc.prog} --help'\n")
        return USAGE_EXIT
    except UsageError as exc:
        return _usage_error(stderr, exc.prog, exc.message)
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    return args


def _dispatch(args: t.Any, stdout: t.TextIO, stderr: t.TextIO, stdin: t.TextIO) -> int:
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


def __getattr__(name: str) -> t.Any:
    # The argparse side (build_parser, _Parser, _LazyVerbs, the verb tables) lives in parser.py.
    if name in ("build_parser", "_Parser", "_LazyVerbs", "_verb", "_group", "_NO_H") or name.startswith("_add_"):
        from . import parser

        return getattr(parser, name)
    raise AttributeError(name)

# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``berth`` command: docker's image and container verbs on top of the engine facade.

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
    _handler(p, "containers.system_df")  # the image rows from system.df plus the engine's containers


# ---------------------------------------------------------------- containers
class RunFlag(t.NamedTuple):
    """One ``run``/``create``/``update`` flag: how argparse reads it and which option it feeds.

    *option* is the option name ``normalise_options`` takes (``healthcheck.interval`` for a key of the
    healthcheck dict) or None for a flag the verb handles itself. *kind* says how the values become the
    option's value (commands/containers.py ``run_params``): ``flag`` (True), ``value`` (the string),
    ``list`` (every value), ``map`` (``KEY=VALUE`` values as a dict), ``env`` (``KEY=VALUE`` or ``KEY``
    from our environment), ``ulimit`` (docker's ``name=soft[:hard]``), ``entrypoint`` (one argument,
    not split), ``health`` (a key of ``healthcheck``), ``cli`` (read by the verb).
    """

    flags: t.Tuple[str, ...]
    dest: str
    option: t.Optional[str]
    kind: str
    metavar: t.Optional[str]
    help: str


def _rf(flags: t.Tuple[str, ...], option: t.Optional[str], kind: str, help_: str,
        metavar: t.Optional[str] = None, dest: t.Optional[str] = None) -> RunFlag:
    if dest is None:
        dest = option.replace(".", "_") if option else flags[-1].lstrip("-").replace("-", "_")
    return RunFlag(flags, dest, option, kind, metavar, help_)


#: The resource flags of ``update`` (and of ``run``/``create``).
RESOURCE_FLAGS: t.List[RunFlag] = [
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
RUN_FLAGS: t.List[RunFlag] = [
    _rf(("-d", "--detach"), None, "cli", "Run container in background and print container ID"),
    _rf(("--rm",), "auto_remove", "flag", "Automatically remove the container when it exits"),
    _rf(("--name",), None, "cli", "Assign a name to the container", "STRING"),
    _rf(("-i", "--interactive"), "interactive", "flag", "Keep STDIN open even if not attached"),
    _rf(("-t", "--tty"), "tty", "flag", "Allocate a pseudo-TTY"),
    _rf(("-e", "--env"), "env", "env", "Set environment variables", "LIST"),
    _rf(("--env-file",), "env_file", "list", "Read in a file of environment variables", "LIST"),
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
    *[f for f in RESOURCE_FLAGS],
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


def _add_run_flags(p: argparse.ArgumentParser, flags: t.Sequence[RunFlag], skip: t.Sequence[str] = ()) -> None:
    for f in flags:
        if f.flags[-1] in skip:
            continue
        kw: t.Dict[str, t.Any] = {"dest": f.dest, "help": f.help}
        if f.kind in ("flag",) or (f.kind == "cli" and f.metavar is None):
            kw["action"] = "store_true"
        elif f.kind in ("list", "env", "map", "ulimit"):
            kw.update(action="append", default=[], metavar=f.metavar)
        else:
            kw["metavar"] = f.metavar
        p.add_argument(*f.flags, **kw)


def _add_help(p: argparse.ArgumentParser) -> None:
    # run/create/exec use -h for other things (docker's --hostname): --help only.
    p.add_argument("--help", action="help", help="Print usage")


def _add_run(p: argparse.ArgumentParser, create: bool = False) -> None:
    _add_help(p)
    _add_run_flags(p, RUN_FLAGS, skip=("--detach",) if create else ())
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="[COMMAND] [ARG...]")
    _handler(p, "containers.create" if create else "containers.run")


def _add_names(p: argparse.ArgumentParser, target: str, metavar: str = "CONTAINER") -> None:
    p.add_argument("names", nargs="+", metavar=metavar)
    _handler(p, target)


def _add_start(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--attach", action="store_true", help="Attach STDOUT/STDERR and forward signals")
    p.add_argument("-i", "--interactive", action="store_true", help="Attach container's STDIN")
    _add_names(p, "containers.start")


def _add_stop(p: argparse.ArgumentParser, target: str = "containers.stop", signal: bool = True) -> None:
    if signal:
        p.add_argument("-s", "--signal", metavar="STRING", help="Signal to send to the container")
    p.add_argument("-t", "--time", "--timeout", dest="time", type=int, metavar="INT",
                   help="Seconds to wait before killing the container")
    _add_names(p, target)


def _add_kill(p: argparse.ArgumentParser) -> None:
    p.add_argument("-s", "--signal", default="KILL", metavar="STRING", help='Signal to send to the container (default "KILL")')
    _add_names(p, "containers.kill")


def _add_rm(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="Force the removal of a running container (uses SIGKILL)")
    p.add_argument("-v", "--volumes", action="store_true", help="Remove anonymous volumes associated with the container")
    _add_names(p, "containers.rm")


def _add_ps(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Show all containers (default shows just running)")
    p.add_argument("-f", "--filter", action="append", default=[], metavar="FILTER",
                   help="Filter output based on conditions provided")
    p.add_argument("--format", metavar="STRING", help="Format output: 'table', 'json', 'table {{.Field}}…' or '{{.Field}}…'")
    p.add_argument("-n", "--last", type=int, default=-1, metavar="INT",
                   help="Show n last created containers (includes all states)")
    p.add_argument("-l", "--latest", action="store_true", help="Show the latest created container (includes all states)")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display container IDs")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    _handler(p, "containers.ps")


def _add_logs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--details", action="store_true", help="Show extra details provided to logs")
    p.add_argument("-f", "--follow", action="store_true", help="Follow log output")
    p.add_argument("--since", metavar="STRING",
                   help='Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m")')
    p.add_argument("-n", "--tail", default="all", metavar="STRING", help='Number of lines to show from the end of the logs')
    p.add_argument("-t", "--timestamps", action="store_true", help="Show timestamps")
    p.add_argument("--until", metavar="STRING",
                   help='Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m")')
    p.add_argument("name", metavar="CONTAINER")
    _handler(p, "containers.logs")


def _add_exec(p: argparse.ArgumentParser) -> None:
    _add_help(p)
    p.add_argument("-d", "--detach", action="store_true", help="Detached mode: run command in the background")
    p.add_argument("-e", "--env", action="append", default=[], metavar="LIST", help="Set environment variables")
    p.add_argument("--env-file", action="append", default=[], metavar="LIST", help="Read in a file of environment variables")
    p.add_argument("-i", "--interactive", action="store_true", help="Keep STDIN open even if not attached")
    p.add_argument("--privileged", action="store_true", help="Give extended privileges to the command")
    p.add_argument("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    p.add_argument("-u", "--user", metavar="STRING", help="Username or UID (format: <name|uid>[:<group|gid>])")
    p.add_argument("-w", "--workdir", metavar="STRING", help="Working directory inside the container")
    p.add_argument("name", metavar="CONTAINER")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND [ARG...]")
    _handler(p, "containers.exec_")


def _add_attach(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-stdin", action="store_true", help="Do not attach STDIN")
    p.add_argument("--sig-proxy", default="true", metavar="BOOL", help="Proxy all received signals to the process")
    p.add_argument("name", metavar="CONTAINER")
    _handler(p, "containers.attach")


def _add_container_inspect(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", metavar="STRING", help="Format output: 'json' or '{{.Field}}…'")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    p.add_argument("names", nargs="+", metavar="CONTAINER")
    p.set_defaults(type="container")
    _handler(p, "containers.inspect")


def _add_any_inspect(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", metavar="STRING", help="Format output: 'json' or '{{.Field}}…'")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes if the type is container")
    p.add_argument("--type", choices=["container", "image"], help="Return JSON for specified type")
    p.add_argument("names", nargs="+", metavar="NAME|ID")
    _handler(p, "containers.inspect")


def _add_top(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="CONTAINER")
    p.add_argument("ps_args", nargs=argparse.REMAINDER, metavar="[ps OPTIONS]")
    _handler(p, "containers.top")


def _add_stats(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Show all containers (default shows just running)")
    p.add_argument("--format", metavar="STRING", help="Format output: 'table', 'json', 'table {{.Field}}…' or '{{.Field}}…'")
    p.add_argument("--no-stream", action="store_true", help="Disable streaming stats and only pull the first result")
    p.add_argument("--no-trunc", action="store_true", help="Do not truncate output")
    p.add_argument("names", nargs="*", metavar="CONTAINER")
    _handler(p, "containers.stats")


def _add_rename(p: argparse.ArgumentParser) -> None:
    p.add_argument("old", metavar="CONTAINER")
    p.add_argument("new", metavar="NEW_NAME")
    _handler(p, "containers.rename")


def _add_update(p: argparse.ArgumentParser) -> None:
    _add_run_flags(p, RESOURCE_FLAGS)
    _add_names(p, "containers.update")


def _add_container_prune(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.add_argument("--filter", action="append", default=[], metavar="FILTER",
                   help='Provide filter values (e.g. "until=<timestamp>")')
    _handler(p, "containers.prune")


_Verb = t.Tuple[t.Sequence[str], t.Callable[[argparse.ArgumentParser], None], str, str]

# Verbs of `berth container` (the first name), most also at the top level (docker's shortcuts).
_CONTAINER_VERBS: t.List[_Verb] = [
    (("attach",), _add_attach, "Attach local standard input, output, and error streams to a running container",
     "[OPTIONS] CONTAINER"),
    (("create",), lambda p: _add_run(p, create=True), "Create a new container", "[OPTIONS] IMAGE [COMMAND] [ARG...]"),
    (("exec",), _add_exec, "Execute a command in a running container", "[OPTIONS] CONTAINER COMMAND [ARG...]"),
    (("inspect",), _add_container_inspect, "Display detailed information on one or more containers",
     "[OPTIONS] CONTAINER [CONTAINER...]"),
    (("kill",), _add_kill, "Kill one or more running containers", "[OPTIONS] CONTAINER [CONTAINER...]"),
    (("logs",), _add_logs, "Fetch the logs of a container", "[OPTIONS] CONTAINER"),
    (("ls", "list", "ps"), _add_ps, "List containers", "[OPTIONS]"),
    (("pause",), lambda p: _add_names(p, "containers.pause"), "Pause all processes within one or more containers",
     "CONTAINER [CONTAINER...]"),
    (("prune",), _add_container_prune, "Remove all stopped containers", "[OPTIONS]"),
    (("rename",), _add_rename, "Rename a container", "CONTAINER NEW_NAME"),
    (("restart",), lambda p: _add_stop(p, "containers.restart"), "Restart one or more containers",
     "[OPTIONS] CONTAINER [CONTAINER...]"),
    (("rm", "remove"), _add_rm, "Remove one or more containers", "[OPTIONS] CONTAINER [CONTAINER...]"),
    (("run",), _add_run, "Create and run a new container from an image", "[OPTIONS] IMAGE [COMMAND] [ARG...]"),
    (("start",), _add_start, "Start one or more stopped containers", "[OPTIONS] CONTAINER [CONTAINER...]"),
    (("stats",), _add_stats, "Display a live stream of container(s) resource usage statistics",
     "[OPTIONS] [CONTAINER...]"),
    (("stop",), _add_stop, "Stop one or more running containers", "[OPTIONS] CONTAINER [CONTAINER...]"),
    (("top",), _add_top, "Display the running processes of a container", "CONTAINER [ps OPTIONS]"),
    (("unpause",), lambda p: _add_names(p, "containers.unpause"),
     "Unpause all processes within one or more containers", "CONTAINER [CONTAINER...]"),
    (("update",), _add_update, "Update configuration of one or more containers", "[OPTIONS] CONTAINER [CONTAINER...]"),
    (("wait",), lambda p: _add_names(p, "containers.wait"),
     "Block until one or more containers stop, then print their exit codes", "CONTAINER [CONTAINER...]"),
]

#: The container verbs docker also has at the top level (`docker ps` is `docker container ls`).
_TOP_CONTAINER_VERBS = ("attach", "create", "exec", "kill", "logs", "pause", "rename", "restart", "rm", "run",
                        "start", "stats", "stop", "top", "unpause", "update", "wait")

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
    ("inspect", _add_any_inspect, "Return low-level information on Berth objects",
     "[OPTIONS] NAME|ID [NAME|ID...]"),
    ("load", _add_load, "Load an image from a tar archive or STDIN", "[OPTIONS]"),
    ("pull", _add_pull, "Download an image from a registry", "[OPTIONS] NAME[:TAG|@DIGEST]"),
    ("rmi", _add_rmi, "Remove one or more images", "[OPTIONS] IMAGE [IMAGE...]"),
    ("save", _add_save, "Save one or more images to a tar archive (streamed to STDOUT by default)",
     "[OPTIONS] IMAGE [IMAGE...]"),
    ("tag", _add_tag, "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]"),
]


#: Verbs whose ``-h`` is a flag of their own (docker's ``run -h HOSTNAME``): they get ``--help`` only.
_NO_H = ("run", "create", "exec")


class _LazyVerbs(argparse._SubParsersAction):
    """Sub-commands whose parsers are built only when chosen.

    ``berth --help`` and ``berth ps`` never build the run/create flag table (~60 flags, twice): a verb is
    a help line and a builder until argparse dispatches to it.
    """

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy: t.Dict[str, t.Tuple[t.Sequence[str], t.Callable[[], argparse.ArgumentParser]]] = {}

    def add_lazy(self, names: t.Sequence[str], help_: str, build: t.Callable[[], argparse.ArgumentParser]) -> None:
        self._choices_actions.append(self._ChoicesPseudoAction(names[0], list(names[1:]), help_))
        for n in names:
            self._name_parser_map[n] = None  # type: ignore[assignment]  # a known choice, built on demand
            self._lazy[n] = (names, build)

    def parser_for(self, name: str) -> argparse.ArgumentParser:
        if name in self._lazy:
            names, build = self._lazy[name]
            parser = build()
            for n in names:
                self._name_parser_map[n] = parser
                self._lazy.pop(n, None)
        return self._name_parser_map[name]

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: t.Any,
                 option_string: str | None = None) -> None:
        if values and values[0] in self._name_parser_map:
            self.parser_for(values[0])
        super().__call__(parser, namespace, values, option_string)


def _verb(sub: _LazyVerbs, prefix: str, names: t.Sequence[str], add: t.Callable[[argparse.ArgumentParser], None],
          help_: str, usage: str) -> None:
    def build() -> argparse.ArgumentParser:
        p = _Parser(prog=f"{prefix} {names[0]}", usage=f"{prefix} {names[0]} {usage}".rstrip(), description=help_,
                    add_help=names[0] not in _NO_H)
        add(p)
        return p

    sub.add_lazy(names, help_, build)


def _group(sub: _LazyVerbs, name: str, help_: str,
           verbs: t.Sequence[t.Tuple[t.Sequence[str], t.Callable[[argparse.ArgumentParser], None], str, str]]) -> None:
    def build() -> argparse.ArgumentParser:
        p = _Parser(prog=f"{PROG} {name}", usage=f"{PROG} {name} COMMAND", description=help_)
        p.set_defaults(_run=None, _parser=p)
        group_sub = p.add_subparsers(dest=f"{name}_verb", metavar="COMMAND", title="Commands", action=_LazyVerbs)
        for names, add, verb_help, usage in verbs:
            _verb(group_sub, f"{PROG} {name}", names, add, verb_help, usage)
        return p

    sub.add_lazy((name,), help_, build)


_SYSTEM_VERBS: t.List[_Verb] = [
    (("df",), _add_df, "Show disk usage", "[OPTIONS]"),
    (("restore",), lambda p: _handler(p, "containers.system_restore"),
     "Start the containers whose restart policy says they should run (after a reboot)", ""),
]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        usage=f"{PROG} [OPTIONS] COMMAND",
        description="A daemonless container engine: docker's image and container commands on this host.",
        epilog=f"Run '{PROG} COMMAND --help' for more information on a command.",
    )
    parser.add_argument("--root", metavar="DIR", default=os.environ.get("BERTH_ROOT") or None,
                        help="Engine data root (env BERTH_ROOT; default: data-root in the config, else /var/lib/berth)")
    parser.add_argument("--config", metavar="FILE", default=os.environ.get("BERTH_CONFIG") or None,
                        help="Engine configuration (env BERTH_CONFIG; default /etc/berth/daemon.json)")
    parser.add_argument("-D", "--debug", action="store_true", help="Show tracebacks of errors")
    parser.add_argument("-v", "--version", action="store_true", help="Print version information and quit")
    parser.set_defaults(_run=None, _parser=parser)
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND", title="Commands", action=_LazyVerbs)
    _group(sub, "image", "Manage images", _IMAGE_VERBS)
    _group(sub, "container", "Manage containers", _CONTAINER_VERBS)
    _group(sub, "system", "Manage Berth", _SYSTEM_VERBS)
    by_name = {names[0]: (add, help_, usage) for names, add, help_, usage in _CONTAINER_VERBS}
    top: t.List[_Verb] = [((name,), add, help_, usage) for name, add, help_, usage in _TOP_VERBS]
    top += [((n,), *by_name[n]) for n in _TOP_CONTAINER_VERBS]
    top.append((("ps",), _add_ps, "List containers", "[OPTIONS]"))
    for names, add, help_, usage in sorted(top, key=lambda v: v[0][0]):
        _verb(sub, PROG, names, add, help_, usage)
    return parser


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

# SPDX-License-Identifier: GPL-3.0-or-later
"""The flags of ``berth`` (before the verb) and of ``run``/``create``/``update``, ``build`` and ``version``,
declared once as data, and the two readers of that table.

A :class:`Flag` says how a flag is read (a switch, a value, or repeated values) and which option it feeds.
:func:`add_arguments` declares a table to an argparse parser (``parser.py`` builds every verb with it);
:func:`parse_run` reads ``berth [GLOBAL FLAGS] run [RUN FLAGS] IMAGE [COMMAND...]`` with the same tables
but without argparse, which costs ``berth run`` ~6 ms to import (with ``re`` and ``gettext``) and more to
build its ~70-flag parser; :func:`parse_simple` reads ``build`` and ``version`` the same way (argparse with
its help formatter is ~9 ms of the ~40 ms a fully cached build takes). Both give up (None) on anything
they do not fully understand, and argparse then reads the line: the same result, or docker's error. A unit
test compares both readers on a table of command lines.

Imports nothing of the CLI but ``context``; on the start path of ``berth run`` (no typing at run time).
"""
from __future__ import annotations

import os

from .context import PROG, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

#: Flag kinds that collect every value given (argparse ``append``).
LIST_KINDS = ("list", "env", "map", "ulimit", "secret", "secret_file", "mount")


class Flag:
    """One flag: how it is read and which option it feeds.

    *option* is the option name ``normalise_options`` takes (``healthcheck.interval`` for a key of the
    healthcheck dict) or None for a flag the verb handles itself. *kind* says how the values become the
    option's value (commands/run_options.py ``run_params``): ``flag`` (True), ``value`` (the string),
    ``list`` (every value), ``map`` (``KEY=VALUE`` values as a dict), ``env`` (``KEY=VALUE`` or ``KEY``
    from our environment), ``secret`` (``KEY`` only, the value from our environment), ``secret_file``
    (``--env-file`` format files, below ``secret``), ``ulimit`` (docker's ``name=soft[:hard]``), ``mount``
    (docker's ``--mount type=…,source=…,target=…`` values as mappings),
    ``entrypoint`` (one argument, not split), ``health`` (a key of ``healthcheck``), ``cli`` (read by the
    verb: a switch without *metavar*, else a value). *env* names the environment variable that gives a
    value flag its default.

    How the command line reads it follows from the kind: a *switch* (True when given, else False), a
    *repeated* flag (every value, in order, else ``[]``), or a value (the last one given, else None).
    """

    __slots__ = ("flags", "dest", "option", "kind", "metavar", "help", "env", "switch", "repeated")

    def __init__(self, flags: tuple[str, ...], dest: str, option: str | None, kind: str, metavar: str | None,
                 help: str, env: str | None = None) -> None:  # noqa: A002  (the argparse keyword)
        self.flags = flags
        self.dest = dest
        self.option = option
        self.kind = kind
        self.metavar = metavar
        self.help = help
        self.env = env
        self.switch = kind == "flag" or (kind == "cli" and metavar is None)
        self.repeated = kind in LIST_KINDS

    def default(self) -> t.Any:
        """The value when the flag is not given (a fresh list for a repeated flag)."""
        if self.switch:
            return False
        if self.repeated:
            return []
        return (os.environ.get(self.env) or None) if self.env else None

    def __repr__(self) -> str:
        return f"Flag({self.flags!r}, {self.dest!r}, {self.option!r}, {self.kind!r})"


def _rf(flags: tuple[str, ...], option: str | None, kind: str, help_: str,
        metavar: str | None = None, dest: str | None = None, env: str | None = None) -> Flag:
    if dest is None:
        dest = option.replace(".", "_") if option else flags[-1].lstrip("-").replace("-", "_")
    return Flag(flags, dest, option, kind, metavar, help_, env)


#: The flags of ``berth`` itself, before the verb.
GLOBAL_FLAGS: list[Flag] = [
    _rf(("--root",), None, "cli",
        "Engine data root (env BERTH_ROOT; default: data-root in the config, else /var/lib/berth)", "DIR",
        env="BERTH_ROOT"),
    _rf(("--config",), None, "cli", "Engine configuration (env BERTH_CONFIG; default /etc/berth/daemon.json)",
        "FILE", env="BERTH_CONFIG"),
    _rf(("-D", "--debug"), None, "cli", "Show tracebacks of errors"),
    _rf(("-v", "--version"), None, "cli", "Print version information and quit"),
]


#: The resource flags of ``update`` (and of ``run``/``create``).
RESOURCE_FLAGS: list[Flag] = [
    _rf(("--blkio-weight",), "blkio_weight", "value",
        "Block IO (relative weight), between 10 and 1000, or 0 to disable", "UINT16"),
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
RUN_FLAGS: list[Flag] = [
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
    _rf(("--network", "--net"), "network_mode", "value",
        "Connect a container to a network (bridge, a network's name, host or none)", "NETWORK"),
    _rf(("--network-alias",), None, "list", "Add network-scoped alias for the container", "LIST"),
    _rf(("--ip",), None, "cli", "IPv4 address (e.g., 172.30.100.104)", "STRING"),
    _rf(("-p", "--publish"), "published_ports", "list", "Publish a container's port(s) to the host", "LIST"),
    _rf(("-P", "--publish-all"), "publish_all_ports", "flag", "Publish all exposed ports to random ports"),
    _rf(("--expose",), "exposed_ports", "list", "Expose a port or a range of ports", "LIST"),
    _rf(("--dns",), "dns_servers", "list", "Set custom DNS servers", "LIST"),
    _rf(("--dns-search",), "dns_search_domains", "list", "Set custom DNS search domains", "LIST"),
    _rf(("--dns-option", "--dns-opt"), "dns_opts", "list", "Set DNS options", "LIST"),
    _rf(("--add-host",), "etc_hosts", "list", "Add a custom host-to-IP mapping (host:ip)", "LIST"),
    _rf(("--mac-address",), "mac_address", "value", "Container MAC address (e.g., 92:d0:c6:0a:29:33)", "STRING"),
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
    _rf(("-v", "--volume"), "volumes", "list", "Bind mount a volume ([name|/host/path:]/path[:ro])", "LIST"),
    _rf(("--mount",), "mounts", "mount", "Attach a filesystem mount to the container (type=volume|bind|tmpfs,"
        "source=…,target=…[,readonly])", "MOUNT"),
    _rf(("--volumes-from",), "volumes_from", "list", "Mount volumes from the specified container(s)", "LIST"),
    _rf(("--detach-keys",), None, "cli", "Override the key sequence for detaching a container", "STRING"),
    _rf(("--pull",), None, "cli", 'Pull image before running ("always", "missing", "never")', "STRING"),
    _rf(("--platform",), None, "cli", "Set platform if server is multi-platform capable", "STRING"),
    _rf(("-q", "--quiet"), None, "cli", "Suppress the pull output"),
]


#: The handler of ``berth run`` (``commands/run.py`` ``run``), as ``parser.py`` names handlers.
RUN_TARGET = "run.run"

#: ``build`` (read by ``commands/build.py``; its one argument is the context).
BUILD_FLAGS: list[Flag] = [
    _rf(("-t", "--tag"), None, "list", "Name and optionally a tag in the 'name:tag' format", "NAME[:TAG]"),
    _rf(("-f", "--file"), None, "cli", "Name of the Dockerfile (default: 'PATH/Dockerfile')", "FILE"),
    _rf(("--build-arg",), None, "list", "Set build-time variables", "KEY[=VALUE]"),
    _rf(("--label",), None, "list", "Set metadata for an image", "KEY=VALUE"),
    _rf(("--target",), None, "cli", "Set the target build stage to build", "STAGE"),
    _rf(("--no-cache",), None, "cli", "Do not use cache when building the image"),
    _rf(("--pull",), None, "cli", "Always attempt to pull a newer version of the image"),
    _rf(("-q", "--quiet"), None, "cli", "Suppress the build output and print image ID on success"),
    _rf(("--network",), None, "cli", "Set the networking mode for the RUN instructions (default none)", "MODE"),
    _rf(("--platform",), None, "cli", "Set platform (only this host's)", "PLATFORM"),
]
BUILD_TARGET = "build.build"

#: ``version``.
VERSION_FLAGS: list[Flag] = [
    _rf(("-f", "--format"), None, "cli", "Format output using a custom template: 'json' or a Go template", "FORMAT"),
]
VERSION_TARGET = "system.version"

#: The verbs :func:`parse_simple` reads: verb -> (flags, handler, the name of its one argument or None).
SIMPLE_VERBS: dict[str, tuple[list[Flag], str, str | None]] = {
    "build": (BUILD_FLAGS, BUILD_TARGET, "context"),
    "version": (VERSION_FLAGS, VERSION_TARGET, None),
}


def add_arguments(p: t.Any, flags: t.Sequence[Flag], skip: t.Sequence[str] = ()) -> None:
    """Declare *flags* (but those whose last name is in *skip*) to the argparse parser *p*."""
    for f in flags:
        if f.flags[-1] in skip:
            continue
        kw: dict[str, t.Any] = {"dest": f.dest, "help": f.help}
        if f.switch:
            kw["action"] = "store_true"
        elif f.repeated:
            kw.update(action="append", default=[], metavar=f.metavar)
        else:
            kw.update(metavar=f.metavar, default=f.default())
        p.add_argument(*f.flags, **kw)


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


def _takes_as_value(arg: str) -> bool:
    """Whether argparse takes *arg* as a flag's value: not a flag, or a negative number."""
    if not arg.startswith("-"):
        return True
    body = arg[1:]
    return bool(body) and body.replace(".", "", 1).isdigit()


def _index(flags: t.Sequence[Flag]) -> dict[str, Flag]:
    return {name: f for f in flags for name in f.flags}


def _read_flags(argv: t.Sequence[str], i: int, index: dict[str, Flag], values: dict[str, t.Any]) -> int:
    """Read the flags of *index* (name -> flag) from ``argv[i]`` on into *values*, up to the first argument
    that is not a flag.

    Returns that argument's index, or -1 for what is left to argparse: an unknown or abbreviated flag,
    ``--``, ``--switch=``, a missing value or one that looks like a flag, ``-eVALUE`` (argparse's rules
    for those are subtle).
    """
    n = len(argv)
    while i < n:
        arg = argv[i]
        if not arg.startswith("-") or arg == "-":
            return i
        if arg.startswith("--"):
            key, eq, value = arg.partition("=")
            names = (key,)
        else:  # -d, -e VALUE, or a cluster of switches (-it, -dit) whose last may take a value
            eq, value = "", ""
            names = tuple("-" + c for c in arg[1:])
        for pos, name in enumerate(names):
            f = index.get(name)
            if f is None:
                return -1
            if f.switch:
                if eq:
                    return -1
                values[f.dest] = True
                continue
            if pos != len(names) - 1:
                return -1
            if not eq:
                i += 1
                if i >= n or not _takes_as_value(argv[i]):
                    return -1
                value = argv[i]
            if f.repeated:
                values[f.dest].append(value)
            else:
                values[f.dest] = value
        i += 1
    return i


def _read_global(argv: t.Sequence[str]) -> tuple[dict[str, t.Any], int]:
    """The values of :data:`GLOBAL_FLAGS` and the index of the verb (-1, or past the end, when none)."""
    top = {f.dest: f.default() for f in GLOBAL_FLAGS}
    return top, _read_flags(argv, 0, _index(GLOBAL_FLAGS), top)


def parse_run(argv: t.Sequence[str]) -> _Args | None:
    """``[GLOBAL FLAGS] run [RUN FLAGS] IMAGE [COMMAND...]`` read with :data:`GLOBAL_FLAGS` and
    :data:`RUN_FLAGS`, without argparse.

    Returns the values argparse's parser gives, or None for anything it does not fully understand
    (another verb, ``--help``, what :func:`_read_flags` leaves to argparse, a missing image, ``--`` in the
    command). argparse then reads the line and gives the result or docker's error.
    """
    top, i = _read_global(argv)
    if i < 0 or i >= len(argv) or argv[i] != "run":
        return None
    values = {f.dest: f.default() for f in RUN_FLAGS}
    i = _read_flags(argv, i + 1, _index(RUN_FLAGS), values)
    if i < 0 or i >= len(argv) or "--" in argv[i:]:
        return None
    return _Args(**top, verb="run", image=argv[i], command=list(argv[i + 1:]), _run=RUN_TARGET,
                 _parser=_RunParser(f"{PROG} run"), **values)


def parse_simple(argv: t.Sequence[str]) -> _Args | None:
    """``[GLOBAL FLAGS] VERB [FLAGS] [ARG]`` for the verbs of :data:`SIMPLE_VERBS`, read as :func:`parse_run`
    reads ``run``: the values argparse's parser gives, or None for what it leaves to argparse (another verb,
    ``--help``, a flag after the argument, a missing or extra argument, ``--``)."""
    top, i = _read_global(argv)
    if i < 0 or i >= len(argv) or argv[i] not in SIMPLE_VERBS:
        return None
    verb = argv[i]
    flags, target, arg = SIMPLE_VERBS[verb]
    values = {f.dest: f.default() for f in flags}
    i = _read_flags(argv, i + 1, _index(flags), values)
    if i < 0 or len(argv) - i != (1 if arg else 0):
        return None
    if arg:
        values[arg] = argv[i]
    return _Args(**top, verb=verb, _run=target, _parser=_RunParser(f"{PROG} {verb}"), **values)

# SPDX-License-Identifier: GPL-3.0-or-later
"""``berth-runtime``: a runc-compatible command line over :class:`oci.BerthRuntime`.

    berth-runtime [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND ...

Commands and flags follow runc (create/start/run/state/kill/delete/list/exec/pause/resume/spec).
Exit codes follow runc too: 0 on success, 1 on any error, and for ``run``/``exec`` in the
foreground the exit code of the container process (128+N when killed by signal N).

The argument parser is hand-written on purpose: ``argparse`` costs ~17 ms to import on the test
machines, more than a third of a whole ``runc run``.
"""
from __future__ import annotations

import os
import sys

from ..core.version import VERSION
from . import oci

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t  # noqa: F401

SPEC_VERSION = "1.0.2"

USAGE = """usage: berth-runtime [global options] COMMAND [options] [ARGS]

A low-level OCI runtime (runc-compatible command line).

commands:
  create [-b BUNDLE] [--pid-file F] [--console-socket S] [--no-pivot] [--preserve-fds N] ID
  start ID
  run [-b BUNDLE] [-d] [--pid-file F] [--console-socket S] [--no-pivot] ID
  state ID
  kill [-a|--all] ID [SIGNAL]
  delete [-f|--force] ID
  list [-f|--format table|json] [-q]
  exec [-p|--process FILE] [-t] [--cwd DIR] [-e K=V]... [-u UID[:GID]] [-d] [--pid-file F]
       [--console-socket S] ID [ARGS...]
  pause ID
  resume ID
  update [-r|--resources FILE|-] [--memory N] [--memory-reservation N] [--memory-swap N] [--cpu-period N]
         [--cpu-quota N] [--cpu-share N] [--cpuset-cpus L] [--cpuset-mems L] [--pids-limit N]
         [--blkio-weight N] ID
  spec [-b BUNDLE]

global options:
  --root DIR          state directory (default /run/berth-runtime)
  --log FILE          also write errors to FILE
  --log-format FMT    text (default) or json
  --debug             debug output on stderr
  --systemd-cgroup    refused: only the cgroupfs driver is supported
  -v, --version       print the version
"""


class UsageError(Exception):
    pass


class Globals:
    def __init__(self) -> None:
        self.root = oci.DEFAULT_ROOT
        self.log: str | None = None
        self.log_format = "text"
        self.debug = False


# ---------------------------------------------------------------- parsing
def parse(argv: list[str], flags: dict[str, tuple[str, str]], stop_at_positional: bool = False,
          ) -> tuple[dict[str, t.Any], list[str]]:
    """*flags*: spelling -> (dest, kind) with kind ``bool``, ``str`` or ``list``."""
    opts: dict[str, t.Any] = {}
    for dest, kind in flags.values():
        opts.setdefault(dest, [] if kind == "list" else (False if kind == "bool" else None))
    pos: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            pos.extend(argv[i:])
            break
        if arg.startswith("-") and arg != "-" and not (pos and stop_at_positional):
            name, eq, value = arg.partition("=")
            if name not in flags:
                if arg in ("-h", "--help"):
                    raise UsageError("")
                raise UsageError(f"flag provided but not defined: {name}")
            dest, kind = flags[name]
            if kind == "bool":
                opts[dest] = value.lower() not in ("false", "0") if eq else True
                continue
            if not eq:
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: {name}")
                value = argv[i]
                i += 1
            if kind == "list":
                opts[dest].append(value)
            else:
                opts[dest] = value
        else:
            pos.append(arg)
    return opts, pos


def _one_id(pos: list[str], command: str) -> str:
    if len(pos) != 1:
        raise UsageError(f'"{command}" requires exactly 1 argument (the container ID)')
    return pos[0]


CREATE_FLAGS = {
    "--bundle": ("bundle", "str"), "-b": ("bundle", "str"),
    "--pid-file": ("pid_file", "str"),
    "--console-socket": ("console_socket", "str"),
    "--no-pivot": ("no_pivot", "bool"),
    "--no-new-keyring": ("no_new_keyring", "bool"),
    "--preserve-fds": ("preserve_fds", "str"),
}
RUN_FLAGS = dict(CREATE_FLAGS, **{"--detach": ("detach", "bool"), "-d": ("detach", "bool"),
                                  "--keep": ("keep", "bool")})
EXEC_FLAGS = {
    "--process": ("process", "str"), "-p": ("process", "str"),
    "--tty": ("tty", "bool"), "-t": ("tty", "bool"),
    "--cwd": ("cwd", "str"),
    "--env": ("env", "list"), "-e": ("env", "list"),
    "--user": ("user", "str"), "-u": ("user", "str"),
    "--additional-gids": ("gids", "list"), "-g": ("gids", "list"),
    "--cap": ("caps", "list"), "-c": ("caps", "list"),
    "--no-new-privs": ("nnp", "bool"),
    "--detach": ("detach", "bool"), "-d": ("detach", "bool"),
    "--pid-file": ("pid_file", "str"),
    "--console-socket": ("console_socket", "str"),
    "--preserve-fds": ("preserve_fds", "str"),
}


# ---------------------------------------------------------------- commands
def cmd_create(rt: oci.BerthRuntime, argv: list[str]) -> int:
    opts, pos = parse(argv, CREATE_FLAGS)
    cid = _one_id(pos, "create")
    rt.create(cid, opts["bundle"] or os.getcwd(), console_socket=opts["console_socket"], pid_file=opts["pid_file"],
              no_pivot=opts["no_pivot"], preserve_fds=int(opts["preserve_fds"] or 0))
    return 0


def cmd_start(rt: oci.BerthRuntime, argv: list[str]) -> int:
    dummy, pos = parse(argv, {})
    rt.start(_one_id(pos, "start"))
    return 0


def cmd_run(rt: oci.BerthRuntime, argv: list[str]) -> int:
    opts, pos = parse(argv, RUN_FLAGS)
    cid = _one_id(pos, "run")
    bundle = opts["bundle"] or os.getcwd()
    if opts["detach"]:
        rt.create(cid, bundle, console_socket=opts["console_socket"], pid_file=opts["pid_file"],
                  no_pivot=opts["no_pivot"], preserve_fds=int(opts["preserve_fds"] or 0))
        rt.start(cid)
        return 0
    oci.set_subreaper(rt.syscalls)
    console = None
    if not opts["console_socket"] and _wants_terminal(bundle):
        from .console import ConsoleProxy

        console = ConsoleProxy()
    try:
        pid = rt.create(cid, bundle, console_socket=console.path if console else opts["console_socket"],
                        pid_file=opts["pid_file"], no_pivot=opts["no_pivot"],
                        preserve_fds=int(opts["preserve_fds"] or 0))
    except BaseException:
        if console:
            console.close()
        raise
    forward = _forward_signals(pid)
    try:
        if console:
            console.accept()
        rt.start(cid)
        status = console.run(pid) if console else wait_for(pid)
    except BaseException:
        _try(lambda: rt.delete(cid, force=True))
        raise
    finally:
        forward()
        if console:
            console.close()
    if not opts["keep"]:
        rt.delete(cid, force=True)
    return _exit_code(status)


def _wants_terminal(bundle: str) -> bool:
    try:
        return bool(oci.load_spec(os.path.abspath(bundle))["process"].get("terminal"))
    except Exception:  # noqa: BLE001  (create reports it properly)
        return False


def cmd_state(rt: oci.BerthRuntime, argv: list[str]) -> int:
    dummy, pos = parse(argv, {})
    _print_json(rt.state(_one_id(pos, "state")))
    return 0


def cmd_kill(rt: oci.BerthRuntime, argv: list[str]) -> int:
    opts, pos = parse(argv, {"--all": ("all", "bool"), "-a": ("all", "bool")})
    if len(pos) not in (1, 2):
        raise UsageError('"kill" requires 1 or 2 arguments: ID [SIGNAL]')
    sig = parse_signal(pos[1]) if len(pos) == 2 else 15
    rt.kill(pos[0], sig, all=opts["all"])
    return 0


def parse_signal(text: str) -> int:
    if text.isdigit():
        return int(text)
    import signal

    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    num = getattr(signal, name, None)
    if not isinstance(num, int) or name.startswith("SIG_"):
        raise UsageError(f"unknown signal {text!r}")
    return int(num)


def cmd_delete(rt: oci.BerthRuntime, argv: list[str]) -> int:
    opts, pos = parse(argv, {"--force": ("force", "bool"), "-f": ("force", "bool")})
    cid = _one_id(pos, "delete")
    try:
        rt.delete(cid, force=opts["force"])
    except Exception as exc:
        from ..errors import NotFound

        if isinstance(exc, NotFound) and opts["force"]:
            return 0  # runc: delete --force of a missing container succeeds
        raise
    return 0


def cmd_list(rt: oci.BerthRuntime, argv: list[str]) -> int:
    opts, pos = parse(argv, {"--format": ("format", "str"), "-f": ("format", "str"),
                             "--quiet": ("quiet", "bool"), "-q": ("quiet", "bool")})
    if pos:
        raise UsageError('"list" takes no arguments')
    states = rt.list()
    fmt = opts["format"] or "table"
    if opts["quiet"]:
        for s in states:
            _out(s["id"])
    elif fmt == "json":
        _print_json(states, indent=None)
    elif fmt == "table":
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(s["id"], str(s["pid"]), s["status"], s["bundle"], s.get("created", ""), s.get("owner") or "root")
                 for s in states]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            _out("   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    else:
        raise UsageError(f"invalid format option {fmt!r} (table or json)")
    return 0


def cmd_exec(rt: oci.BerthRuntime, argv: list[str]) -> int:
    opts, pos = parse(argv, EXEC_FLAGS, stop_at_positional=True)
    if not pos:
        raise UsageError('"exec" requires at least 1 argument (the container ID)')
    cid, args = pos[0], pos[1:]
    if opts["process"]:
        with open(opts["process"], "rb") as fh:
            from .sync import loads

            process = loads(fh.read())
    else:
        if not args:
            raise UsageError("exec: a command to run is required (or --process)")
        process = dict(rt.config(cid).get("process") or {})
        process["args"] = args
        process["terminal"] = bool(opts["tty"])
        if opts["cwd"]:
            process["cwd"] = opts["cwd"]
        if opts["env"]:
            process["env"] = list(process.get("env") or []) + opts["env"]
        if opts["user"]:
            uid, dummy, gid = opts["user"].partition(":")
            process["user"] = {"uid": int(uid), "gid": int(gid or 0)}
        if opts["gids"]:
            user = dict(process.get("user") or {})
            user["additionalGids"] = [int(g) for g in opts["gids"]]
            process["user"] = user
        if opts["caps"]:
            caps = {k: list(v) for k, v in (process.get("capabilities") or {}).items()}
            for c in opts["caps"]:
                for k in ("bounding", "effective", "permitted"):
                    caps.setdefault(k, [])
                    if c not in caps[k]:
                        caps[k].append(c)
            process["capabilities"] = caps
        if opts["nnp"]:
            process["noNewPrivileges"] = True
    preserve = int(opts["preserve_fds"] or 0)
    console = None
    if process.get("terminal") and not opts["console_socket"]:
        if opts["detach"]:
            raise UsageError("cannot allocate a tty when detaching without --console-socket")
        from .console import ConsoleProxy

        console = ConsoleProxy()
    if not opts["detach"]:
        oci.set_subreaper(rt.syscalls)
    try:
        pid = rt.exec(cid, process, console_socket=console.path if console else opts["console_socket"],
                      detach=opts["detach"], pid_file=opts["pid_file"], preserve_fds=preserve)
        if opts["detach"]:
            return 0
        forward = _forward_signals(pid)
        try:
            if console:
                console.accept()
                return _exit_code(console.run(pid))
            return _exit_code(wait_for(pid))
        finally:
            forward()
    finally:
        if console:
            console.close()


def cmd_pause(rt: oci.BerthRuntime, argv: list[str]) -> int:
    dummy, pos = parse(argv, {})
    rt.pause(_one_id(pos, "pause"))
    return 0


def cmd_resume(rt: oci.BerthRuntime, argv: list[str]) -> int:
    dummy, pos = parse(argv, {})
    rt.resume(_one_id(pos, "resume"))
    return 0


#: runc's ``update`` flags: flag -> (section of linux.resources, key, kind)
UPDATE_FLAGS = {
    "--memory": ("memory", "limit", "bytes"), "--memory-reservation": ("memory", "reservation", "bytes"),
    "--memory-swap": ("memory", "swap", "bytes"), "--cpu-period": ("cpu", "period", "int"),
    "--cpu-quota": ("cpu", "quota", "int"), "--cpu-share": ("cpu", "shares", "int"),
    "--cpuset-cpus": ("cpu", "cpus", "str"), "--cpuset-mems": ("cpu", "mems", "str"),
    "--pids-limit": ("pids", "limit", "int"), "--blkio-weight": ("blockIO", "weight", "int"),
}
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def cmd_update(rt: oci.BerthRuntime, argv: list[str]) -> int:
    """runc's ``update``: ``--resources`` (a file of OCI ``linux.resources``, ``-`` for stdin), then the
    single-value flags over it."""
    flags: dict[str, tuple[str, str]] = {"--resources": ("resources", "str"), "-r": ("resources", "str")}
    flags.update({flag: (flag[2:].replace("-", "_"), "str") for flag in UPDATE_FLAGS})
    opts, pos = parse(argv, flags)
    cid = _one_id(pos, "update")
    resources: dict = {}
    if opts["resources"]:
        from ..core.oci import load_json  # json and typing: not on the start path, update only

        if opts["resources"] == "-":
            raw = sys.stdin.buffer.read()
        else:
            with open(opts["resources"], "rb") as fh:
                raw = fh.read()
        resources = load_json(raw, f"--resources {opts['resources']}")
    for flag, (section, key, kind) in UPDATE_FLAGS.items():
        value = opts[flag[2:].replace("-", "_")]
        if value is not None:
            resources.setdefault(section, {})[key] = _update_value(flag, value, kind)
    rt.update(cid, resources)
    return 0


def _update_value(flag: str, text: str, kind: str) -> int | str:
    if kind == "str":
        return text
    low = text.strip().lower()
    number, unit = low.rstrip("kmgtb"), low[len(low.rstrip("kmgtb")):]
    if kind == "bytes" and unit.endswith("b") and len(unit) == 2:
        unit = unit[0]
    scale = _UNITS.get(unit) if kind == "bytes" else (1 if not unit else None)
    try:
        value = int(number)
    except ValueError:
        value, scale = 0, None
    if scale is None:
        raise UsageError(f"invalid value {text!r} for {flag}")
    return -1 if value == -1 else value * scale


def cmd_spec(rt: oci.BerthRuntime | None, argv: list[str]) -> int:
    opts, pos = parse(argv, {"--bundle": ("bundle", "str"), "-b": ("bundle", "str"),
                             "--rootless": ("rootless", "bool")})
    if opts["rootless"]:
        raise UsageError("--rootless specs are not supported")
    path = os.path.join(opts["bundle"] or ".", "config.json")
    if os.path.exists(path):
        raise UsageError(f"File {path} exists. Remove it first")
    import json

    with open(path, "w") as fh:
        json.dump(default_spec(), fh, indent="\t")
    return 0


COMMANDS = {
    "create": cmd_create, "start": cmd_start, "run": cmd_run, "state": cmd_state, "kill": cmd_kill,
    "delete": cmd_delete, "list": cmd_list, "exec": cmd_exec, "pause": cmd_pause,
    "resume": cmd_resume, "update": cmd_update, "spec": cmd_spec,
}


# ---------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    g = Globals()
    try:
        gopts, rest = _split_globals(argv, g)
        if gopts == "version":
            _out(f"berth-runtime version {VERSION}\nspec: {SPEC_VERSION}")
            return 0
        if not rest:
            sys.stdout.write(USAGE)
            return 0
        command, args = rest[0], rest[1:]
        func = COMMANDS.get(command)
        if func is None:
            raise UsageError(f"No help topic for '{command}'")
        if command == "spec":
            return func(None, args)
        rt = oci.BerthRuntime(g.root, warn=lambda msg: _log(g, "warning", msg))
        return func(rt, args)
    except UsageError as exc:
        if str(exc):
            sys.stderr.write(f"berth-runtime: {exc}\n")
            sys.stderr.write("Run 'berth-runtime --help' for usage.\n")
            return 1
        sys.stdout.write(USAGE)
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001  (an error message, never a traceback, like runc)
        msg = str(exc) or type(exc).__name__
        _log(g, "error", msg)
        sys.stderr.write(msg + "\n")
        if g.debug:
            import traceback

            traceback.print_exc()
        return 1


def _split_globals(argv: list[str], g: Globals) -> tuple[str | None, list[str]]:
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        i += 1
        if name in ("-v", "--version"):
            return "version", []
        if name in ("-h", "--help"):
            raise UsageError("")
        if name == "--debug":
            g.debug = True
            continue
        if name == "--systemd-cgroup":
            raise UsageError("--systemd-cgroup is not supported: berth-runtime only drives cgroupfs "
                             "(give linux.cgroupsPath as a /path)")
        if name in ("--root", "--log", "--log-format", "--criu", "--rootless"):
            if not eq:
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: {name}")
                value = argv[i]
                i += 1
            if name == "--root":
                g.root = os.path.abspath(value)
            elif name == "--log":
                g.log = value
            elif name == "--log-format":
                if value not in ("text", "json"):
                    raise UsageError(f"invalid log format {value!r} (text or json)")
                g.log_format = value
            continue
        raise UsageError(f"flag provided but not defined: {name}")
    return None, argv[i:]


def _log(g: Globals, level: str, msg: str) -> None:
    if level != "error" and g.log is None:
        sys.stderr.write(f"berth-runtime: {level}: {msg}\n")
        return
    if g.log is None:
        return
    import time

    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if g.log_format == "json":
        from .sync import dumps

        line = dumps({"level": level, "msg": msg, "time": now})
    else:
        quoted = msg.replace("\\", "\\\\").replace('"', '\\"')
        line = f'time="{now}" level={level} msg="{quoted}"'
    try:
        with open(g.log, "a") as fh:
            fh.write(line + "\n")
    except OSError:
        pass


def _print_json(obj: t.Any, indent: int | None = 2) -> None:
    import json

    sys.stdout.write(json.dumps(obj, indent=indent) + "\n")


def _try(func: t.Callable[[], t.Any]) -> None:
    try:
        func()
    except Exception:  # noqa: BLE001
        pass


# ---------------------------------------------------------------- foreground processes
FORWARDED = ("SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGCONT")


def _signals() -> t.Any:
    try:
        import _signal as sig  # the C module: ``signal`` imports enum (~8 ms)
    except ImportError:  # pragma: no cover
        import signal as sig  # type: ignore[no-redef]
    return sig


def _forward_signals(pid: int) -> t.Callable[[], None]:
    """Relay the usual signals to *pid* (like runc's signal handler); returns the undo function."""
    sig = _signals()
    old: list[tuple[int, t.Any]] = []

    def relay(signum: int, _frame: t.Any) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for name in FORWARDED:
        num = getattr(sig, name, None)
        if num is not None:
            old.append((num, sig.signal(num, relay)))

    def undo() -> None:
        for num, handler in old:
            sig.signal(num, handler)

    return undo


from .console import wait_for  # noqa: E402


def _exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


# ---------------------------------------------------------------- runc spec
def default_spec() -> dict:
    """What ``runc spec`` writes (terminal sh, the default mounts, masked and read-only paths)."""
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    return {
        "ociVersion": SPEC_VERSION,
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: list(caps) for k in ("bounding", "effective", "permitted", "ambient")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "berth",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t_} for t_ in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                            "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")

# SPDX-License-Identifier: GPL-3.0-or-later
"""Container verbs of the ``berth`` command: run, create, start, stop, ps, logs, exec, inspect, stats ...

Each handler takes the :class:`~..main.Context`, calls ``ctx.engine.containers`` and prints what docker
prints, with docker's exit codes. Flags of ``run``/``create``/``update`` are declared once in
``main.RUN_FLAGS``; :func:`run_params` turns them into the option-name parameters that
``options.container.normalise_options`` takes, and an ``InvalidOption`` it raises is reported against the
flag (:func:`flag_error`). Imported only when one of these verbs runs.
"""
from __future__ import annotations

import os
import time

from ...engine.errors import EngineError, InvalidOption, NotFound, RuntimeFailure, shorten

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time: ``berth run`` is a start-up path (engine/runtime/__init__.py)
    import typing as t

    from ..main import Context, RunFlag


class _Render:
    """``render`` (tables, templates, sizes, times) imported on first use: ``run`` never needs it."""

    def __getattr__(self, name: str) -> t.Any:
        from .. import render as module

        globals()["render"] = module
        return getattr(module, name)


render: t.Any = _Render()

#: Exit code of ``run`` when the engine refused before the container ran (docker's 125).
ENGINE_EXIT = 125
#: The command could not be invoked / was not found (docker's 126 / 127).
NOT_EXECUTABLE_EXIT = 126
NOT_FOUND_EXIT = 127


# ================================================================ flags -> options
def _split_kv(item: str) -> tuple[str, str | None]:
    key, sep, value = item.partition("=")
    return key, (value if sep else None)


def run_params(
    args: t.Any, flags: t.Sequence[RunFlag], environ: t.Mapping[str, str] | None = None
) -> dict[str, t.Any]:
    """The flags the user gave -> ``{option name: value}`` for ``normalise_options`` (nothing for unset flags).

    Raises ``UsageError`` for what docker's flag parser itself refuses (``--sysctl`` without ``=``,
    ``--no-healthcheck`` with a ``--health-*`` flag).
    """
    from ..main import UsageError

    env_of = os.environ if environ is None else environ
    prog = getattr(args, "_parser", None)
    prog_name = prog.prog if prog is not None else "berth"
    params: dict[str, t.Any] = {}
    health: dict[str, t.Any] = {}
    for f in flags:
        value = getattr(args, f.dest, None)
        if f.option is None or value is None or value is False or value == []:
            continue
        if f.kind == "flag":
            params[f.option] = True
        elif f.kind == "value":
            params[f.option] = value
        elif f.kind == "entrypoint":
            # One executable, never split (docker); --entrypoint "" clears the image's.
            params[f.option] = [value] if value else []
        elif f.kind == "list":
            params[f.option] = list(value)
        elif f.kind == "ulimit":
            # docker's name=soft[:hard] -> the option's name:soft[:hard]
            params[f.option] = [v.replace("=", ":", 1) if "=" in v else v for v in value]
        elif f.kind == "env":
            env: dict[str, str] = {}
            for item in value:
                key, val = _split_kv(item)
                if val is not None:
                    env[key] = val
                elif key in env_of:  # -e NAME: our value, or nothing when we have none
                    env[key] = env_of[key]
            if env:
                params[f.option] = env
        elif f.kind == "secret_file":
            params[f.option] = {**_env_files(value, environ, field="secret_env_file"), **params.get(f.option, {})}
        elif f.kind == "secret":
            params[f.option] = {**params.get(f.option, {}), **_secret_names(value, env_of, f, prog_name)}
        elif f.kind == "map":
            mapping: dict[str, str] = {}
            for item in value:
                key, val = _split_kv(item)
                if val is None:
                    if f.option != "labels":
                        raise UsageError(
                            f'invalid argument "{item}" for "{flag_names(f)}" flag: expected KEY=VALUE', prog_name)
                    val = ""  # -l key: an empty label, as docker
                mapping[key] = val
            params[f.option] = mapping
        elif f.kind == "health":
            health[f.option.split(".", 1)[1]] = value
    if params.get("secret_env") == {}:
        del params["secret_env"]
    if getattr(args, "no_healthcheck", False):
        if health:
            raise UsageError("--no-healthcheck conflicts with --health-* options", prog_name)
        params["healthcheck"] = {"test": ["NONE"]}
    elif health:
        params["healthcheck"] = health
    return params


def _secret_names(names: t.Sequence[str], env_of: t.Mapping[str, str], f: RunFlag, prog: str) -> dict[str, str]:
    """``--secret-env NAME``: the value of NAME in our environment. A value on the command line is refused
    (and not repeated: the command line shows in ``ps``), as is a name we have no value for."""
    from ..main import UsageError

    out = {}
    for item in names:
        key, val = _split_kv(item)
        if val is not None:
            raise UsageError(f'invalid argument "{key}=..." for "{flag_names(f)}" flag: give only the variable name '
                             "and its value in our environment, or use --secret-env-file", prog)
        if key not in env_of:
            raise UsageError(f'invalid argument "{key}" for "{flag_names(f)}" flag: {key} is not set in the '
                             "environment", prog)
        out[key] = env_of[key]
    return out


def flag_names(f: RunFlag) -> str:
    """How docker names a flag in errors: ``-m, --memory`` (short, then the first long name)."""
    short = [x for x in f.flags if not x.startswith("--")]
    long = [x for x in f.flags if x.startswith("--")][:1]
    return ", ".join(short + long)


#: Options set by something other than their own flag.
_OPTION_FLAG_ALIASES = {"restart_retries": "restart_policy", "healthcheck": "healthcheck.test"}


def flag_for(field: str, flags: t.Sequence[RunFlag]) -> RunFlag | None:
    """The flag behind an ``InvalidOption`` field (``ulimits[1]``, ``healthcheck.interval``, ``env.A``)."""
    base = field.split("[", 1)[0]
    candidates = [base, base.split(".", 1)[0]]
    for name in candidates:
        name = _OPTION_FLAG_ALIASES.get(name, name)
        for f in flags:
            if f.option == name or (f.option is None and f.dest == name):  # --name: read by the verb
                return f
    return None


def flag_error(exc: InvalidOption, args: t.Any, flags: t.Sequence[RunFlag]) -> str | None:
    """``invalid argument "1x" for "-m, --memory" flag: <reason>`` for an option a flag set, else None."""
    f = flag_for(exc.field, flags)
    if f is None:
        return None
    raw = getattr(args, f.dest, None)
    given = [str(x) for x in raw] if isinstance(raw, list) else ([] if raw in (None, False) else [str(raw)])
    shown = None
    if "[" in exc.field:
        try:
            index = int(exc.field.split("[", 1)[1].split("]", 1)[0])
            shown = given[index]
        except (ValueError, IndexError):
            shown = None
    if shown is None and f.kind in ("map", "env") and not isinstance(exc.value, dict):
        key = str(exc.value)
        shown = next((g for g in given if g.partition("=")[0] == key), None)
    if shown is None:
        if raw is True:
            shown = "true"
        elif len(given) == 1:
            shown = given[0]
        elif isinstance(exc.value, str):
            shown = exc.value
        else:
            shown = ",".join(given)
    return f'invalid argument "{shorten(shown)}" for "{flag_names(f)}" flag: {exc.reason}'


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def _env_files(paths: t.Sequence[str], environ: t.Mapping[str, str] | None = None,
               field: str = "env_file") -> dict[str, str]:
    """Docker's ``--env-file`` (several allowed, later files win): merged below ``-e`` (and the same format
    for ``--secret-env-file``, *field*)."""
    from ...engine.options import container as copts

    lookup = (os.environ if environ is None else environ).get
    out: dict[str, str] = {}
    for path in paths:
        try:
            text = _read_text(path)
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror.lower() if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise InvalidOption(field, path, f"open {path}: {reason}") from None
        out.update(copts.parse_env_file(text, lookup, source=path, field=field))
    return out


def normalised_options(args: t.Any, flags: t.Sequence[RunFlag], image: str | None = None,
                       command: t.Sequence[str] | None = None) -> dict[str, t.Any]:
    """The flags as the normalised options dict (``normalise_options``); bad values as usage errors."""
    from ...engine.options import container as copts
    from ..main import UsageError

    prog = args._parser.prog
    try:
        params = run_params(args, flags)
        files = params.pop("env_file", None)
        if files:
            params["env"] = {**_env_files(files), **params.get("env", {})}
        if image is not None:
            params["image"] = image
        if command:
            params["command"] = list(command)
        if getattr(args, "name", None) is not None:
            copts.container_name(args.name, "name")  # before any pull, as docker checks it
        return copts.normalise_options(params)
    except InvalidOption as exc:
        raise UsageError(flag_error(exc, args, flags) or str(exc), prog) from None


def update_options(args: t.Any, flags: t.Sequence[RunFlag]) -> dict[str, t.Any]:
    """``update``'s flags normalised one by one: the cross-option checks need the container's other
    values, which ``ContainerService.update`` merges and checks."""
    from ...engine.options import container as copts
    from ..main import UsageError

    prog = args._parser.prog
    try:
        params = run_params(args, flags)
        policy = params.get("restart_policy")
        if isinstance(policy, str) and policy.startswith("on-failure:"):
            params["restart_policy"] = "on-failure"
            params["restart_retries"] = copts.int_range(0)(policy.partition(":")[2], "restart_policy")
        elif policy is not None:
            params["restart_retries"] = None  # a new policy drops the old retry count
        out: dict[str, t.Any] = {}
        for name, value in params.items():
            if value is None:
                out[name] = None
                continue
            out[name] = copts.CONTAINER_OPTIONS[name].normalise(value)  # type: ignore[attr-defined]
        return out
    except InvalidOption as exc:
        raise UsageError(flag_error(exc, args, flags) or str(exc), prog) from None


# ================================================================ run / create
def _fd(stream: t.Any, default: int) -> int:
    try:
        return int(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return default


def _isatty(fd: int | None) -> bool:
    if fd is None:
        return False
    try:
        return os.isatty(fd)
    except OSError:
        return False


def start_exit_code(message: str) -> int:
    """docker's ``runStartContainerErr``: 127 not found, 126 not executable, else 125."""
    if any(s in message for s in ("executable file not found", "no such file or directory",
                                  "No such file or directory")):
        return NOT_FOUND_EXIT
    if any(s in message for s in ("permission denied", "Permission denied", "is a directory", "Is a directory")):
        return NOT_EXECUTABLE_EXIT
    return ENGINE_EXIT


def failure_exit_code(exc: RuntimeFailure) -> int:
    """The exit code for a container that could not start: the monitor's 126/127 when it says so,
    else docker's rule on the message."""
    code = int(getattr(exc, "exit_code", 0) or 0)
    if code in (NOT_EXECUTABLE_EXIT, NOT_FOUND_EXIT):
        return code
    return start_exit_code(str(exc))


def _report(ctx: Context, verb: str, message: str, with_help: bool) -> None:
    """docker's ``reportError``: ``docker: <message>.`` (+ ``See 'docker run --help'.``)."""
    from ..main import PROG

    text = message.rstrip(".") + "."
    if with_help:
        text += f"\nSee '{PROG} {verb} --help'."
    ctx.err(f"{PROG}: {text}")


def _pull_if_needed(ctx: Context, args: t.Any) -> str:
    """docker run/create's pull: ``Unable to find image … locally`` then the pull, on stderr.

    Returns the pull policy to hand the service (``never`` once we pulled or were told not to).
    """
    from ..main import UsageError

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
    from ..main import RUN_FLAGS

    a = ctx.args
    opts = normalised_options(a, RUN_FLAGS, image=a.image, command=a.command)
    pull = _pull_if_needed(ctx, a)
    _warn_host(ctx, opts)
    return opts, pull


def _warn_host(ctx: Context, opts: t.Mapping[str, t.Any]) -> None:
    """docker run/create/update print the daemon's warnings first: ``WARNING: ...``."""
    for message in ctx.engine.containers.host_warnings(opts):
        ctx.stderr.write(f"WARNING: {message}\n")


def _refused(ctx: Context, verb: str, exc: EngineError, flags: t.Sequence[RunFlag]) -> int:
    """An engine error of run/create: a flag's bad value as a usage error, a start failure by docker's
    126/127 rule, anything else as ``berth: <error>.`` with the help hint; all before the container ran."""
    from ..main import _usage_error

    if ctx.args.debug:
        import traceback

        traceback.print_exc(file=ctx.stderr)
    if isinstance(exc, InvalidOption):
        message = flag_error(exc, ctx.args, flags)
        if message:
            return _usage_error(ctx.stderr, ctx.args._parser.prog, message)
    if isinstance(exc, RuntimeFailure):
        _report(ctx, verb, str(exc), with_help=False)
        return failure_exit_code(exc)
    _report(ctx, verb, str(exc), with_help=True)
    return ENGINE_EXIT


def create(ctx: Context) -> int:
    from ..main import RUN_FLAGS

    try:
        opts, pull = _prepare(ctx)
        cid = ctx.engine.containers.create(opts, name=ctx.args.name, pull=pull)
    except EngineError as exc:
        return _refused(ctx, "create", exc, RUN_FLAGS)
    ctx.out(cid)
    return 0


def run(ctx: Context) -> int:
    from ..main import RUN_FLAGS

    a = ctx.args
    if a.tty and a.interactive and not _isatty(_fd(ctx.stdin, 0)):
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


def _signal_module() -> t.Any:
    """``_signal``: ``signal`` only wraps it in enums, and ``import enum`` costs ~8 ms of ``berth run``."""
    try:
        import _signal as module
    except ImportError:  # pragma: no cover
        import signal as module
    return module


class _Attached:
    """What an attached run/exec does around the engine call, all undone on exit.

    * ``-t`` with ``-i`` on a terminal: the terminal in raw mode (keys go to the container's pty);
    * ``-t``: SIGWINCH forwarded to the monitor, which copies our window size to the container's pty;
    * no ``-t``: docker's ``--sig-proxy``: INT, TERM, HUP, QUIT, USR1, USR2 sent to the container.

    The container ID and monitor pid come from the service's ``on_start`` callback.
    """

    PROXIED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")

    def __init__(self, kill: t.Callable[[str, int], None], stdin_fd: int | None, tty: bool,
                 proxy: bool = True) -> None:
        self.kill = kill
        self.stdin_fd = stdin_fd
        self.tty = tty
        self.proxy = proxy
        self.container_id: str | None = None
        self.monitor_pid = 0
        self._saved_tty: t.Any = None
        self._old_handlers: list[tuple[int, t.Any]] = []

    def on_start(self, container_id: str, monitor_pid: int = 0) -> None:
        self.container_id = container_id
        self.monitor_pid = int(monitor_pid or 0)
        if self.tty and self.monitor_pid:
            self._winch(0, None)  # the size at start, in case it changed while we were starting

    def __enter__(self) -> _Attached:
        signal = _signal_module()
        if self.tty and self.stdin_fd is not None and _isatty(self.stdin_fd):
            import termios
            import tty

            self._saved_tty = termios.tcgetattr(self.stdin_fd)
            tty.setraw(self.stdin_fd)
        if self.tty:
            self._handle(signal.SIGWINCH, self._winch)
        elif self.proxy:
            for name in self.PROXIED:
                self._handle(getattr(signal, name), self._proxy)
        return self

    def _handle(self, signum: int, handler: t.Callable[[int, t.Any], None]) -> None:
        signal = _signal_module()
        try:
            self._old_handlers.append((signum, signal.signal(signum, handler)))
        except (ValueError, OSError):  # not the main thread (tests)
            pass

    def _winch(self, signum: int, frame: t.Any) -> None:
        if self.monitor_pid:
            try:
                os.kill(self.monitor_pid, _signal_module().SIGWINCH)
            except OSError:
                pass

    def _proxy(self, signum: int, frame: t.Any) -> None:
        if self.container_id is None:
            if signum == 2:
                raise KeyboardInterrupt
            return
        try:
            self.kill(self.container_id, signum)
        except EngineError:
            pass

    def __exit__(self, *exc: t.Any) -> None:
        signal = _signal_module()
        for signum, old in reversed(self._old_handlers):
            try:
                signal.signal(signum, old)
            except (ValueError, OSError):
                pass
        self._old_handlers = []
        if self._saved_tty is not None:
            import termios

            termios.tcsetattr(self.stdin_fd, termios.TCSADRAIN, self._saved_tty)
            self._saved_tty = None


def _stdio(ctx: Context, interactive: bool, tty: bool) -> t.Any:
    from ...engine.api import Stdio

    return Stdio(_fd(ctx.stdin, 0) if interactive else None, _fd(ctx.stdout, 1), _fd(ctx.stderr, 2), tty=tty)


def _run_attached(ctx: Context, opts: dict[str, t.Any], pull: str) -> int:
    a = ctx.args
    svc = ctx.engine.containers
    stdio = _stdio(ctx, a.interactive, a.tty)
    # Signals are proxied only once the service tells us the container (and its monitor): until then
    # SIGTERM/SIGHUP keep their default action and Ctrl-C stops waiting.
    attached = _Attached(svc.kill, stdio.stdin, bool(a.tty))
    with attached:
        result = svc.run(opts, name=a.name, detach=False, stdio=stdio, remove=a.auto_remove, pull=pull,
                         on_start=attached.on_start)
    return int(result.exit_code or 0)


# ================================================================ start / stop / kill / ...
def _each(ctx: Context, names: t.Sequence[str], action: t.Callable[[str], t.Any], echo: bool = True) -> int:
    """Run *action* per name like docker: print the name on success, ``Error: …`` otherwise; exit 1 if any failed."""
    rc = 0
    for name in names:
        try:
            action(name)
        except EngineError as exc:
            ctx.error(exc)
            rc = 1
            continue
        if echo:
            ctx.out(name)
    return rc


def _signal(ctx: Context, value: str | None, flag: str) -> str | None:
    """A signal flag's value normalised (``9``, ``kill``, ``SIGKILL`` -> ``SIGKILL``)."""
    from ...engine.options import container as copts
    from ..main import UsageError

    if value is None or value == "":
        return None
    try:
        return str(copts.signal_name(value, "signal"))
    except InvalidOption as exc:
        raise UsageError(f'invalid argument "{value}" for "{flag}" flag: {exc.reason}', ctx.args._parser.prog) from None


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


def stop(ctx: Context) -> int:
    a = ctx.args
    sig = _signal(ctx, a.signal, "-s, --signal")
    svc = ctx.engine.containers
    return _each(ctx, a.names, lambda n: svc.stop(n, timeout=a.time, signal=sig))


def restart(ctx: Context) -> int:
    a = ctx.args
    svc = ctx.engine.containers
    return _each(ctx, a.names, lambda n: svc.restart(n, timeout=a.time))


def kill(ctx: Context) -> int:
    a = ctx.args
    sig = _signal(ctx, a.signal, "-s, --signal") or "SIGKILL"
    svc = ctx.engine.containers
    return _each(ctx, a.names, lambda n: svc.kill(n, signal=sig))


def pause(ctx: Context) -> int:
    return _each(ctx, ctx.args.names, ctx.engine.containers.pause)


def unpause(ctx: Context) -> int:
    return _each(ctx, ctx.args.names, ctx.engine.containers.unpause)


def rm(ctx: Context) -> int:
    a = ctx.args
    svc = ctx.engine.containers
    rc = 0
    for name in a.names:
        try:
            removed = svc.remove(name, force=a.force)
        except EngineError as exc:
            ctx.error(exc)
            rc = 1
            continue
        if not removed:
            # docker rm -f of a missing container says so but does not fail.
            ctx.err(f"Error: No such container: {name}")
            if not a.force:
                rc = 1
            continue
        ctx.out(name)
    return rc


def rename(ctx: Context) -> int:
    ctx.engine.containers.rename(ctx.args.old, ctx.args.new)
    return 0


def wait(ctx: Context) -> int:
    svc = ctx.engine.containers
    rc = 0
    for name in ctx.args.names:
        try:
            code = svc.wait(name)
        except EngineError as exc:
            ctx.error(exc)
            rc = 1
            continue
        ctx.out(str(code))
        ctx.stdout.flush()
    return rc


def update(ctx: Context) -> int:
    from ..main import RESOURCE_FLAGS

    a = ctx.args
    opts = update_options(a, RESOURCE_FLAGS)
    if not opts:
        from ..main import UsageError

        raise UsageError("you must provide one or more flags when using this command", a._parser.prog)
    svc = ctx.engine.containers
    _warn_host(ctx, opts)
    return _each(ctx, a.names, lambda n: svc.update(n, opts))


# ================================================================ ps
_PS_HEADERS = {
    "ID": "CONTAINER ID",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED",
    "Ports": "PORTS",
    "State": "STATE",
    "Status": "STATUS",
    "Size": "SIZE",
    "Names": "NAMES",
    "Labels": "LABELS",
    "Mounts": "MOUNTS",
    "Networks": "NETWORKS",
    "LocalVolumes": "LOCAL VOLUMES",
}


def ps_image(image: str, image_id: str, trunc: bool) -> str:
    """docker's ``ContainerContext.Image``: an ID shown short, a reference in its familiar form, digests dropped."""
    if not image:
        return "<no image>"
    if not trunc:
        return image
    if image_id and render.trunc_id(image_id) == render.trunc_id(image):
        return render.trunc_id(image)
    name = render.familiar_image(image)
    if "@" in name:
        return name.split("@", 1)[0]
    return name


def ps_items(
    containers: t.Sequence[t.Mapping[str, t.Any]],
    trunc: bool = True,
    now: float | None = None,
    sizes: t.Mapping[str, tuple[int, int]] | None = None,
) -> list[dict[str, str]]:
    """The fields docker's container formatter offers, one dict per container (``docker ps``)."""
    items = []
    for c in containers:
        command = str(c.get("Command") or "")
        if trunc:
            command = render.ellipsis(command, 20)
        labels = c.get("Labels") or {}
        created = int(c.get("Created") or 0)
        size = ""
        if sizes is not None:
            rw, virtual = sizes.get(str(c.get("Id")), (0, 0))
            size = f"{render.human_size(rw, 3)} (virtual {render.human_size(virtual, 3)})"
        net = (c.get("HostConfig") or {}).get("NetworkMode") or ""
        items.append(
            {
                "Command": render.go_quote(command),
                "CreatedAt": render.go_time(created),
                "ID": render.trunc_id(str(c.get("Id", "")), trunc),
                "Image": ps_image(str(c.get("Image") or ""), str(c.get("ImageID") or ""), trunc),
                "Labels": ",".join(f"{k}={labels[k]}" for k in sorted(labels)),
                "LocalVolumes": "0",
                "Mounts": "",
                "Names": ",".join(str(n).lstrip("/") for n in c.get("Names") or []),
                "Networks": net,
                "Ports": "",
                "RunningFor": render.created_since(created, now),
                "Size": size,
                "State": str(c.get("State") or ""),
                "Status": str(c.get("Status") or ""),
            }
        )
    return items


def _filters(values: t.Sequence[str], prog: str) -> dict[str, list[str]]:
    from . import images as images_cmd

    return images_cmd._filters(values, prog)


def ps(ctx: Context) -> int:
    a = ctx.args
    flt = _filters(a.filter, a._parser.prog)
    last = 1 if a.latest else a.last
    svc = ctx.engine.containers
    found = svc.list(all=a.all or last > 0, filters=flt or None)
    if last > 0:
        found = found[:last]
    trunc = not a.no_trunc
    if a.quiet:
        for c in found:
            ctx.out(render.trunc_id(str(c.get("Id", "")), trunc))
        return 0
    sizes = _sizes(ctx, found) if a.size else None
    items = ps_items(found, trunc, sizes=sizes)
    fmt = a.format or "table"
    if fmt == "table":
        cols = ["ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names"]
        if a.size:
            cols.append("Size")
        rows = [[_PS_HEADERS[c] for c in cols]] + [[i[c] for c in cols] for i in items]
        ctx.stdout.write(render.table(rows))
        return 0
    from . import images as images_cmd

    ctx.stdout.write(images_cmd._format(fmt, items, _PS_HEADERS, a._parser.prog))
    return 0


def _sizes(ctx: Context, found: t.Sequence[t.Mapping[str, t.Any]]) -> dict[str, tuple[int, int]]:
    """(SizeRw, SizeRootFs) per container: its own layer, and that plus its image."""
    wanted = {str(c.get("Id")) for c in found}
    image_size = {str(i.get("Id")): int(i.get("Size") or 0) for i in ctx.engine.images.list(all=True)}
    out = {}
    for c in ctx.engine.containers.disk_usage():
        if c.get("Id") in wanted:
            rw = int(c.get("SizeRw") or 0)
            out[str(c["Id"])] = (rw, rw + image_size.get(str(c.get("ImageID")), 0))
    return out


# ================================================================ logs
def parse_time(value: str, now: float | None = None) -> float:
    """docker's ``GetTimestamp``: a Go duration back from now (``10m``), unix seconds (``1700000000.5``)
    or an RFC 3339 date/time (``2024-05-01``, ``2024-05-01T12:00:00Z``; local time without a zone)."""
    import re

    from ...engine.options import container as copts

    text = value.strip()
    if now is None:
        now = time.time()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        return now - copts.duration(text, "since") / 1e9
    except InvalidOption:
        pass
    import datetime

    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:T(\d{2})(?::(\d{2}))?(?::(\d{2}))?(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?", text)
    if not m:
        raise ValueError(f'failed to parse value as time or duration: "{value}"')
    date, hh, mm, ss, frac, zone = m.groups()
    iso = f"{date}T{hh or '00'}:{mm or '00'}:{ss or '00'}"
    stamp = datetime.datetime.fromisoformat(iso)
    if zone:
        tz = datetime.timezone.utc if zone == "Z" else datetime.timezone(
            (1 if zone[0] == "+" else -1) * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        stamp = stamp.replace(tzinfo=tz)
    else:
        stamp = stamp.astimezone()  # local time, like docker
    return stamp.timestamp() + (float("0." + frac) if frac else 0.0)


def log_line(entry: t.Any, timestamps: bool) -> bytes:
    """One log entry as ``docker logs`` writes it (``-t``: RFC3339Nano time and a space first)."""
    data: bytes = entry.data
    if not timestamps:
        return data
    # LogEntry.time is a float: microseconds are exact, the nanosecond digits are not kept.
    ns = int(round(float(entry.time) * 1e6)) * 1000
    return render.rfc3339_nano(ns).encode() + b" " + data


def _binary(stream: t.Any) -> t.Callable[[bytes], None]:
    buf = getattr(stream, "buffer", None)
    if buf is not None:
        stream.flush()
        return buf.write  # type: ignore[no-any-return]
    return lambda data: stream.write(data.decode("utf-8", "replace"))


def logs(ctx: Context) -> int:
    from ..main import UsageError

    a = ctx.args
    tail: int | None = None
    if a.tail != "all":
        try:
            tail = int(a.tail)
        except ValueError:
            tail = None  # docker: anything but a number means all
        if tail is not None and tail < 0:
            tail = None
    bounds = {}
    for key in ("since", "until"):
        value = getattr(a, key)
        if value:
            try:
                bounds[key] = parse_time(value)
            except ValueError as exc:
                raise UsageError(f'invalid value for "{key}": {exc}', a._parser.prog) from None
    entries = ctx.engine.containers.logs(a.name, follow=a.follow, tail=tail, **bounds)
    out, err = _binary(ctx.stdout), _binary(ctx.stderr)
    out_buf = getattr(ctx.stdout, "buffer", ctx.stdout)
    err_buf = getattr(ctx.stderr, "buffer", ctx.stderr)
    for entry in entries:
        if entry.stream == "stderr":
            err(log_line(entry, a.timestamps))
            if a.follow:
                err_buf.flush()
        else:
            out(log_line(entry, a.timestamps))
            if a.follow:
                out_buf.flush()
    out_buf.flush()
    err_buf.flush()
    return 0


# ================================================================ exec / attach
def exec_(ctx: Context) -> int:
    from ..main import UsageError

    a = ctx.args
    if not a.command:
        raise UsageError('"berth exec" requires at least 2 arguments.', a._parser.prog)
    env: dict[str, str] = {}
    try:
        env.update(_env_files(a.env_file))
    except InvalidOption as exc:
        raise UsageError(f'invalid argument "{exc.value}" for "--env-file" flag: {exc.reason}', a._parser.prog) from None
    for item in a.env:
        key, val = _split_kv(item)
        if val is not None:
            env[key] = val
        elif key in os.environ:
            env[key] = os.environ[key]
    if a.tty and a.interactive and not _isatty(_fd(ctx.stdin, 0)):
        ctx.err("the input device is not a TTY")
        return 1
    svc = ctx.engine.containers
    stdio = None if a.detach else _stdio(ctx, a.interactive, a.tty)
    ctx.stdout.flush()
    ctx.stderr.flush()
    # The exec'd process is ours (no monitor): raw mode for -it, signals left alone.
    attached = _Attached(lambda _cid, _sig: None, stdio.stdin if stdio else None, bool(a.tty and not a.detach),
                         proxy=False)
    try:
        with attached:
            code = svc.exec(a.name, list(a.command), user=a.user, env=env or None, workdir=a.workdir, tty=a.tty,
                            detach=a.detach, privileged=a.privileged, stdio=stdio)
    except RuntimeFailure as exc:
        ctx.err(str(exc))
        return failure_exit_code(exc)
    return int(code or 0)


def attach(ctx: Context) -> int:
    a = ctx.args
    svc = ctx.engine.containers
    info = svc.inspect(a.name)
    state = info.get("State") or {}
    if not state.get("Running"):
        ctx.err("Error: You cannot attach to a stopped container, start it first")
        return 1
    if state.get("Paused"):
        ctx.err("Error: You cannot attach to a paused container, unpause it first")
        return 1
    tty = bool((info.get("Config") or {}).get("Tty"))
    interactive = not a.no_stdin and bool((info.get("Config") or {}).get("OpenStdin"))
    stdio = _stdio(ctx, interactive, tty)
    ctx.stdout.flush()
    attached = _Attached(svc.kill, stdio.stdin, tty)
    attached.container_id = info["Id"]
    with attached:
        return int(svc.attach(info["Id"], stdio=stdio) or 0)


# ================================================================ inspect
def inspect(ctx: Context) -> int:
    """``berth inspect``: a container first, then an image (docker's order); ``--type`` picks one."""
    from ...engine.errors import Conflict

    a = ctx.args
    kind = getattr(a, "type", None)
    found = []
    rc = 0
    for name in a.names:
        item = None
        try:
            if kind in (None, "container"):
                svc = ctx.engine.containers
                cid = svc.lookup(name)
                if cid is not None:
                    item = svc.inspect(cid)
            if item is None and kind in (None, "image"):
                try:
                    item = ctx.engine.images.inspect(name)
                except NotFound:
                    item = None
        except (Conflict, InvalidOption) as exc:
            rc = ctx.error(exc)
            continue
        if item is None:
            what = {"container": "container", "image": "image"}.get(kind or "", "object")
            ctx.err(f"Error: No such {what}: {name}")
            rc = 1
            continue
        found.append(item)
    ctx.out_inspected(found)
    return rc


# ================================================================ top / stats
def top(ctx: Context) -> int:
    a = ctx.args
    info = ctx.engine.containers.top(a.name, " ".join(a.ps_args) or None)
    rows = [list(info.get("Titles") or [])] + [[str(x) for x in p] for p in info.get("Processes") or []]
    # docker top: tabwriter.NewWriter(out, 20, 1, 3, ' ', 0)
    ctx.stdout.write(render.table(rows, minwidth=20))
    return 0


#: ``docker diff``'s letter for each ``Kind`` of the API (0 changed, 1 added, 2 deleted).
_DIFF_KINDS = {0: "C", 1: "A", 2: "D"}


def diff(ctx: Context) -> int:
    write = _binary(ctx.stdout)
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
    import sys

    ctx.stdout.flush()
    dst = getattr(ctx.stdout, "buffer", None) or sys.stdout.buffer
    ctx.engine.containers.export(a.name, dst)
    dst.flush()
    return 0


_STATS_HEADERS = {
    "Container": "CONTAINER",
    "ID": "CONTAINER ID",
    "Name": "NAME",
    "CPUPerc": "CPU %",
    "MemUsage": "MEM USAGE / LIMIT",
    "MemPerc": "MEM %",
    "NetIO": "NET I/O",
    "BlockIO": "BLOCK I/O",
    "PIDs": "PIDS",
}
_STATS_COLUMNS = ["ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs"]


def _cpu_total(s: t.Mapping[str, t.Any]) -> tuple[int, int, int]:
    cpu = s.get("cpu_stats") or {}
    usage = cpu.get("cpu_usage") or {}
    online = int(cpu.get("online_cpus") or len(usage.get("percpu_usage") or []) or 0)
    return int(usage.get("total_usage") or 0), int(cpu.get("system_cpu_usage") or 0), online


def stats_item(container: str, s: t.Mapping[str, t.Any], prev: t.Mapping[str, t.Any] | None = None,
               trunc: bool = True) -> dict[str, str]:
    """One ``docker stats`` row from two samples of ``ContainerService.stats`` (docker's arithmetic:
    CPU % from the deltas of container and host CPU time, memory without the inactive file cache)."""
    cpu_now, sys_now, online = _cpu_total(s)
    prev = prev if prev is not None else {"cpu_stats": s.get("precpu_stats") or {}}
    cpu_before, sys_before, dummy = _cpu_total(prev)
    cpu_delta, sys_delta = cpu_now - cpu_before, sys_now - sys_before
    cpu = cpu_delta / sys_delta * online * 100.0 if sys_delta > 0 and cpu_delta > 0 else 0.0

    mem = s.get("memory_stats") or {}
    usage = int(mem.get("usage") or 0)
    extra = mem.get("stats") or {}
    if "total_inactive_file" in extra and int(extra["total_inactive_file"]) < usage:
        usage -= int(extra["total_inactive_file"])
    elif int(extra.get("inactive_file", 0) or 0) < usage:
        usage -= int(extra.get("inactive_file", 0) or 0)
    limit = int(mem.get("limit") or 0)
    mem_pct = usage / limit * 100.0 if limit else 0.0

    rx = tx = 0
    for net in (s.get("networks") or {}).values():
        rx += int(net.get("rx_bytes") or 0)
        tx += int(net.get("tx_bytes") or 0)
    read = write = 0
    for entry in (s.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = str(entry.get("op") or "")[:1].lower()
        if op == "r":
            read += int(entry.get("value") or 0)
        elif op == "w":
            write += int(entry.get("value") or 0)
    pids = int((s.get("pids_stats") or {}).get("current") or 0)
    name = str(s.get("name") or "").lstrip("/") or "--"
    return {
        "Container": container,
        "ID": render.trunc_id(str(s.get("id") or ""), trunc),
        "Name": name,
        "CPUPerc": "%.2f%%" % cpu,
        "MemUsage": f"{render.bytes_size(usage)} / {render.bytes_size(limit)}",
        "MemPerc": "%.2f%%" % mem_pct,
        "NetIO": f"{render.human_size(rx, 3)} / {render.human_size(tx, 3)}",
        "BlockIO": f"{render.human_size(read, 3)} / {render.human_size(write, 3)}",
        "PIDs": str(pids),
    }


def stats_text(fmt: str, items: t.Sequence[t.Mapping[str, str]], prog: str) -> str:
    if fmt == "table":
        rows = [[_STATS_HEADERS[c] for c in _STATS_COLUMNS]] + [[i[c] for c in _STATS_COLUMNS] for i in items]
        return render.table(rows)
    from . import images as images_cmd

    return images_cmd._format(fmt, items, _STATS_HEADERS, prog)


#: Seconds between two samples (docker's daemon collects every second).
STATS_INTERVAL = 1.0


def stats(ctx: Context) -> int:
    a = ctx.args
    svc = ctx.engine.containers
    fmt = a.format or "table"
    trunc = not a.no_trunc
    named = bool(a.names)

    def targets() -> list[str]:
        if named:
            return list(a.names)
        return [str(c["Id"]) for c in svc.list(all=a.all)]

    def sample(names: t.Sequence[str]) -> dict[str, dict[str, t.Any]]:
        out = {}
        for n in names:
            try:
                out[n] = svc.stats(n)
            except NotFound:
                if named:
                    raise
            except EngineError:
                out[n] = {"id": n, "name": ""}
        return out

    names = targets()
    prev = sample(names)
    while True:
        time.sleep(STATS_INTERVAL if names else 0)
        names = targets()
        now = sample(names)
        items = [stats_item(n if named else render.trunc_id(n, trunc), now[n], prev.get(n), trunc)
                 for n in names if n in now]
        text = stats_text(fmt, items, a._parser.prog)
        if a.no_stream:
            ctx.stdout.write(text)
            return 0
        ctx.stdout.write("\x1b[2J\x1b[H" + text)
        ctx.stdout.flush()
        prev = now


# ================================================================ prune / system
_PRUNE_WARNING = "WARNING! This will remove all stopped containers."


def prune(ctx: Context) -> int:
    from . import images as images_cmd

    a = ctx.args
    flt = _filters(a.filter, a._parser.prog)
    if not a.force and not images_cmd.confirm(ctx, _PRUNE_WARNING):
        return 0
    report = ctx.engine.containers.prune(filters=flt or None)
    deleted = report.get("ContainersDeleted") or []
    if deleted:
        ctx.out("Deleted Containers:")
        for cid in deleted:
            ctx.out(cid)
        ctx.out()
    ctx.out(f"Total reclaimed space: {render.human_size(int(report.get('SpaceReclaimed') or 0))}")
    return 0


def system_restore(ctx: Context) -> int:
    for cid in ctx.engine.containers.restore():
        ctx.out(cid)
    return 0

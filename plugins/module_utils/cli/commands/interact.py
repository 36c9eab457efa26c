# SPDX-License-Identifier: GPL-3.0-or-later
"""``exec`` and ``attach``, and what every attached process needs (``run``, ``start -a`` too): the
streams, the terminal in raw mode, signals proxied to the container, docker's exit codes for a command
that could not start. On the start path of ``berth run``.
"""
from __future__ import annotations

import os

from ..context import UsageError
from ...engine.errors import EngineError, InvalidOption, RuntimeFailure
from .run_options import env_files, split_kv

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time: ``berth run`` is a start-up path (engine/runtime/__init__.py)
    import typing as t

    from ..context import Context


#: Exit code of ``run`` when the engine refused before the container ran (docker's 125).
ENGINE_EXIT = 125
#: The command could not be invoked / was not found (docker's 126 / 127).
NOT_EXECUTABLE_EXIT = 126
NOT_FOUND_EXIT = 127


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

    return Stdio(_fd(ctx.stdin, 0) if interactive else None, _fd(ctx.stdout, 1), _fd(ctx.stderr, 2), tty=tty,
                 detach_keys=getattr(ctx.args, "detach_keys", None))


def exec_(ctx: Context) -> int:
    a = ctx.args
    if not a.command:
        raise UsageError('"berth exec" requires at least 2 arguments.', a._parser.prog)
    env: dict[str, str] = {}
    try:
        env.update(env_files(a.env_file))
    except InvalidOption as exc:
        raise UsageError(f'invalid argument "{exc.value}" for "--env-file" flag: {exc.reason}',
                         a._parser.prog) from None
    for item in a.env:
        key, val = split_kv(item)
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
        rc = svc.attach(info["Id"], stdio=stdio)
    if rc is None:  # the detach keys: docker's client reports its EscapeError
        ctx.err("read escape sequence")
        return 1
    return int(rc)

# SPDX-License-Identifier: GPL-3.0-or-later
"""Small helpers of the monitor (``monitor.py`` and its parts), ``monitor_ops.py`` and ``monitor_jobs.py``:
status events, worker results, unix socket paths, terminal sizes, files, and libc calls through ``_ctypes``.

Imports nothing heavy (``marshal``, ``core.cjson``, ``core.trust``; ``_ctypes`` only when called): the idle
monitor loads this file.
"""
from __future__ import annotations

import marshal
import os
import sys

from ..core import cjson, trust
from . import logs

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


# ====================================================================== sockets, terminals, children
def _console_address(path: str, dirfd: int) -> str:
    """What a runtime started by this process connects to (it may be another process: no /proc/self)."""
    if dirfd < 0:
        return path
    return f"/proc/{os.getpid()}/fd/{dirfd}/{os.path.basename(path)}"


def _terminal_size(fds: t.Iterable[int | None]) -> tuple[int, int] | None:
    """(rows, columns) of the first terminal among *fds*."""
    import fcntl
    import termios

    for fd in fds:
        if fd is None or fd < 0:
            continue
        try:
            raw = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
        except OSError:
            continue
        rows, cols = int.from_bytes(raw[0:2], sys.byteorder), int.from_bytes(raw[2:4], sys.byteorder)
        return (rows, cols) if rows and cols else None
    return None


def _unix_path_call(call: t.Callable[[str], t.Any], path: str) -> t.Any:
    """bind/connect to *path*, through ``/proc/self/fd/<dir>/<name>`` when it is too long for sun_path."""
    if len(os.fsencode(path)) < 108:
        return call(path)
    dirfd = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return call(f"/proc/self/fd/{dirfd}/{os.path.basename(path)}")
    finally:
        os.close(dirfd)


def _waitpid(pid: int) -> int | None:
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except ChildProcessError:
            return None
        except InterruptedError:  # pragma: no cover
            continue


def _dumps(value: t.Any) -> str:
    """JSON for the status events (str/int/bool/None/dict), without importing json."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{logs._json_string(str(k))}:{_dumps(v)}" for k, v in value.items()) + "}"
    return logs._json_string(str(value))


def _describe(exc: BaseException) -> dict[str, t.Any]:
    """An exception as plain data (it crosses the worker pipe with marshal)."""
    out: dict[str, t.Any] = {"message": str(exc) or type(exc).__name__, "type": type(exc).__name__}
    for key in ("container", "step", "reason"):
        value = getattr(exc, key, None)
        if isinstance(value, str):
            out[key] = value
    err = getattr(exc, "errno", None)
    if isinstance(err, int):
        out["errno"] = err
    return out


class WorkerFailed(Exception):
    def __init__(self, info: dict[str, t.Any]) -> None:
        super().__init__(info.get("message", "worker failed"))
        self.info = info


def _write_event(fd: int, event: dict[str, t.Any]) -> bool:
    if fd < 0:
        return False
    data = (_dumps(event) + "\n").encode()
    try:
        while data:
            data = data[os.write(fd, data):]
        return True
    except OSError:
        return False


# ====================================================================== worker results
def _decode(data: bytes, name: str) -> t.Any:
    if not data:
        raise WorkerFailed({"message": f"the monitor's {name.lstrip('_')} worker died"})
    kind, value = marshal.loads(data)
    if kind == "error":
        raise WorkerFailed(value)
    return value


def _is_not_found(exc: BaseException) -> bool:
    from ..errors import NotFound

    return isinstance(exc, (NotFound, FileNotFoundError))


# ====================================================================== small os helpers
def _read_json(path: str) -> t.Any:
    """A JSON file of the engine's (None when missing; refused unless root's and not writable by others:
    ``core/trust.py``), parsed without importing json (``cjson.loads``)."""
    try:
        return cjson.loads(trust.read_trusted(path))
    except FileNotFoundError:
        return None


def _replace_file(path: str, data: bytes) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def _fd_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def _read_all(fd: int) -> bytes:
    """Everything until EOF from a blocking fd (a worker's result pipe, the starter's handoff)."""
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns)


def _read_oom(source: t.Sequence[str] | None) -> bool:
    """Whether the counter *key* of the cgroup file *path* (``[path, key]`` from the exit plan) is > 0."""
    if not source:
        return False
    path, key = source
    try:
        with open(path, "rb") as fh:
            text = fh.read().decode("ascii", "replace")
    except OSError:
        return False
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == key:
            return parts[1].isdigit() and int(parts[1]) > 0
    return False


def _remove_runtime_state(own: t.Mapping[str, t.Any]) -> bool:
    """What ``BerthRuntime.delete`` removes for a stopped container, from its exit plan: the cgroup
    directories and the state directory. False (nothing is lost) when the runtime must do it: poststop
    hooks, a cgroup still in use or with sub-cgroups."""
    if own.get("hooks"):
        return False
    try:
        for d in own.get("cgroups") or ():
            try:
                os.rmdir(d)
            except FileNotFoundError:
                pass
        state_dir = own.get("state_dir")
        if state_dir:
            try:
                names = os.listdir(state_dir)
            except FileNotFoundError:
                names = []
            for name in names:
                os.unlink(os.path.join(state_dir, name))
            try:
                os.rmdir(state_dir)
            except FileNotFoundError:
                pass
    except OSError:
        return False
    return True


_LIBC: dict[str, t.Any] = {}


def _libc(name: str, restype: str = "i") -> t.Any:
    """The libc function *name* through the ``_ctypes`` C module (``ctypes/__init__`` costs ~7 ms to
    import on the test hosts; this ~1.5 ms, and only when called: an idle monitor never loads it).
    *restype*: a ``struct`` code (``i`` int, ``l`` long). Integer arguments are passed as C ints."""
    fn = _LIBC.get(name)
    if fn is None:
        import _ctypes

        class Ret(_ctypes._SimpleCData):
            _type_ = restype

        class Func(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
            _restype_ = Ret

        fn = _LIBC[name] = Func(_ctypes.dlsym(_ctypes.dlopen(None, 0), name))
    return fn


#: ptrace(2) requests and the bits of a wait status, for a replacement monitor (``Monitor._adopt_running``).
PTRACE_CONT, PTRACE_DETACH, PTRACE_SEIZE, PTRACE_LISTEN = 7, 17, 0x4206, 0x4208
PTRACE_EVENT_STOP = 128
_WALL = 0x40000000


def _ptrace(request: int, pid: int, data: int) -> None:
    """``ptrace(request, pid, 0, data)``; OSError naming the errno."""
    import _ctypes

    if _libc("ptrace", "l")(int(request), int(pid), None, int(data)) < 0:
        err = _ctypes.get_errno()
        raise OSError(err, f"ptrace({request:#x}, {pid}): {os.strerror(err)}")


class _Umount:
    """``umount2`` from libc (:func:`_libc`): the ``Syscalls`` method that ``lifecycle.unmount_below``
    calls, here between the container's exit and the caller hearing about it."""

    def umount2(self, target: str, flags: int) -> None:
        import _ctypes

        path = os.fsencode(target)
        while _libc("umount2")(path, int(flags)) < 0:
            err = _ctypes.get_errno()
            if err != 4:  # EINTR
                raise OSError(err, f"umount2 {target}: {os.strerror(err)}")

# SPDX-License-Identifier: GPL-3.0-or-later
"""Parent <-> child synchronisation for ``create`` and ``exec`` (runc ``libcontainer/sync.go``).

Two ``O_CLOEXEC`` pipes: parent->child and child->parent. Every message is one ``write`` of a 5-byte
header (type, payload length) and a JSON payload, so it is atomic up to ``PIPE_BUF``. Both sides wait
with a timeout and treat EOF as "the other side died", so a failing child is never a silent hang.

``create``::

    parent (BerthRuntime.create)          intermediate C1 (fork)               init (C1, or C2 when a PID
    ----------------------------          ----------------------               namespace needs a fork)
    validate, state dir, exec.fifo,
    cgroup create + apply
    fork ------------------------------>  stdio, read cgroup mounts
    cgroup.add_pid(C1)
    GO ---------------------------------> setns() into namespaces given by path
                                          unshare(CLONE_NEWUSER) when asked
                <-----------------------  USERNS_READY                        (only with a new user ns)
    write uid_map / gid_map
    MAPPINGS_DONE ----------------------> setresuid(0), unshare(mnt, uts, ipc, net, cgroup, pid)
                                          fork (PID namespace) -------------> waits for C1 to exit
                <-----------------------  PID {"pid": <host pid of init>}
    reap C1                               _exit(0)
                                                                            rootfs mounts, devices
                <-------------------------------------------------------   HOOKS    (prestart/createRuntime)
    run the hooks, HOOKS_DONE ------------------------------------------>   createContainer hooks,
                                                                            pivot_root, ..., caps
                <-------------------------------------------------------   CREATED
    state.json, pid file, return pid                                        blocks opening exec.fifo
                                                                            until ``start`` reads it
    any step:   <-----------------------  ERROR {"step", "message", "errno"}, then _exit(1)

    ``start`` (BerthRuntime.start)                                          init, blocked on exec.fifo
    open exec.fifo for reading ------------------------------------------> write "0", keep the fd
    read "0", unlink exec.fifo                                              (close-on-exec) open;
    read on to EOF  <------------------------------------------------------ execve closes it: started
                    <------------------------------------------------------ or the reason it failed
                                                                            (exec "x": ...), _exit(127)

``exec`` uses the same messages: the child joins the namespaces of the container's init, forks into
its PID namespace, sends ``PID``; the parent joins it to the cgroup and sends ``GO``; the process then
sets itself up and execs. A successful ``execve`` closes the pipe (EOF without ``ERROR`` = success).

The JSON codec (:func:`loads`, :func:`dumps`) is ``core/cjson.py``'s: the C scanner/encoder of ``_json``
without ``import json`` (``re``: ~10 ms on the test machines), which the start path cannot afford.
"""
from __future__ import annotations

import os
import select
import struct
from time import monotonic as _monotonic

from ..core.cjson import dumps, loads

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t  # noqa: F401


class Msg:
    """Message types (plain ints: the ``enum`` module costs ~8 ms to import on the start path)."""

    GO = 1
    USERNS_READY = 2
    MAPPINGS_DONE = 3
    PID = 4
    HOOKS = 5
    HOOKS_DONE = 6
    CREATED = 7
    ERROR = 8

    NAMES = {1: "GO", 2: "USERNS_READY", 3: "MAPPINGS_DONE", 4: "PID", 5: "HOOKS", 6: "HOOKS_DONE",
             7: "CREATED", 8: "ERROR"}


_HEADER = struct.Struct("=BI")
#: Largest payload sent in one message (keeps the whole write atomic on a pipe).
MAX_PAYLOAD = 4096 - _HEADER.size


class SyncError(Exception):
    """The other side went away, timed out or broke the protocol. ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChildError(Exception):
    """The child reported a failure: ``step`` (what it was doing), ``message``, ``errno``."""

    def __init__(self, payload: dict) -> None:
        self.step = str(payload.get("step") or "init")
        self.message = str(payload.get("message") or "unknown error")
        self.errno = payload.get("errno")
        super().__init__(f"{self.step}: {self.message}")


# ---------------------------------------------------------------- channel
class Channel:
    """One end of the protocol: read from *rfd*, write to *wfd*."""

    def __init__(self, rfd: int, wfd: int, timeout: float = 60.0) -> None:
        self.rfd = rfd
        self.wfd = wfd
        self.timeout = timeout
        self._buf = b""
        #: The container's root as the host sees it (before pivot_root): shown as ``/`` in errors, so that
        #: a message names the container's path, not the engine's data root.
        self.hide = ""

    def send(self, kind: int, payload: t.Any = None) -> None:
        body = b"" if payload is None else dumps(payload).encode()
        if len(body) > MAX_PAYLOAD:
            raise SyncError(f"message {Msg.NAMES.get(kind, kind)} too large ({len(body)} bytes)")
        data = _HEADER.pack(kind, len(body)) + body
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.wfd, view)
            except InterruptedError:
                continue
            except BrokenPipeError:
                raise SyncError(f"sending {Msg.NAMES.get(kind, kind)}: the other side has exited") from None
            view = view[n:]

    def send_error(self, step: str, exc: BaseException) -> None:
        """Report *exc* (raised while doing *step*) to the parent; never raises."""
        if isinstance(exc, OSError) and exc.errno is not None:
            msg = exc.strerror or str(exc)
            if exc.filename and str(exc.filename) not in msg:
                msg = f"{msg}: {exc.filename}"
            payload = {"step": step, "message": msg, "errno": exc.errno}
        else:
            payload = {"step": step, "message": str(exc) or type(exc).__name__, "errno": None}
        if self.hide:
            prefix = self.hide.rstrip("/") + "/"
            payload["step"] = payload["step"].replace(prefix, "/")
            payload["message"] = payload["message"].replace(prefix, "/")
        while True:
            try:
                self.send(Msg.ERROR, payload)
                return
            except SyncError:
                if len(payload["message"]) <= 200:
                    return
                payload["message"] = payload["message"][:200] + "..."
            except Exception:  # noqa: BLE001  (the child is about to exit anyway)
                return

    def _read_exact(self, n: int, deadline: float | None, waiting_for: str, timeout: float = 0.0) -> bytes | None:
        poller = None
        while len(self._buf) < n:
            if deadline is not None:
                if poller is None:
                    poller = select.poll()
                    poller.register(self.rfd, select.POLLIN | select.POLLHUP | select.POLLERR)
                left = deadline - _monotonic()
                if left <= 0 or not poller.poll(max(1, int(left * 1000))):
                    if deadline - _monotonic() <= 0:
                        raise SyncError(f"timed out after {timeout:g}s waiting for {waiting_for}")
                    continue
            try:
                chunk = os.read(self.rfd, 65536)
            except InterruptedError:
                continue
            if not chunk:
                return None
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def recv(self, waiting_for: str = "a message", timeout: float | None = -1.0) -> tuple[int, t.Any]:
        """Next message as ``(kind, payload)``; raises SyncError on EOF or timeout.

        *timeout*: seconds, ``None`` for no limit, negative for the channel default.
        """
        if timeout is not None and timeout < 0:
            timeout = self.timeout
        deadline = None if timeout is None else _monotonic() + timeout
        head = self._read_exact(_HEADER.size, deadline, waiting_for, timeout or 0.0)
        if head is None:
            raise SyncError(f"the other side exited while we waited for {waiting_for}")
        kind, length = _HEADER.unpack(head)
        body = self._read_exact(length, deadline, waiting_for, timeout or 0.0) if length else b""
        if body is None:
            raise SyncError(f"truncated message while waiting for {waiting_for}")
        return kind, (loads(body) if body else None)

    def expect(self, kind: int, timeout: float | None = -1.0) -> t.Any:
        """Receive one message of *kind*; an ERROR message raises ChildError."""
        name = Msg.NAMES.get(kind, str(kind))
        got, payload = self.recv(name, timeout)
        if got == Msg.ERROR:
            raise ChildError(payload or {})
        if got != kind:
            raise SyncError(f"protocol error: expected {name}, got {Msg.NAMES.get(got, got)}")
        return payload

    def wait_eof(self, timeout: float | None = -1.0) -> None:
        """Wait until the other side closes its end (e.g. a successful execve); ERROR raises ChildError."""
        try:
            got, payload = self.recv("exec", timeout)
        except SyncError as exc:
            if "exited while" in exc.reason:
                return
            raise
        if got == Msg.ERROR:
            raise ChildError(payload or {})
        raise SyncError(f"protocol error: unexpected {Msg.NAMES.get(got, got)} before exec")

    def close(self) -> None:
        for fd in (self.rfd, self.wfd):
            try:
                os.close(fd)
            except OSError:
                pass


class Pipes:
    """The two pipes of one exchange, created before ``fork()``."""

    def __init__(self) -> None:
        self.p2c = os.pipe2(os.O_CLOEXEC)
        self.c2p = os.pipe2(os.O_CLOEXEC)

    def parent(self, timeout: float = 60.0) -> Channel:
        """Call in the parent after fork: closes the child's ends."""
        os.close(self.p2c[0])
        os.close(self.c2p[1])
        return Channel(self.c2p[0], self.p2c[1], timeout)

    def child(self, timeout: float = 60.0) -> Channel:
        """Call in the child after fork: closes the parent's ends."""
        os.close(self.p2c[1])
        os.close(self.c2p[0])
        return Channel(self.p2c[0], self.c2p[1], timeout)

    def close_all(self) -> None:
        for fd in (*self.p2c, *self.c2p):
            try:
                os.close(fd)
            except OSError:
                pass

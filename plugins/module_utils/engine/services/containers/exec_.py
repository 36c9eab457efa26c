# SPDX-License-Identifier: GPL-3.0-or-later
"""``exec`` and ``attach``: the caller's stdio to a process in a running container.

The guard comes first (:func:`can_exec`, :func:`can_attach`): both need a running container, and say
so with Docker's messages otherwise.
"""
from __future__ import annotations

import os
import typing as t

from ...core import fs
from ...errors import Conflict, EngineError, InvalidOption
from ...options import container as copts
from ...supervisor import ContainerState, ContainerStatus
from . import _common, records

if t.TYPE_CHECKING:
    from .records import Stdio
    from .service import ContainerService


def can_exec(state: ContainerState, cid: str) -> None:
    """Conflict unless the container runs (a paused one is told to unpause first)."""
    if state.status is not ContainerStatus.RUNNING:
        if state.status is ContainerStatus.PAUSED:
            raise Conflict(f"Container {cid} is paused, unpause the container before exec")
        raise Conflict(f"Container {cid} is not running")


def can_attach(state: ContainerState) -> None:
    if state.status is not ContainerStatus.RUNNING:
        raise Conflict(f"You cannot attach to a {state.status.value} container, start it first")


def exec_(
    svc: ContainerService,
    name: str,
    command: t.Sequence[str],
    user: str | None = None,
    env: t.Mapping[str, str] | None = None,
    workdir: str | None = None,
    tty: bool = False,
    detach: bool = False,
    privileged: bool = False,
    stdio: Stdio | None = None,
) -> int:
    """Run *command* in the running container; returns its exit code (0 when detached)."""
    from ...supervisor import spec as specmod

    cid = records.require(svc, name)
    record = records.load(svc, cid)
    can_exec(records.state(svc, cid), cid)
    if not command:
        raise InvalidOption("command", list(command), "no command specified")
    for field, value in (("command", list(command)), ("env", dict(env or {})), ("user", user),
                         ("workdir", workdir)):
        copts.check_no_nul(value, field)
    spec = fs.read_json(os.path.join(svc.layout.bundle(cid), "config.json")) or {}
    rootfs = svc.layout.rootfs(cid)
    process = specmod.exec_process(
        spec,
        list(command),
        user=user,
        env=dict(env or {}),
        workdir=workdir,
        tty=tty,
        privileged=privileged,
        user_db=lambda kind: _common.read_in_rootfs(rootfs, f"/etc/{kind}"),
    )
    from ...runtime import set_subreaper

    runtime = _common.oci_runtime(svc, record.runtime)
    # The exec'd process may be a grandchild (PID namespace join, external runtimes):
    # become its reaper so that waitpid() sees its exit status.
    set_subreaper()
    if tty and not detach:
        return _exec_tty(runtime, cid, process, stdio)
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        if stdio is not None and not detach:
            fds = (stdio.stdin if stdio.stdin is not None else devnull, stdio.stdout, stdio.stderr)
        else:
            fds = (devnull, devnull, devnull)
        pid = runtime.exec(cid, process, stdio=fds, detach=detach)
    finally:
        os.close(devnull)
    if detach:
        return 0
    return _wait_child(pid)


def _exec_tty(runtime: t.Any, cid: str, process: dict[str, t.Any], stdio: Stdio | None) -> int:
    """``exec -t``: a pty from the runtime (console socket), copied to and from the caller's fds."""
    import signal as _sig

    from ...runtime import ConsoleProxy

    proxy = ConsoleProxy(stdio.stdin if stdio else None, stdio.stdout if stdio else os.open(os.devnull, os.O_WRONLY))
    old = None
    try:
        pid = runtime.exec(cid, process, console_socket=proxy.path)
        proxy.accept()
        old = _sig.signal(_sig.SIGWINCH, lambda *_: proxy.copy_winsize())
        status = proxy.run(pid)
    finally:
        if old is not None:
            _sig.signal(_sig.SIGWINCH, old)
        proxy.close()
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _wait_child(pid: int) -> int:
    """Exit code of our child (or orphaned descendant) *pid*: 128+N when killed by signal N."""
    while True:
        try:
            _got, status = os.waitpid(pid, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            raise EngineError(f"exec process {pid} is not a child of this process; its exit code is lost") from None
        if os.WIFSIGNALED(status):
            return 128 + os.WTERMSIG(status)
        return os.WEXITSTATUS(status)


def attach(svc: ContainerService, name: str, stdio: Stdio) -> int | None:
    """``docker attach``: live output to *stdio*, its stdin to the container; returns the exit code, or None
    when the caller typed its detach keys (a tty container; the container runs on)."""
    import selectors

    from ...supervisor import attach_connect
    from .stop import wait

    cid = records.require(svc, name)
    record = records.load(svc, cid)
    can_attach(records.state(svc, cid))
    sock = attach_connect(svc.layout, cid, timeout=None)
    tty = bool(record.options.get("tty"))
    keys = stdio.replace(tty=tty).escape_keys()
    proxy = None
    if keys:
        from ...core.escape import EscapeProxy

        proxy = EscapeProxy(keys)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    if stdio.stdin is not None:
        sel.register(stdio.stdin, selectors.EVENT_READ)
    buf = b""
    try:
        while True:
            for key, dummy in sel.select():
                if key.fileobj is sock:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return wait(svc, cid)
                    if tty:
                        _write_all(stdio.stdout, chunk)
                        continue
                    buf += chunk
                    while len(buf) >= 8:
                        size = int.from_bytes(buf[4:8], "big")
                        if len(buf) < 8 + size:
                            break
                        _write_all(stdio.stderr if buf[0] == 2 else stdio.stdout, buf[8 : 8 + size])
                        buf = buf[8 + size :]
                else:
                    data = os.read(key.fd, 65536)
                    if not data:
                        sel.unregister(key.fileobj)
                        continue
                    detached = False
                    if proxy is not None:
                        data, detached = proxy.feed(data)
                    if data:
                        sock.sendall(data)
                    if detached:
                        return None
    finally:
        sel.close()
        sock.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BrokenPipeError:
            return
        view = view[n:]

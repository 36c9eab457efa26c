# SPDX-License-Identifier: GPL-3.0-or-later
"""A process with a terminal: receive its pty master over a console socket (runc's protocol) and copy
it to and from the caller's file descriptors.  Used by ``berth-runtime run/exec -t`` and ``docker exec -t``.
"""
from __future__ import annotations

import os


class ConsoleProxy:
    """``run``/``exec`` with a terminal and no --console-socket: receive the pty master ourselves and
    copy it to and from our stdio (raw mode when our stdin is a terminal)."""

    def __init__(self, stdin_fd: int | None = 0, stdout_fd: int = 1) -> None:
        import socket
        import tempfile

        self.stdin_fd = stdin_fd
        self.stdout_fd = stdout_fd
        self._socket = socket
        self._dir = tempfile.mkdtemp(prefix="berth-runtime-console-")
        self.path = os.path.join(self._dir, "console.sock")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        self._listener.listen(1)
        self.master: int | None = None

    def accept(self) -> None:
        conn, dummy = self._listener.accept()
        with conn:
            _msg, fds, _flags, _addr = self._socket.recv_fds(conn, 4096, 1)
        if not fds:
            raise OSError(5, "no pty master received on the console socket")
        self.master = fds[0]

    def run(self, pid: int) -> int:
        import select

        if self.master is None:
            raise AssertionError('self.master is not None')
        master = self.master
        stdin = self.stdin_fd
        stdin_tty = stdin is not None and os.isatty(stdin)
        saved = None
        if stdin_tty:
            import termios
            import tty

            saved = termios.tcgetattr(stdin)
            tty.setraw(stdin)
            self.copy_winsize()
        status = None
        try:
            fds = [master] if stdin is None else [master, stdin]
            while True:
                try:
                    ready, dummy, dummy = select.select(fds, [], [], 0.1)
                except InterruptedError:
                    continue
                if master in ready:
                    try:
                        data = os.read(master, 65536)
                    except OSError:
                        data = b""
                    if data:
                        write_all(self.stdout_fd, data)
                    else:
                        fds.remove(master)
                if stdin is not None and stdin in ready:
                    data = os.read(stdin, 65536)
                    if data:
                        write_all(master, data)
                    else:
                        fds.remove(stdin)
                if status is None:
                    got, st = reap_if_done(pid)
                    if got:
                        status = st
                if status is not None and master not in fds:
                    break
                if status is not None and not ready:
                    break
        finally:
            if saved is not None:
                import termios

                termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
        return status if status is not None else wait_for(pid)

    def copy_winsize(self) -> None:
        """Give the pty the size of our terminal (call it on SIGWINCH too)."""
        if self.master is None or self.stdin_fd is None:
            return
        try:
            import fcntl
            import termios

            size = fcntl.ioctl(self.stdin_fd, termios.TIOCGWINSZ, b"\0" * 8)
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, size)
        except OSError:
            pass

    def close(self) -> None:
        if self.master is not None:
            os.close(self.master)
            self.master = None
        self._listener.close()
        try:
            os.unlink(self.path)
            os.rmdir(self._dir)
        except OSError:
            pass


def reap_if_done(pid: int) -> tuple[bool, int]:
    """Reap exited children (we are a subreaper); (True, status) once *pid* is among them."""
    while True:
        try:
            got, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True, 255 << 8
        if got == 0:
            return False, 0
        if got == pid:
            return True, status


def wait_for(pid: int) -> int:
    """Reap children (we are a subreaper) until *pid* exits; returns its wait status."""
    while True:
        try:
            got, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 255 << 8
        if got == pid:
            return status


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]

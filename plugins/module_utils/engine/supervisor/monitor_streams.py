# SPDX-License-Identifier: GPL-3.0-or-later
"""The monitor's streams (a part of :class:`monitor.Monitor`): the container's output to the log, the
attached caller and attach-socket clients; stdin from them to the container; the console (pty master)
and its size.

A mixin: the state it uses is set up in ``Monitor.__init__``.
"""
from __future__ import annotations

import os
import select
import sys

from .fds import ATTACH_FD, CLIENT_SEND_TIMEOUT, CONSOLE_TIMEOUT, INPUT_BUFFER_MAX
from .plumbing import _terminal_size, _write_all, _write_event

try:
    import _socket as _sock  # socket.py imports enum and selectors (~1.2 MB per monitor)
except ImportError:  # pragma: no cover
    import socket as _sock  # type: ignore[no-redef]


class Streams:
    """Output, stdin, attach clients and the console of :class:`monitor.Monitor`."""

    # ------------------------------------------------------------------ output
    def _on_output(self, fd: int, _events: int) -> None:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the pty has no slave any more
            data = b""
        if data:
            self._deliver(self.outputs[fd], data)
        else:
            self._close_output(fd)

    def _on_master(self, fd: int, events: int) -> None:
        if events & select.POLLOUT:
            self._flush_stdin()
        if events & (select.POLLIN | select.POLLHUP | select.POLLERR):
            if fd in self.outputs:
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    return
                except OSError:
                    data = b""
                if data:
                    self._deliver("stdout", data)
                else:
                    self._close_output(fd)

    def _close_output(self, fd: int) -> None:
        self.outputs.pop(fd, None)
        if fd == self.master:
            self._unregister(fd)
            self.stdin_w = -1
            os.close(fd)
            self.master = -1
            return
        self._unregister(fd)
        os.close(fd)

    def _deliver(self, stream: str, data: bytes) -> None:
        if self.log is not None:
            try:
                self.log.write(stream, data)
            except OSError:
                pass  # a full disk must not stop the container: output still reaches attached callers
        fd = self.attach_err if stream == "stderr" and not self.tty else self.attach_out
        if fd >= 0:
            try:
                _write_all(fd, data)
            except OSError:
                self._drop_attach()
        if self.clients:
            frame = data if self.tty else bytes((2 if stream == "stderr" else 1, 0, 0, 0)) + \
                len(data).to_bytes(4, "big") + data
            for cfd, sock in list(self.clients.items()):
                try:
                    sock.sendall(frame)
                except OSError:
                    self._drop_client(cfd)

    # ------------------------------------------------------------------ stdin
    def _on_attach_stdin(self, fd: int, _events: int) -> None:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if data and self.escape is not None:
            data, detached = self.escape.feed(data)
            if data:
                self._feed_stdin(data)
            if detached:
                self._detach_caller()
            return
        if data:
            self._feed_stdin(data)
            return
        self._unregister(fd)
        if not self.tty:  # Docker's StdinOnce for an attached run: the container sees EOF too
            self.close_stdin_when_flushed = True
            self._flush_stdin()

    def _feed_stdin(self, data: bytes) -> None:
        if self.stdin_w < 0:
            return
        if len(self.stdin_buf) + len(data) > INPUT_BUFFER_MAX:
            data = data[:max(0, INPUT_BUFFER_MAX - len(self.stdin_buf))]  # the container does not read: drop
        self.stdin_buf += data
        self._flush_stdin()

    def _flush_stdin(self) -> None:
        fd = self.stdin_w
        if fd < 0:
            return
        if self.stdin_buf:
            try:
                n = os.write(fd, self.stdin_buf)
                del self.stdin_buf[:n]
            except BlockingIOError:
                pass
            except OSError:
                self.stdin_buf.clear()
                self._close_stdin()
                return
        if fd == self.master:
            self._modify(fd, select.POLLIN | (select.POLLOUT if self.stdin_buf else 0))
            return
        if self.stdin_buf:
            if fd not in self.handlers:
                self._register(fd, select.POLLOUT, lambda _fd, _ev: self._flush_stdin())
        else:
            self._unregister(fd)
            if self.close_stdin_when_flushed:
                self._close_stdin()

    def _close_stdin(self) -> None:
        fd = self.stdin_w
        if fd < 0 or fd == self.master:
            return
        self._unregister(fd)
        os.close(fd)
        self.stdin_w = -1
        self.stdin_buf.clear()

    # ------------------------------------------------------------------ attach socket
    def _on_listener(self, fd: int, _events: int) -> None:
        try:
            cfd, _addr = self.listener._accept()
        except OSError:
            return
        sock = _sock.socket(_sock.AF_UNIX, _sock.SOCK_STREAM, 0, cfd)
        os.set_inheritable(cfd, False)
        sock.settimeout(CLIENT_SEND_TIMEOUT)
        self.clients[cfd] = sock
        self._register(cfd, select.POLLIN, self._on_client)

    def _on_client(self, fd: int, _events: int) -> None:
        sock = self.clients.get(fd)
        if sock is None:
            return
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop_client(fd)
        elif self.settings["open_stdin"]:
            self._feed_stdin(data)

    def _drop_client(self, fd: int) -> None:
        sock = self.clients.pop(fd, None)
        if sock is not None:
            self._unregister(fd)
            sock.close()

    def _detach_caller(self) -> None:
        """The attached caller typed its detach keys: it returns (``detached``), the container runs on."""
        _write_event(self.status_fd, {"event": "detached"})
        if self.status_fd >= 0:
            os.close(self.status_fd)
            self.status_fd = -1
        self._drop_attach()

    def _drop_attach(self) -> None:
        """The attached caller went away (its terminal or pipe is gone)."""
        for name in ("attach_in", "attach_out", "attach_err"):
            fd = getattr(self, name)
            if fd >= 0:
                self._unregister(fd)
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, name, -1)

    # ------------------------------------------------------------------ tty size
    def _caller_size(self) -> tuple[int, int] | None:
        """(rows, columns) of the attached caller's terminal, for a tty container."""
        if not self.tty:
            return None
        return _terminal_size((self.attach_in, self.attach_out))

    def _resize(self) -> None:
        """SIGWINCH: copy the caller's terminal size to the container's pty."""
        size = self._caller_size() if self.master >= 0 else None
        if size is None:
            return
        import fcntl
        import termios

        raw = b"".join(n.to_bytes(2, sys.byteorder) for n in (size[0], size[1], 0, 0))
        try:
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, raw)
        except OSError:
            pass

    def _listen(self) -> None:
        """Serve the attach socket spawn bound (the starter renamed it into place)."""
        if ATTACH_FD not in self.given:
            return
        sock = _sock.socket(_sock.AF_UNIX, _sock.SOCK_STREAM, 0, ATTACH_FD)
        sock.setblocking(False)
        self.listener = sock
        self._register(sock.fileno(), select.POLLIN, self._on_listener)

    def _receive_master(self) -> int:
        """Accept the runtime's connection on the console socket and take the pty master (SCM_RIGHTS)."""
        poller = select.poll()
        poller.register(self.console.fileno(), select.POLLIN)
        if not poller.poll(int(CONSOLE_TIMEOUT * 1000)):
            raise OSError(110, f"no pty master arrived on the console socket within {CONSOLE_TIMEOUT:g}s")
        fd, _addr = self.console._accept()
        conn = _sock.socket(_sock.AF_UNIX, _sock.SOCK_STREAM, 0, fd)
        try:
            conn.settimeout(CONSOLE_TIMEOUT)
            _msg, ancdata, _flags, _addr = conn.recvmsg(4096, _sock.CMSG_SPACE(4 * 8))
        finally:
            conn.close()
        got = []
        for level, kind, data in ancdata:
            if level == _sock.SOL_SOCKET and kind == _sock.SCM_RIGHTS:
                got += [int.from_bytes(data[i:i + 4], sys.byteorder) for i in range(0, len(data) - 3, 4)]
        if not got:
            raise OSError(71, "the console socket message carried no file descriptor")
        for extra in got[1:]:
            os.close(extra)
        os.set_inheritable(got[0], False)
        return got[0]

# SPDX-License-Identifier: GPL-3.0-or-later
"""A real HTTP forward proxy on 127.0.0.1 for tests: absolute-URI requests and ``CONNECT`` tunnels.

    with ForwardProxy() as proxy:             # proxy.url == "http://127.0.0.1:PORT"
        ...                                   # point HTTP_PROXY/HTTPS_PROXY or daemon.json "proxies" at it
        proxy.seen                            # ["GET http://0.0.0.0:5000/v2/", "CONNECT 0.0.0.0:5001", ...]

It forwards to loopback addresses only (127.0.0.0/8, 0.0.0.0, ::1) and refuses anything else with 403,
so a test can never send traffic off the machine through it. ``auth=("user", "pw")`` demands
``Proxy-Authorization: Basic`` (407 without it). Nothing here imports the engine.
"""
from __future__ import annotations

import base64
import http.client
import http.server
import ipaddress
import select
import socket
import socketserver
import threading
import typing as t
import urllib.parse

_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
        "trailer", "transfer-encoding", "upgrade"}


def _loopback(host: str) -> bool:
    try:
        addr = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host == "localhost"
    return addr.is_loopback or addr.is_unspecified


class ForwardProxy:
    def __init__(self, auth: tuple[str, str] | None = None) -> None:
        self.auth = auth
        self.seen: list[str] = []
        self.lock = threading.Lock()
        self.port = 0
        self._server: t.Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def record(self, line: str) -> None:
        with self.lock:
            self.seen.append(line)

    def __enter__(self) -> "ForwardProxy":
        proxy = self

        class Handler(_Handler):
            owner = proxy

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="forward-proxy", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: t.Any) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    owner: ForwardProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: t.Any) -> None:
        pass

    def _authorized(self) -> bool:
        if self.owner.auth is None:
            return True
        want = "Basic " + base64.b64encode(":".join(self.owner.auth).encode()).decode()
        if self.headers.get("Proxy-Authorization") == want:
            return True
        self.send_response(407)
        self.send_header("Proxy-Authenticate", 'Basic realm="test proxy"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def _refuse(self, status: int, why: str) -> None:
        body = why.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_CONNECT(self) -> None:  # noqa: N802
        self.owner.record(f"CONNECT {self.path}")
        if not self._authorized():
            return
        host, _colon, port = self.path.rpartition(":")
        if not _loopback(host):
            self._refuse(403, "loopback only")
            return
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        except OSError as exc:
            self._refuse(502, str(exc))
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        conns = [self.connection, upstream]
        try:
            while True:
                ready, _w, _x = select.select(conns, [], [], 30)
                if not ready:
                    break
                for s in ready:
                    data = s.recv(1 << 16)
                    if not data:
                        return
                    (upstream if s is self.connection else self.connection).sendall(data)
        except OSError:
            pass
        finally:
            upstream.close()
            self.close_connection = True

    def _forward(self) -> None:
        self.owner.record(f"{self.command} {self.path}")
        if not self._authorized():
            return
        url = urllib.parse.urlsplit(self.path)
        if url.scheme != "http" or not url.hostname:
            self._refuse(400, "absolute http:// URI expected")
            return
        if not _loopback(url.hostname):
            self._refuse(403, "loopback only")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=30)
        try:
            path = (url.path or "/") + (f"?{url.query}" if url.query else "")
            conn.request(self.command, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as exc:
            self._refuse(502, str(exc))
            return
        finally:
            conn.close()
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in _HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

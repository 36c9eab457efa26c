# SPDX-License-Identifier: GPL-3.0-or-later
"""A real registry on loopback for tests, and a fault-injecting proxy to put in front of it.

``Registry`` runs Debian's ``docker-registry serve`` (github.com/docker/distribution 2.8) with its
storage in a temporary directory::

    with Registry() as reg:                         # plain HTTP
        reg.host                                    # "127.0.0.1:PORT" (insecure by default, as in dockerd)
        reg.secure_host                             # "0.0.0.0:PORT": the same server, secure by default
    with Registry(htpasswd={"berth": "pw"}) as reg:  # basic auth (bcrypt via htpasswd -Bbn)
        reg.username, reg.password
    with Registry(tls=True) as reg:                 # HTTPS, cert signed by a throw-away CA
        reg.ca_path                                 # trust this (certs.d/<host>/ca.crt)
    with Registry(tls=True, client_auth=True) as reg:
        reg.client_cert, reg.client_key             # the registry demands a client certificate

``FlakyProxy`` is a small threaded HTTP proxy in front of a plain-HTTP upstream that can drop
connections, answer 503, cut blob bodies mid-way, ignore ``Range``, redirect blobs to the upstream
(another host:port, like a CDN), enforce Bearer token auth with its own token endpoint, and serve
canned responses (e.g. a schema 1 manifest). It records every request it saw.

Nothing here imports the engine.
"""
from __future__ import annotations

import base64
import dataclasses
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import typing as t

from . import require_tools, run

if t.TYPE_CHECKING:
    import http.client


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_tls_files(directory: str, hosts: t.Sequence[str] = ("127.0.0.1", "localhost", "0.0.0.0")) -> dict[str, str]:
    """A throw-away CA, a server certificate for *hosts* (subjectAltName) and a client certificate.

    Returns paths: ca_cert, ca_key, server_cert, server_key, client_cert, client_key.
    Uses openssl (EC P-256 keys, fast to make).
    """
    os.makedirs(directory, exist_ok=True)
    p = {k: os.path.join(directory, v) for k, v in {
        "ca_cert": "ca.crt", "ca_key": "ca.key",
        "server_cert": "server.crt", "server_key": "server.key",
        "client_cert": "client.cert", "client_key": "client.key",
    }.items()}
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run(["openssl", "req", "-x509", *ec, "-keyout", p["ca_key"], "-out", p["ca_cert"], "-days", "7",
         "-subj", "/CN=berth test CA"])
    san = ",".join(("IP:" if h.replace(".", "").isdigit() or ":" in h else "DNS:") + h for h in hosts)
    for role, usage in (("server", "serverAuth"), ("client", "clientAuth")):
        csr = os.path.join(directory, f"{role}.csr")
        ext = os.path.join(directory, f"{role}.ext")
        subj = f"/CN={hosts[0]}" if role == "server" else "/CN=berth-test-client"
        run(["openssl", "req", "-new", *ec, "-keyout", p[f"{role}_key"], "-out", csr, "-subj", subj])
        with open(ext, "w") as fh:
            fh.write("basicConstraints=CA:FALSE\n")
            fh.write(f"extendedKeyUsage={usage}\n")
            if role == "server":
                fh.write(f"subjectAltName={san}\n")
        run(["openssl", "x509", "-req", "-in", csr, "-CA", p["ca_cert"], "-CAkey", p["ca_key"],
             "-CAcreateserial", "-out", p[f"{role}_cert"], "-days", "7", "-extfile", ext])
    for k in ("ca_key", "server_key", "client_key"):
        os.chmod(p[k], 0o600)
    return p


class Registry:
    """``docker-registry serve`` on a free 127.0.0.1 port; a context manager.

    Attributes once started: ``host`` ("127.0.0.1:PORT"), ``port``, ``url`` ("http(s)://host"),
    ``storage`` (its filesystem root), ``workdir``, ``log_path``; with ``tls=True`` also ``ca_path``;
    with ``client_auth=True`` also ``client_cert``/``client_key``; with ``htpasswd`` also
    ``username``/``password`` (the first entry) and ``users``.
    """

    def __init__(
        self,
        htpasswd: t.Mapping[str, str] | None = None,
        tls: bool = False,
        client_auth: bool = False,
        workdir: str | None = None,
        start_timeout: float = 20.0,
    ) -> None:
        self.users = dict(htpasswd or {})
        self.tls = tls or client_auth
        self.client_auth = client_auth
        self.start_timeout = start_timeout
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="berth-registry-")
        self.storage = os.path.join(self.workdir, "storage")
        self.log_path = os.path.join(self.workdir, "registry.log")
        self.config_path = os.path.join(self.workdir, "config.yml")
        self.port = 0
        self.ca_path: str | None = None
        self.client_cert: str | None = None
        self.client_key: str | None = None
        self._tls_files: dict[str, str] = {}
        self._proc: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ properties
    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def secure_host(self) -> str:
        """The same server under a name outside dockerd's default insecure CIDRs (127.0.0.0/8, ::1/128).

        Linux connects 0.0.0.0 to the local host, so the traffic stays on loopback, while the engine treats
        the registry as secure: TLS verified, no plain-HTTP fallback. The TLS certificate names it too.
        """
        return f"0.0.0.0:{self.port}"

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def username(self) -> str | None:
        return next(iter(self.users), None)

    @property
    def password(self) -> str | None:
        return self.users[self.username] if self.username else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "Registry":
        return self.start()

    def __exit__(self, *exc: t.Any) -> None:
        self.stop()

    def start(self) -> "Registry":
        require_tools("docker-registry", why="a test registry")
        if self.users:
            require_tools("htpasswd", why="a registry with basic auth")
        if self.tls:
            require_tools("openssl", why="a registry with TLS")
        os.makedirs(self.storage, exist_ok=True)
        if self.tls and not self._tls_files:
            self._tls_files = make_tls_files(os.path.join(self.workdir, "tls"))
            self.ca_path = self._tls_files["ca_cert"]
            self.client_cert = self._tls_files["client_cert"]
            self.client_key = self._tls_files["client_key"]
        if self.users:
            lines = [run(["htpasswd", "-Bbn", u, p]).stdout.decode().strip() for u, p in self.users.items()]
            with open(os.path.join(self.workdir, "htpasswd"), "w") as fh:
                fh.write("\n".join(lines) + "\n")
        last_log = ""
        for _attempt in range(5):
            self.port = free_port()
            self._write_config()
            log = open(self.log_path, "ab")
            try:
                self._proc = subprocess.Popen(
                    ["docker-registry", "serve", self.config_path],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                )
            finally:
                log.close()
            if self._wait_ready():
                return self
            last_log = self._log_tail()
            self.stop(remove=False)
            if "address already in use" not in last_log:
                break
        raise RuntimeError(f"docker-registry did not start on {self.host}:\n{last_log}")

    def stop(self, remove: bool = True) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(5)
        elif proc is not None:
            proc.wait()
        if remove and self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _write_config(self) -> None:
        cfg: dict[str, t.Any] = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": self.storage},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": self.host, "secret": base64.b16encode(os.urandom(16)).decode()},
        }
        if self.tls:
            cfg["http"]["tls"] = {
                "certificate": self._tls_files["server_cert"],
                "key": self._tls_files["server_key"],
            }
            if self.client_auth:
                cfg["http"]["tls"]["clientcas"] = [self._tls_files["ca_cert"]]
        if self.users:
            cfg["auth"] = {"htpasswd": {"realm": "berth-test", "path": os.path.join(self.workdir, "htpasswd")}}
        with open(self.config_path, "w") as fh:
            json.dump(cfg, fh, indent=2)  # JSON is valid YAML

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False
            try:
                status, _h, _b = self.request("GET", "/v2/", auth=False, timeout=1.0)
                if status in (200, 401):
                    return True
            except OSError:
                pass
            time.sleep(0.03)
        return False

    def _log_tail(self, n: int = 4000) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                return fh.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    # ------------------------------------------------------------------ raw API access for tests
    def ssl_context(self) -> t.Any:
        import ssl

        ctx = ssl.create_default_context(cafile=self.ca_path)
        if self.client_auth and self.client_cert and self.client_key:
            ctx.load_cert_chain(self.client_cert, self.client_key)
        return ctx

    def connection(self, timeout: float = 10.0) -> "http.client.HTTPConnection":
        import http.client

        if self.tls:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=self.ssl_context())
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: t.Mapping[str, str] | None = None,
        auth: bool = True,
        timeout: float = 10.0,
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request straight to the registry (basic auth added when it has users)."""
        hdrs = dict(headers or {})
        if auth and self.users:
            hdrs["Authorization"] = basic_auth(self.username or "", self.password or "")
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def delete_manifest(self, repo: str, digest: str) -> None:
        status, _h, body = self.request("DELETE", f"/v2/{repo}/manifests/{digest}")
        if status not in (202, 404):
            raise RuntimeError(f"DELETE manifest {repo}@{digest}: {status} {body[:200]!r}")

    def put_manifest(self, repo: str, reference: str, raw: bytes, media_type: str) -> str:
        """PUT a manifest or index by tag or digest; return its digest."""
        status, headers, body = self.request(
            "PUT", f"/v2/{repo}/manifests/{reference}", body=raw, headers={"Content-Type": media_type},
        )
        if status != 201:
            raise RuntimeError(f"PUT manifest {repo}:{reference}: {status} {body[:300]!r}")
        return headers.get("docker-content-digest", "")

    def __repr__(self) -> str:
        return f"Registry({self.url}, auth={bool(self.users)}, tls={self.tls})"


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# ====================================================================== FlakyProxy
@dataclasses.dataclass
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    outcome: str = "forwarded"  # forwarded | dropped | 503 | cut | redirected | 401 | token | canned


_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade"}


class FlakyProxy:
    """A threaded HTTP proxy on 127.0.0.1 in front of a plain-HTTP registry, with fault injection.

    * ``fail_first_n``: the first N requests get their connection closed without any response.
    * ``status_5xx_first_n``: the next N requests are answered ``503 Service Unavailable``.
    * ``faults_for``: when set, those two faults only hit requests whose ``METHOD path`` starts with it
      (``"PUT /v2/app/blobs/uploads/"``: only the uploads' closing PUTs).
    * ``cut_blob_after_bytes``: a GET of a blob (200 or 206) sends its headers and only that many
      body bytes, then the connection is closed; ``cut_times`` (default 1) such cuts happen.
    * ``ignore_range``: the ``Range`` header is dropped, so the upstream answers 200 with everything.
    * ``redirect_blobs``: blob GET/HEAD requests are answered ``307`` to the upstream itself
      (another host:port, as a registry that sends blobs to a CDN does).
    * ``token_auth``: a dict user->password; the proxy then demands ``Bearer`` tokens, which it hands
      out at ``<url>/token`` (``{}`` hands them out anonymously). Tokens last ``token_ttl`` seconds;
      ``token_requests`` counts the token fetches; ``token_field`` is ``token`` or ``access_token``.
    * ``canned[(method, path)] = (status, headers, body)`` answers that request without the upstream.

    ``requests`` lists every request seen (:class:`SeenRequest`); counters can be changed while running.
    """

    def __init__(
        self,
        upstream_host: str,
        *,
        fail_first_n: int = 0,
        status_5xx_first_n: int = 0,
        faults_for: str = "",
        cut_blob_after_bytes: int | None = None,
        cut_times: int = 1,
        ignore_range: bool = False,
        redirect_blobs: bool = False,
        token_auth: t.Mapping[str, str] | None = None,
        token_ttl: int = 300,
        token_field: str = "token",
        service: str = "berth-test",
    ) -> None:
        self.upstream_host = upstream_host
        self.fail_left = fail_first_n
        self.status_5xx_left = status_5xx_first_n
        self.faults_for = faults_for
        self.cut_after = cut_blob_after_bytes
        self.cuts_left = cut_times if cut_blob_after_bytes is not None else 0
        self.ignore_range = ignore_range
        self.redirect_blobs = redirect_blobs
        self.token_users = None if token_auth is None else dict(token_auth)
        self.token_ttl = token_ttl
        self.token_field = token_field
        self.service = service
        self.canned: dict[tuple[str, str], tuple[int, dict[str, str], bytes]] = {}
        self.requests: list[SeenRequest] = []
        self.token_requests = 0
        self._tokens: dict[str, tuple[float, str]] = {}  # token -> (expiry, scope)
        self.lock = threading.Lock()
        self._server: t.Any = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def __enter__(self) -> "FlakyProxy":
        return self.start()

    def __exit__(self, *exc: t.Any) -> None:
        self.stop()

    def start(self) -> "FlakyProxy":
        proxy = self

        class Handler(_ProxyHandler):
            pass

        Handler.proxy = proxy
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"flaky-proxy-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def outcomes(self) -> list[str]:
        with self.lock:
            return [r.outcome for r in self.requests]

    def issue_token(self, scope: str) -> str:
        token = base64.urlsafe_b64encode(os.urandom(18)).decode()
        with self.lock:
            self._tokens[token] = (time.monotonic() + self.token_ttl, scope)
        return token

    def token_valid(self, token: str) -> bool:
        with self.lock:
            entry = self._tokens.get(token)
        return entry is not None and entry[0] > time.monotonic()


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    proxy: FlakyProxy

    def log_message(self, format: str, *args: t.Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_GET

    # ---------------------------------------------------------------- helpers
    def _record(self, outcome: str) -> SeenRequest:
        seen = SeenRequest(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, outcome)
        with self.proxy.lock:
            self.proxy.requests.append(seen)
        return seen

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    def _send(self, status: int, headers: t.Mapping[str, str], body: bytes = b"") -> None:
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() not in ("content-length",) and k.lower() not in _HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass

    def _is_blob(self) -> bool:
        return "/blobs/" in self.path and "/uploads/" not in self.path and self.command in ("GET", "HEAD")

    # ---------------------------------------------------------------- main
    def _handle(self) -> None:
        p = self.proxy
        body = self._read_body()
        with p.lock:
            hit = f"{self.command} {self.path}".startswith(p.faults_for)
            drop = hit and p.fail_left > 0
            if drop:
                p.fail_left -= 1
            fail503 = hit and not drop and p.status_5xx_left > 0
            if fail503:
                p.status_5xx_left -= 1
        if drop:
            self._record("dropped")
            self._drop()
            return
        if fail503:
            self._record("503")
            err = json.dumps({"errors": [{"code": "UNAVAILABLE", "message": "injected by FlakyProxy"}]}).encode()
            self._send(503, {"Content-Type": "application/json"}, err)
            return
        if p.token_users is not None:
            if self.path.split("?", 1)[0] == "/token":
                self._token()
                return
            if not self._bearer_ok():
                self._record("401")
                scope = ""
                parts = self.path.split("/")
                if len(parts) > 4 and parts[1] == "v2":
                    kind_at = max(i for i, x in enumerate(parts) if x in ("manifests", "blobs", "tags"))
                    scope = f',scope="repository:{"/".join(parts[2:kind_at])}:pull"'
                chal = f'Bearer realm="{p.url}/token",service="{p.service}"{scope}'
                err = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]})
                self._send(401, {"WWW-Authenticate": chal, "Content-Type": "application/json"}, err.encode())
                return
        canned = p.canned.get((self.command, self.path))
        if canned is not None:
            self._record("canned")
            self._send(canned[0], canned[1], canned[2])
            return
        if p.redirect_blobs and self._is_blob():
            self._record("redirected")
            self._send(307, {"Location": f"http://{p.upstream_host}{self.path}"})
            return
        self._forward(body)

    def _bearer_ok(self) -> bool:
        auth = self.headers.get("Authorization", "")
        if self.path in ("/v2/", "/v2") and not auth:
            return False
        return auth.startswith("Bearer ") and self.proxy.token_valid(auth[7:].strip())

    def _token(self) -> None:
        import urllib.parse

        p = self.proxy
        with p.lock:
            p.token_requests += 1
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        auth = self.headers.get("Authorization", "")
        users = p.token_users or {}
        if auth.startswith("Basic "):
            try:
                user, dummy, pw = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                user, pw = "", None
            if users.get(user) != pw:
                self._record("401")
                self._send(401, {"Content-Type": "application/json"},
                           b'{"details":"incorrect username or password"}')
                return
        elif users:
            self._record("401")
            self._send(401, {"Content-Type": "application/json"}, b'{"details":"authentication required"}')
            return
        scope = " ".join(query.get("scope", []))
        token = p.issue_token(scope)
        self._record("token")
        doc = {p.token_field: token, "expires_in": p.token_ttl}
        self._send(200, {"Content-Type": "application/json"}, json.dumps(doc).encode())

    def _forward(self, body: bytes | None) -> None:
        import http.client

        p = self.proxy
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        if p.token_users is not None:
            headers.pop("Authorization", None)
        if p.ignore_range:
            headers.pop("Range", None)
        if body is not None:
            headers["Content-Length"] = str(len(body))
        up = http.client.HTTPConnection(p.upstream_host, timeout=30)
        try:
            try:
                up.request(self.command, self.path, body=body, headers=headers)
                resp = up.getresponse()
            except OSError as exc:
                self._record("upstream-down")
                self._send(502, {"Content-Type": "text/plain"}, f"upstream: {exc}".encode())
                return
            rheaders = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP]
            length_hdr = resp.getheader("Content-Length")
            cut = False
            if (self.command == "GET" and self._is_blob() and resp.status in (200, 206)
                    and p.cut_after is not None and length_hdr is not None and int(length_hdr) > p.cut_after):
                with p.lock:
                    cut = p.cuts_left > 0
                    if cut:
                        p.cuts_left -= 1
            if self.command == "HEAD" or resp.status in (204, 304):
                self._record("forwarded")
                self.send_response(resp.status)
                for k, v in rheaders:
                    self.send_header(k, v)
                self.end_headers()
                resp.read()
                return
            if length_hdr is None:
                data = resp.read()
                self._record("forwarded")
                self.send_response(resp.status)
                for k, v in rheaders:
                    if k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self._record("cut" if cut else "forwarded")
            self.send_response(resp.status)
            for k, v in rheaders:
                self.send_header(k, v)
            self.end_headers()
            remaining = int(length_hdr)
            budget = p.cut_after if cut else None
            while remaining > 0:
                n = min(65536, remaining)
                if budget is not None:
                    n = min(n, budget)
                    if n <= 0:
                        break
                chunk = resp.read(n)
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)
                if budget is not None:
                    budget -= len(chunk)
            if cut:
                self.wfile.flush()
                self.close_connection = True  # a clean FIN after a short body: the client sees it end early
        finally:
            up.close()

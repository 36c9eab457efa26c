# SPDX-License-Identifier: GPL-3.0-or-later
"""HTTP(S) to registries with the standard library only: TLS policy per host, keep-alive pool, redirects.

The TLS policy follows Docker:

* HTTPS with certificate verification by default (system CAs).
* ``<certs_dir>/<host:port>/*.crt`` are extra CAs for that host; ``*.cert`` + ``*.key`` pairs are client
  certificates (Docker's ``certs.d`` layout).
* A host in ``insecure-registries``: HTTPS without verification, and on a TLS error or a refused
  connection plain HTTP. The scheme that worked is remembered per host.
* An endpoint given with an explicit scheme (a mirror ``http://host:port``) uses that scheme.

Errors come out as :class:`TransportError` (retryable or not, with a message that says what to do);
the client turns them into ``RegistryError`` naming the registry, repository and digest.
``http.client`` and ``ssl`` are imported when the first connection is made.
"""
from __future__ import annotations

import dataclasses
import os
import threading
import typing as t

if t.TYPE_CHECKING:
    import http.client
    import ssl

    from ..config.daemon import DaemonConfig

#: Statuses worth another attempt (the server or something in front of it is struggling).
RETRY_STATUSES = frozenset((408, 429, 500, 502, 503, 504))
#: How many idle keep-alive connections are kept per (scheme, host).
MAX_IDLE_PER_HOST = 8
MAX_REDIRECTS = 10


class TransportError(Exception):
    """A request could not be completed (no HTTP answer, or a TLS problem).

    ``retryable``: another attempt may work (connection refused/reset, timeout, cut body).
    ``host``: the host the failure is about (after redirects it may not be the registry).
    ``fallback``: for an insecure registry, plain HTTP is worth a try after this HTTPS failure.
    """

    def __init__(self, host: str, reason: str, retryable: bool, fallback: bool = False) -> None:
        super().__init__(reason)
        self.host = host
        self.reason = reason
        self.retryable = retryable
        self.fallback = fallback


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """Where a registry API lives: ``host`` is ``name[:port]``; ``scheme`` None means "decide by policy"."""

    host: str
    scheme: str | None = None
    mirror: bool = False

    @classmethod
    def from_url(cls, url: str, mirror: bool = False) -> "Endpoint":
        import urllib.parse

        parts = urllib.parse.urlsplit(url if "://" in url else "//" + url)
        return cls(parts.netloc, parts.scheme or None, mirror)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}" if self.scheme else self.host


class Response:
    """A response whose body may still be on the wire; :meth:`close` returns the connection to the pool."""

    def __init__(self, transport: "Transport", key: tuple[str, str, bool], conn: t.Any, resp: t.Any,
                 url: str, method: str) -> None:
        self._transport = transport
        self._key = key
        self._conn = conn
        self._resp: "http.client.HTTPResponse | None" = resp
        self.status: int = resp.status
        self.reason: str = resp.reason
        self.headers: "http.client.HTTPMessage" = resp.msg
        self.url = url
        self.method = method
        self.scheme, self.host = key[0], key[1]

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def header_all(self, name: str) -> list[str]:
        return list(self.headers.get_all(name) or [])

    @property
    def length(self) -> int | None:
        value = self.headers.get("Content-Length")
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    def read(self, n: int = -1) -> bytes:
        """Read up to *n* bytes (all when negative). Raises TransportError(retryable) when the body is cut."""
        import http.client

        if self._resp is None:
            return b""
        resp = self._resp
        try:
            data = resp.read() if n < 0 else resp.read(n)
        except http.client.IncompleteRead as exc:
            self._abort()
            raise TransportError(self.host, f"connection closed with {exc.expected} bytes of the body missing",
                                 True) from None
        except (OSError, http.client.HTTPException) as exc:
            self._abort()
            raise TransportError(self.host, _describe(exc), True) from None
        if not data and n != 0 and resp.length:
            # http.client returns b"" instead of raising when a sized body ends early
            missing = resp.length
            self._abort()
            raise TransportError(self.host, f"connection closed with {missing} bytes of the body missing", True)
        return data

    def read_limited(self, limit: int, what: str) -> bytes:
        """The whole body, refusing more than *limit* bytes."""
        length = self.length
        if length is not None and length > limit:
            self.close()
            raise TransportError(self.host, f"{what} is too large ({length} bytes, limit {limit})", False)
        data = self.read(limit + 1)
        if len(data) > limit:
            self.close()
            raise TransportError(self.host, f"{what} is too large (more than {limit} bytes)", False)
        # finish reading (EOF) so the connection can be reused
        rest = self.read(1)
        if rest:
            self.close()
            raise TransportError(self.host, f"{what} is too large (more than {limit} bytes)", False)
        return data

    def _abort(self) -> None:
        resp, self._resp = self._resp, None
        conn, self._conn = self._conn, None
        if resp is not None:
            try:
                resp.close()
            except Exception:  # pragma: no cover - closing a broken socket
                pass
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Release: back to the pool when the body was consumed (small rests are drained), else closed."""
        resp = self._resp
        if resp is None:
            return
        try:
            if not resp.isclosed():
                if self.method == "HEAD" or resp.length is not None and resp.length <= 65536 and not resp.chunked:
                    resp.read()
        except Exception:
            self._abort()
            return
        if resp.isclosed() and not resp.will_close and self._conn is not None:
            self._resp = None
            conn, self._conn = self._conn, None
            self._transport._release(self._key, conn)
        else:
            self._abort()

    def __enter__(self) -> "Response":
        return self

    def __exit__(self, *exc: t.Any) -> None:
        self.close()


class Transport:
    """Connections to registries under one daemon configuration; safe to share between threads."""

    def __init__(self, config: "DaemonConfig", timeout: float = 30.0, user_agent: str = "berth/0.1") -> None:
        self.config = config
        self.timeout = timeout
        self.user_agent = user_agent
        self._insecure = config.insecure_registries
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, str, bool], list[t.Any]] = {}
        self._contexts: dict[tuple[str, bool], "ssl.SSLContext"] = {}
        self._scheme_of: dict[str, str] = {}  # insecure host -> scheme that worked

    # ------------------------------------------------------------------ policy
    def is_insecure(self, host: str) -> bool:
        return self._insecure.matches(host)

    def candidates(self, ep: Endpoint) -> list[tuple[str, bool]]:
        """(scheme, verify) pairs to try for *ep*, in order."""
        insecure = self.is_insecure(ep.host)
        if ep.scheme == "http":
            return [("http", False)]
        if ep.scheme == "https":
            return [("https", not insecure)]
        if not insecure:
            return [("https", True)]
        known = self._scheme_of.get(ep.host)
        if known:
            return [(known, False)]
        return [("https", False), ("http", False)]

    def ssl_context(self, host: str, verify: bool) -> "ssl.SSLContext":
        with self._lock:
            ctx = self._contexts.get((host, verify))
        if ctx is not None:
            return ctx
        import ssl

        if verify:
            ctx = ssl.create_default_context()
        else:
            # Loading the system CA bundle costs ~100 ms and is useless without verification.
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        certs = os.path.join(self.config.certs_dir, host)
        try:
            names = sorted(os.listdir(certs))
        except OSError:
            names = []
        for name in names:
            path = os.path.join(certs, name)
            try:
                if name.endswith(".crt") and verify:
                    ctx.load_verify_locations(cafile=path)
                elif name.endswith(".cert"):
                    key = path[: -len(".cert")] + ".key"
                    if not os.path.exists(key):
                        raise TransportError(host, f"client certificate {path} has no matching key {key}", False)
                    ctx.load_cert_chain(path, key)
            except (ssl.SSLError, OSError) as exc:
                raise TransportError(host, f"cannot load {path}: {_describe(exc)}", False) from None
        with self._lock:
            self._contexts[(host, verify)] = ctx
        return ctx

    # ------------------------------------------------------------------ pool
    def _connect(self, key: tuple[str, str, bool]) -> t.Any:
        import http.client

        scheme, host, verify = key
        if scheme == "https":
            return http.client.HTTPSConnection(host, timeout=self.timeout, context=self.ssl_context(host, verify))
        return http.client.HTTPConnection(host, timeout=self.timeout)

    def _acquire(self, key: tuple[str, str, bool]) -> tuple[t.Any, bool]:
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop(), True
        return self._connect(key), False

    def _release(self, key: tuple[str, str, bool], conn: t.Any) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < MAX_IDLE_PER_HOST:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for c in conns:
            c.close()

    # ------------------------------------------------------------------ requests
    def request(
        self,
        ep: Endpoint,
        method: str,
        path: str,
        headers: t.Mapping[str, str] | None = None,
        follow_redirects: bool = True,
    ) -> Response:
        """Send one request to *ep* (trying the schemes its policy allows); follow redirects.

        An ``Authorization`` header is dropped when a redirect leads to another host.
        """
        last: TransportError | None = None
        cands = self.candidates(ep)
        for i, (scheme, verify) in enumerate(cands):
            try:
                resp = self._send((scheme, ep.host, verify), method, path, headers)
            except TransportError as exc:
                if i + 1 < len(cands) and exc.fallback:
                    last = exc
                    continue
                raise
            if len(cands) > 1:
                self._scheme_of[ep.host] = scheme
            if follow_redirects:
                return self._follow(resp, headers)
            return resp
        if last is None:
            raise AssertionError('last is not None')
        raise last

    def request_url(self, method: str, url: str, headers: t.Mapping[str, str] | None = None) -> Response:
        """A request to an absolute URL (token realms, redirect targets); TLS verified unless the host is insecure."""
        import urllib.parse

        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise TransportError(parts.netloc or url, f"unsupported URL {url!r}", False)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return self.request(Endpoint(parts.netloc, parts.scheme), method, path, headers)

    def _follow(self, resp: Response, headers: t.Mapping[str, str] | None) -> Response:
        import urllib.parse

        hops = 0
        origin_host = resp.host
        hdrs = dict(headers or {})
        method = resp.method
        while resp.status in (301, 302, 303, 307, 308) and resp.header("Location"):
            hops += 1
            if hops > MAX_REDIRECTS:
                resp.close()
                raise TransportError(resp.host, f"more than {MAX_REDIRECTS} redirects", False)
            target = urllib.parse.urljoin(resp.url, resp.header("Location") or "")
            resp.close()
            parts = urllib.parse.urlsplit(target)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise TransportError(resp.host, f"redirect to unsupported URL {target!r}", False)
            if parts.netloc != origin_host:
                hdrs = {k: v for k, v in hdrs.items() if k.lower() != "authorization"}
            if resp.status == 303:
                method = "GET"
            path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
            verify = parts.scheme == "https" and not self.is_insecure(parts.netloc)
            resp = self._send((parts.scheme, parts.netloc, verify), method, path, hdrs)
        return resp

    def _send(self, key: tuple[str, str, bool], method: str, path: str,
              headers: t.Mapping[str, str] | None) -> Response:
        import http.client
        import ssl

        hdrs = {"User-Agent": self.user_agent}
        hdrs.update(headers or {})
        scheme, host, verify = key
        url = f"{scheme}://{host}{path}"
        for fresh_try in range(2):
            conn, reused = self._acquire(key)
            try:
                conn.request(method, path, headers=hdrs)
                raw = conn.getresponse()
            except ssl.SSLCertVerificationError as exc:
                conn.close()
                raise _tls_verify_error(host, exc, self.config) from None
            except ssl.SSLError as exc:
                conn.close()
                raise TransportError(host, _tls_other_error(host, exc, self.config, verify), False, True) from None
            except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError, ConnectionAbortedError,
                    http.client.RemoteDisconnected) as exc:
                conn.close()
                if reused and fresh_try == 0:
                    continue  # a stale keep-alive connection: try once more on a new one
                fallback = not isinstance(exc, BrokenPipeError)
                raise TransportError(host, _describe(exc), True, fallback) from None
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if reused and fresh_try == 0 and isinstance(exc, http.client.HTTPException):
                    continue
                raise TransportError(host, _describe(exc), True) from None
            return Response(self, key, conn, raw, url, method)
        raise AssertionError("unreachable")  # pragma: no cover


def _describe(exc: BaseException) -> str:
    import socket

    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host name ({exc.strerror or exc})"
    name = type(exc).__name__
    text = str(exc) or getattr(exc, "strerror", "") or ""
    return f"{name}: {text}" if text else name


def _config_hint(host: str, config: "DaemonConfig") -> str:
    ca = os.path.join(config.certs_dir, host, "ca.crt")
    return (
        f"to trust a private CA put its certificate in {ca}; to skip verification add {host!r} to "
        f"\"insecure-registries\" in {config.path}"
    )


def _tls_verify_error(host: str, exc: BaseException, config: "DaemonConfig") -> TransportError:
    detail = getattr(exc, "verify_message", "") or str(exc)
    return TransportError(
        host,
        f"TLS certificate could not be verified ({detail}); {_config_hint(host, config)}",
        False,
    )


def _tls_other_error(host: str, exc: BaseException, config: "DaemonConfig", verify: bool) -> str:
    reason = getattr(exc, "reason", None) or str(exc)
    msg = f"TLS handshake failed ({reason})"
    if reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "UNEXPECTED_EOF_WHILE_READING") or \
            "wrong version number" in str(exc):
        msg += "; the registry may be serving plain HTTP"
    if verify:
        msg += f": to use plain HTTP or skip verification add {host!r} to \"insecure-registries\" in {config.path}"
    return msg

# SPDX-License-Identifier: GPL-3.0-or-later
"""HTTP(S) to registries over ``requests``: TLS policy per host, proxies, redirects.

``requests``/``urllib3`` do the connection pool, keep-alive, chunked bodies and proxy tunnels; this module
adds what Docker does on top of them.

The TLS policy follows Docker:

* HTTPS with certificate verification by default (system CAs).
* ``<certs_dir>/<host:port>/*.crt`` are extra CAs for that host; ``*.cert`` + ``*.key`` pairs are client
  certificates (Docker's ``certs.d`` layout). Each host gets its own ``ssl.SSLContext`` (so its own
  ``requests.Session``): a CA trusted for one registry is not trusted for another.
* A host in ``insecure-registries``: HTTPS without verification, and on a TLS error or a refused
  connection plain HTTP. The scheme that worked is remembered per host.
* An endpoint given with an explicit scheme (a mirror ``http://host:port``) uses that scheme.

Proxies follow dockerd (Go's ``httpproxy``): ``https-proxy``/``http-proxy``/``no-proxy`` from the
``proxies`` key of daemon.json, else ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` (or their lower-case
forms) from the environment. ``NO_PROXY`` takes host names (``example.com`` and ``.example.com`` match
the domain and its subdomains), ``host:port``, IP addresses, CIDRs and ``*``; ``localhost`` and loopback
addresses never go through a proxy.

Redirects are followed here, not by ``requests``: each hop gets the TLS policy (and proxy) of its own
host, and an ``Authorization`` header never follows a redirect to another host.

Errors come out as :class:`TransportError` (retryable or not, with a message that says what to do);
the client turns them into ``RegistryError`` naming the registry, repository and digest.
``requests`` (and with it ``ssl`` and ``http.client``) is imported when the first request is made.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import threading
import typing as t
import urllib.parse

from ..core.lazy import lazy_import

if t.TYPE_CHECKING:
    import ssl

    import requests

    from ..config.daemon import DaemonConfig

#: Statuses worth another attempt (the server or something in front of it is struggling).
RETRY_STATUSES = frozenset((408, 429, 500, 502, 503, 504))
#: How many connections are kept per host (parallel layer downloads and uploads share them).
MAX_IDLE_PER_HOST = 16
MAX_REDIRECTS = 10
#: Sent with every request: a blob must arrive as stored (its digest is over those bytes).
_BASE_HEADERS = {"Accept-Encoding": "identity"}

Body = t.Union[bytes, t.BinaryIO, None]


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
        parts = urllib.parse.urlsplit(url if "://" in url else "//" + url)
        return cls(parts.netloc, parts.scheme or None, mirror)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}" if self.scheme else self.host


# ---------------------------------------------------------------------- proxies
@dataclasses.dataclass(frozen=True)
class ProxyConfig:
    """dockerd's proxy settings: ``http``/``https`` proxy URLs ("" for none) and the ``no_proxy`` list."""

    http: str = ""
    https: str = ""
    no_proxy: tuple[str, ...] = ()

    @classmethod
    def resolve(cls, configured: t.Mapping[str, str], environ: t.Mapping[str, str]) -> "ProxyConfig":
        """daemon.json's ``proxies`` (``http-proxy``, ``https-proxy``, ``no-proxy``) over the environment,
        key by key, as dockerd applies them."""

        def pick(key: str, env: str) -> str:
            return configured.get(key) or environ.get(env) or environ.get(env.lower()) or ""

        no_proxy = pick("no-proxy", "NO_PROXY")
        return cls(pick("http-proxy", "HTTP_PROXY"), pick("https-proxy", "HTTPS_PROXY"),
                   tuple(x.strip().lower() for x in no_proxy.split(",") if x.strip()))

    def proxy_for(self, scheme: str, host: str) -> str | None:
        """The proxy URL for a request to ``scheme://host`` (``name[:port]``), or None to connect directly."""
        url = self.https if scheme == "https" else self.http
        if not url or self.bypass(scheme, host):
            return None
        return url if "://" in url else "http://" + url

    def bypass(self, scheme: str, host: str) -> bool:
        parts = urllib.parse.urlsplit(f"{scheme}://{host}")
        name = (parts.hostname or "").lower()
        port = parts.port or (443 if scheme == "https" else 80)
        if name == "localhost":
            return True
        addr = _ip(name)
        if addr is not None and addr.is_loopback:
            return True
        for entry in self.no_proxy:
            if entry == "*":
                return True
            if "/" in entry and addr is not None:
                try:
                    if addr in ipaddress.ip_network(entry, strict=False):
                        return True
                except ValueError:
                    pass
                continue
            e_host, e_port = entry, None
            split = urllib.parse.urlsplit("//" + entry)
            try:
                if split.port is not None:
                    e_host, e_port = (split.hostname or ""), split.port
            except ValueError:
                continue
            if e_port is not None and e_port != port:
                continue
            e_host = e_host.strip("[]")
            if e_host.startswith("*."):
                e_host = e_host[1:]
            if name == e_host.lstrip(".") or (e_host and name.endswith("." + e_host.lstrip("."))):
                return True
        return False


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return None


# ---------------------------------------------------------------------- responses
class Response:
    """A response whose body may still be on the wire; :meth:`close` returns the connection to the pool."""

    def __init__(self, resp: "requests.Response", host: str, scheme: str, method: str) -> None:
        self._resp: "requests.Response | None" = resp
        self._raw = resp.raw
        self.status: int = resp.status_code
        self.reason: str = resp.reason or ""
        self.headers = resp.headers
        self.url: str = resp.url
        self.method = method
        self.scheme, self.host = scheme, host
        self.length = _content_length(resp.headers.get("Content-Length"))
        self._got = 0
        self._eof = False  # the whole body was read (a chunked one too)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def header_all(self, name: str) -> list[str]:
        return list(self._raw.headers.getlist(name))

    def read(self, n: int = -1) -> bytes:
        """Read up to *n* bytes (all when negative). Raises TransportError(retryable) when the body is cut."""
        if self._resp is None:
            return b""
        try:
            data = self._raw.read() if n < 0 else self._raw.read(n)
        except Exception as exc:  # urllib3's ProtocolError/ReadTimeoutError/IncompleteRead, OSError
            self._abort()
            raise TransportError(self.host, _describe_read(exc, self.length, self._got), True) from None
        self._got += len(data or b"")
        if n < 0 or not data and n != 0:
            self._eof = True
        if not data and n != 0 and self.length is not None and self._got < self.length:
            missing = self.length - self._got
            self._abort()
            raise TransportError(self.host, f"connection closed with {missing} bytes of the body missing", True)
        return data or b""

    def read_limited(self, limit: int, what: str) -> bytes:
        """The whole body, refusing more than *limit* bytes."""
        if self.length is not None and self.length > limit:
            self.close()
            raise TransportError(self.host, f"{what} is too large ({self.length} bytes, limit {limit})", False)
        data = self.read(limit + 1)
        if len(data) > limit or self.read(1):
            self.close()
            raise TransportError(self.host, f"{what} is too large (more than {limit} bytes)", False)
        return data

    def _abort(self) -> None:
        """Close the connection (it is not reused)."""
        resp, self._resp = self._resp, None
        if resp is not None:
            try:
                resp.close()
            except Exception:  # pragma: no cover - closing a broken socket
                pass

    def close(self) -> None:
        """Release: back to the pool when the body was consumed (small rests are drained), else closed."""
        resp = self._resp
        if resp is None:
            return
        left = None if self.length is None else self.length - self._got
        if self._eof or self.method == "HEAD" or self.status in (204, 304) or left is not None and left <= 65536:
            self._resp = None
            try:
                self._raw.drain_conn()
                self._raw.release_conn()
            except Exception:
                resp.close()
            return
        self._abort()

    def __enter__(self) -> "Response":
        return self

    def __exit__(self, *exc: t.Any) -> None:
        self.close()


def _content_length(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# ---------------------------------------------------------------------- transport
class Transport:
    """Connections to registries under one daemon configuration; safe to share between threads."""

    def __init__(self, config: "DaemonConfig", timeout: float = 30.0, user_agent: str = "berth/0.1",
                 environ: t.Mapping[str, str] | None = None) -> None:
        self.config = config
        self.timeout = timeout
        self.user_agent = user_agent
        self.proxies = ProxyConfig.resolve(config.proxies, os.environ if environ is None else environ)
        self._insecure = config.insecure_registries
        self._lock = threading.Lock()
        self._sessions: dict[str, "requests.Session"] = {}
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
            # urllib3 matches the host name itself (also for an IP address, which urllib3 1.26 sends no SNI
            # for: ssl's own check would fail there, through a proxy tunnel too)
            ctx.check_hostname = False
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

    # ------------------------------------------------------------------ sessions
    def _session(self, host: str) -> "requests.Session":
        """The session for *host*: its HTTPS connections use the host's own TLS context."""
        with self._lock:
            session = self._sessions.get(host)
        if session is not None:
            return session
        requests = _requests()
        verify = not self.is_insecure(host)
        session = requests.Session()
        session.trust_env = False  # proxies come from ProxyConfig; no .netrc, no REQUESTS_CA_BUNDLE
        session.headers = requests.structures.CaseInsensitiveDict(_BASE_HEADERS)
        session.mount("https://", _adapter_class()(lambda: self.ssl_context(host, verify)))
        session.mount("http://", _adapter_class()(None))
        with self._lock:
            return self._sessions.setdefault(host, session)

    def close(self) -> None:
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for s in sessions:
            s.close()

    # ------------------------------------------------------------------ requests
    def request(
        self,
        ep: Endpoint,
        method: str,
        path: str,
        headers: t.Mapping[str, str] | None = None,
        follow_redirects: bool = True,
        body: Body = None,
    ) -> Response:
        """Send one request to *ep* (trying the schemes its policy allows); follow redirects.

        A request with a *body* is not redirected (the 3xx response is returned).
        """
        last: TransportError | None = None
        cands = self.candidates(ep)
        for i, (scheme, verify) in enumerate(cands):
            if body is not None and i > 0 and hasattr(body, "seek"):
                body.seek(0)  # type: ignore[union-attr]
            try:
                resp = self._send(scheme, ep.host, verify, method, path, headers, body)
            except TransportError as exc:
                if i + 1 < len(cands) and exc.fallback:
                    last = exc
                    continue
                raise
            if len(cands) > 1:
                self._scheme_of[ep.host] = scheme
            if follow_redirects and body is None:
                return self._follow(resp, headers)
            return resp
        if last is None:
            raise AssertionError('last is not None')
        raise last

    def request_url(self, method: str, url: str, headers: t.Mapping[str, str] | None = None,
                    body: Body = None) -> Response:
        """A request to an absolute URL (token realms, upload locations); TLS verified unless the host is
        insecure."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise TransportError(parts.netloc or url, f"unsupported URL {url!r}", False)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return self.request(Endpoint(parts.netloc, parts.scheme), method, path, headers, body=body)

    def _follow(self, resp: Response, headers: t.Mapping[str, str] | None) -> Response:
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
            resp = self._send(parts.scheme, parts.netloc, verify, method, path, hdrs, None)
        return resp

    def _send(self, scheme: str, host: str, verify: bool, method: str, path: str,
              headers: t.Mapping[str, str] | None, body: Body) -> Response:
        requests = _requests()
        hdrs = {"User-Agent": self.user_agent}
        hdrs.update(headers or {})
        url = f"{scheme}://{host}{path}"
        proxy = self.proxies.proxy_for(scheme, host)
        session = self._session(host)
        try:
            resp = session.request(method, url, headers=hdrs, data=body, stream=True, allow_redirects=False,
                                   timeout=self.timeout, verify=verify, proxies={scheme: proxy} if proxy else {})
        except requests.exceptions.RequestException as exc:
            raise self._error(exc, host, verify, proxy) from None
        if resp.status_code == 407 and proxy:
            resp.close()
            raise TransportError(host, f"the proxy {_redact(proxy)} wants credentials, or refused them "
                                       "(HTTP 407): put them in its URL, http://user:password@host:port", False)
        return Response(resp, host, scheme, method)

    def _error(self, exc: BaseException, host: str, verify: bool, proxy: str | None) -> TransportError:
        import ssl

        requests = _requests()
        causes = _causes(exc)
        via = f" (through the proxy {_redact(proxy)})" if proxy else ""
        for c in causes:
            if isinstance(c, ssl.SSLCertVerificationError) or type(c).__name__ == "CertificateError":
                return _tls_verify_error(host, c, self.config)
        for c in causes:
            if isinstance(c, TransportError):  # from ssl_context(): a bad certs.d file
                return c
        if isinstance(exc, requests.exceptions.ProxyError):
            return TransportError(host, f"the proxy {_redact(proxy)} failed: {_describe(_innermost(exc))}", True)
        for c in causes:
            if isinstance(c, ssl.SSLError):
                return TransportError(host, _tls_other_error(host, c, self.config, verify) + via, False, True)
        if isinstance(exc, requests.exceptions.Timeout):
            return TransportError(host, "timed out" + via, True)
        for c in causes:
            if isinstance(c, (ConnectionRefusedError, ConnectionResetError, ConnectionAbortedError)):
                return TransportError(host, _describe(c) + via, True, True)
        for c in causes:
            if isinstance(c, BrokenPipeError):
                return TransportError(host, _describe(c) + via, True)
        return TransportError(host, _describe(_innermost(exc)) + via, True)


# ---------------------------------------------------------------------- requests, lazily
_ADAPTER: list[type] = []


def _requests() -> t.Any:
    return lazy_import("requests", "registry access", "apt-get install python3-requests, or pip install requests")


def _adapter_class() -> type:
    """An ``HTTPAdapter`` whose connections use one host's ``SSLContext`` (made on first use) and whose
    CA certificates come from that context only (``requests`` would load its CA bundle into it for every
    new connection). No retries here: the client counts attempts itself (``max-download-attempts``)."""
    if _ADAPTER:
        return _ADAPTER[0]
    import warnings

    requests = _requests()
    # an unverified HTTPS request is what insecure-registries asks for: no warning on every request
    warnings.filterwarnings("ignore", category=requests.packages.urllib3.exceptions.InsecureRequestWarning)

    class HostAdapter(requests.adapters.HTTPAdapter):  # type: ignore[name-defined,misc]
        def __init__(self, context: t.Callable[[], "ssl.SSLContext"] | None) -> None:
            self._context = context
            super().__init__(pool_connections=2, pool_maxsize=MAX_IDLE_PER_HOST, max_retries=0)

        def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **kw: t.Any) -> None:
            if self._context is not None:
                kw["ssl_context"] = self._context()
            super().init_poolmanager(connections, maxsize, block, **kw)

        def proxy_manager_for(self, proxy: str, **kw: t.Any) -> t.Any:
            if self._context is not None:
                kw["ssl_context"] = self._context()
            return super().proxy_manager_for(proxy, **kw)

        def cert_verify(self, conn: t.Any, url: str, verify: t.Any, cert: t.Any) -> None:
            conn.cert_reqs = "CERT_REQUIRED" if verify and url.lower().startswith("https") else "CERT_NONE"
            conn.ca_certs = None
            conn.ca_cert_dir = None

    _ADAPTER.append(HostAdapter)
    return HostAdapter


def _causes(exc: BaseException) -> list[BaseException]:
    """*exc* and everything it wraps (``requests`` -> ``urllib3`` -> ``OSError``/``ssl``), outermost first."""
    out: list[BaseException] = []
    todo: list[t.Any] = [exc]
    while todo and len(out) < 32:
        c = todo.pop(0)
        if not isinstance(c, BaseException) or any(c is x for x in out):
            continue
        out.append(c)
        todo.extend([getattr(c, "reason", None), c.__cause__, c.__context__, *c.args])
    return out


def _innermost(exc: BaseException) -> BaseException:
    causes = [c for c in _causes(exc) if isinstance(c, OSError) and not type(c).__module__.startswith(
        ("requests", "urllib3"))]
    return causes[0] if causes else exc


def _redact(url: str | None) -> str:
    """A proxy URL without its password."""
    parts = urllib.parse.urlsplit(url or "")
    if parts.password is None:
        return url or ""
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _describe_read(exc: BaseException, length: int | None, got: int) -> str:
    for c in _causes(exc):
        name = type(c).__name__
        if name == "ReadTimeoutError" or isinstance(c, TimeoutError):
            return "timed out"
        if name == "IncompleteRead" or "IncompleteRead" in str(c):
            if length is not None:
                return f"connection closed with {length - got} bytes of the body missing"
            return "connection closed before the end of the body"
    return _describe(_innermost(exc))


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

# SPDX-License-Identifier: GPL-3.0-or-later
"""Registry credentials (docker ``config.json`` format, mode 0600) and the 401 challenge dance.

``Credentials`` reads ``{"auths": {"host": {"auth": base64("user:pass")}}}`` (also ``username``/``password``
keys; Docker Hub may be keyed ``https://index.docker.io/v1/``). ``Authenticator`` answers a
``WWW-Authenticate`` challenge: ``Bearer`` (token from the realm, cached per host and scope until it
expires) or ``Basic``. Secrets never appear in messages, ``repr`` or exceptions.
"""
from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import threading
import time
import typing as t

from ..core import trust
from ..errors import AuthError, ConfigError, RegistryError

if t.TYPE_CHECKING:
    from .transport import Response, Transport

#: The keys Docker uses for Docker Hub in config.json, the first is what ``docker login`` writes.
DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io",
                   "https://registry-1.docker.io", "https://index.docker.io")
DEFAULT_TOKEN_TTL = 60  # seconds, per the distribution token spec when expires_in is absent
MIN_TOKEN_TTL = 10


def normalize_host(key: str) -> str:
    """``https://index.docker.io/v1/`` -> ``docker.io``; ``http://h:5000/x`` -> ``h:5000``; ``H`` -> ``h``."""
    k = key.strip()
    if "://" in k:
        k = k.split("://", 1)[1]
    k = k.split("/", 1)[0].lower()
    if k in ("index.docker.io", "registry-1.docker.io", "docker.io"):
        return "docker.io"
    return k


def login_hint(cred_host: str, path: str | None) -> str:
    """``log in first: berth login HOST (the credentials go to PATH)``: what to run, and where it writes."""
    server = "" if normalize_host(cred_host) == "docker.io" else f" {cred_host}"
    where = f" (the credentials go to {path})" if path else ""
    return f"log in first: berth login{server}{where}"


@dataclasses.dataclass(frozen=True)
class Login:
    username: str
    password: str = dataclasses.field(repr=False)

    def basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


class Credentials:
    """Logins per registry host; ``get("docker.io")`` also finds Docker Hub's legacy keys."""

    def __init__(self, logins: t.Mapping[str, tuple[str, str] | Login] | None = None,
                 path: str | None = None, extra: t.Mapping[str, t.Any] | None = None) -> None:
        self.path = path
        self._logins: dict[str, Login] = {}
        self._extra = dict(extra or {})  # other top-level keys of the file, kept on save
        for host, login in (logins or {}).items():
            if not isinstance(login, Login):
                login = Login(login[0], login[1])
            self._logins[normalize_host(host)] = login

    # ------------------------------------------------------------------ access
    def get(self, host: str) -> Login | None:
        return self._logins.get(normalize_host(host))

    def set(self, host: str, username: str, password: str) -> None:
        self._logins[normalize_host(host)] = Login(username, password)

    def remove(self, host: str) -> bool:
        return self._logins.pop(normalize_host(host), None) is not None

    @property
    def hosts(self) -> list[str]:
        return sorted(self._logins)

    def __bool__(self) -> bool:
        return bool(self._logins)

    def __len__(self) -> int:
        return len(self._logins)

    def __repr__(self) -> str:
        users = ", ".join(f"{h}: {login.username}" for h, login in sorted(self._logins.items()))
        return f"Credentials({users})"

    # ------------------------------------------------------------------ file
    @classmethod
    def load(cls, path: str) -> "Credentials":
        """Read *path*; missing or empty means no credentials. Bad content raises ConfigError naming the path."""
        try:
            data = _read_credentials(path)
        except FileNotFoundError:
            return cls(path=path)
        except OSError as exc:
            raise ConfigError(path, None, f"cannot read registry credentials: {exc.strerror}") from None
        if not data.strip():
            return cls(path=path)
        try:
            doc = json.loads(data)
        except ValueError as exc:
            # the position only: the text of the file may contain secrets
            where = f"line {getattr(exc, 'lineno', '?')}, column {getattr(exc, 'colno', '?')}"
            raise ConfigError(path, None, f"registry credentials are not valid JSON ({where})") from None
        if not isinstance(doc, dict):
            raise ConfigError(path, None, "registry credentials: the top level must be a JSON object")
        auths = doc.get("auths", {})
        if not isinstance(auths, dict):
            raise ConfigError(path, "auths", "must be an object mapping registry hosts to credentials")
        logins: dict[str, Login] = {}
        for key, entry in auths.items():
            login = _parse_entry(path, key, entry)
            if login is None:
                continue
            host = normalize_host(key)
            # prefer the entry written under the canonical key when a file has several for Docker Hub
            if host in logins and key not in (host, DOCKER_HUB_KEYS[0]):
                continue
            logins[host] = login
        extra = {k: v for k, v in doc.items() if k != "auths"}
        return cls(logins, path=path, extra=extra)

    def to_dict(self) -> dict[str, t.Any]:
        auths = {}
        for host, login in sorted(self._logins.items()):
            key = DOCKER_HUB_KEYS[0] if host == "docker.io" else host
            auths[key] = {"auth": base64.b64encode(f"{login.username}:{login.password}".encode()).decode()}
        doc = dict(self._extra)
        doc["auths"] = auths
        return doc

    @classmethod
    @contextlib.contextmanager
    def update(cls, path: str, timeout: float | None = 600.0) -> t.Iterator["Credentials"]:
        """``with Credentials.update(path) as creds:`` change the logins of *path*; saved at the end of the
        block when they changed. Loaded and saved under a lock (``.<name>.lock`` beside the file), so two
        logins at once both stay: without it each would write back what it read, without the other's."""
        from ..core import fs
        from ..core.locks import flock

        directory = os.path.dirname(os.path.abspath(path))
        fs.ensure_dir(directory, 0o700)
        with flock(os.path.join(directory, f".{os.path.basename(path)}.lock"), timeout=timeout):
            creds = cls.load(path)
            before = creds.to_dict()
            yield creds
            if creds.to_dict() != before:
                creds.save()

    def save(self, path: str | None = None) -> None:
        """Write atomically with mode 0600 (Docker's ``config.json`` layout)."""
        from ..core import fs

        target = path or self.path
        if not target:
            raise ConfigError("<memory>", None, "no path to save registry credentials to")
        fs.ensure_dir(os.path.dirname(os.path.abspath(target)), 0o700)
        fs.atomic_write(target, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", mode=0o600)
        self.path = target


def _parse_entry(path: str, key: str, entry: t.Any) -> Login | None:
    where = f"auths.{key}"
    if not isinstance(entry, dict):
        raise ConfigError(path, where, "must be an object")
    user = entry.get("username")
    password = entry.get("password")
    if entry.get("auth"):
        if not isinstance(entry["auth"], str):
            raise ConfigError(path, where, "\"auth\" must be a base64 string")
        try:
            decoded = base64.b64decode(entry["auth"].strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise ConfigError(path, where, "\"auth\" is not base64 of \"user:password\"") from None
        if ":" not in decoded:
            raise ConfigError(path, where, "\"auth\" is not base64 of \"user:password\"")
        user, password = decoded.split(":", 1)
    if user is None and password is None:
        return None  # e.g. only an identitytoken or a credential helper entry: nothing we can use
    if not isinstance(user, str) or not isinstance(password, str) or not user:
        raise ConfigError(path, where, "needs a non-empty \"username\" and a \"password\" (or \"auth\")")
    return Login(user, password)


# ====================================================================== challenges
@dataclasses.dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case: "bearer", "basic", ...
    params: t.Mapping[str, str]

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")


def parse_www_authenticate(value: str | t.Sequence[str]) -> list[Challenge]:
    """Parse one or more ``WWW-Authenticate`` values into challenges (RFC 7235 syntax, tolerant).

    ``Bearer realm="https://auth/token",service="reg",scope="repository:a/b:pull"`` ->
    ``[Challenge("bearer", {"realm": ..., "service": ..., "scope": ...})]``; ``Basic realm="x", Bearer realm="y"``
    gives two. Parameter names are lower-cased; quoted values are unescaped.
    """
    values = [value] if isinstance(value, str) else list(value)
    out: list[Challenge] = []
    for v in values:
        out.extend(_parse_one_header(v))
    return out


def _parse_one_header(s: str) -> list[Challenge]:
    out: list[Challenge] = []
    i, n = 0, len(s)
    scheme: str | None = None
    params: dict[str, str] = {}

    def skip_ws(j: int) -> int:
        while j < n and s[j] in " \t":
            j += 1
        return j

    def read_token(j: int) -> tuple[str, int]:
        k = j
        while k < n and s[k] not in " \t,=\"":
            k += 1
        return s[j:k], k

    while i < n:
        i = skip_ws(i)
        if i >= n:
            break
        if s[i] == ",":
            i += 1
            continue
        tok, j = read_token(i)
        if not tok:  # stray character: skip it
            i += 1
            continue
        k = skip_ws(j)
        if k < n and s[k] == "=" and scheme is not None:
            # name=value, unless it is token68 padding like "abc=="
            k = skip_ws(k + 1)
            if k < n and s[k] == '"':
                k += 1
                buf = []
                while k < n and s[k] != '"':
                    if s[k] == "\\" and k + 1 < n:
                        k += 1
                    buf.append(s[k])
                    k += 1
                val = "".join(buf)
                k += 1
            else:
                val, k = read_token(k)
                while k < n and s[k] == "=":  # token68 trailing '='
                    val += "="
                    k += 1
            params[tok.lower()] = val
            i = k
            continue
        # a new challenge scheme
        if scheme is not None:
            out.append(Challenge(scheme, params))
        scheme, params = tok.lower(), {}
        i = j
    if scheme is not None:
        out.append(Challenge(scheme, params))
    return out


def repository_scope(repository: str, actions: str = "pull") -> str:
    return f"repository:{repository}:{actions}"


class Authenticator:
    """Per-client authorization state: cached Bearer tokens per (host, scope), Basic hosts."""

    def __init__(self, credentials: Credentials | None, transport: "Transport",
                 clock: t.Callable[[], float] = time.monotonic) -> None:
        self.credentials = credentials if credentials is not None else Credentials()
        self.transport = transport
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._basic_hosts: set[str] = set()

    def login_for(self, cred_host: str) -> Login | None:
        return self.credentials.get(cred_host)

    def cached_header(self, host: str, scope: str, cred_host: str) -> str | None:
        """The Authorization header to send up front, if we already know one."""
        with self._lock:
            entry = self._tokens.get((host, scope))
            if entry is not None:
                token, expiry = entry
                if expiry > self._clock():
                    return f"Bearer {token}"
                del self._tokens[(host, scope)]
            basic = host in self._basic_hosts
        if basic:
            login = self.login_for(cred_host)
            if login:
                return login.basic()
        return None

    def forget(self, host: str, scope: str) -> None:
        with self._lock:
            self._tokens.pop((host, scope), None)

    def answer(self, resp: "Response", host: str, scope: str, cred_host: str, registry: str,
               repository: str | None) -> str:
        """The Authorization header that answers the 401 in *resp*; raises AuthError when we cannot."""
        challenges = parse_www_authenticate(resp.header_all("WWW-Authenticate"))
        login = self.login_for(cred_host)
        by_scheme = {c.scheme: c for c in challenges}
        if "bearer" in by_scheme and by_scheme["bearer"].realm:
            token, ttl = self._fetch_token(by_scheme["bearer"], scope, login, registry, repository, cred_host)
            with self._lock:
                self._tokens[(host, scope)] = (token, self._clock() + max(ttl - 5, MIN_TOKEN_TTL))
            return f"Bearer {token}"
        if "basic" in by_scheme or not challenges:
            if login is None:
                raise AuthError(registry, f"authentication required: no credentials stored for {cred_host}; "
                                          f"{login_hint(cred_host, self.credentials.path)}", repository, status=401)
            with self._lock:
                self._basic_hosts.add(host)
            return login.basic()
        raise AuthError(registry, "unsupported authentication scheme(s) "
                                  f"{', '.join(sorted(by_scheme))} in the registry's challenge", repository, status=401)

    def _fetch_token(self, ch: Challenge, scope: str, login: Login | None, registry: str,
                     repository: str | None, cred_host: str) -> tuple[str, int]:
        import urllib.parse

        from .transport import TransportError

        realm = ch.params["realm"]
        query = []
        if ch.params.get("service"):
            query.append(("service", ch.params["service"]))
        if scope:
            query.append(("scope", scope))
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query) if query else realm
        headers = {"Accept": "application/json"}
        if login is not None:
            headers["Authorization"] = login.basic()
        realm_host = urllib.parse.urlsplit(realm).netloc or realm
        try:
            resp = self.transport.request_url("GET", url, headers)
            try:
                status = resp.status
                body = resp.read_limited(1 << 20, "token response")
            finally:
                resp.close()
        except TransportError as exc:
            raise RegistryError(registry, f"cannot get a token from {realm_host}: {exc.reason}", repository) from None
        if status in (401, 403):
            if login is not None:
                raise AuthError(registry, f"the token server {realm_host} rejected the credentials for user "
                                          f"{login.username!r}", repository, status=status)
            raise AuthError(registry, f"authentication required: the token server {realm_host} refuses "
                                      f"anonymous access; {login_hint(cred_host, self.credentials.path)}",
                            repository, status=status)
        if status != 200:
            raise RegistryError(registry, f"the token server {realm_host} answered HTTP {status}", repository,
                                status=status)
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise RegistryError(registry, f"the token server {realm_host} sent no token", repository)
        ttl = doc.get("expires_in") if isinstance(doc, dict) else None
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
            ttl = DEFAULT_TOKEN_TTL
        return token, ttl


def _read_credentials(path: str) -> bytes:
    """The credentials file, refused unless root's, not writable by others (``core/trust.py``) and not
    readable by them either."""
    fd = trust.open_trusted(path, what="registry credentials file")
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fh.fileno()).st_mode & 0o777
        if mode & 0o044:
            raise ConfigError(path, None, f"the registry credentials file is readable by other users (mode "
                                          f"{mode:04o}): chmod 600 it, and change the passwords in it if "
                                          f"others may have read them")
        return fh.read()

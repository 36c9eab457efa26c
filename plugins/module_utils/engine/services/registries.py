# SPDX-License-Identifier: GPL-3.0-or-later
"""Private registries on this host, and what a registry holds.

``RegistryService`` is what the ``registry`` and ``registry_info`` tasks build on:

* :meth:`~RegistryService.plan` translates the task's options into the options of a Berth container that runs a
  Distribution registry (``registry:2`` or the offline image from ``scripts/registry-image.sh``), configured
  through ``REGISTRY_*`` environment variables, plus the files it needs (htpasswd, TLS certificate and key).
  Those files live in ``registries/<name>/`` beside the engine configuration (root only; the engine refuses
  bind mounts from inside its data root) and are mounted read-only at ``/auth``.
  The container itself is converged by the container task, like any other container.
* :meth:`~RegistryService.write_files` writes the files that differ; a password is never hashed again while
  the stored bcrypt hash still matches it (checked with ``htpasswd -v``), so a second run changes nothing.
* :meth:`~RegistryService.wait_ready` waits until ``/v2/`` answers (200, or 401 with authentication).
* :meth:`~RegistryService.catalog` lists repositories and their tags, following ``Link`` pagination, with the
  engine's registry client (``certs.d``, ``insecure-registries``, ``auth.json``).

The registry runs on the default bridge network, its port 5000 published on ``bind_address``:``port`` (an
IPv6 ``bind_address``, or a pull-through cache of an origin on the host's loopback: on the host's network);
this is set in :func:`_network_options` only.
"""
from __future__ import annotations

import dataclasses
import os
import subprocess
import time
import typing as t
import urllib.parse

from ..core.fs import atomic_write, ensure_dir, remove_quietly, rmtree, safe_join, which
from ..errors import EngineError, InvalidOption, RegistryError

if t.TYPE_CHECKING:
    from ..config.daemon import DaemonConfig
    from ..registry.client import RegistryClient

#: Where the registry's files are mounted in its container.
AUTH_DIR = "/auth"
STORAGE = "/var/lib/registry"
REALM = "Registry Realm"
#: Label naming the registry a container runs (so a name can't silently take over another container).
LABEL = "berth.registry"
_HTPASSWD = "htpasswd"
_CERT = "tls.crt"
_KEY = "tls.key"


@dataclasses.dataclass
class RegistryPlan:
    """What a ``registry`` task wants: the container's options and the registry's files."""

    name: str
    container: dict[str, t.Any]
    #: file name in the registry's directory -> content (None: the file must not exist)
    files: dict[str, bytes | None]
    #: user names whose stored hash no longer matches (or who are new), and users to drop
    users_before: list[str]
    users_after: list[str]
    files_changed: list[str]
    url: str
    host: str


class RegistryService:
    def __init__(self, config: DaemonConfig, client: t.Callable[[], RegistryClient]) -> None:
        self.config = config
        self._client = client

    # ------------------------------------------------------------------ deploy
    def directory(self, name: str) -> str:
        return safe_join(self.config.registries_dir, name)

    def plan(self, params: t.Mapping[str, t.Any]) -> RegistryPlan:
        """Validate the task's options and work out the container and the files (nothing is written)."""
        name = _name(params.get("name"))
        port = params.get("port", 5000)
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise InvalidOption("port", port, "must be a TCP port, 1-65535")
        bind = str(params.get("bind_address") or "0.0.0.0")
        _check_address(bind)
        directory = self.directory(name)
        env: dict[str, str] = {}
        secret_env: dict[str, str] = {}
        volumes: list[str] = []
        files: dict[str, bytes | None] = {_HTPASSWD: None, _CERT: None, _KEY: None}

        if params.get("volume") and params.get("path"):
            raise InvalidOption("volume", params["volume"], "give volume or path for the storage, not both")
        if params.get("volume"):
            volumes.append(f"{params['volume']}:{STORAGE}")
        elif params.get("path"):
            path = params["path"]
            if not os.path.isabs(path):
                raise InvalidOption("path", path, "must be an absolute path on the host")
            volumes.append(f"{os.path.normpath(path)}:{STORAGE}")

        users = _users(params.get("users"))
        before = self._stored_users(directory)
        if users:
            files[_HTPASSWD] = self._htpasswd(os.path.join(directory, _HTPASSWD), users)
            env.update(REGISTRY_AUTH="htpasswd", REGISTRY_AUTH_HTPASSWD_REALM=REALM,
                       REGISTRY_AUTH_HTPASSWD_PATH=f"{AUTH_DIR}/{_HTPASSWD}")

        cert, key = params.get("certificate"), params.get("key")
        if bool(cert) != bool(key):
            missing, given = ("key", "certificate") if cert else ("certificate", "key")
            raise InvalidOption(missing, None, f"is required with {given}")
        if cert:
            files[_CERT] = _read("certificate", cert, b"-----BEGIN CERTIFICATE-----")
            files[_KEY] = _read("key", key, b"PRIVATE KEY-----")
            env.update(REGISTRY_HTTP_TLS_CERTIFICATE=f"{AUTH_DIR}/{_CERT}", REGISTRY_HTTP_TLS_KEY=f"{AUTH_DIR}/{_KEY}")

        remote = params.get("proxy_remote_url")
        if remote:
            parts = urllib.parse.urlsplit(remote)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise InvalidOption("proxy_remote_url", remote, "must be an http:// or https:// URL")
            env["REGISTRY_PROXY_REMOTEURL"] = remote
            if params.get("proxy_username"):
                env["REGISTRY_PROXY_USERNAME"] = params["proxy_username"]
                secret_env["REGISTRY_PROXY_PASSWORD"] = params.get("proxy_password") or ""
        elif params.get("proxy_username"):
            raise InvalidOption("proxy_username", params["proxy_username"], "needs proxy_remote_url")
        if params.get("delete_enabled"):
            env["REGISTRY_STORAGE_DELETE_ENABLED"] = "true"

        if any(v is not None for v in files.values()):
            volumes.append(f"{directory}:{AUTH_DIR}:ro")
        scheme = "https" if cert else "http"
        host = f"{_reach(bind)}:{port}"
        container = {
            "name": name,
            "image": params.get("image") or "registry:2",
            "restart_policy": params.get("restart_policy") or "always",
            "env": env,
            "secret_env": secret_env or None,
            "volumes": volumes,
            "labels": {LABEL: name},
        }
        network, network_env = _network_options(bind, port, remote)
        container.update(network)
        env.update(network_env)
        changed = [f for f, content in sorted(files.items()) if _current(os.path.join(directory, f)) != content]
        return RegistryPlan(name=name, container=container, files=files, users_before=before,
                            users_after=sorted(username for username, _password in users), files_changed=changed,
                            url=f"{scheme}://{host}", host=host)

    def write_files(self, plan: RegistryPlan) -> None:
        """Write (or remove) the registry's files that differ from *plan*; root-only, replaced atomically."""
        directory = self.directory(plan.name)
        if not any(v is not None for v in plan.files.values()):
            self.remove_files(plan.name)
            return
        ensure_dir(os.path.dirname(directory), 0o700)
        ensure_dir(directory, 0o700)
        for name in plan.files_changed:
            content = plan.files[name]
            path = os.path.join(directory, name)
            if content is None:
                remove_quietly(path)
            else:
                atomic_write(path, content, mode=0o600)

    def remove_files(self, name: str) -> bool:
        directory = self.directory(_name(name))
        if not os.path.isdir(directory):
            return False
        rmtree(directory)
        return True

    def wait_ready(self, host: str, timeout: float, poll: float = 0.2,
                   clock: t.Callable[[], float] = time.monotonic, sleep: t.Callable[[float], None] = time.sleep) -> None:
        """Wait until *host*'s ``/v2/`` answers 200 or 401; RegistryError naming the last failure when it does
        not within *timeout* seconds."""
        from ..registry.client import RegistryClient

        deadline = clock() + timeout
        with RegistryClient(self.config, sleep=_no_sleep) as client:  # this loop paces the attempts
            while True:
                try:
                    client.ping(host)
                    return
                except RegistryError as exc:
                    if clock() >= deadline:
                        raise RegistryError(host, f"/v2/ did not answer within {timeout:g}s: {exc.reason}") from None
                sleep(poll)

    def _stored_users(self, directory: str) -> list[str]:
        current = _current(os.path.join(directory, _HTPASSWD)) or b""
        return sorted(line.split(b":", 1)[0].decode() for line in current.splitlines() if b":" in line)

    @staticmethod
    def _htpasswd(path: str, users: list[tuple[str, str]]) -> bytes:
        """The htpasswd file for *users*: a stored line is kept while its hash matches the password."""
        stored = {}
        for line in (_current(path) or b"").splitlines():
            if b":" in line:
                stored[line.split(b":", 1)[0].decode()] = line
        lines = []
        for username, password in users:
            line = stored.get(username)
            if line is None or _htpasswd_tool(["-vi", path, username], password).returncode != 0:
                proc = _htpasswd_tool(["-niB", username], password)
                if proc.returncode != 0 or not proc.stdout.strip():
                    raise EngineError(f"htpasswd could not hash the password of user {username!r}: "
                                      f"{proc.stderr.decode(errors='replace').strip()}")
                line = proc.stdout.strip().splitlines()[0]
            lines.append(line)
        return b"\n".join(lines) + b"\n"

    # ------------------------------------------------------------------ what a registry holds
    def catalog(self, server: str, repositories: t.Sequence[str] | None = None,
                page_size: int = 100) -> dict[str, list[str]]:
        """``{repository: [tags, sorted]}`` of the registry *server* (``host[:port]``); every repository of
        ``/v2/_catalog`` unless *repositories* names some."""
        from ..registry.catalog import Catalog

        if not isinstance(page_size, int) or page_size < 1:
            raise InvalidOption("page_size", page_size, "must be a positive number")
        cat = Catalog(self._client(), _server(server), page_size)
        names = list(repositories) if repositories else cat.repositories()
        return {name: sorted(cat.tags(name)) for name in names}


def _no_sleep(_seconds: float) -> None:
    """The registry client's retry pause: none, :meth:`RegistryService.wait_ready` paces the attempts."""


#: The port the registry listens on in its container (the image's default)
CONTAINER_PORT = 5000


def _network_options(bind: str, port: int, remote: str | None = None) -> tuple[dict[str, t.Any], dict[str, str]]:
    """How the registry's port reaches the host (container options, environment): on the default bridge
    network, *bind*:*port* published to the registry's port 5000 (``docker run -p``). On the host's network
    instead, the registry listening on *bind*:*port*, when a bridge could not serve it: an IPv6 *bind*
    (bridge networks are IPv4 only), or a pull-through cache whose *remote* is on the host's loopback
    (unreachable from a bridge container's own loopback)."""
    host = urllib.parse.urlsplit(remote).hostname if remote else None
    if ":" in bind or host in ("localhost", "::1") or (host or "").startswith("127."):
        addr = f"[{bind}]:{port}" if ":" in bind else f"{bind}:{port}"
        return {"network_mode": "host"}, {"REGISTRY_HTTP_ADDR": addr}
    return ({"published_ports": [f"{bind}:{port}:{CONTAINER_PORT}"]},
            {"REGISTRY_HTTP_ADDR": f"0.0.0.0:{CONTAINER_PORT}"})


def _name(name: t.Any) -> str:
    if not isinstance(name, str) or not name or name.startswith(".") or "/" in name or not name.isprintable():
        raise InvalidOption("name", name, "must be a container name (no '/', not starting with '.')")
    return name


def _check_address(bind: str) -> None:
    import ipaddress

    try:
        ipaddress.ip_address(bind)
    except ValueError:
        raise InvalidOption("bind_address", bind, "must be an IP address of this host") from None


def _reach(bind: str) -> str:
    """The address clients on this host use for a registry listening on *bind*."""
    if bind in ("0.0.0.0", ""):
        return "127.0.0.1"
    if bind == "::":
        return "[::1]"
    return f"[{bind}]" if ":" in bind else bind


def _server(server: t.Any) -> str:
    if not isinstance(server, str) or not server.strip():
        raise InvalidOption("registry_url", server, "must name a registry, host[:port]")
    value = server.strip()
    if "://" in value:
        value = urllib.parse.urlsplit(value).netloc
    return value.split("/", 1)[0]


def _users(value: t.Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    seen = set()
    for i, item in enumerate(value or ()):
        field = f"users[{i}]"
        if not isinstance(item, t.Mapping) or set(item) - {"username", "password"}:
            raise InvalidOption(field, "(hidden)", "must be a dict with username and password only")
        username, password = item.get("username"), item.get("password")
        if not isinstance(username, str) or not username or ":" in username or not username.isprintable():
            raise InvalidOption(f"{field}.username", username, "must be a non-empty name without ':'")
        if not isinstance(password, str) or not password or "\n" in password or "\r" in password:
            raise InvalidOption(f"{field}.password", "(hidden)", "must be a non-empty single-line string")
        if username in seen:
            raise InvalidOption(f"{field}.username", username, "is listed twice")
        seen.add(username)
        out.append((username, password))
    return out


def _read(field: str, path: str, marker: bytes) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise InvalidOption(field, path, f"cannot be read: {exc.strerror}") from None
    if marker not in data:
        raise InvalidOption(field, path, "is not a PEM file (" + marker.decode().strip("-") + ")")
    return data


def _current(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def _htpasswd_tool(args: list[str], password: str) -> subprocess.CompletedProcess[bytes]:
    """Run ``htpasswd`` (apache2-utils) with the password on stdin, never on the command line."""
    tool = which("htpasswd")
    if tool is None:
        raise EngineError("users need the htpasswd command on the host (Debian/Ubuntu: apt-get install "
                          "apache2-utils; Fedora/RHEL: dnf install httpd-tools)")
    return subprocess.run([tool, *args], input=password.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          check=False)

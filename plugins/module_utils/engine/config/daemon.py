# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine configuration: Docker's ``daemon.json`` keys, validated, defaults in one place.

Unknown keys are refused, as dockerd refuses them, so a typo never silently
does nothing.
"""
from __future__ import annotations

import os

from ..core import cjson, trust
from ..core.value import Value
from ..errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing, dataclasses or json at run time: every ``berth`` command loads the config
    import ipaddress
    import typing as t

# key -> (python type(s), default). Defaults here are the only engine defaults.
SCHEMA: dict[str, tuple[tuple[type, ...], t.Any]] = {
    "data-root": ((str,), None),
    "registry-mirrors": ((list,), []),
    "insecure-registries": ((list,), []),
    "max-concurrent-downloads": ((int,), 3),
    "max-concurrent-uploads": ((int,), 5),
    "max-download-attempts": ((int,), 5),
    "dns": ((list,), []),
    "dns-opts": ((list,), []),
    "dns-search": ((list,), []),
    "bip": ((str,), None),
    "mtu": ((int,), 1500),
    "bridge": ((str,), "berth0"),
    "fixed-cidr": ((str,), None),
    "default-address-pools": ((list,), []),
    "ip": ((str,), "0.0.0.0"),
    "ip-forward": ((bool,), True),
    "iptables": ((bool,), True),
    "log-driver": ((str,), "json-file"),
    "log-opts": ((dict,), {}),
    "runtimes": ((dict,), {}),
    "default-runtime": ((str,), "berth"),
    "labels": ((list,), []),
    "debug": ((bool,), False),
    "features": ((dict,), {}),
    "userns-remap": ((str,), ""),
    "no-new-privileges": ((bool,), False),
    "default-ulimits": ((dict,), {}),
    "default-cgroupns-mode": ((str,), "private"),
    "proxies": ((dict,), {}),
    # Docker's keys that Berth accepts and keeps, but does not act on (NOT_ACTED_ON says why)
    "live-restore": ((bool,), False),
    "storage-driver": ((str,), None),
    "exec-opts": ((list,), []),
    "log-level": ((str,), "info"),
    "experimental": ((bool,), False),
}

#: Keys the engine accepts (so a daemon.json written for dockerd loads) but does not act on yet, and why;
#: ``info`` reports each one that is set (its ``Warnings``), so none is kept silently.
NOT_ACTED_ON: dict[str, str] = {
    "debug": "there is no daemon to run in debug mode (use berth --debug)",
    "features": "no optional feature can be switched on or off",
    "live-restore": "containers never depend on a daemon: they always keep running",
    "storage-driver": "images are always stored on overlay",
    "exec-opts": "cgroups are always managed with cgroupfs",
    "log-level": "there is no daemon log (use berth --debug)",
    "experimental": "there are no experimental features",
}


#: Always insecure, as in dockerd (moby registry/config.go ``loadInsecureRegistries``): "a stop-gap for people
#: who are running a private registry on localhost". ``localhost`` is insecure because it resolves into these.
DEFAULT_INSECURE_CIDRS = ("::1/128", "127.0.0.0/8")
#: Docker Hub is always secure, whatever it resolves to (moby configures the official index as Secure first).
OFFICIAL_INDEX_HOSTS = frozenset(("docker.io", "index.docker.io", "registry-1.docker.io"))


class InsecureRegistries(Value):
    """dockerd's ``isSecureIndex``: a host listed by name, else any address it resolves to in a CIDR.

    ``networks`` holds the configured CIDRs followed by :data:`DEFAULT_INSECURE_CIDRS`.
    """

    __slots__ = _fields = ("hosts", "networks")
    hosts: frozenset[str]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    def matches(self, host: str) -> bool:
        """True when *host* (``name[:port]``) is listed by name or falls in an insecure CIDR."""
        if host in self.hosts:
            return True
        hostname = _strip_port(host)
        if hostname in self.hosts:
            return True
        if hostname in OFFICIAL_INDEX_HOSTS or not self.networks:
            return False
        import ipaddress

        try:
            addrs = [ipaddress.ip_address(hostname.strip("[]"))]
        except ValueError:
            addrs = _resolve(hostname)
        # an IPv4-mapped IPv6 address counts as its IPv4 address (Go's Unmap())
        addrs = [getattr(a, "ipv4_mapped", None) or a for a in addrs]
        return any(a in net for a in addrs for net in self.networks)


def _strip_port(host: str) -> str:
    if host.startswith("["):
        return host[: host.index("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _resolve(hostname: str) -> list[t.Any]:
    import ipaddress
    import socket

    try:
        infos = socket.getaddrinfo(hostname, None)
    except OSError:
        return []
    out = []
    for info in infos:
        try:
            out.append(ipaddress.ip_address(info[4][0]))
        except ValueError:
            pass
    return out


class DaemonConfig(Value):
    """A validated daemon.json; ``raw`` keeps exactly what the file said (a frozen value: core/value.py)."""

    __slots__ = _fields = ("path", "raw")
    path: str
    raw: t.Mapping[str, t.Any]

    def get(self, key: str) -> t.Any:
        if key in self.raw:
            return self.raw[key]
        return SCHEMA[key][1]

    def ignored(self) -> list[str]:
        """Docker's info ``Warnings`` for the keys of :data:`NOT_ACTED_ON` this file sets."""
        return [f"{self.path}: {key!r} is accepted but not acted on: {why}"
                for key, why in NOT_ACTED_ON.items() if key in self.raw]

    @property
    def data_root(self) -> str | None:
        return self.get("data-root")  # type: ignore[no-any-return]

    @property
    def registry_mirrors(self) -> list[str]:
        return list(self.get("registry-mirrors"))

    @property
    def insecure_registries(self) -> InsecureRegistries:
        import ipaddress

        hosts: set[str] = set()
        nets = []
        for item in [*self.get("insecure-registries"), *DEFAULT_INSECURE_CIDRS]:
            if "/" in item:
                net = ipaddress.ip_network(item, strict=False)
                if net not in nets:
                    nets.append(net)
            else:
                hosts.add(item)
        return InsecureRegistries(frozenset(hosts), tuple(nets))

    @property
    def max_concurrent_downloads(self) -> int:
        return int(self.get("max-concurrent-downloads"))

    @property
    def max_concurrent_uploads(self) -> int:
        return int(self.get("max-concurrent-uploads"))

    @property
    def proxies(self) -> dict[str, str]:
        """``proxies``: ``http-proxy``, ``https-proxy``, ``no-proxy`` (each overrides its environment variable)."""
        return dict(self.get("proxies"))

    @property
    def max_download_attempts(self) -> int:
        return int(self.get("max-download-attempts"))

    @property
    def userns_remap(self) -> str:
        """``userns-remap``: "" (off), "default", "user", "user:group", "uid" or "uid:gid" (config/userns.py)."""
        return str(self.get("userns-remap") or "")

    @property
    def certs_dir(self) -> str:
        """``<config dir>/certs.d/<host:port>/ca.crt`` like Docker's /etc/docker/certs.d."""
        return os.path.join(os.path.dirname(self.path) or ".", "certs.d")

    @property
    def registries_dir(self) -> str:
        """``<config dir>/registries/<name>/``: the files of the registries the ``registry`` module runs
        (htpasswd, TLS certificate and key), outside the data root so they can be bind-mounted."""
        return os.path.join(os.path.dirname(self.path) or ".", "registries")

    @property
    def auth_path(self) -> str:
        """Registry credentials, docker ``config.json`` format, mode 0600."""
        return os.path.join(os.path.dirname(self.path) or ".", "auth.json")

    @classmethod
    def load(cls, path: str) -> "DaemonConfig":
        """Read and validate *path*; a missing file means all defaults."""
        try:
            data = trust.read_trusted(path, "engine configuration")  # root's, others may not write
        except FileNotFoundError:
            return cls(path=path, raw={})
        except OSError as exc:
            raise ConfigError(path, None, f"cannot read: {exc.strerror}") from None
        if not data.strip():
            return cls(path=path, raw={})
        try:
            raw = cjson.loads(data)
        except ValueError as exc:
            raise ConfigError(path, None, f"not valid JSON: {exc}") from None
        return cls.from_dict(raw, path)

    @classmethod
    def from_dict(cls, raw: t.Any, path: str = "<memory>") -> "DaemonConfig":
        validate(raw, path)
        return cls(path=path, raw=dict(raw))


def validate(raw: t.Any, path: str = "<memory>") -> None:
    """Raise :class:`ConfigError` naming the first bad key."""
    if not isinstance(raw, dict):
        raise ConfigError(path, None, "the top level must be a JSON object")
    unknown = sorted(set(raw) - set(SCHEMA))
    if unknown:
        raise ConfigError(path, unknown[0], f"unknown configuration option (known: {', '.join(sorted(SCHEMA))})")
    for key, value in raw.items():
        types, _default = SCHEMA[key]
        if isinstance(value, bool) and bool not in types:
            raise ConfigError(path, key, f"expected {types[0].__name__}, got {value!r}")
        if not isinstance(value, types):
            raise ConfigError(path, key, f"expected {types[0].__name__}, got {type(value).__name__} {value!r}")
        check = _CHECKS.get(key)
        if check:
            check(path, key, value)


def _positive(path: str, key: str, value: int) -> None:
    if value < 1:
        raise ConfigError(path, key, f"must be at least 1, got {value}")


def _str_list(path: str, key: str, value: list) -> None:
    for item in value:
        if not isinstance(item, str) or not item:
            raise ConfigError(path, key, f"every entry must be a non-empty string, got {item!r}")


def _mirrors(path: str, key: str, value: list) -> None:
    import urllib.parse

    _str_list(path, key, value)
    for item in value:
        url = urllib.parse.urlsplit(item)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise ConfigError(path, key, f"mirror {item!r} must be an http:// or https:// URL")
        if url.path not in ("", "/"):
            raise ConfigError(path, key, f"mirror {item!r} must not have a path")


def _insecure(path: str, key: str, value: list) -> None:
    import ipaddress

    _str_list(path, key, value)
    for item in value:
        if "://" in item:
            raise ConfigError(path, key, f"{item!r}: give host[:port] or a CIDR, without a scheme")
        if "/" in item:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ConfigError(path, key, f"{item!r} is not a valid CIDR") from None


def _data_root(path: str, key: str, value: str) -> None:
    if not os.path.isabs(value):
        raise ConfigError(path, key, f"{value!r} must be an absolute path")


def _userns_remap(path: str, key: str, value: str) -> None:
    if not value:
        return
    from .userns import parse_value  # only when the key is set

    try:
        parse_value(value)
    except ValueError as exc:
        raise ConfigError(path, key, f"{value!r}: {exc}") from None


def _bip(path: str, key: str, value: str) -> None:
    """Docker's ``bip``: the bridge's own address with the prefix of its subnet (``192.168.1.1/24``)."""
    import ipaddress

    try:
        iface = ipaddress.ip_interface(value)
    except ValueError:
        raise ConfigError(path, key, f"{value!r} is not an address with a prefix length in CIDR form "
                                     "(e.g. 192.168.1.1/24)") from None
    if "/" not in value or iface.version != 4:
        raise ConfigError(path, key, f"{value!r} must be an IPv4 address with a prefix length (e.g. 192.168.1.1/24)")
    if iface.network.prefixlen < 31 and iface.ip in (iface.network.network_address, iface.network.broadcast_address):
        raise ConfigError(path, key, f"{value!r}: the bridge needs a host address of {iface.network}, not its "
                                     "network or broadcast address")


def _cidr(path: str, key: str, value: str) -> None:
    import ipaddress

    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ConfigError(path, key, f"{value!r} is not a valid CIDR (e.g. 172.17.1.0/24)") from None
    if "/" not in value:
        raise ConfigError(path, key, f"{value!r} is not a valid CIDR: it has no prefix length (e.g. 172.17.1.0/24)")


def _pools(path: str, key: str, value: list) -> None:
    """``[{"base": CIDR, "size": N}, ...]``: each base a subnet, each size a prefix length inside it, and
    no two bases overlapping (a subnet handed out from one would collide with the other's)."""
    import ipaddress

    seen: list[tuple[int, t.Any]] = []
    for i, pool in enumerate(value):
        where = f"{key}[{i}]"
        if not isinstance(pool, dict) or set(pool) != {"base", "size"}:
            raise ConfigError(path, where, f"must be an object with exactly base and size, got {pool!r}")
        try:
            base = ipaddress.ip_network(str(pool["base"]), strict=True)
        except ValueError as exc:
            raise ConfigError(path, f"{where}.base", f"{pool['base']!r} is not a subnet in CIDR form ({exc})") from None
        size = pool["size"]
        if isinstance(size, bool) or not isinstance(size, int) or not base.prefixlen <= size <= base.max_prefixlen:
            raise ConfigError(path, f"{where}.size", f"{size!r} must be a prefix length from {base.prefixlen} to "
                                                     f"{base.max_prefixlen}")
        for j, other in seen:
            if other.version == base.version and other.overlaps(base):
                raise ConfigError(path, where, f"base {base} overlaps {key}[{j}] (base {other})")
        seen.append((i, base))


def _log_opts(path: str, key: str, value: dict) -> None:
    """Docker's ``log-opts`` is a map of strings; ``max-size`` and ``max-file`` are checked as containers
    read them (``core.units``), so a bad size fails here rather than at the next ``create``."""
    for opt, val in value.items():
        if not isinstance(val, str):
            raise ConfigError(path, f"{key}.{opt}", f"must be a string, as in Docker, got {val!r}")
    if "max-size" in value:
        from ..core import units

        try:
            if units.parse_size(value["max-size"]) == 0:
                raise ValueError("must be more than 0 (leave it out for no rotation)")
        except ValueError as exc:
            raise ConfigError(path, f"{key}.max-size", f"{value['max-size']!r}: {exc}") from None
    if "max-file" in value:
        text = value["max-file"]
        if not text.isdigit() or int(text) < 1:
            raise ConfigError(path, f"{key}.max-file", f"{text!r}: must be a whole number of at least 1")


def _cgroupns(path: str, key: str, value: str) -> None:
    if value not in ("private", "host"):
        raise ConfigError(path, key, f"{value!r}: must be private or host")


def _mtu(path: str, key: str, value: int) -> None:
    if not 68 <= value <= 65535:
        raise ConfigError(path, key, f"{value} is outside 68..65535")


#: The keys of ``proxies`` (dockerd's names).
PROXY_KEYS = ("http-proxy", "https-proxy", "no-proxy")


def _proxies(path: str, key: str, value: dict) -> None:
    import urllib.parse

    for name, item in value.items():
        where = f"{key}.{name}"
        if name not in PROXY_KEYS:
            raise ConfigError(path, where, f"unknown proxy setting (known: {', '.join(PROXY_KEYS)})")
        if not isinstance(item, str):
            raise ConfigError(path, where, f"expected str, got {type(item).__name__} {item!r}")
        if name != "no-proxy" and item:
            url = urllib.parse.urlsplit(item if "://" in item else "http://" + item)
            if url.scheme not in ("http", "https", "socks5") or not url.hostname:
                raise ConfigError(path, where, f"{item!r} is not a proxy URL (http://host:port)")


_CHECKS: dict[str, t.Callable[[str, str, t.Any], None]] = {
    "max-concurrent-downloads": _positive,
    "max-concurrent-uploads": _positive,
    "max-download-attempts": _positive,
    "registry-mirrors": _mirrors,
    "insecure-registries": _insecure,
    "dns": _str_list,
    "dns-opts": _str_list,
    "dns-search": _str_list,
    "data-root": _data_root,
    "mtu": _mtu,
    "labels": _str_list,
    "userns-remap": _userns_remap,
    "bip": _bip,
    "fixed-cidr": _cidr,
    "default-address-pools": _pools,
    "log-opts": _log_opts,
    "default-cgroupns-mode": _cgroupns,
    "exec-opts": _str_list,
    "proxies": _proxies,
}

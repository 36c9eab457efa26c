# SPDX-License-Identifier: GPL-3.0-or-later
"""Normalisers of the network options: ``published_ports`` (every ``docker run -p`` form), ``exposed_ports``,
``networks``, ``etc_hosts``, ``dns_*``, ``mac_address``.

On the start path of ``berth run``: no typing, re or ipaddress at import time (``ipaddress`` only when a
value has an address to check).
"""
from __future__ import annotations

from ...errors import InvalidOption

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

PROTOCOLS = ("tcp", "udp")


def _fail(field: str, value: t.Any, reason: str) -> t.NoReturn:
    raise InvalidOption(field, value, reason)


def _address(text: str, field: str, value: t.Any) -> str:
    import ipaddress

    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        _fail(field, value, f"{text!r} is not an IP address")


def _port_range(text: str, field: str, value: t.Any, allow_zero: bool = False) -> tuple[int, int]:
    first, dash, last = text.partition("-")
    try:
        lo = int(first)
        hi = int(last) if dash else lo
    except ValueError:
        _fail(field, value, f"{text!r} is not a port or a port range")
    if not (1 if not allow_zero else 0) <= lo <= hi <= 65535:
        _fail(field, value, f"{text!r} is not a port (1-65535) or a range low-high")
    return lo, hi


def _split_proto(text: str, field: str, value: t.Any) -> tuple[str, str]:
    body, slash, proto = text.rpartition("/") if "/" in text else (text, "", "tcp")
    proto = proto.lower() or "tcp"
    if proto not in PROTOCOLS:
        _fail(field, value, f"protocol {proto!r} is not tcp or udp")
    return body, proto


def published_ports(value: t.Any, field: str) -> list[dict[str, t.Any]]:
    """``-p`` forms -> ``[{container_port, protocol, host_ip, host_port, host_port_end}]``, one per container
    port (ranges expanded), sorted. ``host_port`` 0 means a free ephemeral port; a host range with one
    container port (``8000-8010:80``) means the first free port of the range (``host_port_end``).

    ``80``, ``8080:80``, ``127.0.0.1:8080:80``, ``127.0.0.1::80``, ``[::1]:8080:80``, ``8000-8010:80-90``,
    any of them with ``/tcp`` or ``/udp``."""
    if isinstance(value, (str, int)):
        value = [value]
    if not isinstance(value, (list, tuple)):
        _fail(field, value, "must be a list of [[host_ip:][host_port]:]container_port[/protocol] strings")
    out: dict[tuple[int, str, str, int], dict[str, t.Any]] = {}
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        text = str(item).strip()
        if not text or isinstance(item, bool):
            _fail(where, item, "an empty port mapping")
        body, proto = _split_proto(text, where, item)
        host_ip, host = "", ""
        if body.startswith("["):  # [v6]:host:container
            close = body.find("]")
            if close < 0 or body[close + 1:close + 2] != ":":
                _fail(where, item, "an IPv6 host address is written [address]:host_port:container_port")
            host_ip = _address(body[1:close], where, item)
            host, _colon, container = body[close + 2:].rpartition(":")
        else:
            parts = body.split(":")
            if len(parts) == 1:
                container = parts[0]
            elif len(parts) == 2:
                host, container = parts
            elif len(parts) == 3:
                host_ip = _address(parts[0], where, item)
                host, container = parts[1], parts[2]
            else:
                _fail(where, item, "too many ':' ([[host_ip:][host_port]:]container_port[/protocol])")
        c_lo, c_hi = _port_range(container, where, item)
        if host:
            h_lo, h_hi = _port_range(host, where, item)
        else:
            h_lo = h_hi = 0
        count = c_hi - c_lo + 1
        if host and count > 1 and h_hi - h_lo + 1 != count:
            _fail(where, item, f"the host range {host} and the container range {container} differ in length")
        for n in range(count):
            if not host:
                hp, end = 0, 0
            elif count > 1:
                hp, end = h_lo + n, h_lo + n
            else:
                hp, end = h_lo, h_hi
            entry = {"container_port": c_lo + n, "protocol": proto, "host_ip": host_ip, "host_port": hp,
                     "host_port_end": end}
            out[(c_lo + n, proto, host_ip, hp)] = entry
    return [out[k] for k in sorted(out)]


def exposed_ports(value: t.Any, field: str) -> list[str]:
    """``80``, ``80/udp``, ``8000-8010`` -> sorted ``["80/tcp", ...]``."""
    if isinstance(value, (str, int)):
        value = [value]
    if not isinstance(value, (list, tuple)):
        _fail(field, value, "must be a list of port[/protocol] strings")
    out = set()
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        body, proto = _split_proto(str(item).strip(), where, item)
        lo, hi = _port_range(body, where, item)
        out.update(f"{p}/{proto}" for p in range(lo, hi + 1))
    return sorted(out, key=lambda s: (int(s.split("/")[0]), s))


def networks(value: t.Any, field: str) -> list[dict[str, t.Any]]:
    """``[{name, aliases, ipv4_address}]`` (a plain string is a name), in the order given (eth0 first)."""
    if not isinstance(value, (list, tuple)):
        _fail(field, value, "must be a list of {name, aliases, ipv4_address}")
    out, seen = [], set()
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not item.get("name"):
            _fail(where, item, "must be a mapping with a name")
        unknown = sorted(set(item) - {"name", "aliases", "ipv4_address", "links", "ipv6_address"})
        if unknown:
            _fail(f"{where}.{unknown[0]}", item[unknown[0]], "unknown key (name, aliases, ipv4_address)")
        name = str(item["name"])
        if name in seen:
            _fail(where, name, "the network is listed twice")
        seen.add(name)
        aliases = item.get("aliases") or []
        if isinstance(aliases, str) or not all(isinstance(a, str) and a for a in aliases):
            _fail(f"{where}.aliases", aliases, "must be a list of names")
        address = item.get("ipv4_address")
        out.append({"name": name, "aliases": sorted(set(aliases)),
                    "ipv4_address": _address(str(address), f"{where}.ipv4_address", address) if address else None})
    return out


def network_changes(desired: t.Mapping[str, t.Any], recorded: t.Mapping[str, t.Any],
                    strict: bool = False) -> list[tuple[str, dict[str, t.Any]]] | None:
    """How an existing container gets the task's ``networks`` in place: ``[("disconnect"|"connect", entry)]``
    in order (community.docker with ``networks_cli_compatible=true``): a listed network it is not on is
    connected; one it is on with other aliases or address is disconnected and connected again; with
    *strict* (``comparisons: {networks: strict}``) a recorded network that is not listed is disconnected.
    The ``network_mode`` network is not touched here: a change to its aliases or address, and any change of
    a ``none``/``host``/``container:`` container, is a recreate (None). *desired*, *recorded*: normalised
    options (the task's, the container's record)."""
    def canonical(name: t.Any) -> str:
        return "bridge" if name in (None, "default") else str(name)

    def key(entry: t.Mapping[str, t.Any]) -> tuple[str, list[str], t.Any]:
        return canonical(entry["name"]), sorted(entry.get("aliases") or ()), entry.get("ipv4_address")

    mode = canonical(desired.get("network_mode") or recorded.get("network_mode"))
    if mode in ("none", "host") or mode.startswith("container:"):
        return None
    have = {canonical(e["name"]): e for e in recorded.get("networks") or ()}
    plan: list[tuple[str, dict[str, t.Any]]] = []
    wanted = set()
    for entry in desired.get("networks") or ():
        name = canonical(entry["name"])
        wanted.add(name)
        old = have.get(name)
        if old is not None and key(old) == key(entry):
            continue
        if name == mode:
            return None
        if old is not None:
            plan.append(("disconnect", old))
        plan.append(("connect", dict(entry, name=name)))
    if strict:
        plan += [("disconnect", old) for name, old in have.items() if name not in wanted and name != mode]
    return plan


def etc_hosts(value: t.Any, field: str) -> dict[str, str]:
    """``{name: address}``, or ``--add-host`` strings ``name:address`` (``name=address``)."""
    if isinstance(value, (list, tuple)):
        pairs = {}
        for i, item in enumerate(value):
            text = str(item)
            sep = "=" if "=" in text else ":"
            name, found, address = text.partition(sep)
            if not found or not name:
                _fail(f"{field}[{i}]", item, "must be name:address")
            pairs[name] = address
        value = pairs
    if not isinstance(value, dict):
        _fail(field, value, "must be a mapping of host names to addresses")
    out = {}
    for name, address in value.items():
        text = str(address)
        out[str(name)] = text if text == "host-gateway" else _address(text, f"{field}.{name}", address)
    return out


def mac_address(value: t.Any, field: str) -> str:
    text = str(value).strip().lower().replace("-", ":")
    parts = text.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p) for p in parts):
        _fail(field, value, "must be a MAC address such as 02:42:ac:11:00:02")
    if int(parts[0], 16) & 1:
        _fail(field, value, "is a multicast address")
    return text


def dns_servers(value: t.Any, field: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        _fail(field, value, "must be a list of IP addresses")
    return [_address(str(v), f"{field}[{i}]", v) for i, v in enumerate(value)]


def words(value: t.Any, field: str) -> list[str]:
    """A list of non-empty strings without blanks (search domains, resolver options)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        _fail(field, value, "must be a list of strings")
    for i, v in enumerate(value):
        if not isinstance(v, str) or not v or any(c.isspace() for c in v):
            _fail(f"{field}[{i}]", v, "must be a non-empty string without blanks")
    return list(value)


def uses_bridge(opts: t.Mapping[str, t.Any]) -> bool:
    """The container joins a bridge network: the engine makes its network namespace (a file it wires with
    pyroute2 and nft), which the runtime then joins. ``none``, ``host`` and ``container:NAME`` do not."""
    mode = opts.get("network_mode") or "bridge"
    return mode not in ("none", "host") and not mode.startswith("container:")

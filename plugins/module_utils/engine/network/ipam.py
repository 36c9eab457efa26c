# SPDX-License-Identifier: GPL-3.0-or-later
"""IP address management: subnets for networks, addresses for containers (pure ``ipaddress`` plus one
JSON record per network).

Subnets come from the network's own ``subnet`` or from the engine config's ``default-address-pools``
(Docker's defaults: :data:`DEFAULT_POOLS`); a subnet picked from a pool never overlaps another network
or a route of the host (the caller passes the host's route destinations, read through ``links``).
The gateway is the subnet's first address unless given; ``ip_range`` (``fixed-cidr`` for the default
bridge) narrows where container addresses come from.

On disk: ``<directory>/<network>.json`` per network, written atomically (``core.fs.atomic_write_json``)
under one flock (``<directory>/ipam.lock``) and read back through ``core.trust`` (``core.fs.read_json``).
One lock for all networks: choosing a subnet must see every network, and an allocation is a few ms.

A bridge interface may be shared by several data roots (the default ``berth0``: a second data root adopts
the bridge's address), each with its own address book. :class:`BridgeClaims` keeps host-wide claims per
bridge interface (``/run/berth/bridges/<ifname>.json``: address -> data root, owner, network), so that
addresses on one bridge are unique on the host: an allocation consults the other data roots' claims and
writes this data root's addresses of that network as its own.
"""
from __future__ import annotations

import ipaddress
import os

from ..core import fs, trust
from ..core.layout import Layout
from ..core.locks import flock

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

#: Docker's default bridge subnet (``bip`` unset).
DEFAULT_BRIDGE_SUBNET = "172.17.0.0/16"
#: Docker's ``default-address-pools`` when unset: 172.17-31.0.0/16 in /16s, 192.168.0.0/16 in /20s.
DEFAULT_POOLS = tuple({"base": f"172.{n}.0.0/16", "size": 16} for n in range(17, 32)) + (
    {"base": "192.168.0.0/16", "size": 20},)
LOCK_NAME = "ipam.lock"
#: Host-wide address claims per bridge interface; /run is cleared at reboot, with the links themselves
CLAIMS_DIR = "/run/berth/bridges"
CLAIMS_LOCK = "bridges.lock"


def _invalid(field: str, value: t.Any, reason: str) -> Exception:
    from ..errors import InvalidOption

    return InvalidOption(field, value, reason)


def parse_network(value: t.Any, field: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A subnet (``10.1.0.0/24``) or refuse it naming *field*; host bits set are refused, as Docker does."""
    try:
        return ipaddress.ip_network(str(value), strict=True)
    except ValueError as exc:
        raise _invalid(field, value, f"not a subnet in CIDR form ({exc})") from None


def parse_address(value: t.Any, field: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        raise _invalid(field, value, "not an IP address") from None


def parse_pools(pools: t.Any, field: str = "default-address-pools") -> list[tuple[t.Any, int]]:
    """``[{"base": CIDR, "size": N}, ...]`` -> ``[(network, prefixlen), ...]``, each checked."""
    if not isinstance(pools, (list, tuple)) or not pools:
        raise _invalid(field, pools, "must be a non-empty list of {base, size}")
    result = []
    for i, pool in enumerate(pools):
        where = f"{field}[{i}]"
        if not isinstance(pool, dict) or "base" not in pool or "size" not in pool:
            raise _invalid(where, pool, "must be a mapping with base and size")
        base = parse_network(pool["base"], where + ".base")
        size = pool["size"]
        if isinstance(size, bool) or not isinstance(size, int) or not base.prefixlen <= size <= base.max_prefixlen:
            reason = f"must be a prefix length from {base.prefixlen} to {base.max_prefixlen}"
            raise _invalid(where + ".size", size, reason)
        result.append((base, size))
    return result


def _overlaps(net: t.Any, taken: t.Iterable[t.Any]) -> bool:
    return any(net.version == other.version and net.overlaps(other) for other in taken)


def pick_subnet(pools: t.Any, taken: t.Iterable[t.Any]) -> t.Any:
    """The first subnet of *pools* (:func:`parse_pools` input) that overlaps none of *taken* (networks);
    ``Conflict`` when the pools are exhausted. Default routes (``/0``) in *taken* are ignored."""
    taken = [n for n in taken if n.prefixlen]
    for base, size in parse_pools(pools):
        for candidate in base.subnets(new_prefix=size):
            if not _overlaps(candidate, taken):
                return candidate
    from ..errors import Conflict

    raise Conflict("no free subnet left in default-address-pools: every one overlaps a network or a host route")


def plan_network(subnet: t.Any = None, gateway: t.Any = None, ip_range: t.Any = None,
                 pools: t.Any = DEFAULT_POOLS, taken: t.Iterable[t.Any] = ()) -> dict[str, str]:
    """The addressing of a new network (pure): ``{"subnet", "gateway", "ip_range"}`` as strings.

    *subnet* given: checked against *taken* (other networks only: a user may choose a routed subnet, as in
    Docker). Else picked from *pools* avoiding *taken*. *ip_range* must lie in the subnet, *gateway* too.
    """
    taken = list(taken)
    if subnet is not None:
        net = parse_network(subnet, "subnet")
    else:
        net = pick_subnet(pools, taken)
    if gateway is not None:
        gw = parse_address(gateway, "gateway")
        if gw not in net:
            raise _invalid("gateway", gateway, f"is not in subnet {net}")
    else:
        if net.num_addresses < 4:
            raise _invalid("subnet", str(net), "is too small for a gateway and a container")
        gw = net.network_address + 1
    if ip_range is not None:
        rng = parse_network(ip_range, "ip_range")
        if rng.version != net.version or not rng.subnet_of(net):
            raise _invalid("ip_range", ip_range, f"is not inside subnet {net}")
    else:
        rng = net
    return {"subnet": str(net), "gateway": str(gw), "ip_range": str(rng)}


def free_address(record: dict[str, t.Any], wanted: t.Any = None) -> str:
    """The first free container address of a network *record* (pure), or *wanted* if free and valid."""
    net = ipaddress.ip_network(record["subnet"])
    used = set(record.get("addresses", {}))
    reserved = {record["gateway"], str(net.network_address)}
    if net.version == 4:
        reserved.add(str(net.broadcast_address))
    if wanted is not None:
        addr = parse_address(wanted, "ipv4_address")
        if addr not in net:
            raise _invalid("ipv4_address", wanted, f"is not in subnet {net}")
        if str(addr) in reserved or str(addr) in used:
            from ..errors import Conflict

            owner = record.get("addresses", {}).get(str(addr), "the network")
            raise Conflict(f"address {addr} is already in use (by {owner})")
        return str(addr)
    rng = ipaddress.ip_network(record["ip_range"])
    for addr in rng.hosts() if rng.num_addresses > 2 else rng:
        text = str(addr)
        if text not in used and text not in reserved:
            return text
    from ..errors import Conflict

    raise Conflict(f"no free address left in {rng} (network {record.get('name', '?')})")


class BridgeClaims:
    """Host-wide claims on the addresses of bridge interfaces, for the data root *root*.

    ``<directory>/<ifname>.json``: ``{address: {"root", "owner", "network"}}``, root's (0700 directory, 0600
    files), written atomically and read back through ``core.trust``, changed under one flock
    (``bridges.lock``) that a data root takes inside its own IPAM lock. A claim of another data root is
    stale, and dropped when it is met, when that data root or its container (``owner``) no longer exists: a
    crash or a deleted data root never holds an address for good. This data root's claims mirror its
    address book (:meth:`write`), so they need no staleness check of their own.
    """

    def __init__(self, root: str, directory: str = CLAIMS_DIR) -> None:
        self.root = root
        self.directory = directory

    def lock(self) -> flock:
        fs.ensure_dir(self.directory, 0o700)
        trust.check_path(self.directory, "directory")
        return flock(os.path.join(self.directory, CLAIMS_LOCK))

    def _path(self, bridge: str) -> str:
        if not bridge or "/" in bridge or bridge.startswith("."):
            raise _invalid("bridge", bridge, "is not an interface name")
        return os.path.join(self.directory, bridge + ".json")

    def read(self, bridge: str) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
        """Under :meth:`lock`: ``(claims as stored, the live claims of the other data roots)``."""
        current = fs.read_json(self._path(bridge)) or {}
        foreign = {}
        for addr, claim in current.items():
            root, owner = claim.get("root"), claim.get("owner")
            if root == self.root or not isinstance(root, str) or not isinstance(owner, str) or "/" in owner:
                continue
            if owner and os.path.isdir(Layout(root).container_dir(owner)):
                foreign[addr] = claim
        return current, foreign

    def write(self, bridge: str, network: str, addresses: t.Mapping[str, str], foreign: t.Mapping[str, t.Any],
              current: t.Mapping[str, t.Any]) -> None:
        """Under :meth:`lock`: the claims on *bridge* become *foreign* (:meth:`read`) plus this data root's
        *addresses* (address -> owner) on *network*; an address another data root holds stays theirs."""
        claims = dict(foreign)
        for addr, owner in addresses.items():
            claims.setdefault(addr, {"root": self.root, "owner": owner, "network": network})
        if claims == current:
            return
        if claims:
            fs.atomic_write_json(self._path(bridge), claims, mode=0o600, fsync=False, pretty=False)
        else:
            fs.remove_quietly(self._path(bridge))

    @staticmethod
    def claimant(claim: t.Mapping[str, t.Any]) -> str:
        return f"container {str(claim.get('owner'))[:12]} of data root {claim.get('root')}"


class Ipam:
    """The persisted address book: one JSON record per network under *directory*. With *claims*, the
    addresses of a network allocated with its ``bridge`` are unique on that bridge host-wide."""

    def __init__(self, directory: str, claims: BridgeClaims | None = None) -> None:
        self.directory = directory
        self.claims = claims

    def _path(self, network: str) -> str:
        if not network or "/" in network or network.startswith("."):
            raise _invalid("network", network, "is not a valid network name")
        return os.path.join(self.directory, network + ".json")

    def _lock(self) -> flock:
        fs.ensure_dir(self.directory, 0o700)
        return flock(os.path.join(self.directory, LOCK_NAME))

    def _records(self) -> dict[str, dict[str, t.Any]]:
        result = {}
        try:
            names = sorted(os.listdir(self.directory))
        except FileNotFoundError:
            return result
        for name in names:
            if name.endswith(".json") and not name.startswith("."):
                record = fs.read_json(os.path.join(self.directory, name))
                if record is not None:
                    result[name[:-5]] = record
        return result

    def get(self, network: str) -> dict[str, t.Any] | None:
        return fs.read_json(self._path(network))

    def networks(self) -> dict[str, dict[str, t.Any]]:
        with self._lock():
            return self._records()

    def create(self, network: str, subnet: t.Any = None, gateway: t.Any = None, ip_range: t.Any = None,
               pools: t.Any = DEFAULT_POOLS, host_routes: t.Iterable[str] = ()) -> dict[str, t.Any]:
        """Record a new network and return its record; an existing one is returned unchanged.

        *host_routes*: destination CIDRs of the host's routes (``links.route_destinations``); a subnet
        picked from *pools* avoids them and every other network's subnet.
        """
        path = self._path(network)
        with self._lock():
            records = self._records()
            if network in records:
                return records[network]
            others = [ipaddress.ip_network(r["subnet"]) for r in records.values()]
            if subnet is not None:
                wanted = parse_network(subnet, "subnet")
                for name, r in records.items():
                    if _overlaps(wanted, [ipaddress.ip_network(r["subnet"])]):
                        from ..errors import Conflict

                        raise Conflict(f"subnet {wanted} overlaps network {name} ({r['subnet']})")
                taken = others
            else:
                taken = others + [ipaddress.ip_network(r, strict=False) for r in host_routes]
            record = dict(plan_network(subnet, gateway, ip_range, pools, taken), name=network, addresses={})
            fs.atomic_write_json(path, record, mode=0o600)
            return record

    def delete(self, network: str) -> None:
        path = self._path(network)
        with self._lock():
            if self.claims is not None:
                from ..errors import UntrustedPath

                try:
                    record = fs.read_json(path) or {}
                except UntrustedPath:  # a planted leftover: removed below, as before
                    record = {}
                if record.get("bridge"):
                    self._claim(record["bridge"], network, {})
            fs.remove_quietly(path)

    def _claim(self, bridge: str, network: str, addresses: t.Mapping[str, str]) -> None:
        """Under the lock: this data root's claims on *bridge* become *addresses* (of *network*)."""
        with self.claims.lock():
            current, foreign = self.claims.read(bridge)
            self.claims.write(bridge, network, addresses, foreign, current)

    def allocate(self, network: str, owner: str, address: t.Any = None, bridge: str | None = None) -> str:
        """An address on *network* for *owner* (a container id): its existing one, *address* if free, or the
        first free one. Persisted before it is returned.

        With *bridge* (and :class:`BridgeClaims`), an address another data root claims on that bridge is
        taken: it is skipped, a wanted *address* that it holds is a ``Conflict`` naming the holder, and
        *owner*'s existing address that it holds (claimed while the claims were gone, after a reboot) is
        given up for a new one. *owner*'s address is claimed again on every call (a start)."""
        path = self._path(network)
        wanted = None if address is None else str(parse_address(address, "ipv4_address"))
        with self._lock():
            record = fs.read_json(path)
            if record is None:
                from ..errors import NotFound

                raise NotFound("network", network)
            addresses = record.setdefault("addresses", {})
            mine = next((a for a, who in addresses.items() if who == owner and wanted in (None, a)), None)
            if self.claims is None or not bridge:
                if mine is not None:
                    return mine
                addr = free_address(record, wanted)
                addresses[addr] = owner
                fs.atomic_write_json(path, record, mode=0o600)
                return addr
            with self.claims.lock():
                current, foreign = self.claims.read(bridge)
                if mine is not None and mine in foreign:
                    del addresses[mine]
                    mine = None
                addr = mine
                if addr is None:
                    taken = dict(addresses)
                    taken.update((a, self.claims.claimant(c)) for a, c in foreign.items())
                    addr = free_address(dict(record, addresses=taken), wanted)
                    addresses[addr] = owner
                if mine is None or record.get("bridge") != bridge:
                    record["bridge"] = bridge
                    fs.atomic_write_json(path, record, mode=0o600)
                self.claims.write(bridge, network, addresses, foreign, current)
            return addr

    def release(self, owner: str, network: str | None = None) -> list[str]:
        """Give back every address of *owner* (on *network*, or on all networks); returns them."""
        released = []
        with self._lock():
            records = self._records() if network is None else {network: fs.read_json(self._path(network)) or {}}
            for name, record in records.items():
                addresses = record.get("addresses", {})
                mine = [a for a, who in addresses.items() if who == owner]
                if mine:
                    for a in mine:
                        del addresses[a]
                    fs.atomic_write_json(self._path(name), record, mode=0o600)
                    released.extend(mine)
                    if self.claims is not None and record.get("bridge"):
                        self._claim(record["bridge"], name, addresses)
        return released

# SPDX-License-Identifier: GPL-3.0-or-later
"""``NetworkService``: bridge networks and the containers' endpoints on them (``Engine.networks``).

Records, under ``<data root>/networks/`` (written with ``core.fs``, read through ``core.trust``, changed under
``networks.lock``)::

    <name>.json     the network: driver options, labels, bridge name, created (docs/dev/networking.md)
    ipam/           the address book (``network.Ipam``): subnet, gateway, ip_range, address -> container;
                    its addresses are claimed host-wide per bridge (``network.BridgeClaims``, /run/berth/bridges)

The default network ``bridge`` (interface ``berth0``) is made on first use from the engine config (``bip``,
``mtu``, ``fixed-cidr``, ``default-address-pools``); user networks by :meth:`NetworkService.create`.

A container's side (:meth:`setup_container`, :meth:`teardown_container`): its network namespace is a
file bind-mounted at ``containers/<id>/netns`` that the OCI spec joins by path. It is made and wired (veth
pairs, addresses, routes, published ports) by the engine before the runtime creates the container, so the
namespace exists and is complete before the container's process execs, and it outlives the process: a
restart (by hand or by the restart policy's monitor) finds it in place. It goes when the container is
removed (``rm``, or ``--rm``'s monitor: unmounting the file ends the namespace and its veth ends;
:meth:`sweep` then gives back what the monitor cannot: addresses and port rules).

On the start path of bridge containers: no typing, json, re or dataclasses at import time.
"""
from __future__ import annotations

import os

from ..core import fs
from ..core.locks import flock
from ..errors import Conflict, EngineError, InvalidOption, NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    from ..config.daemon import DaemonConfig
    from ..core.layout import Layout

DEFAULT_NETWORK = "bridge"
DEFAULT_BRIDGE = "berth0"
#: Docker's ``docker network create -o`` keys that Berth acts on
OPT_BRIDGE_NAME = "com.docker.network.bridge.name"
OPT_ICC = "com.docker.network.bridge.enable_icc"
OPT_MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"
OPT_MTU = "com.docker.network.driver.mtu"
KNOWN_OPTIONS = (OPT_BRIDGE_NAME, OPT_ICC, OPT_MASQUERADE, OPT_MTU)
#: network_mode values that are not a network
SPECIAL_MODES = ("none", "host")
LOCK_NAME = "networks.lock"
NETNS_FILE = "netns"
ENDPOINTS_FILE = "network.json"


def _net() -> t.Any:
    from .. import network

    return network


def _bool_opt(options: t.Mapping[str, t.Any], key: str, default: bool) -> bool:
    value = options.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise InvalidOption(f"options.{key}", value, "must be true or false")


def network_name(value: t.Any, field: str = "name") -> str:
    """A network name as Docker allows it: ``[a-zA-Z0-9][a-zA-Z0-9_.-]*``."""
    text = str(value or "")
    ok = bool(text) and text[0].isalnum() and all(c.isalnum() or c in "_.-" for c in text) and text.isascii()
    if not ok or len(text) > 128:
        raise InvalidOption(field, value, "a network name is [a-zA-Z0-9][a-zA-Z0-9_.-]* (up to 128 characters)")
    return text


def container_networks(opts: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """The networks a container joins, in interface order (eth0 first): ``[{name, aliases, ipv4_address}]``.

    ``network_mode`` unset or ``bridge``/``default`` is the default network; a network name is that network;
    ``none``/``host``/``container:X`` join none. ``networks`` adds entries (or the aliases and address of the
    ``network_mode`` network)."""
    mode = opts.get("network_mode") or DEFAULT_NETWORK
    if mode in SPECIAL_MODES or mode.startswith("container:"):
        return []
    if mode == "default":
        mode = DEFAULT_NETWORK
    out: list[dict[str, t.Any]] = [{"name": mode, "aliases": [], "ipv4_address": None}]
    for entry in opts.get("networks") or ():
        name = DEFAULT_NETWORK if entry.get("name") in ("default", None) else entry["name"]
        found = next((e for e in out if e["name"] == name), None)
        if found is None:
            found = {"name": name, "aliases": [], "ipv4_address": None}
            out.append(found)
        found["aliases"] = list(entry.get("aliases") or ())
        if entry.get("ipv4_address"):
            found["ipv4_address"] = entry["ipv4_address"]
    return out


class NetworkService:
    """Bridge networks: records, addresses, links and firewall rules, and the containers' endpoints.

    *users(network_name)*: the names of the containers that use a network (from the container records);
    *running(container_id)*: whether a container runs (its hosts file is live). Both injected by the facade,
    so a data root without containers never loads the container service.
    """

    def __init__(self, layout: Layout, config: DaemonConfig, lock_timeout: float | None = 600.0,
                 users: t.Callable[[str], list[str]] | None = None, firewall: t.Any = None,
                 netlink: t.Callable[[], t.Any] | None = None, containers: t.Any = None) -> None:
        #: the ContainerService (connect/disconnect change a container's record through it)
        self._containers = containers
        self.layout = layout
        self.config = config
        self.lock_timeout = lock_timeout
        self._users = users or (lambda name: [])
        self._firewall = firewall
        self._netlink = netlink
        #: the table's rules as the last port claim read them (the start adds its rules right after: one
        #: ``nft list`` less on the start path)
        self._listing: list[dict[str, t.Any]] | None = None

    # ------------------------------------------------------------ plumbing
    @property
    def directory(self) -> str:
        return self.layout.networks_dir

    def _scoped(self, name: str) -> str:
        """*name* (a network's, a container's ID) as a rule owner: ``<data root tag>:<name>``. The table is the
        host's, the records the data root's: a second data root (a test's, another engine's) never sweeps or
        replaces this one's rules, though it sees their ports."""
        import zlib

        return "%08x:%s" % (zlib.crc32(self.layout.root.encode()), name)

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, network_name(name) + ".json")

    def _lock(self) -> flock:
        fs.ensure_dir(self.directory, 0o700)
        return flock(os.path.join(self.directory, LOCK_NAME), timeout=self.lock_timeout)

    @property
    def ipam(self) -> t.Any:
        net = _net()
        return net.Ipam(os.path.join(self.directory, "ipam"), claims=net.BridgeClaims(self.layout.root))

    @property
    def firewall(self) -> t.Any:
        if self._firewall is None:
            self._firewall = _net().Firewall()
        return self._firewall

    @property
    def iptables(self) -> bool:
        """The engine config's ``iptables`` (true): whether Berth writes firewall rules at all."""
        return bool(self.config.get("iptables"))

    def open_netlink(self, netns: t.Any = None) -> t.Any:
        if self._netlink is not None and netns is None:
            return self._netlink()
        return _net().open_netlink(netns)

    def _read(self, name: str) -> dict[str, t.Any] | None:
        return fs.read_json(self._path(name))

    def _names(self) -> list[str]:
        try:
            entries = sorted(os.listdir(self.directory))
        except FileNotFoundError:
            return []
        return [e[:-5] for e in entries if e.endswith(".json") and not e.startswith(".")]

    # ------------------------------------------------------------ networks
    def create(self, spec: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        """``docker network create``: *spec* has ``name`` and optionally ``driver`` (bridge), ``subnet``,
        ``gateway``, ``ip_range``, ``internal``, ``mtu``, ``labels``, ``options`` (Docker's ``-o`` keys:
        bridge name, ICC, masquerade, MTU). Returns the record (:meth:`inspect`'s form). An existing name is a
        ``Conflict``; ``bridge`` is the default network's (made on first use)."""
        name = network_name(spec.get("name"))
        if name in (DEFAULT_NETWORK, "default") + SPECIAL_MODES:
            raise Conflict(f"network name {name!r} is predefined: user networks cannot use it")
        with self._lock():
            if self._read(name) is not None:
                raise Conflict(f"network with name {name} already exists")
            record = self._new_record(name, spec)
            self._materialise(record, fresh=True)
        return self.inspect(name)

    def _new_record(self, name: str, spec: t.Mapping[str, t.Any], default: bool = False) -> dict[str, t.Any]:
        """Under the lock: the addresses from IPAM (recorded), the record written; nothing on the host yet."""
        import time

        driver = spec.get("driver") or "bridge"
        if driver != "bridge":
            raise InvalidOption("driver", driver, "only the bridge driver is supported")
        if spec.get("enable_ipv6"):
            raise InvalidOption("enable_ipv6", True, "IPv6 networks are not supported yet")
        options = {str(k): str(v) for k, v in dict(spec.get("options") or {}).items()}
        unknown = sorted(set(options) - set(KNOWN_OPTIONS))
        if unknown:
            raise InvalidOption("options", unknown[0], f"unknown driver option (known: {', '.join(KNOWN_OPTIONS)})")
        labels = spec.get("labels") or {}
        if not isinstance(labels, dict):
            raise InvalidOption("labels", labels, "must be a mapping")
        mtu = spec.get("mtu") or options.get(OPT_MTU) or self.config.get("mtu")
        try:
            mtu = int(mtu)
        except (TypeError, ValueError):
            raise InvalidOption("mtu", mtu, "must be a number") from None
        if not 68 <= mtu <= 65535:
            raise InvalidOption("mtu", mtu, "must be from 68 to 65535")
        nid = os.urandom(32).hex()
        bridge = options.get(OPT_BRIDGE_NAME) or ((self.config.get("bridge") or DEFAULT_BRIDGE) if default
                                                  else "br-" + nid[:12])
        if len(bridge) > 15 or "/" in bridge or not bridge.strip():
            raise InvalidOption(f"options.{OPT_BRIDGE_NAME}", bridge, "an interface name of 1 to 15 characters")
        for other in self._names():
            rec = self._read(other) or {}
            if rec.get("bridge") == bridge:
                raise Conflict(f"bridge {bridge} is used by network {other} already")
        pools = self.config.get("default-address-pools") or _net().DEFAULT_POOLS
        routes: list[str] = []
        if spec.get("subnet") is None:
            nl = self.open_netlink()
            try:
                routes = nl.route_destinations()
            finally:
                nl.close()
        self.ipam.delete(name)  # a leftover address book of a network removed by a crash
        addressing = self.ipam.create(name, subnet=spec.get("subnet"), gateway=spec.get("gateway"),
                                      ip_range=spec.get("ip_range"), pools=pools, host_routes=routes)
        record = {
            "name": name, "id": nid, "driver": "bridge", "bridge": bridge,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "internal": bool(spec.get("internal")), "mtu": mtu, "labels": {str(k): str(v) for k, v in labels.items()},
            "options": options, "icc": _bool_opt(options, OPT_ICC, True),
            "masquerade": _bool_opt(options, OPT_MASQUERADE, True), "default": default,
            "subnet": addressing["subnet"], "gateway": addressing["gateway"], "ip_range": addressing["ip_range"],
        }
        try:
            fs.atomic_write_json(self._path(name), record, mode=0o600)
        except BaseException:
            self.ipam.delete(name)
            raise
        return record

    def _materialise(self, record: dict[str, t.Any], fresh: bool = False) -> None:
        """The bridge (with the gateway address, MTU) and the network's firewall rules; ``ip_forward`` on.
        A bridge already there is left as it is (*fresh*: a new network, whose rules are added)."""
        net = _net()
        nl = self.open_netlink()
        try:
            present = nl.link_index(record["bridge"]) is not None
            if present and not fresh:
                return
            prefixlen = int(record["subnet"].split("/")[1])
            try:
                net.ensure_bridge(nl, record["bridge"], record["gateway"], prefixlen, record["mtu"])
            except Exception as exc:
                if "File exists" not in str(exc):
                    raise
        finally:
            nl.close()
        if self.iptables:
            owner = "net:" + self._scoped(record["name"])
            self.firewall.remove(owner)  # after a reboot, or a crash: no duplicates
            self.firewall.add(self.firewall.network_rules(
                self._scoped(record["name"]), record["bridge"], record["subnet"], internal=record["internal"],
                masquerade=record["masquerade"], icc=record["icc"]))
            net.allow_localnet(record["bridge"])
        if self.config.get("ip-forward") and not record["internal"]:
            net.enable_ip_forward()

    def ensure(self, name: str) -> dict[str, t.Any]:
        """The record of network *name*, the default one made on first use; its bridge and rules in place."""
        name = DEFAULT_NETWORK if name == "default" else name
        record = self._read(name)
        if record is None:
            if name != DEFAULT_NETWORK:
                raise NotFound("network", name)
            with self._lock():
                record = self._read(name)
                if record is None:
                    record = self._new_record(name, self._default_spec(), default=True)
                    self._materialise(record, fresh=True)
                    return record
        self._materialise(record)
        return record

    def _default_spec(self) -> dict[str, t.Any]:
        """The default network from the engine config: ``bip`` (gateway/prefix), ``fixed-cidr``, ``mtu``; without
        ``bip`` the first subnet of the pools (172.17.0.0/16 first, as Docker's) that no route of the host uses."""
        import ipaddress

        spec: dict[str, t.Any] = {"name": DEFAULT_NETWORK, "mtu": self.config.get("mtu")}
        bip = self.config.get("bip")
        if bip:
            try:
                iface = ipaddress.ip_interface(bip)
            except ValueError:
                raise InvalidOption("bip", bip, "must be an address with a prefix length, such as 172.17.0.1/16") \
                    from None
            spec["subnet"] = str(iface.network)
            spec["gateway"] = str(iface.ip)
        else:  # the interface exists (another data root's default network, an earlier life): its address
            nl = self.open_netlink()
            try:
                found = nl.link_addresses(self.config.get("bridge") or DEFAULT_BRIDGE)
            finally:
                nl.close()
            if found:
                iface = ipaddress.ip_interface(found[0])
                spec["subnet"], spec["gateway"] = str(iface.network), str(iface.ip)
        if self.config.get("fixed-cidr"):
            spec["ip_range"] = self.config.get("fixed-cidr")
        return spec

    def inspect(self, name: str) -> dict[str, t.Any]:
        """Docker's ``network inspect`` form of one network."""
        name = DEFAULT_NETWORK if name == "default" else name
        record = self._find(name)
        book = self.ipam.get(record["name"]) or {}
        containers = {}
        for address, cid in sorted((book.get("addresses") or {}).items()):
            endpoint = (self.endpoints(cid).get("networks") or {}).get(record["name"]) or {}
            containers[cid] = {"Name": endpoint.get("container_name", ""), "EndpointID": endpoint.get("endpoint", ""),
                               "MacAddress": endpoint.get("mac", ""),
                               "IPv4Address": f"{address}/{record['subnet'].split('/')[1]}", "IPv6Address": ""}
        ipam_config = {"Subnet": record["subnet"], "Gateway": record["gateway"]}
        if record.get("ip_range") and record["ip_range"] != record["subnet"]:
            ipam_config["IPRange"] = record["ip_range"]
        options = dict(record.get("options") or {})
        options.setdefault(OPT_BRIDGE_NAME, record["bridge"])
        return {
            "Name": record["name"], "Id": record["id"], "Created": record["created"], "Scope": "local",
            "Driver": "bridge", "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Options": {}, "Config": [ipam_config]},
            "Internal": record["internal"], "Attachable": False, "Ingress": False,
            "Containers": containers, "Options": options, "Labels": dict(record.get("labels") or {}),
            "MTU": record["mtu"],
        }

    def _find(self, name: str) -> dict[str, t.Any]:
        """A record by name, full ID or unique ID prefix; NotFound."""
        try:
            record = self._read(name)
        except InvalidOption:
            record = None
        if record is not None:
            return record
        found = [r for r in (self._read(n) for n in self._names()) if r and r["id"].startswith(str(name))]
        if len(found) == 1 and name:
            return found[0]
        raise NotFound("network", name)

    def exists(self, name: str) -> bool:
        try:
            self._find(name)
        except NotFound:
            return False
        return True

    def list(self) -> list[dict[str, t.Any]]:
        """``docker network ls``: every network's inspect form (the default one once it was made)."""
        self.sweep()
        return [self.inspect(n) for n in self._names()]

    def remove(self, name: str) -> bool:
        """Remove a network, its bridge and its rules; refused (Conflict naming them) while containers use
        it. False when it does not exist."""
        try:
            record = self._find(name)
        except NotFound:
            return False
        self.sweep()
        with self._lock():
            users = sorted(set(self._users(record["name"])))
            if users:
                raise Conflict(f"network {record['name']} is in use by container(s): {', '.join(users)}")
            self._destroy(record)
        return True

    def _destroy(self, record: dict[str, t.Any]) -> None:
        net = _net()
        if self.iptables:
            self.firewall.remove("net:" + self._scoped(record["name"]), bridge=record["bridge"])
        nl = self.open_netlink()
        try:
            net.delete_bridge(nl, record["bridge"])
        finally:
            nl.close()
        self.ipam.delete(record["name"])
        fs.remove_quietly(self._path(record["name"]))
        if self.iptables and not self._names():
            self.firewall.delete_table()

    def prune(self) -> list[str]:
        """Remove the user networks no container uses; returns their names (the default one stays)."""
        self.sweep()
        removed = []
        for name in self._names():
            record = self._read(name) or {}
            if record.get("default"):
                continue
            with self._lock():
                if self._users(name):
                    continue
                self._destroy(record)
            removed.append(name)
        return removed

    def sweep(self, rules: bool = True, listing: list[dict[str, t.Any]] | None = None) -> int:
        """Give back what containers that are gone still hold (``--rm`` containers' monitors cannot: they do
        not load this code): addresses, port rules (*rules*; *listing*: the table's rules as just read, which
        loses the swept ones), their names in their peers' hosts files. Returns how many owners were swept."""
        book = self.ipam.networks() if os.path.isdir(os.path.join(self.directory, "ipam")) else {}
        gone, touched = set(), set()
        for name, record in book.items():
            for cid in (record.get("addresses") or {}).values():
                if not os.path.exists(self.layout.container_dir(cid)):
                    gone.add(cid)
                    touched.add(name)
        stale = []
        if rules and self.iptables and self._names():
            mine = "berth:ctr:" + self._scoped("")
            for rule in self.firewall.rules() if listing is None else list(listing):
                comment = rule.get("comment") or ""
                if comment.startswith(mine) and not os.path.exists(self.layout.container_dir(comment[len(mine):])):
                    gone.add(comment[len(mine):])
                    stale.append(rule)
                    if listing is not None:
                        listing.remove(rule)
        if stale:
            self.firewall.delete(stale)
        for cid in gone:
            self.ipam.release(cid)
        peers = {cid for name in touched if not (self._read(name) or {}).get("default")
                 for cid in ((self.ipam.get(name) or {}).get("addresses") or {}).values()}
        if peers:
            with self._lock():
                for cid in sorted(peers):
                    if os.path.exists(self.layout.container_dir(cid)):
                        self._write_hosts(cid)
        return len(gone)

    # ------------------------------------------------------------ containers
    def endpoints(self, cid: str) -> dict[str, t.Any]:
        """A container's ``network.json``: ``{"networks": {name: endpoint}, "ports": [...]}`` ({} without)."""
        return fs.read_json(self.layout.container_file(cid, ENDPOINTS_FILE)) or {}

    def netns_path(self, cid: str) -> str:
        return self.layout.container_file(cid, NETNS_FILE)

    def setup_container(self, cid: str, name: str, opts: t.Mapping[str, t.Any], hostname: str,
                        exposed: t.Iterable[str] = ()) -> str | None:
        """Before the runtime creates the container: its network namespace (``netns``, joined by path),
        one veth pair per network (eth0, eth1, ...), addresses, the default route, published ports, and its
        ``/etc/hosts`` (and its peers' on user networks). Returns the namespace's path (None: no bridge).
        A namespace that is in place already (a restart) is kept as it is. On failure nothing is left."""
        nets = container_networks(opts)
        if not nets:
            return None
        path = self.netns_path(cid)
        if os.path.ismount(path) and self.endpoints(cid):
            return path
        if os.path.ismount(path):  # made, but its wiring failed half-way: start again
            unmount_netns(path)
        fs.remove_quietly(path)  # after a reboot: the file without its namespace
        records = [self.ensure(n["name"]) for n in nets]
        self.sweep(rules=False)  # addresses of --rm containers that are gone
        net = _net()
        made_ns = False
        try:
            endpoints: dict[str, t.Any] = {}
            with self._lock():
                book = self.ipam
                for i, (entry, record) in enumerate(zip(nets, records)):
                    address = book.allocate(record["name"], cid, entry.get("ipv4_address"), bridge=record["bridge"])
                    endpoints[record["name"]] = {
                        "ip": address, "prefixlen": int(record["subnet"].split("/")[1]),
                        "gateway": record["gateway"], "ifname": f"eth{i}", "host_ifname": f"vb{cid[:9]}{i}",
                        "aliases": list(entry.get("aliases") or ()), "network_id": record["id"],
                        "endpoint": os.urandom(32).hex(), "container_name": name,
                        "mac": (opts.get("mac_address") if i == 0 else None) or net.stable_mac(address),
                        "default": bool(record.get("default")),
                    }
                ports = self._claim_ports(cid, opts, exposed, endpoints[records[0]["name"]]["ip"])
            make_netns(path)
            made_ns = True
            host = self.open_netlink()
            try:
                for record in records:
                    ep = endpoints[record["name"]]
                    gateway = ep["gateway"] if ep["ifname"] == "eth0" and not record["internal"] else None
                    net.attach(host, record["bridge"], ep["host_ifname"], path, ep["ip"], ep["prefixlen"], gateway,
                               mtu=record["mtu"], mac=ep["mac"], ifname=ep["ifname"])
                    try:
                        net.set_hairpin(record["bridge"], ep["host_ifname"])
                    except OSError:
                        pass
            finally:
                host.close()
            if ports and self.iptables:
                self.firewall.add(self.firewall.port_rules("ctr:" + self._scoped(cid), ports),
                                  listing=self._listing)
            state = {"networks": endpoints, "ports": ports, "hostname": hostname, "name": name,
                     "extra_hosts": [list(h) for h in extra_hosts(opts)]}
            fs.atomic_write_json(self.layout.container_file(cid, ENDPOINTS_FILE), state, mode=0o600, fsync=False)
            with self._lock():
                self._write_hosts(cid, state)
                for peer in self._peers(cid, state):
                    self._write_hosts(peer)
        except BaseException:
            self.teardown_container(cid, unmount=made_ns)
            raise
        return path

    def connect(self, container: str, network: str, aliases: t.Iterable[str] = (),
                ipv4_address: str | None = None) -> bool:
        """``docker network connect``: the container joins *network* (its next interface, ``ethN``), at
        once when its namespace exists, and its record says so (a later start, or the ``container`` module,
        sees it). False when it is connected already with the same settings."""
        if self._containers is None:
            raise EngineError("connect needs the container service")
        return bool(self._containers.connect(container, network, list(aliases or ()), ipv4_address))

    def disconnect(self, container: str, network: str, force: bool = False) -> bool:
        """``docker network disconnect``: its interface on *network* goes, and its address; False when it was
        not connected."""
        if self._containers is None:
            raise EngineError("disconnect needs the container service")
        return bool(self._containers.disconnect(container, network, force=force))

    def attach_endpoint(self, cid: str, name: str, entry: t.Mapping[str, t.Any]) -> dict[str, t.Any] | None:
        """Wire one more network into the existing namespace of *cid* (connect on a started container);
        None when it has no namespace yet (its start wires it)."""
        path = self.netns_path(cid)
        state = self.endpoints(cid)
        if not (os.path.ismount(path) and state):
            return None
        record = self.ensure(entry["name"])
        net = _net()
        networks = state.setdefault("networks", {})
        if record["name"] in networks:
            raise Conflict(f"container {name} is already connected to network {record['name']}")
        used = {int(ep["ifname"][3:]) for ep in networks.values()}
        n = next(i for i in range(len(used) + 1) if i not in used)
        with self._lock():
            address = self.ipam.allocate(record["name"], cid, entry.get("ipv4_address"), bridge=record["bridge"])
        ep = {"ip": address, "prefixlen": int(record["subnet"].split("/")[1]), "gateway": record["gateway"],
              "ifname": f"eth{n}", "host_ifname": f"vb{cid[:9]}{n}", "aliases": list(entry.get("aliases") or ()),
              "network_id": record["id"], "endpoint": os.urandom(32).hex(), "container_name": name,
              "mac": net.stable_mac(address), "default": bool(record.get("default")),
              "ipv4_address": entry.get("ipv4_address")}
        host = self.open_netlink()
        try:
            net.attach(host, record["bridge"], ep["host_ifname"], path, address, ep["prefixlen"], None,
                       mtu=record["mtu"], mac=ep["mac"], ifname=ep["ifname"])
        except BaseException:
            self.ipam.release(cid, record["name"])
            raise
        finally:
            host.close()
        networks[record["name"]] = ep
        fs.atomic_write_json(self.layout.container_file(cid, ENDPOINTS_FILE), state, mode=0o600, fsync=False)
        with self._lock():
            self._write_hosts(cid, state)
            for peer in self._peers(cid, state):
                self._write_hosts(peer)
        return ep

    def detach_endpoint(self, cid: str, network: str) -> bool:
        """Take *cid* off *network*: its veth (the peer in the namespace goes with it), its address, its name
        in the peers' hosts files. False when it had no endpoint there."""
        state = self.endpoints(cid)
        ep = (state.get("networks") or {}).get(network)
        released = self.ipam.release(cid, network) if self.exists(network) else []
        if ep is None:
            return bool(released)
        peers = self._peers(cid, state)
        host = self.open_netlink()
        try:
            _net().delete_link(host, ep["host_ifname"])
        finally:
            host.close()
        del state["networks"][network]
        fs.atomic_write_json(self.layout.container_file(cid, ENDPOINTS_FILE), state, mode=0o600, fsync=False)
        with self._lock():
            self._write_hosts(cid, state)
            for peer in peers:
                self._write_hosts(peer)
        return True

    def teardown_container(self, cid: str, unmount: bool = True) -> None:
        """Undo :meth:`setup_container`: port rules, addresses, the namespace (its veth ends go with it),
        ``network.json``; the peers' hosts files no longer name it. Idempotent."""
        state = self.endpoints(cid)
        peers = self._peers(cid, state) if state else []
        if self.iptables and os.path.isdir(self.directory) and self._names():
            self.firewall.remove("ctr:" + self._scoped(cid))
        if os.path.isdir(os.path.join(self.directory, "ipam")):
            self.ipam.release(cid)
        path = self.netns_path(cid)
        if unmount and os.path.ismount(path):
            unmount_netns(path)
        fs.remove_quietly(path)
        fs.remove_quietly(self.layout.container_file(cid, ENDPOINTS_FILE))
        if peers:
            with self._lock():
                for peer in peers:
                    self._write_hosts(peer)

    # ------------------------------------------------------------ ports
    def check_ports(self, opts: t.Mapping[str, t.Any]) -> None:
        """At create: the fixed host ports of *opts* are free (a ``Conflict`` naming the port otherwise), so
        a run whose port is taken leaves no container behind. The start checks again, and claims them."""
        if not any(p.get("host_port") for p in opts.get("published_ports") or ()):
            return
        with self._lock():
            self._claim_ports("", {"published_ports": opts["published_ports"]}, (), "0.0.0.0")

    def _claim_ports(self, cid: str, opts: t.Mapping[str, t.Any], exposed: t.Iterable[str],
                     container_ip: str) -> list[dict[str, t.Any]]:
        """Under the lock: the published ports with their host ports chosen (``-P`` and ``-p 80``: a free
        ephemeral port) and checked: a port another Berth container publishes, or a socket of the host
        listens on, is a ``Conflict`` naming it."""
        wanted = [dict(p) for p in opts.get("published_ports") or ()]
        if opts.get("publish_all_ports"):
            have = {(p["container_port"], p["protocol"]) for p in wanted}
            for spec in list(exposed) + list(opts.get("exposed_ports") or ()):
                port, _slash, proto = str(spec).partition("/")
                key = (int(port), proto or "tcp")
                if key not in have:
                    have.add(key)
                    wanted.append({"container_port": key[0], "protocol": key[1], "host_ip": "", "host_port": 0})
        if not wanted:
            return []
        listing = self.firewall.rules() if self.iptables else []
        self._listing = listing
        # rules of containers that are gone (--rm ones: their monitor does not load this code) or stopped (the
        # monitor unmounted their namespace; the rules are added after it is mounted) do not hold their ports,
        # as in Docker: they are dropped here, so a run after a run, or after a stop, finds the port free
        prefix = "berth:ctr:" + self._scoped("")
        stale = [r for r in listing if (r.get("comment") or "").startswith(prefix)
                 and (r["comment"][len(prefix):] == cid  # its own, from its last start: replaced
                      or not os.path.ismount(self.netns_path(r["comment"][len(prefix):])))]
        if stale:
            self.firewall.delete(stale)
            listing = [r for r in listing if r not in stale]
            self._listing = listing
        taken = self._published(listing) if self.iptables else []
        default_ip = self.config.get("ip") or "0.0.0.0"
        out = []
        for port in wanted:
            proto, host_ip = port.get("protocol") or "tcp", port.get("host_ip") or default_ip
            candidates = range(int(port["host_port"]), int(port.get("host_port_end") or port["host_port"]) + 1)
            chosen = None
            for host_port in candidates:
                if host_port == 0:
                    chosen = free_port(proto, host_ip)
                    break
                owner = _owner_of(taken, proto, host_ip, host_port)
                if owner is None and port_free(proto, host_ip, host_port):
                    chosen = host_port
                    break
                if len(candidates) == 1:
                    who = f"container {owner[:12]}" if owner else "a process of the host"
                    raise Conflict(f"port {host_ip}:{host_port}/{proto} is already in use (by {who})")
            if chosen is None:
                raise Conflict(f"no free port in {host_ip}:{candidates[0]}-{candidates[-1]}/{proto}")
            entry = {"protocol": proto, "host_ip": host_ip, "host_port": chosen,
                     "container_port": int(port["container_port"]), "container_ip": container_ip}
            taken.append((proto, host_ip, chosen, cid))
            out.append(entry)
        return out

    def _published(self, listing: list[dict[str, t.Any]]) -> list[tuple[str, str, int, str]]:
        """``(protocol, host_ip, host_port, container_id)`` of every Berth port rule of *listing*."""
        out = []
        for rule in listing:
            comment = rule.get("comment") or ""
            if not comment.startswith("berth:ctr:"):
                continue
            proto, host_ip, port = "tcp", "0.0.0.0", None
            for expr in rule.get("expr") or ():
                match = expr.get("match") or {}
                payload = (match.get("left") or {}).get("payload") if isinstance(match.get("left"), dict) else None
                if not payload:
                    continue
                if payload.get("field") == "dport":
                    proto, port = payload.get("protocol", "tcp"), match.get("right")
                elif payload.get("field") == "daddr":
                    host_ip = str(match.get("right"))
            if port is not None:
                out.append((proto, host_ip, int(port), comment.rsplit(":", 1)[1]))
        return out

    # ------------------------------------------------------------ hosts files
    def _peers(self, cid: str, state: t.Mapping[str, t.Any]) -> list[str]:
        """The other containers on the user networks of *cid* (their hosts files name it)."""
        peers: set[str] = set()
        for name, ep in (state.get("networks") or {}).items():
            if ep.get("default"):
                continue
            book = self.ipam.get(name) or {}
            peers.update(c for c in (book.get("addresses") or {}).values() if c != cid)
        return sorted(p for p in peers if os.path.exists(self.layout.container_dir(p)))

    def _write_hosts(self, cid: str, state: t.Mapping[str, t.Any] | None = None) -> None:
        """Under the lock: *cid*'s /etc/hosts from its ``network.json`` and its peers', rewritten in place
        (it is bind-mounted into the running container: a rename would leave the container the old one)."""
        state = state if state is not None else self.endpoints(cid)
        if not state:
            return
        mine = state.get("networks") or {}
        names = [state.get("hostname") or cid[:12]]
        if state.get("name") and state["name"] not in names:
            names.append(state["name"])
        aliases = [a for ep in mine.values() for a in ep.get("aliases") or ()]
        text = _net().hosts_file(names[0], [ep["ip"] for ep in mine.values()], names[1:] + aliases,
                                 [tuple(h) for h in state.get("extra_hosts") or ()])
        lines = []
        for peer in self._peers(cid, state):
            other = self.endpoints(peer)
            for netname, ep in (other.get("networks") or {}).items():
                if netname in mine and not ep.get("default"):
                    words = [other.get("name") or ""] + list(ep.get("aliases") or ()) + [other.get("hostname") or ""]
                    seen: list[str] = []
                    for w in words:
                        if w and w not in seen:
                            seen.append(w)
                    lines.append(f"{ep['ip']}\t" + " ".join(seen))
        write_in_place(self.layout.container_file(cid, "hosts"), text + "".join(line + "\n" for line in lines))


def extra_hosts(opts: t.Mapping[str, t.Any]) -> list[tuple[str, str]]:
    """``etc_hosts`` (``{name: address}``) as ``(name, address)`` pairs."""
    hosts = opts.get("etc_hosts") or {}
    return [(str(k), str(v)) for k, v in hosts.items()]


def write_in_place(path: str, text: str) -> None:
    """Rewrite *path*'s content keeping its inode (a file bind-mounted into a container)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _owner_of(taken: t.Iterable[tuple[str, str, int, str]], proto: str, host_ip: str, port: int) -> str | None:
    for t_proto, t_ip, t_port, owner in taken:
        if t_proto == proto and t_port == port and (
                t_ip in ("", "0.0.0.0", "::") or host_ip in ("", "0.0.0.0", "::") or t_ip == host_ip):
            return owner
    return None


def _socket_for(proto: str, host_ip: str) -> t.Any:
    import socket

    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    sock = socket.socket(family, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


def port_free(proto: str, host_ip: str, port: int) -> bool:
    """No socket of the host holds *port* on *host_ip* (a bind succeeds: a listener or a bound UDP
    socket makes it fail; TIME_WAIT does not, with SO_REUSEADDR)."""
    sock = _socket_for(proto, host_ip)
    try:
        sock.bind((host_ip or "0.0.0.0", port))
    except OSError:
        return False
    finally:
        sock.close()
    return True


def free_port(proto: str, host_ip: str) -> int:
    """A free ephemeral port (the kernel's choice, as Docker's port allocator takes from the same range)."""
    sock = _socket_for(proto, host_ip)
    try:
        sock.bind((host_ip or "0.0.0.0", 0))
        return int(sock.getsockname()[1])
    finally:
        sock.close()


# ---------------------------------------------------------------- the namespace file
CLONE_NEWNET = 0x40000000
MS_BIND = 4096


def make_netns(path: str) -> None:
    """A new network namespace, kept by a bind mount on the file *path* (as ``ip netns add`` does): made
    by ``unshare`` in this thread, which then returns to its own namespace."""
    from ..runtime import MNT_DETACH, LinuxSyscalls

    sys_ = LinuxSyscalls()
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    os.close(fd)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        sys_.unshare(CLONE_NEWNET)
        try:
            sys_.mount("/proc/thread-self/ns/net", path, None, MS_BIND, None)
        finally:
            sys_.setns(home, CLONE_NEWNET)
    except BaseException:
        if os.path.ismount(path):
            sys_.umount2(path, MNT_DETACH)
        fs.remove_quietly(path)
        raise
    finally:
        os.close(home)


def unmount_netns(path: str) -> None:
    from ..runtime import MNT_DETACH, LinuxSyscalls

    try:
        LinuxSyscalls().umount2(path, MNT_DETACH)
    except OSError as exc:
        raise EngineError(f"could not unmount the network namespace {path}: {exc}") from None

# SPDX-License-Identifier: GPL-3.0-or-later
"""Bridges and veth pairs over netlink (pyroute2), behind the small :class:`Netlink` seam.

pyroute2 is imported inside :func:`open_netlink` only (its import costs ~170 ms): the ``none``/``host``
start path never loads it. It works with pyroute2 0.7 (Debian 12's ``python3-pyroute2``, which
``bin/berth`` uses) and 0.9 (the venv): only ``IPRoute`` and its verbs ``link``/``addr``/``route``/
``link_lookup``/``get_routes`` are used, whose signatures both share.

Entering a container's network namespace: :func:`open_netlink` with *netns* (a pid or an open
``/proc/PID/ns/net`` fd) calls ``setns(2)`` in the calling thread, opens the netlink socket there and
switches back at once; a netlink socket stays bound to the namespace it was created in. This avoids
pyroute2's ``IPRoute(netns=...)``, which forks a helper process per namespace
(``docs/dev/networking.md`` has the measurements).
"""
from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

CLONE_NEWNET = 0x40000000
IFNAMSIZ = 15


class Netlink:
    """The netlink operations the engine uses (the seam: tests pass a recording fake)."""

    def link_index(self, ifname: str) -> int | None:
        raise NotImplementedError

    def link(self, command: str, **kwargs: t.Any) -> None:
        raise NotImplementedError

    def addr_add(self, index: int, address: str, prefixlen: int) -> None:
        raise NotImplementedError

    def route_add(self, gateway: str) -> None:
        raise NotImplementedError

    def route_destinations(self) -> list[str]:
        raise NotImplementedError

    def link_addresses(self, ifname: str) -> list[str]:
        """The IPv4 addresses of *ifname* as ``address/prefixlen`` ([] when it does not exist)."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class PyRoute2(Netlink):
    """:class:`Netlink` over a ``pyroute2.IPRoute`` (already bound to its namespace)."""

    def __init__(self, ipr: t.Any) -> None:
        self.ipr = ipr

    def link_index(self, ifname: str) -> int | None:
        found = self.ipr.link_lookup(ifname=ifname)
        return found[0] if found else None

    def link(self, command: str, **kwargs: t.Any) -> None:
        self.ipr.link(command, **kwargs)

    def addr_add(self, index: int, address: str, prefixlen: int) -> None:
        self.ipr.addr("add", index=index, address=address, prefixlen=prefixlen)

    def route_add(self, gateway: str) -> None:
        self.ipr.route("add", dst="0.0.0.0/0" if ":" not in gateway else "::/0", gateway=gateway)

    def route_destinations(self) -> list[str]:
        result = []
        for msg in self.ipr.get_routes(family=2, table=254):
            dst = msg.get_attr("RTA_DST")
            if dst:
                result.append(f"{dst}/{msg['dst_len']}")
        return result

    def link_addresses(self, ifname: str) -> list[str]:
        index = self.link_index(ifname)
        if index is None:
            return []
        return [f"{msg.get_attr('IFA_ADDRESS')}/{msg['prefixlen']}" for msg in self.ipr.get_addr(index=index, family=2)]

    def close(self) -> None:
        self.ipr.close()


def _setns(fd: int) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns(CLONE_NEWNET): {os.strerror(err)}")


def netns_fd(netns: int | str) -> tuple[int, bool]:
    """(fd, owned): a pid (int) or a namespace path -> opened here (owned: the caller closes it); an
    :class:`NsFd` -> its fd, not owned."""
    if isinstance(netns, NsFd):
        return netns.fd, False
    path = f"/proc/{int(netns)}/ns/net" if isinstance(netns, int) else netns
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC), True


class NsFd:
    """An open network namespace fd (not closed by this module)."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd


def open_netlink(netns: int | str | NsFd | None = None) -> PyRoute2:
    """A :class:`PyRoute2` in the host's (current) namespace, or in *netns*: a pid, a namespace path
    (``/run/netns/x``) or an :class:`NsFd`. The caller closes it."""
    IPRoute = import_pyroute2().IPRoute
    if netns is None:
        return PyRoute2(IPRoute())
    target, owned = netns_fd(netns)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target)
        try:
            ipr = IPRoute()
            ipr.link_lookup(ifname="lo")  # the socket exists (and is bound here) before we switch back
        finally:
            _setns(home)
    finally:
        os.close(home)
        if owned:
            os.close(target)
    return PyRoute2(ipr)


def import_pyroute2() -> t.Any:
    """The ``pyroute2`` module (under ``python3 -S`` too: ``core.lazy`` adds site-packages, where Debian's
    python3-pyroute2 is), or ``MissingDependency``. Callers may run it early in a thread: the import is
    most of the cost of bridge networking's start path."""
    from ..core.lazy import lazy_import

    return lazy_import("pyroute2", "bridge networking", "apt-get install python3-pyroute2")


def stable_mac(address: str) -> str:
    """Docker's MAC for an IPv4 address: ``02:42`` and the address's four bytes."""
    import ipaddress

    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(address).packed)


def ensure_bridge(nl: Netlink, name: str, address: str | None = None, prefixlen: int | None = None,
                  mtu: int | None = None) -> int:
    """The bridge *name*, created (with *address*/*prefixlen* as its gateway address, *mtu*) if missing,
    and up. Returns its index."""
    if len(name) > IFNAMSIZ:
        from ..errors import InvalidOption

        raise InvalidOption("bridge name", name, f"is longer than {IFNAMSIZ} characters")
    index = nl.link_index(name)
    if index is None:
        kwargs: dict[str, t.Any] = {"ifname": name, "kind": "bridge"}
        if mtu:
            kwargs["mtu"] = mtu
        nl.link("add", **kwargs)
        index = nl.link_index(name)
        if address:
            nl.addr_add(index, address, prefixlen)
    nl.link("set", index=index, state="up")
    return index


def delete_link(nl: Netlink, name: str) -> bool:
    """Delete the link *name* (a bridge, or a veth with its peer); False when it did not exist."""
    index = nl.link_index(name)
    if index is None:
        return False
    nl.link("del", index=index)
    return True


delete_bridge = delete_link


def attach(host: Netlink, bridge: str, host_ifname: str, netns: int | str | NsFd, address: str, prefixlen: int,
           gateway: str | None, mtu: int | None = None, mac: str | None = None, ifname: str = "eth0",
           inside: t.Callable[[int | str | NsFd], Netlink] = open_netlink) -> str:
    """Connect the namespace *netns* to *bridge* with a veth pair: *host_ifname* on the bridge, its peer
    moved into *netns* and named *ifname*, with *address*/*prefixlen*, *mtu*, *mac* (default
    :func:`stable_mac`), loopback up and the default route via *gateway* (none for an internal network
    without one). Returns the MAC. On failure the pair is deleted (its peer goes with it)."""
    if len(host_ifname) >= IFNAMSIZ:
        from ..errors import InvalidOption

        raise InvalidOption("interface name", host_ifname, f"must be shorter than {IFNAMSIZ} characters")
    mac = mac or stable_mac(address)
    peer = host_ifname + "p"
    bridge_index = host.link_index(bridge)
    if bridge_index is None:
        from ..errors import NotFound

        raise NotFound("bridge", bridge)
    extra = {"mtu": mtu} if mtu else {}
    host.link("add", ifname=host_ifname, kind="veth", peer=peer, **extra)
    try:
        index = host.link_index(host_ifname)
        host.link("set", index=index, master=bridge_index, state="up")
        fd, owned = netns_fd(netns)
        try:
            host.link("set", index=host.link_index(peer), net_ns_fd=fd)
            nl = inside(NsFd(fd))
        finally:
            if owned:
                os.close(fd)
        try:
            configure_inside(nl, peer, ifname, address, prefixlen, gateway, mtu, mac)
        finally:
            nl.close()
    except BaseException:
        delete_link(host, host_ifname)
        raise
    return mac


def configure_inside(nl: Netlink, peer: str, ifname: str, address: str, prefixlen: int, gateway: str | None,
                     mtu: int | None, mac: str) -> None:
    """Inside the container's namespace: *peer* renamed *ifname*, its MAC, MTU, address, up; lo up; default
    route via *gateway*."""
    index = nl.link_index(peer)
    kwargs: dict[str, t.Any] = {"ifname": ifname, "address": mac}
    if mtu:
        kwargs["mtu"] = mtu
    nl.link("set", index=index, **kwargs)
    nl.addr_add(index, address, prefixlen)
    nl.link("set", index=index, state="up")
    lo = nl.link_index("lo")
    if lo is not None:
        nl.link("set", index=lo, state="up")
    if gateway:
        nl.route_add(gateway)

# SPDX-License-Identifier: GPL-3.0-or-later
"""links.py against a recording fake Netlink (the real kernel: tests/functional/test_network_links.py)."""
from __future__ import annotations

import os
import sys

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine import errors
from ansible_collections.berth.engine.plugins.module_utils.engine.network import links


class FakeNetlink(links.Netlink):
    def __init__(self, names: dict[str, int] | None = None) -> None:
        self.names = dict(names or {})
        self.calls: list[tuple] = []
        self.closed = False

    def link_index(self, ifname: str) -> int | None:
        return self.names.get(ifname)

    def link(self, command: str, **kwargs: object) -> None:
        self.calls.append(("link", command, kwargs))
        if command == "add":
            self.names[kwargs["ifname"]] = len(self.names) + 10
            if kwargs.get("kind") == "veth":
                self.names[kwargs["peer"]] = len(self.names) + 10
        elif command == "set" and "ifname" in kwargs:
            old = next(n for n, i in self.names.items() if i == kwargs["index"])
            self.names[kwargs["ifname"]] = self.names.pop(old)
        elif command == "del":
            self.names = {n: i for n, i in self.names.items() if i != kwargs["index"]}

    def addr_add(self, index: int, address: str, prefixlen: int) -> None:
        self.calls.append(("addr", index, address, prefixlen))

    def route_add(self, gateway: str) -> None:
        self.calls.append(("route", gateway))

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("address, mac", [("172.17.0.2", "02:42:ac:11:00:02"), ("10.0.255.1", "02:42:0a:00:ff:01")])
def test_stable_mac(address: str, mac: str) -> None:
    assert links.stable_mac(address) == mac


def test_ensure_bridge_creates_once() -> None:
    nl = FakeNetlink()
    index = links.ensure_bridge(nl, "berth0", "172.17.0.1", 16, 1450)
    assert nl.calls == [("link", "add", {"ifname": "berth0", "kind": "bridge", "mtu": 1450}),
                        ("addr", index, "172.17.0.1", 16), ("link", "set", {"index": index, "state": "up"})]
    nl.calls.clear()
    assert links.ensure_bridge(nl, "berth0", "172.17.0.1", 16) == index
    assert nl.calls == [("link", "set", {"index": index, "state": "up"})]
    assert links.delete_bridge(nl, "berth0") is True
    assert links.delete_bridge(nl, "berth0") is False


def test_ensure_bridge_refuses_long_name() -> None:
    with pytest.raises(errors.InvalidOption, match="bridge name"):
        links.ensure_bridge(FakeNetlink(), "x" * 16)


def test_attach_order_inside_and_out() -> None:
    host = FakeNetlink({"lo": 1, "br0": 2})
    inside = FakeNetlink({"lo": 1})
    opened = []

    def enter(ns: links.NsFd) -> FakeNetlink:
        opened.append(ns)
        inside.names["vethabcp"] = 7  # the peer arrived
        return inside

    mac = links.attach(host, "br0", "vethabc", os.getpid(), "10.1.0.5", 24, "10.1.0.1", mtu=1400, inside=enter)
    assert mac == "02:42:0a:01:00:05"
    veth, peer = host.names["vethabc"], 13
    assert host.calls[0] == ("link", "add", {"ifname": "vethabc", "kind": "veth", "peer": "vethabcp", "mtu": 1400})
    assert host.calls[1] == ("link", "set", {"index": veth, "master": 2, "state": "up"})
    assert host.calls[2][:2] == ("link", "set") and set(host.calls[2][2]) == {"index", "net_ns_fd"}
    assert host.calls[2][2]["index"] == peer and isinstance(opened[0], links.NsFd)
    assert inside.calls == [("link", "set", {"index": 7, "ifname": "eth0", "address": mac, "mtu": 1400}),
                            ("addr", 7, "10.1.0.5", 24), ("link", "set", {"index": 7, "state": "up"}),
                            ("link", "set", {"index": 1, "state": "up"}), ("route", "10.1.0.1")]
    assert inside.closed


def test_attach_without_gateway_has_no_default_route() -> None:
    host, inside = FakeNetlink({"br0": 2}), FakeNetlink({"lo": 1, "vp": 3})
    links.attach(host, "br0", "v", os.getpid(), "10.1.0.5", 24, None, mac="02:00:00:00:00:01",
                 inside=lambda ns: inside)
    assert not [c for c in inside.calls if c[0] == "route"]


def test_attach_failure_deletes_the_pair() -> None:
    host = FakeNetlink({"br0": 2})

    def enter(ns: links.NsFd) -> FakeNetlink:
        raise OSError(1, "boom")

    with pytest.raises(OSError):
        links.attach(host, "br0", "vx", os.getpid(), "10.1.0.5", 24, "10.1.0.1", inside=enter)
    assert host.calls[-1][:2] == ("link", "del") and "vx" not in host.names


def test_attach_refuses_missing_bridge_and_long_name() -> None:
    with pytest.raises(errors.NotFound):
        links.attach(FakeNetlink(), "br9", "v", os.getpid(), "10.1.0.5", 24, None)
    with pytest.raises(errors.InvalidOption, match="interface name"):
        links.attach(FakeNetlink({"br0": 2}), "br0", "v" * 15, os.getpid(), "10.1.0.5", 24, None)


def test_importing_links_does_not_import_pyroute2() -> None:
    import subprocess

    code = ("import sys; from ansible_collections.berth.engine.plugins.module_utils.engine.network import links, "
            "ipam, dns; assert 'pyroute2' not in sys.modules, 'pyroute2'; assert 'typing' not in sys.modules")
    subprocess.run([sys.executable, "-S", "-c", f"import sys; sys.path[:0] = {sys.path!r}; {code}"], check=True)

# SPDX-License-Identifier: GPL-3.0-or-later
"""engine/network/firewall.py with real traffic: the ``inet berth`` nftables table masquerades, publishes ports
(from a client namespace acting as a remote machine, from the host's loopback and other address, hairpin from
another container), isolates bridges and closes internal networks. Bridges, namespaces and addresses are the test's
own (10.252.x/24 bridges, 10.253.x/30 for the client's link); traffic never leaves them or 127.0.0.0/8."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

from tests.support.wait import until

from ansible_collections.berth.engine.plugins.module_utils.engine.network import firewall, links

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not (shutil.which("nft") and shutil.which("ip") and shutil.which("busybox")),
                       reason="needs nft, iproute2 and busybox"),
]

DROPPED = 1.5  # seconds without an answer that count as "dropped"
UDP_ECHO = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 53)); "
            "d, a = s.recvfrom(100); s.sendto(d.upper(), a)")


def _ns(ns: str, *argv: str, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, check=check)


def _wget(ns: str | None, url: str, timeout: float = 10) -> str | None:
    """The page at *url*, or None. A dropped packet shows as no answer within *timeout* (busybox-static's
    own ``wget -T`` crashes, hence timeout(1)); expected failures use a short one, successes a long one."""
    argv = ["timeout", str(timeout), "busybox", "wget", "-q", "-O", "-", url]
    proc = _ns(ns, *argv) if ns else subprocess.run(argv, capture_output=True, text=True, check=False)
    return proc.stdout if proc.returncode == 0 else None


_until = until


class Lab:
    """Three bridges (a, b, internal i) with one namespace each, and a client namespace linked to the host."""

    def __init__(self, tmp: str) -> None:
        self.tag = uuid.uuid4().hex[:5]
        self.x = int(self.tag[:2], 16)
        self.host = links.open_netlink()
        self.namespaces: list[str] = []
        self.bridges: list[str] = []
        self.procs: list[subprocess.Popen] = []
        self.www = os.path.join(tmp, "www")
        os.makedirs(self.www)

    def netns(self, name: str) -> str:
        ns = f"bt{name}{self.tag}"
        subprocess.run(["ip", "netns", "add", ns], check=True)
        self.namespaces.append(ns)
        return ns

    def bridge(self, name: str, third: int) -> tuple[str, str]:
        bridge = f"btb{name}{self.tag}"
        subnet = f"10.252.{third}"
        self.bridges.append(bridge)
        links.ensure_bridge(self.host, bridge, subnet + ".1", 24)
        ns = self.netns(name)
        links.attach(self.host, bridge, f"btv{name}{self.tag}", f"/run/netns/{ns}", subnet + ".2", 24, subnet + ".1")
        return ns, subnet

    def second(self, name: str, third: int) -> str:
        """Another namespace on the bridge *name* (.3)."""
        ns = self.netns(name + "2")
        links.attach(self.host, f"btb{name}{self.tag}", f"btw{name}{self.tag}", f"/run/netns/{ns}",
                     f"10.252.{third}.3", 24, f"10.252.{third}.1")
        return ns

    def client(self) -> tuple[str, str, str]:
        """A namespace behind a point-to-point veth: it knows only its /30, no default route."""
        ns = self.netns("c")
        near, far = f"btc{self.tag}", f"btcp{self.tag}"
        host_ip, client_ip = f"10.253.{self.x}.1", f"10.253.{self.x}.2"
        self.host.link("add", ifname=near, kind="veth", peer=far)
        self.bridges.append(near)
        index = self.host.link_index(near)
        self.host.addr_add(index, host_ip, 30)
        self.host.link("set", index=index, state="up")
        subprocess.run(["ip", "link", "set", far, "netns", ns], check=True)
        _ns(ns, "ip", "addr", "add", client_ip + "/30", "dev", far, check=True)
        _ns(ns, "ip", "link", "set", far, "up", check=True)
        _ns(ns, "ip", "link", "set", "lo", "up", check=True)
        return ns, host_ip, client_ip

    def serve(self, ns: str, port: int, text: str) -> None:
        root = os.path.join(self.www, ns)
        os.makedirs(root)
        with open(os.path.join(root, "index.html"), "w", encoding="ascii") as fh:
            fh.write(text)
        self.procs.append(subprocess.Popen(["ip", "netns", "exec", ns, "busybox", "httpd", "-f", "-p", str(port),
                                            "-h", root]))
        _until(lambda: _wget(ns, f"http://127.0.0.1:{port}/"), f"httpd in {ns}")

    def close(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        for name in self.bridges:
            links.delete_link(self.host, name)
        self.host.close()


def _table_exists() -> bool:
    return subprocess.run(["nft", "list", "table", "inet", "berth"], capture_output=True, check=False).returncode == 0


def test_masquerade_ports_isolation_internal(tmp_path: str) -> None:
    """With the table of other data roots (earlier tests) left as it is: only this test's rules are looked at
    and removed, and the table is deleted at the end only when this test made it."""
    lab = Lab(str(tmp_path))
    fw = firewall.Firewall()
    shared = _table_exists()
    try:
        ns_a, net_a = lab.bridge("a", lab.x)
        ns_a2 = lab.second("a", lab.x)
        ns_b, net_b = lab.bridge("b", (lab.x + 1) % 256)
        ns_i, net_i = lab.bridge("i", (lab.x + 2) % 256)
        ns_c, host_ip, client_ip = lab.client()
        lab.serve(ns_a, 80, "in a\n")
        lab.serve(ns_c, 8000, "outside\n")
        # before the table: the client cannot answer the container (no route back: it knows only its /30)
        assert _wget(ns_a, f"http://{client_ip}:8000/", DROPPED) is None

        for name, ns, subnet, internal in (("a", ns_a, net_a, False), ("b", ns_b, net_b, False),
                                           ("i", ns_i, net_i, True)):
            fw.add(fw.network_rules(f"t{lab.tag}{name}", f"btb{name}{lab.tag}", subnet + ".0/24", internal=internal))
        firewall.allow_localnet(f"btba{lab.tag}")
        owner = f"ctr:t{lab.tag}"
        fw.add(fw.port_rules(owner, [
            {"protocol": "tcp", "host_ip": "", "host_port": 18080, "container_ip": net_a + ".2", "container_port": 80},
            {"protocol": "udp", "host_ip": host_ip, "host_port": 18053, "container_ip": net_a + ".2",
             "container_port": 53}]))

        # outbound, masqueraded
        assert _wget(ns_a, f"http://{client_ip}:8000/") == "outside\n"
        assert _wget(ns_b, f"http://{client_ip}:8000/") == "outside\n"
        # internal: no way out, and not reachable from the host's other bridges
        assert _wget(ns_i, f"http://{client_ip}:8000/", DROPPED) is None
        # isolation: b reaches the host (its gateway) but not a's container
        assert _wget(ns_b, f"http://{net_a}.2/", DROPPED) is None
        # the published port: from the client (a remote machine), the host's loopback and its other address,
        # and from another container on its network through the host's address (hairpin)
        assert _wget(ns_c, f"http://{host_ip}:18080/") == "in a\n"
        assert _wget(None, "http://127.0.0.1:18080/") == "in a\n"
        assert _wget(None, f"http://{host_ip}:18080/") == "in a\n"
        assert _wget(ns_a2, f"http://{host_ip}:18080/") == "in a\n"
        # UDP: only on the host address it was published on
        echo = subprocess.Popen(["ip", "netns", "exec", ns_a, sys.executable, "-S", "-c", UDP_ECHO])
        lab.procs.append(echo)
        _until(lambda: ":53 " in _ns(ns_a, "cat", "/proc/net/udp").stdout.replace(":0035 ", ":53 "), "udp echo")
        reply = _ns(ns_c, sys.executable, "-S", "-c",
                    "import socket, sys; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5); "
                    f"s.sendto(b'ping', ({host_ip!r}, 18053)); sys.stdout.write(s.recv(100).decode())")
        assert reply.stdout == "PING"

        # removal: the container's rules go, the rest stays; then the networks'; then the table
        assert fw.remove(owner) == 2
        assert _wget(ns_c, f"http://{host_ip}:18080/", DROPPED) is None
        assert _wget(ns_a, f"http://{client_ip}:8000/") == "outside\n"
        for name in "abi":
            assert fw.remove(f"net:t{lab.tag}{name}", f"btb{name}{lab.tag}") > 0
        comments = [rule["comment"] for rule in fw.rules()]
        assert comments.count("berth:table") == 2 and not [c for c in comments if f"t{lab.tag}" in c], comments
    finally:
        if not shared:
            fw.delete_table()
        lab.close()
    assert _table_exists() is shared
    listing = subprocess.run(["ip", "-j", "link"], capture_output=True, check=False, text=True).stdout
    names = [link["ifname"] for link in json.loads(listing)]
    assert not [name for name in names if lab.tag in name]
    assert not [ns for ns in subprocess.run(["ip", "netns"], capture_output=True, text=True, check=False).stdout.split()
                if lab.tag in ns]

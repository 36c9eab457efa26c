# SPDX-License-Identifier: GPL-3.0-or-later
"""Bridge networking as a user runs it: bin/berth on the real kernel, real bridges, veths and nftables.

One data root for the module, whose default bridge gets a name of its own (the engine config's ``bridge``);
every test removes its containers and networks, and the module's teardown removes the default bridge and
the Berth rules it made, so the host is left as it was. Traffic goes only to this host and to namespaces
the tests create. busybox-static's ``wget`` crashes (its static resolver), so containers fetch pages with
``nc``; the host and the client namespace use Python.
"""
from __future__ import annotations

import concurrent.futures
import functools
import json
import os
import socket
import subprocess
import sys
import typing as t
import uuid
import zlib

import pytest

from tests.support import wait
from tests.support.cli import Berth, scratch_with_busybox

pytestmark = [pytest.mark.functional]

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGE = "bb:latest"
TAG = uuid.uuid4().hex[:6]
DEFAULT_BRIDGE = f"btd{TAG}"

if os.geteuid() != 0 or subprocess.run(["nft", "--version"], capture_output=True, check=False).returncode != 0:
    pytest.skip("needs root and nft", allow_module_level=True)


def _links() -> set[str]:
    """The host's links Berth names (veths vb*, user bridges br-*) and this module's own (bt*)."""
    return {n for n in os.listdir("/sys/class/net") if n.startswith(("vb", "br-", "bt"))}


def _nft_comments() -> list[str]:
    proc = subprocess.run(["nft", "-j", "list", "table", "inet", "berth"], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        return []
    return [item["rule"].get("comment", "") for item in json.loads(proc.stdout)["nftables"] if "rule" in item]


@pytest.fixture(scope="module")
def berth(busybox_rootfs: str, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Berth]:
    base = tmp_path_factory.mktemp("bridge-net")
    b = scratch_with_busybox(base, busybox_rootfs, IMAGE)
    with open(b.config, encoding="utf-8") as fh:
        config = json.load(fh)
    config["bridge"] = DEFAULT_BRIDGE
    with open(b.config, "w", encoding="utf-8") as fh:
        json.dump(config, fh)
    before = _links()
    yield b
    leftovers = b("ps", "-aq", "--no-trunc").out.split()
    if leftovers:
        b("rm", "-f", *leftovers, rc=None)
    b("network", "prune", "-f", rc=None)
    # other data roots (a concurrent test's) have links of their own: only this module's bridge counts
    ports = [n for n in os.listdir("/sys/class/net")
             if os.path.basename(os.path.realpath(f"/sys/class/net/{n}/master")) == DEFAULT_BRIDGE]
    # the default network stays, as Docker's does: the test removes it by hand
    subprocess.run(["ip", "link", "del", DEFAULT_BRIDGE], capture_output=True, check=False)
    ours = [c for c in _nft_comments() if c != "berth:table"]
    if all(c.startswith("berth:net:") and c.endswith(":bridge") for c in ours):
        subprocess.run(["nft", "delete", "table", "inet", "berth"], capture_output=True, check=False)
    assert not leftovers, "every test removes its containers"
    assert ports == [] and {n for n in _links() - before if TAG in n} == set(), "no link is left behind"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(url: str, netns: str | None = None, timeout: float = 2) -> str | None:
    code = ("import sys, urllib.request\n"
            "try:\n    print(urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])).read().decode(), end='')\n"
            "except Exception as e:\n    sys.exit(1)\n")
    argv = [sys.executable, "-c", code, url, str(timeout)]
    if netns:
        argv = ["ip", "netns", "exec", netns] + argv
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    return proc.stdout if proc.returncode == 0 else None


def until(check: t.Callable[[], t.Any], what: str) -> t.Any:
    return wait.until(check, what, rounds=50, pause=0.1)


SERVE = "mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p 80 -h /www"
UDP_ECHO = ("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('0.0.0.0', 5353))\n"
            "while True:\n    d, a = s.recvfrom(100)\n    s.sendto(d.upper(), a)\n")
#: an HTTP GET with busybox nc (busybox-static's wget crashes)
GET = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {host} {port} | tail -n 1"


def ip_of(b: Berth, name: str, network: str | None = None) -> str:
    settings = json.loads(b("inspect", name).out)[0]["NetworkSettings"]
    if network is None:
        return settings["IPAddress"]
    return settings["Networks"][network]["IPAddress"]


# ---------------------------------------------------------------- the default bridge
def test_default_bridge_gives_an_address_a_route_and_the_files(berth: Berth) -> None:
    out = berth("run", "--rm", "--add-host", "db:10.1.2.3", IMAGE, "sh", "-c",
                "ip -4 -o addr show eth0; ip route; cat /etc/hosts /etc/resolv.conf; cat /sys/class/net/eth0/mtu").out
    net = json.loads(berth("network", "inspect", "bridge").out)[0]
    subnet, gateway = net["IPAM"]["Config"][0]["Subnet"], net["IPAM"]["Config"][0]["Gateway"]
    assert net["Options"]["com.docker.network.bridge.name"] == DEFAULT_BRIDGE
    assert f"default via {gateway} dev eth0" in out
    assert "10.1.2.3\tdb" in out
    prefix = subnet.rsplit(".", 2)[0]
    own = [line for line in out.splitlines() if line.startswith(prefix) and "\t" in line]
    assert own, out  # the container's own address and name in /etc/hosts
    assert "nameserver 127." not in out  # loopback resolvers do not answer in the container
    assert out.rstrip().endswith("1500")


def test_none_and_host_keep_working(berth: Berth) -> None:
    out = berth("run", "--rm", "--network", "none", IMAGE, "ip", "-o", "link").out
    assert "eth0" not in out and "lo" in out
    out = berth("run", "--rm", "--network", "host", IMAGE, "ip", "-o", "link").out
    assert "eth0" in out or len(out.splitlines()) > 1


def test_network_mode_container_shares_the_namespace_and_files(berth: Berth) -> None:
    """``--network container:NAME`` joins the other container's namespace (its engine-made netns file for a
    bridge container, its process's namespace for a ``none`` one) and sees its hosts and resolv.conf."""
    berth("run", "-d", "--name", "owner", "--hostname", "ownerhost", IMAGE, "sleep", "3600")
    berth("run", "-d", "--name", "lonely", "--network", "none", IMAGE, "sh", "-c",
          "ip link add dummy7 type dummy 2>/dev/null; sleep 3600")
    try:
        address = ip_of(berth, "owner")
        out = berth("run", "--rm", "--network", "container:owner", IMAGE, "ip", "-o", "-4", "addr").out
        assert f" {address}/" in out
        assert "ownerhost" in berth("run", "--rm", "--network", "container:owner", IMAGE, "cat", "/etc/hosts").out
        with open(berth.root + "/containers/" + berth("inspect", "-f", "{{.Id}}", "owner").out.strip() + "/resolv.conf",
                  encoding="utf-8") as fh:
            assert berth("run", "--rm", "--network", "container:owner", IMAGE, "cat", "/etc/resolv.conf").out \
                == fh.read()
        links = berth("run", "--rm", "--network", "container:lonely", IMAGE, "ip", "-o", "link").out
        assert "eth0" not in links and "lo" in links
        berth("stop", "-t", "1", "lonely")
        failed = berth("run", "--rm", "--network", "container:lonely", IMAGE, "true", rc=None)
        assert failed.returncode != 0 and "container:lonely" in failed.err and "not running" in failed.err
    finally:
        berth("rm", "-f", "owner", "lonely")
    failed = berth("create", "--network", "container:nosuch", IMAGE, "true", rc=None)
    assert failed.returncode != 0 and "container:nosuch" in failed.err and "--network" in failed.err


def test_dns_options_win_over_the_host(berth: Berth) -> None:
    out = berth("run", "--rm", "--dns", "192.0.2.53", "--dns-search", "example.com", "--dns-option", "ndots:2",
                IMAGE, "cat", "/etc/resolv.conf").out
    assert out == "nameserver 192.0.2.53\nsearch example.com\noptions ndots:2\n"


# ---------------------------------------------------------------- user networks
def test_user_network_name_resolution_isolation_and_staleness(berth: Berth) -> None:
    a, b_ = f"na{TAG}", f"nb{TAG}"
    berth("network", "create", "--subnet", "10.231.1.0/24", a)
    berth("network", "create", "--subnet", "10.231.2.0/24", b_)
    try:
        berth("run", "-d", "--name", "web", "--network", a, "--network-alias", "www", "--hostname", "webhost",
              IMAGE, "sh", "-c", SERVE.format(text="on-a"))
        berth("run", "-d", "--name", "other", "--network", b_, IMAGE, "sleep", "300")
        web_ip = ip_of(berth, "web", a)
        assert web_ip.startswith("10.231.1.")

        def get(host: str) -> str:
            return berth("run", "--rm", "--network", a, IMAGE, "sh", "-c", GET.format(host=host, port=80),
                         rc=None).out.strip()

        for name in ("web", "www", "webhost"):
            assert until(functools.partial(get, name), f"GET {name}") == "on-a"
        # the running container on the other network: no name, and no way to the address
        probe = berth("exec", "other", "sh", "-c", f"ping -c1 -W1 web; {GET.format(host=web_ip, port=80)}",
                      rc=None)
        assert "on-a" not in probe.out
        assert "bad address" in probe.err + probe.out
        # removal is refused while a container uses the network, naming it
        refused = berth("network", "rm", a, rc=1)
        assert "web" in refused.err
        # stays current: a container that joins is named in web's hosts file, and is gone once removed
        berth("run", "-d", "--name", "late", "--network", a, IMAGE, "sleep", "300")
        assert "late" in berth("exec", "web", "cat", "/etc/hosts").out
        berth("rm", "-f", "late")
        assert "late" not in berth("exec", "web", "cat", "/etc/hosts").out
        # the default bridge does not resolve names (Docker semantics)
        assert "bad address" in berth("run", "--rm", IMAGE, "ping", "-c1", "-W1", "web", rc=None).err
    finally:
        berth("rm", "-f", "web", "other", rc=None)
        berth("network", "rm", a, b_)


def test_internal_network_has_no_way_out(berth: Berth) -> None:
    name = f"ni{TAG}"
    berth("network", "create", "--internal", "--subnet", "10.231.3.0/24", name)
    try:
        out = berth("run", "--rm", "--network", name, IMAGE, "sh", "-c",
                    "ip route; ping -c1 -W1 192.0.2.2 >/dev/null 2>&1 && echo OUT || echo NO-WAY-OUT").out
        assert "default" not in out and "NO-WAY-OUT" in out
    finally:
        berth("network", "rm", name)


def test_mtu_and_mac_address(berth: Berth) -> None:
    name = f"nm{TAG}"
    berth("network", "create", "-o", "com.docker.network.driver.mtu=1400", "--subnet", "10.231.4.0/24", name)
    try:
        out = berth("run", "--rm", "--network", name, "--mac-address", "02:42:0a:e7:04:99", IMAGE, "sh", "-c",
                    "cat /sys/class/net/eth0/mtu /sys/class/net/eth0/address").out.split()
        assert out == ["1400", "02:42:0a:e7:04:99"]
    finally:
        berth("network", "rm", name)


def test_twenty_parallel_starts_get_twenty_addresses(berth: Berth) -> None:
    name = f"np{TAG}"
    berth("network", "create", "--subnet", "10.231.5.0/24", name)
    names = [f"par{i}" for i in range(20)]
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
            list(pool.map(lambda n: berth("run", "-d", "--name", n, "--network", name, IMAGE, "sleep", "300"),
                          names))
        addresses = {ip_of(berth, n, name) for n in names}
        assert len(addresses) == 20
    finally:
        berth("rm", "-f", *names, rc=None)
        berth("network", "rm", name)


# ---------------------------------------------------------------- published ports
@pytest.fixture
def dummy_address() -> t.Iterator[str]:
    """A non-loopback address of this host, on an interface the test makes (an empty bridge: the dummy
    driver may not be loaded)."""
    ifname, address = f"btdum{TAG}", "10.232.0.1"
    subprocess.run(["ip", "link", "add", ifname, "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "add", address + "/32", "dev", ifname], check=True)
    subprocess.run(["ip", "link", "set", ifname, "up"], check=True)
    yield address
    subprocess.run(["ip", "link", "del", ifname], check=False)


@pytest.fixture
def client_netns() -> t.Iterator[tuple[str, str]]:
    """A namespace that stands for a remote machine: behind a veth, the host is its gateway."""
    ns, near, far = f"btcl{TAG}", f"btcn{TAG}", f"btcf{TAG}"
    host_ip = "10.233.0.1"
    cmds = [["ip", "netns", "add", ns], ["ip", "link", "add", near, "type", "veth", "peer", "name", far],
            ["ip", "link", "set", far, "netns", ns], ["ip", "addr", "add", host_ip + "/30", "dev", near],
            ["ip", "link", "set", near, "up"],
            ["ip", "netns", "exec", ns, "ip", "addr", "add", "10.233.0.2/30", "dev", far],
            ["ip", "netns", "exec", ns, "ip", "link", "set", far, "up"],
            ["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"]]
    for cmd in cmds:
        subprocess.run(cmd, check=True)
    yield ns, host_ip
    subprocess.run(["ip", "netns", "del", ns], check=False)
    subprocess.run(["ip", "link", "del", near], capture_output=True, check=False)


def test_published_port_is_reachable_from_everywhere(berth: Berth, dummy_address: str,
                                                     client_netns: tuple[str, str]) -> None:
    port = free_port()
    berth("run", "-d", "--name", "pub", "-p", f"{port}:80", IMAGE, "sh", "-c", SERVE.format(text="published"))
    try:
        assert until(lambda: fetch(f"http://127.0.0.1:{port}/"), "from loopback") == "published\n"
        assert fetch(f"http://{dummy_address}:{port}/") == "published\n"
        ns, host_ip = client_netns
        assert fetch(f"http://{host_ip}:{port}/", netns=ns) == "published\n"
        # hairpin: the container itself, and another container, through the host's address
        assert berth("exec", "pub", "sh", "-c", GET.format(host=dummy_address, port=port)).out.strip() == "published"
        assert berth("run", "--rm", IMAGE, "sh", "-c",
                     GET.format(host=dummy_address, port=port)).out.strip() == "published"
        assert berth("port", "pub").out == f"80/tcp -> 0.0.0.0:{port}\n"
        assert f"pub 0.0.0.0:{port}->80/tcp" in berth("ps", "--format", "{{.Names}} {{.Ports}}").out.splitlines()
        # a host port that is taken fails, naming it, and leaves no container behind
        failed = berth("run", "-d", "--name", "second", "-p", f"{port}:80", IMAGE, "true", rc=None)
        assert failed.returncode != 0 and f"{port}/tcp" in failed.err
        assert "second" not in berth("ps", "-a", "--format", "{{.Names}}").out.split()
    finally:
        berth("rm", "-f", "pub")
    assert fetch(f"http://127.0.0.1:{port}/", timeout=1) is None


def test_host_listener_conflict_and_udp_and_publish_all(berth: Berth, dummy_address: str) -> None:
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        failed = berth("run", "--rm", "-p", f"{taken}:80", IMAGE, "true", rc=None)
        assert failed.returncode != 0 and f"{taken}/tcp" in failed.err and "process of the host" in failed.err
    # UDP: busybox's nc has no -u, so the echo server is Python in the container's network namespace. Sent to
    # the host's non-loopback address: UDP from 127.0.0.1 is not DNATed into the bridge (docs/dev/networking.md)
    udp = free_port(socket.SOCK_DGRAM)
    berth("run", "-d", "--name", "udp", "-p", f"{udp}:5353/udp", IMAGE, "sleep", "300")
    pid = berth("inspect", "-f", "{{.State.Pid}}", "udp").out.strip()
    echo = subprocess.Popen(["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, "-c", UDP_ECHO])
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)

            def answered() -> bytes:
                s.sendto(b"ping-udp", (dummy_address, udp))
                try:
                    return s.recv(100)
                except OSError:
                    return b""
            assert until(answered, "a UDP answer through the published port") == b"PING-UDP"
    finally:
        echo.kill()
        echo.wait()
        berth("rm", "-f", "udp")
    berth("run", "-d", "--name", "all", "-P", "--expose", "80", "--expose", "81/udp", IMAGE, "sh", "-c",
          SERVE.format(text="all"))
    try:
        lines = berth("port", "all").out.splitlines()
        assert [line.split(" -> ")[0] for line in lines] == ["80/tcp", "81/udp"]
        host_port = int(lines[0].rsplit(":", 1)[1])
        assert host_port > 1024
        assert until(lambda: fetch(f"http://127.0.0.1:{host_port}/"), "-P") == "all\n"
    finally:
        berth("rm", "-f", "all")


def test_nothing_is_left_after_removal(berth: Berth) -> None:
    """Only this data root's rules (their owner carries its tag) and its containers' veths count: other data
    roots on the host (a concurrent or an earlier test's) may have theirs."""
    name = f"nl{TAG}"
    tag = "%08x" % zlib.crc32(os.path.abspath(berth.root).encode())  # services/networks.py _scoped()
    berth("network", "create", "--subnet", "10.231.6.0/24", name)
    bridge = json.loads(berth("network", "inspect", name).out)[0]["Options"]["com.docker.network.bridge.name"]
    port = free_port()
    berth("run", "-d", "--name", "gone", "--network", name, "-p", f"{port}:80", IMAGE, "sleep", "300")
    short = berth("run", "--rm", "--network", name, IMAGE, "hostname").out.strip()  # its ID's first 12
    cid = berth("inspect", "-f", "{{.Id}}", "gone").out.strip()
    assert len(short) == 12 and int(short, 16) >= 0
    veths = {f"vb{cid[:9]}0", f"vb{short[:9]}0"}
    assert f"vb{cid[:9]}0" in _links()
    assert f"berth:ctr:{tag}:{cid}" in _nft_comments()
    berth("rm", "-f", "gone")
    berth("network", "rm", name)
    assert _links() & (veths | {bridge}) == set()
    comments = _nft_comments()
    assert not [c for c in comments if c.startswith((f"berth:ctr:{tag}:", f"berth:net:{tag}:{name}"))], comments
    ipam = os.path.join(berth.root, "networks", "ipam")
    assert not os.path.exists(os.path.join(ipam, name + ".json"))
    book = json.load(open(os.path.join(ipam, "bridge.json"), encoding="utf-8")) \
        if os.path.exists(os.path.join(ipam, "bridge.json")) else {"addresses": {}}
    assert book["addresses"] == {}


def test_connect_and_disconnect_a_running_container(berth: Berth) -> None:
    a, b_ = f"nc{TAG}", f"nd{TAG}"
    berth("network", "create", "--subnet", "10.231.7.0/24", a)
    berth("network", "create", "--subnet", "10.231.8.0/24", b_)
    try:
        berth("run", "-d", "--name", "hub", "--network", a, IMAGE, "sleep", "300")
        berth("run", "-d", "--name", "peer", "--network", b_, IMAGE, "sleep", "300")
        assert "bad address" in berth("exec", "peer", "ping", "-c1", "-W1", "hub", rc=None).err
        berth("network", "connect", "--alias", "center", b_, "hub")
        out = berth("exec", "hub", "ip", "-4", "-o", "addr").out
        assert "eth1" in out and "10.231.8." in out
        assert "64 bytes" in berth("exec", "peer", "ping", "-c1", "-W2", "center").out
        assert sorted(json.loads(berth("inspect", "hub").out)[0]["NetworkSettings"]["Networks"]) == [a, b_]
        berth("network", "disconnect", b_, "hub")
        assert "eth1" not in berth("exec", "hub", "ip", "-o", "link").out
        assert "center" not in berth("exec", "peer", "cat", "/etc/hosts").out
        hub_id = berth("inspect", "-f", "{{.Id}}", "hub").out.strip()
        assert hub_id not in json.loads(berth("network", "inspect", b_).out)[0]["Containers"]
    finally:
        berth("rm", "-f", "hub", "peer", rc=None)
        berth("network", "rm", a, b_)


def test_a_stopped_container_frees_its_published_port(berth: Berth) -> None:
    """As in Docker: a stopped container's host port may be taken by another one; starting the first one
    again then fails, naming the port."""
    port = free_port()
    berth("run", "-d", "--name", "first", "-p", f"{port}:80", IMAGE, "sh", "-c", SERVE.format(text="first"))
    try:
        assert until(lambda: fetch(f"http://127.0.0.1:{port}/"), "first") == "first\n"
        berth("stop", "-t", "1", "first")
        berth("run", "-d", "--name", "next", "-p", f"{port}:80", IMAGE, "sh", "-c", SERVE.format(text="next"))
        assert until(lambda: fetch(f"http://127.0.0.1:{port}/"), "next") == "next\n"
        failed = berth("start", "first", rc=None)
        assert failed.returncode != 0 and f"{port}/tcp" in failed.err
        assert fetch(f"http://127.0.0.1:{port}/") == "next\n"
    finally:
        berth("rm", "-f", "first", "next")


def test_stop_unwires_and_start_wires_again(berth: Berth) -> None:
    port = free_port()
    berth("run", "-d", "--name", "again", "-p", f"{port}:80", IMAGE, "sh", "-c", SERVE.format(text="again"))
    try:
        address = ip_of(berth, "again")
        assert until(lambda: fetch(f"http://127.0.0.1:{port}/"), "first start") == "again\n"
        berth("stop", "-t", "1", "again")
        with open("/proc/self/mountinfo", encoding="utf-8") as fh:
            assert [line for line in fh if berth.root in line] == []  # stopped: not even its netns
        berth("start", "again")
        assert ip_of(berth, "again") == address  # the address is the container's until it is removed
        assert until(lambda: fetch(f"http://127.0.0.1:{port}/"), "after a restart") == "again\n"
    finally:
        berth("rm", "-f", "again")

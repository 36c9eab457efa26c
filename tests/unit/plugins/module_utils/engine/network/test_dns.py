# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.network import dns

HOST = "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2 # lan\nsearch corp.example\noptions edns0 trust-ad\n"
LOOPBACK_ONLY = "nameserver 127.0.0.53\nnameserver ::1\nsearch x\n"


@pytest.mark.parametrize("host, bridge, container, engine, expected", [
    # 3. the host's file: loopback resolvers dropped on a bridge network, kept on host networking
    (HOST, True, None, None, "nameserver 10.0.0.2\nsearch corp.example\noptions edns0 trust-ad\n"),
    (HOST, False, None, None,
     "nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch corp.example\noptions edns0 trust-ad\n"),
    (LOOPBACK_ONLY, True, None, None, "nameserver 8.8.8.8\nnameserver 8.8.4.4\nsearch x\n"),
    ("", True, None, None, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"),
    # 2. the engine config wins over the host
    (HOST, True, None, {"dns": ["1.1.1.1"], "dns-search": ["eng.example"], "dns-opts": ["ndots:2"]},
     "nameserver 1.1.1.1\nsearch eng.example\noptions ndots:2\n"),
    (HOST, True, None, {"dns": ["1.1.1.1"]}, "nameserver 1.1.1.1\nsearch corp.example\noptions edns0 trust-ad\n"),
    # 1. the container wins over the engine config, as a whole source
    (HOST, True, {"dns": ["9.9.9.9"], "dns_search": [], "dns_opts": None}, {"dns": ["1.1.1.1"], "dns-opts": ["a"]},
     "nameserver 9.9.9.9\nsearch corp.example\noptions edns0 trust-ad\n"),
    (HOST, True, {"dns_search": ["c.example"]}, {"dns": ["1.1.1.1"]},
     "nameserver 10.0.0.2\nsearch c.example\noptions edns0 trust-ad\n"),
    # a loopback resolver the user asked for is kept
    (HOST, True, {"dns": ["127.0.0.11"]}, None, "nameserver 127.0.0.11\nsearch corp.example\noptions edns0 trust-ad\n"),
    # --dns-search . means none
    (HOST, True, {"dns_search": ["."]}, None, "nameserver 10.0.0.2\noptions edns0 trust-ad\n"),
    ("domain a.example\nsearch b.example c.example\n", False, None, None,
     "search b.example c.example\n"),
])
def test_resolv_conf(host: str, bridge: bool, container: dict | None, engine: dict | None, expected: str) -> None:
    assert dns.resolv_conf(host, bridge, container, engine) == expected


def test_hosts_file() -> None:
    text = dns.hosts_file("web", ["172.17.0.2"], aliases=["www", "web"], extra_hosts=[("db", "10.0.0.5")])
    lines = text.splitlines()
    assert lines[0] == "127.0.0.1\tlocalhost"
    assert "::1\tlocalhost ip6-localhost ip6-loopback" in lines
    assert lines[-2:] == ["10.0.0.5\tdb", "172.17.0.2\tweb www"]


def test_hosts_file_without_address_or_ipv6() -> None:
    assert dns.hosts_file("h", [], ipv6=False) == "127.0.0.1\tlocalhost\n"

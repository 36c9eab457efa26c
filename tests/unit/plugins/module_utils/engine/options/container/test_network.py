# SPDX-License-Identifier: GPL-3.0-or-later
"""The network option normalisers: every ``docker run -p`` form, ``--expose``, ``networks``, ``--add-host``."""
from __future__ import annotations

import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.errors import InvalidOption
from ansible_collections.berth.engine.plugins.module_utils.engine.options.container import network


def port(container: int, host: int = 0, ip: str = "", proto: str = "tcp", end: int | None = None) -> dict[str, t.Any]:
    return {"container_port": container, "protocol": proto, "host_ip": ip, "host_port": host,
            "host_port_end": host if end is None else end}


@pytest.mark.parametrize("value, expected", [
    (["80"], [port(80)]),
    ([80], [port(80)]),
    (["8080:80"], [port(80, 8080)]),
    (["127.0.0.1:8080:80"], [port(80, 8080, "127.0.0.1")]),
    (["127.0.0.1::80"], [port(80, 0, "127.0.0.1")]),
    (["[::1]:8080:80"], [port(80, 8080, "::1")]),
    (["53/udp"], [port(53, proto="udp")]),
    (["8080:80/TCP"], [port(80, 8080)]),
    (["8000-8002:80-82"], [port(80, 8000), port(81, 8001), port(82, 8002)]),
    (["8000-8010:80"], [port(80, 8000, end=8010)]),
    (["80-81"], [port(80), port(81)]),
    (["8080:80", "8080:80"], [port(80, 8080)]),  # the same mapping twice is one
    (["9090:90", "8080:80/udp"], [port(80, 8080, proto="udp"), port(90, 9090)]),
])  # fmt: skip
def test_published_ports_forms(value: t.Any, expected: list[dict[str, t.Any]]) -> None:
    assert network.published_ports(value, "published_ports") == expected


@pytest.mark.parametrize("value, field, reason", [
    (["bad:80"], "published_ports[0]", "not a port"),
    (["8080:80/sctp"], "published_ports[0]", "not tcp or udp"),
    (["1.2.3:8080:80"], "published_ports[0]", "not an IP address"),
    (["a:b:c:d"], "published_ports[0]", "too many"),
    (["8000-8001:80-82"], "published_ports[0]", "differ in length"),
    (["70000"], "published_ports[0]", "not a port"),
    (["0"], "published_ports[0]", "not a port"),
    ({"80": 80}, "published_ports", "must be a list"),
])  # fmt: skip
def test_published_ports_refusals_name_the_entry(value: t.Any, field: str, reason: str) -> None:
    with pytest.raises(InvalidOption) as exc:
        network.published_ports(value, "published_ports")
    assert exc.value.field == field and reason in exc.value.reason


def test_exposed_ports() -> None:
    assert network.exposed_ports(["80", "53/udp", "8000-8001", 443], "e") == [
        "53/udp", "80/tcp", "443/tcp", "8000/tcp", "8001/tcp"]
    with pytest.raises(InvalidOption, match="e\\[0\\]"):
        network.exposed_ports(["x"], "e")


def test_networks() -> None:
    assert network.networks(["n1", {"name": "n2", "aliases": ["b", "a"], "ipv4_address": "10.0.0.5"}], "networks") == [
        {"name": "n1", "aliases": [], "ipv4_address": None},
        {"name": "n2", "aliases": ["a", "b"], "ipv4_address": "10.0.0.5"}]
    for bad, field in (([{"name": "n", "ipv4_address": "x"}], "networks[0].ipv4_address"),
                       (["n", "n"], "networks[1]"), ([{"nam": "n"}], "networks[0]"),
                       ([{"name": "n", "color": 1}], "networks[0].color")):
        with pytest.raises(InvalidOption) as exc:
            network.networks(bad, "networks")
        assert exc.value.field == field


def test_etc_hosts_mac_dns() -> None:
    assert network.etc_hosts(["db:10.0.0.2", "v6=::1"], "etc_hosts") == {"db": "10.0.0.2", "v6": "::1"}
    assert network.etc_hosts({"gw": "host-gateway"}, "etc_hosts") == {"gw": "host-gateway"}
    with pytest.raises(InvalidOption, match="etc_hosts.db"):
        network.etc_hosts({"db": "nowhere"}, "etc_hosts")
    assert network.mac_address("02-42-AC-11-00-09", "m") == "02:42:ac:11:00:09"
    for bad in ("02:42", "01:00:5e:00:00:01", "zz:42:ac:11:00:09"):
        with pytest.raises(InvalidOption):
            network.mac_address(bad, "m")
    assert network.dns_servers(["9.9.9.9"], "d") == ["9.9.9.9"]
    with pytest.raises(InvalidOption, match="d\\[0\\]"):
        network.dns_servers(["dns.example"], "d")
    with pytest.raises(InvalidOption):
        network.words(["a b"], "w")

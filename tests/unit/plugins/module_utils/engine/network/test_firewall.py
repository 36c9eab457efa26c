# SPDX-License-Identifier: GPL-3.0-or-later
"""firewall.py's batches, recorded (real traffic: tests/functional/test_network_firewall.py)."""
from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine import errors
from ansible_collections.berth.engine.plugins.module_utils.engine.network import firewall


class FakeNft:
    def __init__(self, listing: list | None = None) -> None:
        self.batches: list = []
        self.listing = listing or []

    def __call__(self, batch: dict | None, read: bool = False) -> dict | None:
        if read:
            return {"nftables": self.listing}
        self.batches.append(batch["nftables"])
        return None


def _verbs(batch: list) -> list[str]:
    return [f"{verb} {next(iter(obj))}" for cmd in batch for verb, obj in cmd.items()]


def test_add_creates_the_table_and_jumps_once_and_flushes_nothing() -> None:
    nft = FakeNft()
    fw = firewall.Firewall(nft)
    fw.add(fw.network_rules("n", "br-n", "10.1.0.0/24"))
    batch = nft.batches[0]
    assert _verbs(batch)[:7] == ["add table"] + ["add chain"] * 5 + ["add set"]
    assert not [v for v in _verbs(batch) if not v.startswith("add ")]  # no flush, no delete, no insert
    jumps = [c["add"]["rule"] for c in batch if "rule" in c.get("add", {}) and c["add"]["rule"]["comment"]
             == "berth:table"]
    assert [r["chain"] for r in jumps] == ["prerouting", "output"]
    nft.listing = [{"rule": {"chain": "prerouting", "handle": 4, "comment": "berth:table"}}]
    fw.add([])
    assert _verbs(nft.batches[1]) == _verbs(batch)[:7]  # the jumps exist: not added twice


@pytest.mark.parametrize("internal, masquerade, chains", [
    (False, True, ["forward", "postrouting", "postrouting"]),
    (False, False, ["forward", "postrouting"]),
    (True, True, ["forward", "forward"]),
])
def test_network_rules(internal: bool, masquerade: bool, chains: list[str]) -> None:
    rules = firewall.Firewall(FakeNft()).network_rules("n", "br-n", "10.1.0.0/24", internal, masquerade)
    assert rules[0] == {"add": {"element": {"family": "inet", "table": "berth", "name": "bridges", "elem": ["br-n"]}}}
    assert [r["add"]["rule"]["chain"] for r in rules[1:]] == chains
    assert {r["add"]["rule"]["comment"] for r in rules[1:]} == {"berth:net:n"}


def test_port_rules() -> None:
    rules = firewall.Firewall(FakeNft()).port_rules("ctr:1", [
        {"protocol": "udp", "host_ip": "127.0.0.1", "host_port": 53, "container_ip": "10.1.0.2",
         "container_port": 5353},
        {"host_ip": "0.0.0.0", "host_port": 80, "container_ip": "10.1.0.2", "container_port": 8080}])
    exprs = [r["add"]["rule"]["expr"] for r in rules]
    assert exprs[0][1] == {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}},
                                     "right": "127.0.0.1"}}
    assert exprs[0][-1] == {"dnat": {"family": "ip", "addr": "10.1.0.2", "port": 5353}}
    assert exprs[1][1]["match"]["left"] == {"payload": {"protocol": "tcp", "field": "dport"}}  # any address
    with pytest.raises(errors.InvalidOption, match="protocol"):
        firewall.Firewall(FakeNft()).port_rules("ctr:1", [{"protocol": "sctp", "host_port": 1, "container_ip": "x",
                                                           "container_port": 1}])


def test_remove_deletes_only_the_owners_rules_by_handle() -> None:
    nft = FakeNft([{"rule": {"chain": "ports", "handle": 7, "comment": "berth:ctr:1"}},
                   {"rule": {"chain": "ports", "handle": 8, "comment": "berth:ctr:2"}},
                   {"set": {"name": "bridges", "elem": ["br-n"]}}])
    fw = firewall.Firewall(nft)
    assert fw.remove("ctr:1") == 1
    assert nft.batches == [[{"delete": {"rule": {"family": "inet", "table": "berth", "chain": "ports", "handle": 7}}}]]
    assert fw.remove("net:n", "br-n") == 0
    assert _verbs(nft.batches[1]) == ["delete element"]
    assert fw.remove("ctr:9") == 0 and len(nft.batches) == 2

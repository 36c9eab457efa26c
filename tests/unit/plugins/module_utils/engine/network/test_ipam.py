# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import ipaddress
import json
import multiprocessing
import os
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine import errors
from ansible_collections.berth.engine.plugins.module_utils.engine.network import ipam

N = ipaddress.ip_network


@pytest.mark.parametrize("taken, expected", [
    ([], "172.17.0.0/16"),
    ([N("172.17.0.0/16")], "172.18.0.0/16"),
    ([N("172.16.0.0/12")], "192.168.0.0/20"),  # a host route over all the 172 pools
    ([N("172.16.0.0/12"), N("192.168.0.0/24")], "192.168.16.0/20"),
    ([N("0.0.0.0/0")], "172.17.0.0/16"),  # the default route overlaps everything and is ignored
    ([N("172.17.5.0/24"), N("fd00::/8")], "172.18.0.0/16"),
])
def test_pick_subnet_avoids_taken(taken: list, expected: str) -> None:
    assert str(ipam.pick_subnet(ipam.DEFAULT_POOLS, taken)) == expected


def test_pick_subnet_exhausted() -> None:
    with pytest.raises(errors.Conflict, match="no free subnet"):
        ipam.pick_subnet([{"base": "10.9.0.0/24", "size": 25}], [N("10.9.0.0/25"), N("10.9.0.128/25")])


@pytest.mark.parametrize("pools, field", [
    ([], "default-address-pools"),
    ("10.0.0.0/8", "default-address-pools"),
    ([{"base": "10.0.0.0/8"}], "default-address-pools[0]"),
    ([{"base": "10.0.0.1/8", "size": 24}], "default-address-pools[0].base"),
    ([{"base": "10.0.0.0/8", "size": 4}], "default-address-pools[0].size"),
    ([{"base": "10.0.0.0/8", "size": "24"}], "default-address-pools[0].size"),
])
def test_parse_pools_refuses_naming_the_field(pools: object, field: str) -> None:
    with pytest.raises(errors.InvalidOption) as info:
        ipam.parse_pools(pools)
    assert field in str(info.value)


@pytest.mark.parametrize("kwargs, expected", [
    ({}, {"subnet": "172.17.0.0/16", "gateway": "172.17.0.1", "ip_range": "172.17.0.0/16"}),
    ({"subnet": "10.5.0.0/24"}, {"subnet": "10.5.0.0/24", "gateway": "10.5.0.1", "ip_range": "10.5.0.0/24"}),
    ({"subnet": "10.5.0.0/24", "gateway": "10.5.0.254", "ip_range": "10.5.0.128/25"},
     {"subnet": "10.5.0.0/24", "gateway": "10.5.0.254", "ip_range": "10.5.0.128/25"}),
    # fixed-cidr of the default bridge is its ip_range
    ({"subnet": ipam.DEFAULT_BRIDGE_SUBNET, "ip_range": "172.17.8.0/24"},
     {"subnet": "172.17.0.0/16", "gateway": "172.17.0.1", "ip_range": "172.17.8.0/24"}),
])
def test_plan_network(kwargs: dict, expected: dict) -> None:
    assert ipam.plan_network(**kwargs) == expected


@pytest.mark.parametrize("kwargs, field", [
    ({"subnet": "10.5.0.1/24"}, "subnet"),
    ({"subnet": "nonsense"}, "subnet"),
    ({"subnet": "10.5.0.0/24", "gateway": "10.6.0.1"}, "gateway"),
    ({"subnet": "10.5.0.0/24", "gateway": "x"}, "gateway"),
    ({"subnet": "10.5.0.0/24", "ip_range": "10.6.0.0/25"}, "ip_range"),
    ({"subnet": "10.5.0.0/24", "ip_range": "fd00::/64"}, "ip_range"),
    ({"subnet": "10.5.0.0/31"}, "subnet"),
])
def test_plan_network_refuses_naming_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(errors.InvalidOption) as info:
        ipam.plan_network(**kwargs)
    assert field in str(info.value)


@pytest.mark.parametrize("record, wanted, expected", [
    ({"subnet": "10.0.0.0/29", "gateway": "10.0.0.1", "ip_range": "10.0.0.0/29", "addresses": {}}, None, "10.0.0.2"),
    ({"subnet": "10.0.0.0/29", "gateway": "10.0.0.1", "ip_range": "10.0.0.0/29",
      "addresses": {"10.0.0.2": "a"}}, None, "10.0.0.3"),
    ({"subnet": "10.0.0.0/29", "gateway": "10.0.0.6", "ip_range": "10.0.0.0/29", "addresses": {}}, None, "10.0.0.1"),
    ({"subnet": "10.0.0.0/24", "gateway": "10.0.0.1", "ip_range": "10.0.0.128/25", "addresses": {}}, None,
     "10.0.0.129"),
    ({"subnet": "10.0.0.0/24", "gateway": "10.0.0.1", "ip_range": "10.0.0.0/24", "addresses": {}}, "10.0.0.77",
     "10.0.0.77"),
])
def test_free_address(record: dict, wanted: str | None, expected: str) -> None:
    assert ipam.free_address(record, wanted) == expected


@pytest.mark.parametrize("record, wanted, error", [
    ({"subnet": "10.0.0.0/30", "gateway": "10.0.0.1", "ip_range": "10.0.0.0/30",
      "addresses": {"10.0.0.2": "a"}}, None, errors.Conflict),
    ({"subnet": "10.0.0.0/24", "gateway": "10.0.0.1", "ip_range": "10.0.0.0/24",
      "addresses": {"10.0.0.9": "a"}}, "10.0.0.9", errors.Conflict),
    ({"subnet": "10.0.0.0/24", "gateway": "10.0.0.1", "ip_range": "10.0.0.0/24", "addresses": {}}, "10.0.0.1",
     errors.Conflict),
    ({"subnet": "10.0.0.0/24", "gateway": "10.0.0.1", "ip_range": "10.0.0.0/24", "addresses": {}}, "10.1.0.1",
     errors.InvalidOption),
])
def test_free_address_refuses(record: dict, wanted: str | None, error: type) -> None:
    with pytest.raises(error):
        ipam.free_address(record, wanted)


def test_ipam_lifecycle(tmp_path: str) -> None:
    book = ipam.Ipam(str(tmp_path / "ipam"))
    bridge = book.create("bridge", subnet=ipam.DEFAULT_BRIDGE_SUBNET)
    assert bridge["gateway"] == "172.17.0.1"
    # the host routes 172.18.0.0/16 (say, another engine's bridge): the next network skips it
    user = book.create("user", host_routes=["172.18.0.0/16", "0.0.0.0/0"])
    assert user["subnet"] == "172.19.0.0/16"
    with pytest.raises(errors.Conflict, match="overlaps network bridge"):
        book.create("clash", subnet="172.17.3.0/24")
    assert book.create("user") == user  # idempotent
    a = book.allocate("user", "c1")
    assert a == "172.19.0.2"
    assert book.allocate("user", "c1") == a  # the same owner keeps its address
    assert book.allocate("user", "c2", "172.19.0.50") == "172.19.0.50"
    assert book.allocate("bridge", "c1") == "172.17.0.2"
    assert sorted(book.release("c1")) == ["172.17.0.2", "172.19.0.2"]
    assert book.allocate("user", "c3") == "172.19.0.2"  # back in the pool
    assert book.get("user")["addresses"] == {"172.19.0.2": "c3", "172.19.0.50": "c2"}
    with pytest.raises(errors.NotFound):
        book.allocate("nope", "c1")
    with pytest.raises(errors.InvalidOption):
        book.allocate("../x", "c1")
    book.delete("user")
    assert book.get("user") is None
    assert sorted(book.networks()) == ["bridge"]


def test_ipam_record_is_read_through_trust(tmp_path: str) -> None:
    book = ipam.Ipam(str(tmp_path / "ipam"))
    book.create("n", subnet="10.1.0.0/24")
    os.chmod(os.path.join(book.directory, "n.json"), 0o666)
    with pytest.raises(errors.UntrustedPath):
        book.allocate("n", "c")


def _in_parallel(allocate: t.Callable[..., str], calls: list[tuple]) -> list[str]:
    """``allocate(*args)`` for each of *calls*, each in a forked process, all released at once; the results."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    start = ctx.Barrier(len(calls))

    def run(*args: object) -> None:
        start.wait()
        queue.put(allocate(*args))

    procs = [ctx.Process(target=run, args=args) for args in calls]
    for p in procs:
        p.start()
    got = [queue.get(timeout=60) for _proc in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    return got


def test_twenty_processes_get_twenty_addresses(tmp_path: str) -> None:
    directory = str(tmp_path / "ipam")
    ipam.Ipam(directory).create("n", subnet="10.77.0.0/24")
    got = _in_parallel(lambda owner: ipam.Ipam(directory).allocate("n", owner), [(f"c{i}",) for i in range(20)])
    assert len(set(got)) == 20
    assert sorted(ipam.Ipam(directory).get("n")["addresses"].values()) == sorted(f"c{i}" for i in range(20))


# ---------------------------------------------------------------- host-wide claims on a shared bridge
def _root(base: object, name: str, *containers: str) -> tuple[str, ipam.Ipam]:
    """A data root under *base* with *containers* (their directories: what makes a claim live) and an address
    book whose network ``bridge`` (172.17.0.0/29) claims its addresses in ``base/claims``."""
    root = os.path.join(str(base), name)
    for cid in containers:
        os.makedirs(os.path.join(root, "containers", cid))
    book = ipam.Ipam(os.path.join(root, "networks", "ipam"), ipam.BridgeClaims(root, os.path.join(str(base), "claims")))
    book.create("bridge", subnet="172.17.0.0/29")
    return root, book


def _claims(base: object) -> dict:
    path = os.path.join(str(base), "claims", "berth0.json")
    return json.load(open(path, encoding="utf-8")) if os.path.exists(path) else {}


def test_two_data_roots_on_one_bridge_get_distinct_addresses(tmp_path: object) -> None:
    root_a, a = _root(tmp_path, "a", "a1", "a2")
    root_b, b = _root(tmp_path, "b", "b1")
    assert a.allocate("bridge", "a1", bridge="berth0") == "172.17.0.2"
    assert b.allocate("bridge", "b1", bridge="berth0") == "172.17.0.3"  # without the claims: .2 as well
    assert a.allocate("bridge", "a2", bridge="berth0") == "172.17.0.4"
    assert _claims(tmp_path) == {
        "172.17.0.2": {"root": root_a, "owner": "a1", "network": "bridge"},
        "172.17.0.3": {"root": root_b, "owner": "b1", "network": "bridge"},
        "172.17.0.4": {"root": root_a, "owner": "a2", "network": "bridge"}}
    with pytest.raises(errors.Conflict, match=f"172.17.0.3 is already in use .*container b1 of data root {root_b}"):
        a.allocate("bridge", "a3", "172.17.0.3", bridge="berth0")
    assert b.release("b1") == ["172.17.0.3"]
    assert "172.17.0.3" not in _claims(tmp_path)
    assert b.allocate("bridge", "b1", "172.17.0.3", bridge="berth0") == "172.17.0.3"
    a.delete("bridge")  # the network goes: its claims with it
    assert sorted(_claims(tmp_path)) == ["172.17.0.3"]
    assert oct(os.stat(os.path.join(str(tmp_path), "claims")).st_mode & 0o777) == "0o700"


def test_stale_claims_are_dropped_when_met(tmp_path: object) -> None:
    import shutil

    root_a, a = _root(tmp_path, "a", "a1", "a2")
    _root_b, b = _root(tmp_path, "b", "b1")
    a.allocate("bridge", "a1", bridge="berth0")
    a.allocate("bridge", "a2", bridge="berth0")
    shutil.rmtree(os.path.join(root_a, "containers", "a2"))  # a container gone without a release (a crash)
    assert b.allocate("bridge", "b1", bridge="berth0") == "172.17.0.3"
    assert sorted(_claims(tmp_path)) == ["172.17.0.2", "172.17.0.3"]
    shutil.rmtree(root_a)  # a test's data root deleted with its containers' claims left
    assert b.allocate("bridge", "b2", bridge="berth0") == "172.17.0.2"
    assert {a: c["owner"] for a, c in _claims(tmp_path).items()} == {"172.17.0.2": "b2", "172.17.0.3": "b1"}


def test_a_stable_address_taken_while_the_claims_were_gone(tmp_path: object) -> None:
    """After a reboot (/run cleared) another data root may take a stopped container's address first: its
    start then gets a new address, or fails naming the holder when the address was asked for."""
    import shutil

    _root_a, a = _root(tmp_path, "a", "a1", "a2")
    root_b, b = _root(tmp_path, "b", "b1", "b3")
    assert a.allocate("bridge", "a1", bridge="berth0") == "172.17.0.2"
    assert a.allocate("bridge", "a2", "172.17.0.3", bridge="berth0") == "172.17.0.3"
    assert a.allocate("bridge", "a1", bridge="berth0") == "172.17.0.2"  # a restart keeps it
    shutil.rmtree(os.path.join(str(tmp_path), "claims"))  # the reboot
    assert a.allocate("bridge", "a1", bridge="berth0") == "172.17.0.2"  # a start claims the book's addresses again
    assert sorted(_claims(tmp_path)) == ["172.17.0.2", "172.17.0.3"]
    shutil.rmtree(os.path.join(str(tmp_path), "claims"))
    # a's claims are not there until a allocates again: b takes a1's and a2's (stopped) addresses
    assert b.allocate("bridge", "b1", bridge="berth0") == "172.17.0.2"
    assert b.allocate("bridge", "b3", bridge="berth0") == "172.17.0.3"
    assert a.allocate("bridge", "a1", bridge="berth0") == "172.17.0.4"  # re-claimed at start: a new one
    assert a.get("bridge")["addresses"] == {"172.17.0.4": "a1", "172.17.0.3": "a2"}
    with pytest.raises(errors.Conflict, match=f"172.17.0.3 is already in use .*data root {root_b}"):
        a.allocate("bridge", "a2", "172.17.0.3", bridge="berth0")
    assert _claims(tmp_path)["172.17.0.3"]["owner"] == "b3"


def test_twenty_processes_in_two_data_roots_get_twenty_addresses(tmp_path: object) -> None:
    claims = os.path.join(str(tmp_path), "claims")
    calls = []
    for name in ("a", "b"):
        owners = [f"{name}{i}" for i in range(10)]
        root, book = _root(tmp_path, name, *owners)
        book.delete("bridge")
        book.create("bridge", subnet="10.78.0.0/24")
        calls.extend((root, owner) for owner in owners)

    def allocate(root: str, owner: str) -> str:
        book = ipam.Ipam(os.path.join(root, "networks", "ipam"), ipam.BridgeClaims(root, claims))
        return book.allocate("bridge", owner, bridge="berth0")

    got = _in_parallel(allocate, calls)
    assert len(set(got)) == 20
    assert len(_claims(tmp_path)) == 20

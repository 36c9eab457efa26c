# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure part of the ``network`` task: the desired network from the parameters, what differs from an
existing one (only what the task names), bad input naming the field and value."""
from __future__ import annotations

import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.errors import InvalidOption
from ansible_collections.berth.engine.plugins.module_utils.engine.options.network import (
    desired_spec, option_differences, predicted,
)

EXISTING = {
    "Name": "web", "Driver": "bridge", "Internal": False, "MTU": 1500, "Labels": {"tier": "web", "team": "a"},
    "Options": {"com.docker.network.bridge.name": "br-web", "com.docker.network.bridge.enable_icc": "false"},
    "IPAM": {"Driver": "default", "Options": {}, "Config": [{"Subnet": "10.20.0.0/24", "Gateway": "10.20.0.1"}]},
}


def spec(**params: t.Any) -> dict[str, t.Any]:
    return desired_spec(dict({"name": "web", "driver": "bridge"}, **params))


def test_only_what_the_task_names_is_compared() -> None:
    assert option_differences(EXISTING, spec()) == []
    assert option_differences(EXISTING, spec(labels={"tier": "web"}, subnet="10.20.0.0/24")) == []
    assert option_differences(EXISTING, spec(driver_options={"com.docker.network.bridge.enable_icc": False})) == []
    assert option_differences(EXISTING, spec(ip_range="10.20.0.0/24", gateway="10.20.0.1", mtu=1500,
                                             internal=False)) == []


def test_differences_are_named() -> None:
    got = option_differences(EXISTING, spec(labels={"tier": "db"}, subnet="10.30.0.0/24", internal=True, mtu=1400,
                                            driver_options={"com.docker.network.bridge.enable_icc": "true"}))
    assert got == ["subnet", "internal", "mtu", "driver_options.com.docker.network.bridge.enable_icc", "labels.tier"]


def test_ipam_config_is_the_long_form_of_subnet_gateway_ip_range() -> None:
    long = spec(ipam_config=[{"subnet": "10.20.0.0/24", "gateway": "10.20.0.1", "iprange": "10.20.0.128/25"}])
    short = spec(subnet="10.20.0.0/24", gateway="10.20.0.1", ip_range="10.20.0.128/25")
    assert long == short
    assert option_differences(EXISTING, long) == ["ip_range"]
    assert spec(subnet="10.20.0.5/24")["subnet"] == "10.20.0.0/24"


def test_mtu_and_its_driver_option_are_one() -> None:
    assert spec(driver_options={"com.docker.network.driver.mtu": "1400"})["mtu"] == 1400
    assert option_differences(EXISTING, spec(driver_options={"com.docker.network.driver.mtu": 1500})) == []


@pytest.mark.parametrize(("params", "field", "value"), [
    ({"subnet": "10.20.0.0/33"}, "subnet", "10.20.0.0/33"),
    ({"gateway": "10.20.0.300"}, "gateway", "10.20.0.300"),
    ({"ipam_config": [{"subnet": "10.1.0.0/24"}, {"subnet": "10.2.0.0/24"}]}, "ipam_config", None),
    ({"ipam_config": [{"subnet": "10.1.0.0/24", "range": "x"}]}, "ipam_config[0].range", "x"),
    ({"ipam_config": [{"aux_addresses": {"a": "10.1.0.5"}}]}, "ipam_config[0].aux_addresses", None),
    ({"subnet": "10.1.0.0/24", "ipam_config": [{"subnet": "10.2.0.0/24"}]}, "subnet", "10.1.0.0/24"),
    ({"mtu": 1400, "driver_options": {"com.docker.network.driver.mtu": "1500"}}, "mtu", 1400),
    ({"driver_options": {"com.docker.network.driver.mtu": "big"}}, "driver_options.com.docker.network.driver.mtu",
     "big"),
])
def test_bad_input_names_field_and_value(params: dict[str, t.Any], field: str, value: t.Any) -> None:
    with pytest.raises(InvalidOption) as err:
        spec(**params)
    assert field in str(err.value)
    if value is not None:
        assert str(value) in str(err.value)


def test_check_mode_prediction_has_the_inspect_shape() -> None:
    got = predicted(spec(subnet="10.9.0.0/24", internal=True, labels={"a": 1}))
    assert got["IPAM"]["Config"] == [{"Subnet": "10.9.0.0/24", "Gateway": None}]
    assert got["Internal"] is True and got["Labels"] == {"a": "1"} and got["Containers"] == {}


def _net(name: str, aliases: t.Sequence[str] = (), ip: str | None = None) -> dict[str, t.Any]:
    return {"name": name, "aliases": list(aliases), "ipv4_address": ip}


def test_network_changes_connect_what_is_missing_and_reconnect_what_differs() -> None:
    from ansible_collections.berth.engine.plugins.module_utils.engine.options.container import network_changes

    recorded = {"network_mode": "front", "networks": [_net("back", ["db"])]}
    assert network_changes({"networks": [_net("back", ["db"])]}, recorded) == []
    assert network_changes({"networks": [_net("extra")]}, recorded) == [("connect", _net("extra"))]
    assert network_changes({"networks": [_net("back", ["store"])]}, recorded) == [
        ("disconnect", _net("back", ["db"])), ("connect", _net("back", ["store"]))]
    # allow_more_present (the default) keeps unlisted networks; strict disconnects them, never network_mode's
    assert network_changes({"networks": [_net("extra")]}, recorded, strict=True) == [
        ("connect", _net("extra")), ("disconnect", _net("back", ["db"]))]
    assert network_changes({"networks": [_net("default")]}, {"networks": [_net("bridge")]}) == []


def test_network_changes_that_need_a_recreate() -> None:
    from ansible_collections.berth.engine.plugins.module_utils.engine.options.container import network_changes

    assert network_changes({"networks": [_net("front", ["web"])]}, {"network_mode": "front"}) is None
    assert network_changes({"networks": [_net("x")]}, {"network_mode": "none"}) is None
    assert network_changes({"networks": [_net("x")]}, {"network_mode": "host"}) is None

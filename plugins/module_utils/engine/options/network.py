# SPDX-License-Identifier: GPL-3.0-or-later
"""Options of the ``network`` and ``network_info`` tasks (community.docker's ``docker_network`` names), and
the pure part of the task: the desired network from the parameters, and what of it differs from an
existing one (community.docker's rule: only what the task names is compared).

The module DOCUMENTATION mirrors these tables exactly (a unit test compares names, types, elements,
choices, defaults and aliases).
"""
from __future__ import annotations

import ipaddress
import typing as t

from ..errors import InvalidOption
from .common import ENGINE_OPTIONS
from .model import Option, OptionTable

STATES = ("present", "absent")
#: keys of an ``ipam_config`` entry (community.docker's); ``aux_addresses`` is refused (not supported)
IPAM_KEYS = ("subnet", "gateway", "iprange", "aux_addresses")
OPT_MTU = "com.docker.network.driver.mtu"
OPT_BRIDGE_NAME = "com.docker.network.bridge.name"

NETWORK_OPTIONS = OptionTable(
    options=(
        Option("name", required=True, aliases=("network_name",), doc="Name of the network."),
        Option("state", default="present", choices=STATES, doc="Whether the network should exist."),
        Option("driver", default="bridge", doc="Network driver (only bridge)."),
        Option("driver_options", kind="dict", doc="Driver options (docker network create -o)."),
        Option("ipam_config", kind="list", elements="dict",
               doc="Address configuration: at most one entry with subnet, gateway, iprange."),
        Option("subnet", doc="Subnet in CIDR form (short for ipam_config's subnet)."),
        Option("gateway", doc="Gateway address (short for ipam_config's gateway)."),
        Option("ip_range", doc="Range addresses are allocated from (short for ipam_config's iprange)."),
        Option("internal", kind="bool", doc="Whether the network has no way out."),
        Option("mtu", kind="int", doc="MTU of the bridge and the containers' interfaces."),
        Option("labels", kind="dict", doc="Labels of the network."),
        Option("connected", kind="list", elements="str", aliases=("containers",),
               doc="Containers connected to the network."),
        Option("appends", kind="bool", default=False, doc="Keep containers that connected does not name."),
        Option("force", kind="bool", default=False,
               doc="Disconnect the containers when the network is removed or recreated."),
    )
    + ENGINE_OPTIONS
)

NETWORK_INFO_OPTIONS = OptionTable(
    options=(Option("name", required=True, aliases=("network_name",), doc="Name of the network to inspect."),)
    + ENGINE_OPTIONS
)


def _text(value: t.Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _strings(value: t.Any) -> dict[str, str]:
    return {str(k): _text(v) for k, v in (value or {}).items()}


def _cidr(field: str, value: t.Any) -> str:
    try:
        return str(ipaddress.ip_network(str(value), strict=False))
    except ValueError:
        raise InvalidOption(field, value, "must be a network in CIDR form, such as 10.10.0.0/24") from None


def _address(field: str, value: t.Any) -> str:
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        raise InvalidOption(field, value, "must be an IP address") from None


def desired_spec(params: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The ``NetworkService.create`` spec the parameters ask for, with only the keys the task sets (a key
    left out is not compared). ``subnet``/``gateway``/``ip_range`` and ``ipam_config`` may both be given when
    they agree; ``mtu`` and the driver option ``com.docker.network.driver.mtu`` likewise."""
    spec: dict[str, t.Any] = {"name": params["name"], "driver": params.get("driver") or "bridge"}
    ipam = list(params.get("ipam_config") or ())
    if len(ipam) > 1:
        raise InvalidOption("ipam_config", ipam, "only one (IPv4) entry is supported")
    entry = dict(ipam[0]) if ipam else {}
    unknown = sorted(set(entry) - set(IPAM_KEYS))
    if unknown:
        raise InvalidOption(f"ipam_config[0].{unknown[0]}", entry[unknown[0]], f"known keys: {', '.join(IPAM_KEYS)}")
    if entry.get("aux_addresses"):
        raise InvalidOption("ipam_config[0].aux_addresses", entry["aux_addresses"], "is not supported")
    for key, ipam_key in (("subnet", "subnet"), ("gateway", "gateway"), ("ip_range", "iprange")):
        value, other = params.get(key), entry.get(ipam_key)
        if value is not None and other is not None and str(value) != str(other):
            raise InvalidOption(key, value, f"differs from ipam_config's {ipam_key} {other!r}")
        value = value if value is not None else other
        if value is not None:
            spec[key] = _address(key, value) if key == "gateway" else _cidr(key, value)
    options = _strings(params.get("driver_options"))
    mtu = params.get("mtu")
    if OPT_MTU in options:
        try:
            from_option = int(options[OPT_MTU])
        except ValueError:
            raise InvalidOption(f"driver_options.{OPT_MTU}", options[OPT_MTU], "must be a number") from None
        if mtu is not None and mtu != from_option:
            raise InvalidOption("mtu", mtu, f"differs from driver_options' {OPT_MTU} {from_option}")
        mtu = from_option
    if mtu is not None:
        spec["mtu"] = mtu
    spec["options"] = options
    if params.get("internal") is not None:
        spec["internal"] = bool(params["internal"])
    spec["labels"] = _strings(params.get("labels"))
    return spec


def shown(network: t.Mapping[str, t.Any] | None, connected: t.Iterable[str] = ()) -> dict[str, t.Any]:
    """A network's inspect form as the diff shows it."""
    if not network:
        return {"exists": False}
    config = ((network.get("IPAM") or {}).get("Config") or [{}])[0]
    options = dict(network.get("Options") or {})
    if options.get(OPT_BRIDGE_NAME) == "br-" + str(network.get("Id"))[:12]:
        del options[OPT_BRIDGE_NAME]  # the engine's choice, not an option (unknown in check mode)
    return {
        "exists": True, "driver": network.get("Driver") or "bridge", "driver_options": options,
        "subnet": config.get("Subnet"), "gateway": config.get("Gateway"),
        "ip_range": config.get("IPRange") or config.get("Subnet"), "internal": bool(network.get("Internal")),
        "mtu": network.get("MTU"), "labels": dict(network.get("Labels") or {}), "connected": sorted(connected),
    }


def option_differences(network: t.Mapping[str, t.Any], spec: t.Mapping[str, t.Any]) -> list[str]:
    """What of *spec* (:func:`desired_spec`) differs from the existing *network* (its inspect form): the
    driver, and each of subnet, gateway, ip_range, internal, mtu, driver option and label the task sets."""
    have = shown(network)
    out = []
    for key in ("driver", "subnet", "gateway", "ip_range", "internal", "mtu"):
        if key in spec and spec[key] != have[key]:
            out.append(key)
    out += [f"driver_options.{k}" for k, v in sorted(spec.get("options", {}).items())
            if k != OPT_MTU and (network.get("Options") or {}).get(k) != v]
    out += [f"labels.{k}" for k, v in sorted(spec.get("labels", {}).items()) if have["labels"].get(k) != v]
    return out


def predicted(spec: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The inspect form a network made from *spec* will have, as far as the task knows it (check mode:
    addresses the engine would pick are unknown)."""
    config = {"Subnet": spec.get("subnet"), "Gateway": spec.get("gateway")}
    if spec.get("ip_range"):
        config["IPRange"] = spec["ip_range"]
    return {"Name": spec["name"], "Driver": spec.get("driver") or "bridge", "Options": dict(spec.get("options") or {}),
            "IPAM": {"Driver": "default", "Options": {}, "Config": [config]}, "Internal": bool(spec.get("internal")),
            "MTU": spec.get("mtu"), "Labels": dict(spec.get("labels") or {}), "Containers": {}}

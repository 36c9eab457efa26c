# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import json

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.config.daemon import DaemonConfig
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import ConfigError


def test_missing_file_means_defaults(tmp_path) -> None:
    cfg = DaemonConfig.load(str(tmp_path / "nope.json"))
    assert cfg.max_concurrent_downloads == 3
    assert cfg.registry_mirrors == []
    assert cfg.insecure_registries.matches("127.0.0.1:5000")  # loopback: insecure by default, as in dockerd
    assert cfg.auth_path == str(tmp_path / "auth.json")
    assert cfg.certs_dir == str(tmp_path / "certs.d")


def test_insecure_by_host_and_cidr(tmp_path) -> None:
    p = tmp_path / "daemon.json"
    p.write_text(json.dumps({"insecure-registries": ["reg.local:5000", "10.0.0.0/8", "127.0.0.0/8"]}))
    ins = DaemonConfig.load(str(p)).insecure_registries
    assert ins.matches("reg.local:5000")
    assert not ins.matches("reg.local:5001")
    assert ins.matches("10.1.2.3:443")
    assert ins.matches("127.0.0.1:5000")
    assert ins.matches("localhost:5000")  # resolves into 127.0.0.0/8, as Docker does
    assert not ins.matches("192.0.2.1:5000")


@pytest.mark.parametrize(
    "host, insecure",
    [
        ("127.0.0.1:5000", True),
        ("127.8.9.10", True),
        ("[::1]:5000", True),
        ("[::ffff:127.0.0.1]:5000", True),  # IPv4-mapped: the IPv4 address counts (Go's Unmap)
        ("localhost:5000", True),  # not special by name: it resolves into 127.0.0.0/8
        ("0.0.0.0:5000", False),  # reaches this host, but is not in a loopback CIDR
        ("192.0.2.1:5000", False),
        ("[fd00::2]:5000", False),
        ("docker.io", False),  # the official index is always secure
        ("registry-1.docker.io", False),
    ],
)
def test_loopback_is_insecure_by_default(tmp_path, host, insecure) -> None:
    cfg = DaemonConfig.load(str(tmp_path / "nope.json"))
    assert cfg.insecure_registries.matches(host) is insecure
    assert [str(n) for n in cfg.insecure_registries.networks] == ["::1/128", "127.0.0.0/8"]  # moby's order


def test_default_cidrs_follow_the_configured_ones_once(tmp_path) -> None:
    p = tmp_path / "daemon.json"
    p.write_text(json.dumps({"insecure-registries": ["10.0.0.0/8", "127.0.0.1/8"]}))
    nets = DaemonConfig.load(str(p)).insecure_registries.networks
    assert [str(n) for n in nets] == ["10.0.0.0/8", "127.0.0.0/8", "::1/128"]


@pytest.mark.parametrize(
    "raw, key, reason",
    [
        ({"max-concurrent-downloads": 0}, "max-concurrent-downloads", "at least 1"),
        ({"max-concurrent-downloads": "3"}, "max-concurrent-downloads", "expected int"),
        ({"debug": 1}, "debug", "expected bool"),
        ({"registry-mirrors": ["mirror.local"]}, "registry-mirrors", "http:// or https://"),
        ({"registry-mirrors": ["https://m.local/path"]}, "registry-mirrors", "path"),
        ({"insecure-registries": ["http://x:5000"]}, "insecure-registries", "without a scheme"),
        ({"insecure-registries": ["10.0.0.0/99"]}, "insecure-registries", "CIDR"),
        ({"data-root": "relative/dir"}, "data-root", "absolute"),
        ({"mtu": 10}, "mtu", "68..65535"),
        ({"regsitry-mirrors": []}, "regsitry-mirrors", "unknown configuration option"),
        ({"bip": "192.168.1.1"}, "bip", "prefix length"),
        ({"bip": "192.168.1.0/24"}, "bip", "network or broadcast"),
        ({"bip": "300.1.1.1/24"}, "bip", "CIDR"),
        ({"fixed-cidr": "10.1.0.0/33"}, "fixed-cidr", "not a valid CIDR"),
        ({"fixed-cidr": "10.1.0.0"}, "fixed-cidr", "no prefix length"),
        ({"default-address-pools": [{"base": "10.0.0.0/8"}]}, "default-address-pools[0]", "base and size"),
        ({"default-address-pools": [{"base": "10.0.0.1/8", "size": 24}]}, "default-address-pools[0].base",
         "not a subnet"),
        ({"default-address-pools": [{"base": "10.0.0.0/16", "size": 8}]}, "default-address-pools[0].size",
         "from 16 to 32"),
        ({"default-address-pools": [{"base": "10.0.0.0/8", "size": 24}, {"base": "10.1.0.0/16", "size": 24}]},
         "default-address-pools[1]", "overlaps default-address-pools[0]"),
        ({"log-opts": {"max-size": "10q"}}, "log-opts.max-size", "not a size"),
        ({"log-opts": {"max-size": "0"}}, "log-opts.max-size", "more than 0"),
        ({"log-opts": {"max-size": 10}}, "log-opts.max-size", "must be a string"),
        ({"log-opts": {"max-file": "0"}}, "log-opts.max-file", "at least 1"),
        ({"default-cgroupns-mode": "shared"}, "default-cgroupns-mode", "private or host"),
        ({"no-new-privileges": "yes"}, "no-new-privileges", "expected bool"),
    ],
)
def test_bad_values_name_key_and_value(tmp_path, raw, key, reason) -> None:
    p = tmp_path / "daemon.json"
    p.write_text(json.dumps(raw))
    with pytest.raises(ConfigError) as err:
        DaemonConfig.load(str(p))
    assert key in str(err.value)
    assert reason in str(err.value)
    assert str(p) in str(err.value)


def test_invalid_json(tmp_path) -> None:
    p = tmp_path / "daemon.json"
    p.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        DaemonConfig.load(str(p))
    p.write_text("[]")
    with pytest.raises(ConfigError, match="JSON object"):
        DaemonConfig.load(str(p))


def test_keys_not_acted_on_are_reported() -> None:
    """A daemon.json key the engine accepts but does not act on is said so (info's Warnings)."""
    cfg = DaemonConfig.from_dict({"mtu": 1400, "features": {"buildkit": True}, "dns": ["1.1.1.1"]}, "/etc/d.json")
    assert cfg.ignored() == [
        "/etc/d.json: 'features' is accepted but not acted on: no optional feature can be switched on or off",
    ]
    assert DaemonConfig.from_dict({"log-driver": "none", "log-opts": {}}).ignored() == []
    # bridge networking acts on these now
    assert DaemonConfig.from_dict({"bip": "10.9.0.1/24", "mtu": 1400, "fixed-cidr": "10.9.0.0/25"}).ignored() == []


def test_keys_spec_py_reads_are_in_the_table() -> None:
    """supervisor/spec.py reads these three: a file that sets them loads (it was refused as unknown)."""
    cfg = DaemonConfig.from_dict({"no-new-privileges": True, "default-cgroupns-mode": "host",
                                  "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 2048}}})
    assert cfg.get("no-new-privileges") is True and cfg.get("default-cgroupns-mode") == "host"
    assert cfg.ignored() == []


def test_good_network_and_log_values_load() -> None:
    DaemonConfig.from_dict({"bip": "192.168.1.1/24", "fixed-cidr": "192.168.1.0/25",
                            "default-address-pools": [{"base": "10.10.0.0/16", "size": 24},
                                                      {"base": "10.11.0.0/16", "size": 24}],
                            "log-opts": {"max-size": "10m", "max-file": "3", "tag": "x"}})

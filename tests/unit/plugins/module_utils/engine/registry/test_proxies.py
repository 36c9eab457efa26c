# SPDX-License-Identifier: GPL-3.0-or-later
"""ProxyConfig: dockerd's proxy settings (daemon.json over the environment) and Go's NO_PROXY matching."""
from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.config.daemon import DaemonConfig
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import ConfigError
from ansible_collections.berth.engine.plugins.module_utils.engine.registry.transport import ProxyConfig

P = "http://proxy:3128"


def test_daemon_json_overrides_the_environment_key_by_key() -> None:
    env = {"HTTP_PROXY": "http://env:1", "https_proxy": "http://env:2", "NO_PROXY": "a.example"}
    cfg = ProxyConfig.resolve({"https-proxy": "http://cfg:3"}, env)
    assert cfg == ProxyConfig("http://env:1", "http://cfg:3", ("a.example",))
    assert ProxyConfig.resolve({}, {}) == ProxyConfig()
    assert ProxyConfig.resolve({}, {"HTTPS_PROXY": "proxy:3128"}).proxy_for("https", "reg.example") == P


@pytest.mark.parametrize("no_proxy, scheme, host, direct", [
    ((), "https", "reg.example:5000", False),
    ((), "https", "localhost:5000", True),
    ((), "http", "127.0.0.5:5000", True),
    ((), "http", "[::1]:5000", True),
    ((), "http", "0.0.0.0:5000", False),
    (("*",), "https", "reg.example", True),
    (("reg.example",), "https", "reg.example:5000", True),
    (("reg.example",), "https", "sub.reg.example", True),
    ((".reg.example",), "https", "reg.example", True),
    (("*.reg.example",), "https", "a.reg.example", True),
    (("reg.example",), "https", "notreg.example", False),
    (("reg.example:5000",), "https", "reg.example:5000", True),
    (("reg.example:5000",), "https", "reg.example", False),
    (("reg.example:443",), "https", "reg.example", True),
    (("10.0.0.0/8",), "http", "10.1.2.3:5000", True),
    (("10.0.0.0/8",), "http", "11.1.2.3:5000", False),
    (("10.1.2.3",), "http", "10.1.2.3:5000", True),
])
def test_no_proxy(no_proxy: tuple, scheme: str, host: str, direct: bool) -> None:
    cfg = ProxyConfig(P, P, no_proxy)
    assert (cfg.proxy_for(scheme, host) is None) == direct


def test_only_the_scheme_s_own_proxy() -> None:
    assert ProxyConfig(http=P).proxy_for("https", "reg.example") is None
    assert ProxyConfig(https=P).proxy_for("http", "reg.example") is None


@pytest.mark.parametrize("proxies, where", [
    ({"ftp-proxy": "x"}, "proxies.ftp-proxy"),
    ({"http-proxy": 3}, "proxies.http-proxy"),
    ({"https-proxy": "http://"}, "proxies.https-proxy"),
])
def test_bad_proxies_in_daemon_json(proxies: dict, where: str) -> None:
    with pytest.raises(ConfigError) as ei:
        DaemonConfig.from_dict({"proxies": proxies})
    assert where in str(ei.value)


def test_proxies_in_daemon_json() -> None:
    cfg = DaemonConfig.from_dict({"proxies": {"http-proxy": P, "no-proxy": "a,b"}})
    assert cfg.proxies == {"http-proxy": P, "no-proxy": "a,b"}
    assert DaemonConfig.from_dict({}).proxies == {}

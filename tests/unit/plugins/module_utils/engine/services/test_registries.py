# SPDX-License-Identifier: GPL-3.0-or-later
"""``services.registries``: the registry task's options translated into a container and files; errors naming
the option; htpasswd lines kept while their hash matches (the real htpasswd tool); waiting for /v2/."""
from __future__ import annotations

import os
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.config.daemon import DaemonConfig
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import InvalidOption, RegistryError
from ansible_collections.berth.engine.plugins.module_utils.engine.options.registry import REGISTRY_OPTIONS
from ansible_collections.berth.engine.plugins.module_utils.engine.registry.client import RegistryClient
from ansible_collections.berth.engine.plugins.module_utils.engine.services.registries import RegistryService
from tests.support import require_tools
from tests.support.registry import free_port

PEM_CERT = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
PEM_KEY = b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"


@pytest.fixture
def svc(tmp_path: t.Any) -> RegistryService:
    config = DaemonConfig(path=str(tmp_path / "etc" / "daemon.json"), raw={})
    return RegistryService(config, lambda: RegistryClient(config))


def params(**kw: t.Any) -> dict[str, t.Any]:
    p = REGISTRY_OPTIONS.defaults()
    p.update(kw)
    return p


def test_plain_registry(svc: RegistryService) -> None:
    plan = svc.plan(params(volume="data", port=5001))
    assert plan.container == {
        "name": "registry", "image": "registry:2", "restart_policy": "always",
        "published_ports": ["0.0.0.0:5001:5000"], "env": {"REGISTRY_HTTP_ADDR": "0.0.0.0:5000"}, "secret_env": None,
        "volumes": ["data:/var/lib/registry"], "labels": {"berth.registry": "registry"},
    }
    assert plan.url == "http://127.0.0.1:5001" and plan.host == "127.0.0.1:5001"
    # a pull-through cache of an origin on the host's loopback runs on the host's network (a bridge
    # container's 127.0.0.1 is its own)
    local = svc.plan(params(port=5001, proxy_remote_url="http://127.0.0.1:5002")).container
    assert local["network_mode"] == "host" and local["env"]["REGISTRY_HTTP_ADDR"] == "0.0.0.0:5001"
    assert "published_ports" not in local
    assert plan.files_changed == [] and plan.files == {"htpasswd": None, "tls.crt": None, "tls.key": None}


def test_tls_proxy_delete_path(svc: RegistryService, tmp_path: t.Any) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_bytes(PEM_CERT)
    key.write_bytes(PEM_KEY)
    plan = svc.plan(params(name="mirror", path="/srv/reg/", bind_address="::1", port=443, certificate=str(cert),
                           key=str(key), proxy_remote_url="https://registry-1.docker.io", proxy_username="u",
                           proxy_password="p", delete_enabled=True))
    c = plan.container
    assert c["env"] == {
        "REGISTRY_HTTP_TLS_CERTIFICATE": "/auth/tls.crt", "REGISTRY_HTTP_TLS_KEY": "/auth/tls.key",
        "REGISTRY_PROXY_REMOTEURL": "https://registry-1.docker.io", "REGISTRY_PROXY_USERNAME": "u",
        "REGISTRY_STORAGE_DELETE_ENABLED": "true", "REGISTRY_HTTP_ADDR": "[::1]:443",
    }
    assert c["network_mode"] == "host" and "published_ports" not in c  # bridge networks are IPv4 only
    assert c["secret_env"] == {"REGISTRY_PROXY_PASSWORD": "p"}  # never in env
    assert c["volumes"] == ["/srv/reg:/var/lib/registry", f"{svc.directory('mirror')}:/auth:ro"]
    assert plan.url == "https://[::1]:443" and plan.files_changed == ["tls.crt", "tls.key"]

    svc.write_files(plan)
    d = svc.directory("mirror")
    assert os.stat(d).st_mode & 0o777 == 0o700
    modes = {f: os.stat(os.path.join(d, f)).st_mode & 0o777 for f in os.listdir(d)}
    assert modes == {"tls.crt": 0o600, "tls.key": 0o600}
    assert svc.plan(params(name="mirror", certificate=str(cert), key=str(key))).files_changed == []
    # without TLS the files go, and with them the directory
    plan = svc.plan(params(name="mirror"))
    assert plan.files_changed == ["tls.crt", "tls.key"]
    svc.write_files(plan)
    assert not os.path.exists(d)


@pytest.mark.parametrize("kw, field, words", [
    ({"port": 0}, "port", "1-65535"),
    ({"port": 70000}, "port", "1-65535"),
    ({"bind_address": "localhost"}, "bind_address", "IP address"),
    ({"name": "a/b"}, "name", "no '/'"),
    ({"name": ".."}, "name", "no '/'"),
    ({"path": "relative/dir"}, "path", "absolute"),
    ({"volume": "v", "path": "/srv"}, "volume", "not both"),
    ({"proxy_remote_url": "registry-1.docker.io"}, "proxy_remote_url", "http:// or https://"),
    ({"proxy_username": "u", "proxy_password": "p"}, "proxy_username", "needs proxy_remote_url"),
    ({"users": [{"username": "a"}]}, "users[0].password", "non-empty"),
    ({"users": [{"username": "a:b", "password": "x"}]}, "users[0].username", "without ':'"),
    ({"users": [{"username": "a", "password": "x", "role": "admin"}]}, "users[0]", "username and password only"),
    ({"users": [{"username": "a", "password": "x"}, {"username": "a", "password": "y"}]},
     "users[1].username", "twice"),
    ({"users": [{"username": "a", "password": "two\nlines"}]}, "users[0].password", "single-line"),
    ({"certificate": "/nonexistent.pem", "key": "/nonexistent.key"}, "certificate", "cannot be read"),
    ({"certificate": "/etc/hostname", "key": "/etc/hostname"}, "certificate", "not a PEM file"),
    ({"certificate": "/etc/hostname"}, "key", "required with certificate"),
    ({"key": "/etc/hostname"}, "certificate", "required with key"),
])
def test_bad_options(svc: RegistryService, kw: dict[str, t.Any], field: str, words: str) -> None:
    with pytest.raises(InvalidOption) as exc:
        svc.plan(params(**kw))
    assert exc.value.field == field and words in exc.value.reason
    assert "two\nlines" not in str(exc.value) and "'x'" not in str(exc.value)  # passwords are not shown


def test_htpasswd_kept_while_the_password_matches(svc: RegistryService) -> None:
    require_tools("htpasswd", why="bcrypt htpasswd files")
    users = [{"username": "alice", "password": "pw-a"}, {"username": "bob", "password": "pw-b"}]
    plan = svc.plan(params(users=users))
    assert plan.files_changed == ["htpasswd"] and plan.users_before == [] and plan.users_after == ["alice", "bob"]
    assert plan.container["env"]["REGISTRY_AUTH"] == "htpasswd"
    assert plan.container["env"]["REGISTRY_AUTH_HTPASSWD_PATH"] == "/auth/htpasswd"
    svc.write_files(plan)
    path = os.path.join(svc.directory("registry"), "htpasswd")
    with open(path, "rb") as fh:
        first = fh.read()
    assert first.startswith(b"alice:$2y$") and b"\nbob:$2y$" in first and b"pw-a" not in first

    again = svc.plan(params(users=users))
    assert again.files_changed == [] and again.files["htpasswd"] == first  # not hashed again

    changed = svc.plan(params(users=[users[0], {"username": "bob", "password": "new"}]))
    assert changed.files_changed == ["htpasswd"]
    alice, bob = changed.files["htpasswd"].splitlines()
    assert alice == first.splitlines()[0] and bob != first.splitlines()[1]  # alice's line kept as it was

    dropped = svc.plan(params(users=users[:1]))
    assert dropped.users_before == ["alice", "bob"] and dropped.users_after == ["alice"]


def test_wait_ready_gives_up_naming_the_failure(svc: RegistryService) -> None:
    now = [0.0]
    slept = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    host = f"127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(RegistryError) as exc:
        svc.wait_ready(host, timeout=1.0, poll=0.25, clock=lambda: now[0], sleep=sleep)
    assert host in str(exc.value) and "did not answer within 1s" in str(exc.value)
    assert slept == [0.25] * 4

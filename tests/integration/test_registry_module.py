# SPDX-License-Identifier: GPL-3.0-or-later
"""berth.engine.registry and registry_info through ansible-playbook, running the offline registry image
(scripts/registry-image.sh: Debian's docker-registry) as a Berth container on a free loopback port:

* present in check mode / applied / again (not changed) / check mode again; storage in a named volume
  survives a recreate; absent / again;
* htpasswd users (401 without credentials, 200 with them, registry_login against it, no re-hash on a second
  run, a changed password restarts the registry) over TLS with the CA in certs.d;
* registry_info following the registry's pagination over repositories and tags.
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import typing as t

import pytest

from tests.integration.test_image_module import assert_clean_failure, diff_of
from tests.integration.test_registry_login_module import secrets_in_readable_files
from tests.support import images as _images
from tests.support.cli import Berth
from tests.support.registry import free_port, make_tls_files

pytestmark = [pytest.mark.integration, pytest.mark.registry]

MODULE = "berth.engine.registry"
INFO = "berth.engine.registry_info"
USER = "pusher"
PASSWORD = "Reg-pw-7Hq2-never-printed"


@pytest.fixture(autouse=True)
def _remove_registries(berth_root: str, tmp_path: t.Any) -> t.Iterator[None]:
    """A failed test leaves no registry running (their restart policy is always)."""
    yield
    config = str(tmp_path / "etc" / "berth" / "daemon.json")
    if os.path.exists(config):
        berth = Berth(berth_root, config)
        names = berth("ps", "-aq", rc=None).out.split()
        if names:
            berth("rm", "-f", *names, rc=None)


def get(host: str, path: str = "/v2/", creds: tuple[str, str] | None = None,
        ca: str | None = None) -> tuple[int, bytes]:
    if ca:
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, timeout=10, context=ssl.create_default_context(cafile=ca))
    else:
        conn = http.client.HTTPConnection(host, timeout=10)
    headers = {}
    if creds:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_present_idempotent_check_mode_volume_absent(
        run_playbook: t.Any, berth_defaults: dict[str, str], registry_image: str, busybox_layout: t.Any) -> None:
    port = free_port()
    host = f"127.0.0.1:{port}"
    reg = {"name": "reg", "image": registry_image, "port": port, "bind_address": "127.0.0.1",
           "volume": "reg-data"}
    out = run_playbook([
        {"name": "check", MODULE: reg, "check_mode": True},
        {"name": "create", MODULE: reg},
        {"name": "again", MODULE: reg},
        {"name": "check again", MODULE: reg, "check_mode": True},
    ], diff=True, defaults=berth_defaults)
    assert out["check"]["changed"] and out["create"]["changed"], out["create"]
    assert out["check"]["actions"] == out["create"]["actions"]
    assert diff_of(out["check"]) == diff_of(out["create"])
    assert out["create"]["url"] == f"http://{host}"
    assert not out["again"]["changed"] and not out["check again"]["changed"], out["again"]
    assert out["again"]["url"] == f"http://{host}"
    cfg = out["again"]["container"]["HostConfig"]
    assert cfg["NetworkMode"] != "host" and cfg["RestartPolicy"]["Name"] == "always"
    assert cfg["PortBindings"] == {"5000/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
    assert get(host) == (200, b"{}")

    _images.push(busybox_layout, "latest", host, "team/app:1")
    # a changed option recreates the container; the volume keeps what was pushed
    out = run_playbook([
        {"name": "delete on", MODULE: dict(reg, delete_enabled=True)},
        {"name": "delete on again", MODULE: dict(reg, delete_enabled=True)},
        {"name": "info", INFO: {"registry_url": host}},
    ], defaults=berth_defaults)
    assert out["delete on"]["changed"] and not out["delete on again"]["changed"]
    assert any(a.startswith("Removed container") for a in out["delete on"]["actions"]), out["delete on"]
    assert "REGISTRY_STORAGE_DELETE_ENABLED=true" in out["delete on"]["container"]["Config"]["Env"]
    assert out["info"]["repositories"] == [{"name": "team/app", "tags": ["1"]}]

    out = run_playbook([
        {"name": "absent check", MODULE: {"name": "reg", "state": "absent"}, "check_mode": True},
        {"name": "absent", MODULE: {"name": "reg", "state": "absent"}},
        {"name": "absent again", MODULE: {"name": "reg", "state": "absent"}},
        {"name": "volume", "berth.engine.volume_info": {"name": "reg-data"}},
    ], defaults=berth_defaults)
    assert out["absent check"]["changed"] and out["absent"]["changed"] and not out["absent again"]["changed"]
    assert out["absent"]["url"] is None
    assert out["volume"]["exists"]  # the storage stays
    with pytest.raises(OSError):
        get(host)


def test_users_tls_login_and_password_change(
        run_playbook: t.Any, berth_config: t.Callable[..., str], berth_root: str, registry_image: str,
        busybox_layout: t.Any, tmp_path: t.Any) -> None:
    port = free_port()
    host = f"127.0.0.1:{port}"
    tls = make_tls_files(str(tmp_path / "tls"))
    defaults = {"data_root": berth_root, "config_path": berth_config(certs={host: tls["ca_cert"]})}
    reg = {"name": "secure", "image": registry_image, "port": port, "bind_address": "127.0.0.1",
           "path": str(tmp_path / "storage"), "certificate": tls["server_cert"], "key": tls["server_key"],
           "users": [{"username": USER, "password": PASSWORD}]}
    out = run_playbook([
        {"name": "create", MODULE: reg},
        {"name": "again", MODULE: reg},
        {"name": "login", "berth.engine.registry_login": {"registry_url": host, "username": USER,
                                                          "password": PASSWORD}},
    ], diff=True, defaults=defaults, verbosity=3)
    assert out["create"]["changed"] and out["create"]["url"] == f"https://{host}"
    assert diff_of(out["create"])["after"]["users"] == 1
    assert not out["again"]["changed"], out["again"]  # the stored hash matched: not hashed again
    assert out["login"]["changed"]
    assert get(host, ca=tls["ca_cert"])[0] == 401
    assert get(host, creds=(USER, PASSWORD), ca=tls["ca_cert"])[0] == 200
    files = os.path.join(os.path.dirname(defaults["config_path"]), "registries", "secure")
    assert os.stat(files).st_mode & 0o077 == 0
    assert all(os.stat(os.path.join(files, f)).st_mode & 0o077 == 0 for f in os.listdir(files))
    texts = [out.stdout, out.stderr]

    _images.push(busybox_layout, "latest", host, "private/app:2", creds=(USER, PASSWORD))
    new_password = "Reg-pw-changed-9Kd"
    changed = dict(reg, users=[{"username": USER, "password": new_password}])
    out = run_playbook([
        {"name": "info", INFO: {"registry_url": host}},  # with the credentials registry_login stored
        {"name": "password check", MODULE: changed, "check_mode": True},
        {"name": "password", MODULE: changed},
        {"name": "password again", MODULE: changed},
    ], diff=True, defaults=defaults, verbosity=3)
    assert out["info"]["repositories"] == [{"name": "private/app", "tags": ["2"]}]
    assert out["password check"]["changed"] and out["password"]["changed"]
    assert out["password check"]["actions"] == out["password"]["actions"]
    assert any(a.startswith("Restarted container secure") for a in out["password"]["actions"]), out["password"]
    assert not out["password again"]["changed"]
    assert get(host, creds=(USER, PASSWORD), ca=tls["ca_cert"])[0] == 401
    assert get(host, creds=(USER, new_password), ca=tls["ca_cert"])[0] == 200
    texts += [out.stdout, out.stderr]
    for text in texts:
        assert PASSWORD not in text and new_password not in text
    playbooks = [a for a in out.argv if a.endswith(".yml")]
    inputs = [os.path.join(os.path.dirname(playbooks[0]), f"play{n}.yml") for n in (1, 2)]
    assert secrets_in_readable_files(str(tmp_path), inputs, [PASSWORD.encode(), new_password.encode()]) == []

    out = run_playbook([
        {"name": "info denied", INFO: {"registry_url": host}, "ignore_errors": True},  # auth.json has the old one
        {"name": "absent", MODULE: {"name": "secure", "state": "absent"}},
    ], defaults=defaults)
    assert_clean_failure(out["info denied"], host)
    assert out["absent"]["changed"] and not os.path.exists(files)

    # files left behind (a container removed by other means) are removed too, and reported
    os.makedirs(files)
    out = run_playbook([
        {"name": "leftover check", MODULE: {"name": "secure", "state": "absent"}, "check_mode": True},
        {"name": "leftover", MODULE: {"name": "secure", "state": "absent"}},
        {"name": "leftover again", MODULE: {"name": "secure", "state": "absent"}},
    ], defaults=defaults)
    assert out["leftover check"]["changed"] and out["leftover"]["changed"] and not out["leftover again"]["changed"]
    assert out["leftover"]["actions"] == [f"Removed {files}"] and not os.path.exists(files)


def test_registry_info_pagination(run_playbook: t.Any, berth_defaults: dict[str, str], registry_image: str,
                                  busybox_layout: t.Any) -> None:
    port = free_port()
    host = f"127.0.0.1:{port}"
    out = run_playbook([{"name": "create", MODULE: {"name": "pages", "image": registry_image, "port": port,
                                                    "bind_address": "127.0.0.1"}}], defaults=berth_defaults)
    assert out["create"]["changed"]
    repos = [f"r{i}/app" for i in range(5)]
    for repo in repos:
        _images.push(busybox_layout, "latest", host, f"{repo}:latest")
    for tag in ("a", "b", "c"):
        _images.push(busybox_layout, "latest", host, f"r0/app:{tag}")
    status, body = get(host, "/v2/_catalog?n=2")
    assert status == 200 and len(json.loads(body)["repositories"]) == 2  # the registry does page at n=2
    out = run_playbook([
        {"name": "all", INFO: {"registry_url": host, "page_size": 2}},
        {"name": "one", INFO: {"registry_url": f"http://{host}/v2/", "repositories": ["r0/app"], "page_size": 2}},
        {"name": "missing", INFO: {"registry_url": host, "repositories": ["nope"]}, "ignore_errors": True},
        {"name": "bad size", INFO: {"registry_url": host, "page_size": 0}, "ignore_errors": True},
        {"name": "absent", MODULE: {"name": "pages", "state": "absent"}},
    ], defaults=berth_defaults)
    assert [r["name"] for r in out["all"]["repositories"]] == repos
    assert out["one"]["repositories"] == [{"name": "r0/app", "tags": ["a", "b", "c", "latest"]}]
    assert not out["all"]["changed"]
    assert_clean_failure(out["missing"], "nope")
    assert_clean_failure(out["bad size"], "page_size", "0")


def test_pull_through_cache_as_registry_mirror(run_playbook: t.Any, berth_config: t.Callable[..., str],
                                               berth_root: str, registry_image: str, busybox_layout: t.Any) -> None:
    origin_port, mirror_port = free_port(), free_port()
    origin, mirror = f"127.0.0.1:{origin_port}", f"127.0.0.1:{mirror_port}"
    proxy_password = "Origin-pw-3Xy8-never-printed"
    defaults = {"data_root": berth_root, "config_path": berth_config(registry_mirrors=[f"http://{mirror}"])}
    common = {"image": registry_image, "bind_address": "127.0.0.1"}
    mirror_task = dict(common, name="mirror", port=mirror_port, proxy_remote_url=f"http://{origin}",
                       proxy_username=USER, proxy_password=proxy_password)
    out = run_playbook([
        # Distribution 2.8 sends the proxy credentials to token-auth origins (Docker Hub); this origin needs none
        {"name": "origin", MODULE: dict(common, name="origin", port=origin_port)},
        {"name": "mirror", MODULE: mirror_task},
        {"name": "mirror again", MODULE: mirror_task},
    ], diff=True, defaults=defaults, verbosity=3)
    assert out["origin"]["changed"] and out["mirror"]["changed"] and not out["mirror again"]["changed"]
    env = out["mirror"]["container"]["Config"]["Env"]
    assert f"REGISTRY_PROXY_REMOTEURL=http://{origin}" in env and "REGISTRY_PROXY_PASSWORD=********" in env
    assert proxy_password not in out.stdout + out.stderr

    pushed = _images.push(busybox_layout, "latest", origin, "library/busybox:latest")
    # busybox:latest is a Docker Hub reference: the engine asks its mirror, which fetches it from the origin
    berth = Berth(berth_root, defaults["config_path"])
    berth("pull", "busybox:latest")
    assert pushed.digest in berth("image", "inspect", "busybox:latest").out
    status, body = get(mirror, "/v2/_catalog")
    assert status == 200 and json.loads(body)["repositories"] == ["library/busybox"]  # cached in the mirror

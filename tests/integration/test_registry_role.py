# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``berth.engine.registry`` role through ansible-playbook, with the offline registry image: htpasswd users
over TLS (401 without credentials, 200 with them), a second run changes nothing, a settings mistake fails
with the variables named, a pull-through mirror of another registry serves a pull, ``absent`` removes it."""
from __future__ import annotations

import typing as t

import pytest

from tests.integration.test_registry_module import _remove_registries  # noqa: F401  # pylint: disable=unused-import
from tests.integration.test_registry_module import get
from tests.support import images as _images
from tests.support.cli import Berth
from tests.support.registry import free_port, make_tls_files

pytestmark = [pytest.mark.integration, pytest.mark.registry]

USER = "ci"
PASSWORD = "Role-pw-9Kd3-never-printed"


def role(name: str, **variables: t.Any) -> dict[str, t.Any]:
    return {"name": name, "ansible.builtin.include_role": {"name": "berth.engine.registry"}, "vars": variables}


def test_users_tls_idempotent_and_absent(run_playbook: t.Any, berth_config: t.Callable[..., str], berth_root: str,
                                         registry_image: str, tmp_path: t.Any) -> None:
    port = free_port()
    host = f"127.0.0.1:{port}"
    tls = make_tls_files(str(tmp_path / "tls"))
    defaults = {"data_root": berth_root, "config_path": berth_config(certs={host: tls["ca_cert"]})}
    variables = {"berth_registry_name": "private", "berth_registry_image": registry_image,
                 "berth_registry_port": port, "berth_registry_bind_address": "127.0.0.1",
                 "berth_registry_path": str(tmp_path / "storage"),
                 "berth_registry_certificate": tls["server_cert"], "berth_registry_key": tls["server_key"],
                 "berth_registry_users": [{"username": USER, "password": PASSWORD}]}
    result = {"name": "result", "ansible.builtin.debug": {"var": "berth_registry_result.url"}}
    out = run_playbook([role("converge", **variables), result], defaults=defaults)
    assert out.stats["localhost"]["failures"] == 0 and out.stats["localhost"]["changed"] > 0, out.stdout[-3000:]
    assert out["result"]["berth_registry_result.url"] == f"https://{host}"
    assert get(host, ca=tls["ca_cert"])[0] == 401
    assert get(host, creds=(USER, PASSWORD), ca=tls["ca_cert"])[0] == 200
    assert PASSWORD not in out.stdout + out.stderr

    again = run_playbook([role("converge again", **variables)], defaults=defaults)
    assert again.stats["localhost"]["changed"] == 0 and again.stats["localhost"]["failures"] == 0, again.stdout

    bad = run_playbook([role("half tls", **{**variables, "berth_registry_key": ""})], defaults=defaults)
    failed = [r for r in bad.by_host["localhost"].values() if r.get("failed")]
    assert len(failed) == 1 and "berth_registry_certificate and berth_registry_key" in failed[0]["msg"], failed

    gone = run_playbook([role("absent", berth_registry_name="private", berth_registry_state="absent")],
                        defaults=defaults)
    assert gone.stats["localhost"]["changed"] > 0 and gone.stats["localhost"]["failures"] == 0
    with pytest.raises(OSError):
        get(host, ca=tls["ca_cert"])


def test_pull_through_mirror(run_playbook: t.Any, berth_config: t.Callable[..., str], berth_root: str,
                             registry_image: str, registry: t.Any, busybox_layout: t.Any) -> None:
    mirror = f"127.0.0.1:{free_port()}"
    defaults = {"data_root": berth_root, "config_path": berth_config(registry_mirrors=[f"http://{mirror}"])}
    pushed = _images.push(busybox_layout, "latest", registry.host, "library/busybox:latest")
    out = run_playbook([role("mirror", berth_registry_name="mirror", berth_registry_image=registry_image,
                             berth_registry_port=int(mirror.rsplit(":", 1)[1]),
                             berth_registry_bind_address="127.0.0.1", berth_registry_volume="mirror-cache",
                             berth_registry_proxy_remote_url=f"http://{registry.host}")], defaults=defaults)
    assert out.stats["localhost"]["failures"] == 0, out.stdout[-3000:]
    berth = Berth(berth_root, defaults["config_path"])
    berth("pull", "busybox:latest")  # a Docker Hub reference: asked of the mirror, fetched from the origin
    assert pushed.digest in berth("image", "inspect", "busybox:latest").out
    assert "library/busybox" in get(mirror, "/v2/_catalog")[1].decode()

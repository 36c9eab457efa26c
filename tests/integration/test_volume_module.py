# SPDX-License-Identifier: GPL-3.0-or-later
"""berth.engine.volume and volume_info through ansible-playbook on localhost: create (changed), again (not
changed), check mode (predicts, writes nothing, same diff as the applied run), an option changed under each
``recreate`` mode, absent; a volume in use is never removed."""
from __future__ import annotations

import os
import typing as t

import pytest

pytestmark = [pytest.mark.integration]

VOLUME = "berth.engine.volume"
INFO = "berth.engine.volume_info"


def ok(result: dict[str, t.Any]) -> dict[str, t.Any]:
    assert not result.get("failed"), result.get("msg") or result
    return result


def diff_of(result: dict[str, t.Any]) -> dict[str, t.Any]:
    diff = result["diff"][0] if isinstance(result.get("diff"), list) else result["diff"]
    return {"before": diff.get("before", {}), "after": diff.get("after", {})}


@pytest.fixture
def engine_defaults(berth_config: t.Callable[..., str], berth_root: str) -> dict[str, str]:
    return {"data_root": berth_root, "config_path": berth_config()}


def test_volume_lifecycle_and_recreate_modes(run_playbook: t.Callable[..., t.Any],
                                             engine_defaults: dict[str, str]) -> None:
    root = engine_defaults["data_root"]
    base = {"name": "site", "labels": {"app": "web"}}
    check = run_playbook([{"name": "create", VOLUME: base}], check=True, diff=True, defaults=engine_defaults)
    assert ok(check["create"])["changed"] is True
    assert not os.path.exists(os.path.join(root, "volumes")), "check mode wrote a volume"

    res = run_playbook([
        {"name": "create", VOLUME: base},
        {"name": "again", VOLUME: base},
        {"name": "again, check", VOLUME: base, "check_mode": True},
        {"name": "info", INFO: {"name": "site"}},
        {"name": "info of none", INFO: {"name": "nothing"}},
    ], diff=True, defaults=engine_defaults)
    assert ok(res["create"])["changed"] is True
    assert diff_of(res["create"]) == diff_of(check["create"])
    assert diff_of(res["create"])["after"] == {"exists": True, "driver": "local", "driver_options": {},
                                               "labels": {"app": "web"}}
    assert ok(res["again"])["changed"] is False
    assert ok(res["again, check"])["changed"] is False
    info = ok(res["info"])
    assert info["exists"] is True and info["volume"]["Labels"] == {"app": "web"}
    assert info["volume"]["UsageData"] == {"Size": 0, "RefCount": 0}
    assert ok(res["info of none"])["exists"] is False
    marker = os.path.join(info["volume"]["Mountpoint"], "page.html")
    with open(marker, "w") as fh:
        fh.write("data\n")

    changed = dict(base, labels={"app": "blog"})
    res = run_playbook([
        {"name": "never", VOLUME: dict(changed, recreate="never")},
        {"name": "options-changed, check", VOLUME: dict(changed, recreate="options-changed"), "check_mode": True},
        {"name": "options-changed", VOLUME: dict(changed, recreate="options-changed")},
        {"name": "options-changed again", VOLUME: dict(changed, recreate="options-changed")},
        {"name": "always", VOLUME: dict(changed, recreate="always")},
    ], diff=True, defaults=engine_defaults)
    assert ok(res["never"])["changed"] is False
    assert ok(res["options-changed, check"])["changed"] is True
    assert ok(res["options-changed"])["changed"] is True
    assert diff_of(res["options-changed"]) == diff_of(res["options-changed, check"])
    assert diff_of(res["options-changed"])["after"]["labels"] == {"app": "blog"}
    assert res["options-changed"]["actions"] == ["Removed volume site (labels.app differ)", "Created volume site"]
    assert not os.path.exists(marker)  # recreating deletes the data, as the docs say
    assert ok(res["options-changed again"])["changed"] is False
    assert ok(res["always"])["changed"] is True

    res = run_playbook([
        {"name": "bad option", VOLUME: {"name": "bad", "driver_options": {"type": "none"}}, "ignore_errors": True},
        {"name": "absent, check", VOLUME: {"name": "site", "state": "absent"}, "check_mode": True},
        {"name": "absent", VOLUME: {"name": "site", "state": "absent"}},
        {"name": "absent again", VOLUME: {"name": "site", "state": "absent"}},
    ], diff=True, defaults=engine_defaults)
    assert res["bad option"]["failed"] and "driver_options.o" in res["bad option"]["msg"]
    assert ok(res["absent, check"])["changed"] is True
    assert ok(res["absent"])["changed"] is True
    assert ok(res["absent again"])["changed"] is False
    assert not os.path.exists(os.path.join(root, "volumes", "site"))


CONTAINER = "berth.engine.container"
EXEC = "berth.engine.container_exec"


@pytest.mark.registry
def test_container_volumes_idempotent_and_kept_across_a_recreate(
        run_playbook: t.Callable[..., t.Any], engine_defaults: dict[str, str], registry: t.Any,
        busybox_layout: t.Any) -> None:
    from tests.support import images as test_images

    test_images.push(busybox_layout, "latest", registry.host, "berth-it/box:latest")
    image = f"{registry.host}/berth-it/box:latest"
    base = {"name": "web", "image": image, "command": "sleep 3600", "stop_timeout": 1,
            "volumes": ["pages:/srv/www", "/cache"],
            "mounts": [{"type": "tmpfs", "target": "/run/app", "tmpfs_size": "1m"}]}
    same = dict(base, volumes=["/cache/:rw", "pages:/srv/www/"],
                mounts=[{"type": "tmpfs", "target": "/run/app/", "tmpfs_size": "1024k", "tmpfs_mode": "1777"}])
    res = run_playbook([
        {"name": "create", CONTAINER: base},
        {"name": "write", EXEC: {"container": "web", "command": "sh -c 'echo hello > /srv/www/index.html'"}},
        {"name": "same, written differently", CONTAINER: same},
        {"name": "another env, check", CONTAINER: dict(base, env={"V": "2"}), "check_mode": True},
        {"name": "another env", CONTAINER: dict(base, env={"V": "2"})},
        {"name": "read", EXEC: {"container": "web", "command": "cat /srv/www/index.html"}},
        {"name": "absent, volumes too", CONTAINER: {"name": "web", "state": "absent", "keep_volumes": False}},
        {"name": "pages stays", INFO: {"name": "pages"}},
    ], diff=True, defaults=engine_defaults)
    assert ok(res["create"])["changed"] is True
    assert ok(res["same, written differently"])["changed"] is False
    assert ok(res["another env, check"])["changed"] is True
    assert ok(res["another env"])["changed"] is True
    assert ok(res["read"])["stdout"] == "hello"  # the named volume outlived the old container
    ok(res["absent, volumes too"])
    assert ok(res["pages stays"])["exists"] is True
    left = sorted(os.listdir(os.path.join(engine_defaults["data_root"], "volumes")))
    # the recreate kept the first container's anonymous /cache volume (keep_volumes defaults to true); the
    # removal with keep_volumes false took the second one's
    assert len(left) == 2 and left[1] == "pages" and len(left[0]) == 64, left

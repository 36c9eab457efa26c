# SPDX-License-Identifier: GPL-3.0-or-later
"""services/daemon_config.py: merge, remove, replace; validation before any write; pending_changes."""
from __future__ import annotations

import json
import os

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.errors import ConfigError, InvalidOption
from ansible_collections.berth.engine.plugins.module_utils.engine.services.daemon_config import (
    PENDING,
    DaemonConfigService,
)


@pytest.fixture
def path(tmp_path) -> str:
    return str(tmp_path / "daemon.json")


def service(path: str, containers: list[str] | None = None, seen: list | None = None) -> DaemonConfigService:
    def lister(before):
        if seen is not None:
            seen.append(dict(before))
        return list(containers or [])
    return DaemonConfigService(path, lister)


def write(path: str, doc) -> None:
    with open(path, "w") as fh:
        fh.write(doc if isinstance(doc, str) else json.dumps(doc))


def load(path: str):
    with open(path) as fh:
        return json.load(fh)


def test_merge_then_again_unchanged(path) -> None:
    write(path, {"dns": ["1.1.1.1"], "debug": True})
    svc = service(path)
    res = svc.configure({"registry-mirrors": ["https://m.example"], "dns": ["8.8.8.8"]})
    assert res.changed and res.before == {"dns": ["1.1.1.1"], "debug": True}
    assert load(path) == {"dns": ["8.8.8.8"], "debug": True, "registry-mirrors": ["https://m.example"]}
    mtime = os.stat(path).st_mtime_ns
    again = svc.configure({"registry-mirrors": ["https://m.example"]})
    assert not again.changed and os.stat(path).st_mtime_ns == mtime  # not rewritten


def test_mirror_order_is_a_change(path) -> None:
    write(path, {"registry-mirrors": ["https://a.example", "https://b.example"]})
    assert service(path).configure({"registry-mirrors": ["https://b.example", "https://a.example"]}).changed


def test_object_key_order_is_not_a_change(path) -> None:
    write(path, '{"log-opts": {"max-size": "1m", "max-file": "2"}}')
    assert not service(path).configure({"log-opts": {"max-file": "2", "max-size": "1m"}}).changed


def test_remove_and_remove_again(path) -> None:
    write(path, {"dns": ["1.1.1.1"], "mtu": 1400})
    svc = service(path)
    res = svc.configure(keys=["mtu", "bip"], state="absent")
    assert res.changed and load(path) == {"dns": ["1.1.1.1"]}
    assert not svc.configure(keys=["mtu"], state="absent").changed


def test_remove_from_a_missing_file_makes_no_file(path) -> None:
    assert not service(path).configure(keys=["dns"], state="absent").changed
    assert not os.path.exists(path)


def test_replace(path) -> None:
    write(path, {"dns": ["1.1.1.1"], "debug": True})
    svc = service(path)
    assert svc.configure({"debug": True}, replace=True).changed
    assert load(path) == {"debug": True}
    assert not svc.configure({"debug": True}, replace=True).changed


def test_check_mode_predicts_and_writes_nothing(path) -> None:
    write(path, {"dns": ["1.1.1.1"]})
    svc = service(path)
    predicted = svc.configure({"dns": ["9.9.9.9"]}, check_mode=True)
    assert predicted.changed and load(path) == {"dns": ["1.1.1.1"]}
    applied = svc.configure({"dns": ["9.9.9.9"]})
    assert (predicted.before_text, predicted.after_text) == (applied.before_text, applied.after_text)
    assert applied.after_text == '{\n  "dns": [\n    "9.9.9.9"\n  ]\n}\n' == open(path).read()


@pytest.mark.parametrize("config, key, words", [
    ({"bip": "10.0.0.1"}, "bip", "prefix length"),
    ({"fixed-cidr": "10.0.0.0/40"}, "fixed-cidr", "CIDR"),
    ({"default-address-pools": [{"base": "10.0.0.0/8", "size": 24}, {"base": "10.5.0.0/16", "size": 24}]},
     "default-address-pools[1]", "overlaps"),
    ({"registry-mirrors": ["mirror.example.com"]}, "registry-mirrors", "http:// or https://"),
    ({"registry-mirrors": ["ftp://mirror.example.com"]}, "registry-mirrors", "http:// or https://"),
    ({"log-opts": {"max-size": "ten"}}, "log-opts.max-size", "not a size"),
    ({"regsitry-mirrors": []}, "regsitry-mirrors", "unknown configuration option"),
    ({"max-concurrent-downloads": "3"}, "max-concurrent-downloads", "expected int"),
])
def test_every_validation_error_names_the_key_and_writes_nothing(path, config, key, words) -> None:
    write(path, {"dns": ["1.1.1.1"]})
    before = open(path).read()
    with pytest.raises(ConfigError) as err:
        service(path).configure(config)
    assert f"'{key}'" in str(err.value) and words in str(err.value)
    assert open(path).read() == before


def test_unknown_keys_allowed_with_a_warning(path) -> None:
    res = service(path).configure({"storage-opts": ["size=10G"]}, allow_unknown_keys=True)
    assert res.changed and load(path) == {"storage-opts": ["size=10G"]}
    assert "'storage-opts'" in res.warnings[0]
    again = service(path).configure({"storage-opts": ["size=10G"]}, allow_unknown_keys=True)
    assert not again.changed and not again.warnings


def test_invalid_file_left_untouched_unless_force(path) -> None:
    write(path, '{\n  "dns": ["1.1.1.1"]\n  "mtu": 1400\n}\n')
    before = open(path).read()
    with pytest.raises(ConfigError) as err:
        service(path).configure({"debug": True})
    assert "line 3, column 3" in str(err.value) and "untouched" in str(err.value)
    assert open(path).read() == before
    predicted = service(path).configure({"debug": True}, force=True, check_mode=True)
    assert predicted.changed and predicted.before is None and open(path).read() == before
    assert "line 3, column 3" in predicted.before_text
    res = service(path).configure({"debug": True}, force=True, backup=True)
    assert load(path) == {"debug": True} and open(res.backup_file).read() == before


def test_bad_arguments(path) -> None:
    with pytest.raises(InvalidOption, match="state"):
        service(path).configure({"dns": []}, state="absent")
    with pytest.raises(InvalidOption, match="config"):
        service(path).configure(["dns"])  # type: ignore[arg-type]


def test_pending_changes_name_the_containers_and_how(path) -> None:
    write(path, {"data-root": "/srv/berth", "dns": ["1.1.1.1"], "labels": ["a=b"]})
    seen: list = []
    svc = service(path, ["web", "db"], seen)
    res = svc.configure({"dns": ["9.9.9.9"], "registry-mirrors": ["https://m.example"]}, check_mode=True)
    assert [p["key"] for p in res.pending_changes] == ["dns"]  # mirrors apply to the next pull: not pending
    pending = res.pending_changes[0]
    assert pending["containers"] == ["web", "db"] and pending["how"] == PENDING["dns"]
    assert (pending["before"], pending["after"]) == (["1.1.1.1"], ["9.9.9.9"])
    assert seen[-1]["data-root"] == "/srv/berth"  # the containers are looked for where the file said before
    moved = svc.configure({"data-root": "/srv/other"}, check_mode=True).pending_changes
    assert [p["key"] for p in moved] == ["data-root"]


def test_no_pending_changes_without_containers_or_change(path) -> None:
    write(path, {"dns": ["1.1.1.1"]})
    seen: list = []
    assert service(path, [], seen).configure({"dns": ["9.9.9.9"]}).pending_changes == ()
    assert service(path, ["web"], seen).configure({"dns": ["9.9.9.9"]}).pending_changes == ()  # unchanged
    assert service(path, ["web"], seen).configure({"labels": ["x=y"]}).pending_changes == ()

# SPDX-License-Identifier: GPL-3.0-or-later
"""berth.engine.daemon_config through ansible-playbook on localhost: merge, remove, replace, each in check
mode (predicted diff equals the applied one), applied, and again (not changed); validation failures that
name the key and leave the file; an invalid file left untouched unless force; Docker's own daemon.json."""
from __future__ import annotations

import json
import os
import typing as t

import pytest

from tests.integration.test_image_module import assert_clean_failure, diff_of

pytestmark = [pytest.mark.integration]

MODULE = "berth.engine.daemon_config"


def load(path: str) -> t.Any:
    with open(path) as fh:
        return json.load(fh)


def triplet(run_playbook: t.Any, defaults: dict[str, str], args: dict[str, t.Any]) -> tuple[t.Any, t.Any, t.Any]:
    """(check mode result, applied result, second run result) of one task."""
    predicted = run_playbook([{"name": "x", MODULE: args}], check=True, diff=True, defaults=defaults)["x"]
    applied = run_playbook([{"name": "x", MODULE: args}, {"name": "again", MODULE: args}], diff=True,
                           defaults=defaults)
    return predicted, applied["x"], applied["again"]


def test_merge_remove_replace(run_playbook: t.Any, berth_defaults: dict[str, str]) -> None:
    conf, defaults = berth_defaults["config_path"], berth_defaults
    with open(conf, "w") as fh:
        json.dump({"debug": False, "dns": ["192.0.2.1"]}, fh)
    merge = {"config": {"registry-mirrors": ["https://mirror.example.com"], "dns": ["192.0.2.53"],
                        "log-opts": {"max-size": "10m", "max-file": "3"}}}
    predicted, applied, again = triplet(run_playbook, defaults, merge)
    assert predicted["changed"] and applied["changed"] and not again["changed"], (predicted, applied, again)
    assert diff_of(predicted) == diff_of(applied)
    assert '"dns": [\n    "192.0.2.1"' in diff_of(applied)["before"]
    assert load(conf) == {"debug": False, "dns": ["192.0.2.53"], "registry-mirrors": ["https://mirror.example.com"],
                          "log-opts": {"max-size": "10m", "max-file": "3"}}
    assert applied["config"] == load(conf) and applied["path"] == conf and applied["pending_changes"] == []

    reordered = run_playbook([{"name": "keys in another order", MODULE: {"config": {
        "log-opts": {"max-file": "3", "max-size": "10m"}}}}], defaults=defaults)["keys in another order"]
    assert not reordered["changed"]

    predicted, applied, again = triplet(run_playbook, defaults, {"state": "absent", "keys": ["debug", "log-opts"]})
    assert predicted["changed"] and applied["changed"] and not again["changed"]
    assert diff_of(predicted) == diff_of(applied)
    assert load(conf) == {"dns": ["192.0.2.53"], "registry-mirrors": ["https://mirror.example.com"]}

    predicted, applied, again = triplet(run_playbook, defaults, {"config": {"debug": True}, "replace": True})
    assert predicted["changed"] and applied["changed"] and not again["changed"]
    assert diff_of(predicted) == diff_of(applied)
    assert load(conf) == {"debug": True}


def test_validation_errors_name_the_key_and_write_nothing(run_playbook: t.Any,
                                                          berth_defaults: dict[str, str]) -> None:
    conf, defaults = berth_defaults["config_path"], berth_defaults
    with open(conf, "w") as fh:
        json.dump({"dns": ["192.0.2.1"]}, fh)
    before = open(conf).read()
    cases = {
        "bad cidr": ({"bip": "192.168.1.300/24"}, ["'bip'", "192.168.1.300/24"]),
        "overlapping pools": ({"default-address-pools": [{"base": "10.0.0.0/8", "size": 24},
                                                         {"base": "10.9.0.0/16", "size": 24}]},
                              ["default-address-pools[1]", "overlaps"]),
        "mirror not a url": ({"registry-mirrors": ["mirror.example.com"]}, ["'registry-mirrors'", "http://"]),
        "bad size": ({"log-opts": {"max-size": "10q"}}, ["'log-opts.max-size'", "10q"]),
        "unknown key": ({"regsitry-mirrors": []}, ["'regsitry-mirrors'", "allow_unknown_keys"]),
    }
    tasks = [{"name": name, MODULE: {"config": config}, "ignore_errors": True} for name, (config, _w) in cases.items()]
    out = run_playbook(tasks, defaults=defaults)
    for name, (_config, words) in cases.items():
        assert_clean_failure(out[name], *words)
    assert open(conf).read() == before


def test_invalid_file_untouched_unless_force(run_playbook: t.Any, berth_defaults: dict[str, str]) -> None:
    conf, defaults = berth_defaults["config_path"], berth_defaults
    broken = '{\n  "dns": ["192.0.2.1"],\n}\n'
    with open(conf, "w") as fh:
        fh.write(broken)
    out = run_playbook([
        {"name": "refused", MODULE: {"config": {"debug": True}}, "ignore_errors": True},
        {"name": "refused in check mode", MODULE: {"config": {"debug": True}}, "ignore_errors": True,
         "check_mode": True},
    ], defaults=defaults)
    assert_clean_failure(out["refused"], "line 3, column 1", "untouched", "force")
    assert_clean_failure(out["refused in check mode"], "line 3, column 1")
    assert open(conf).read() == broken
    out = run_playbook([{"name": "forced", MODULE: {"config": {"debug": True}, "force": True, "backup": True}}],
                       defaults=defaults)
    assert out["forced"]["changed"] and load(conf) == {"debug": True}
    assert open(out["forced"]["backup_file"]).read() == broken


def test_docker_daemon_json(run_playbook: t.Any, berth_root: str, tmp_path: t.Any) -> None:
    """Docker's own file (a temporary copy of /etc/docker): its keys, mode and owner kept; a key Berth does not
    know needs allow_unknown_keys."""
    path = tmp_path / "etc" / "docker" / "daemon.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"storage-driver": "overlay2", "storage-opts": ["overlay2.size=10G"]}))
    os.chmod(path, 0o600)
    os.chown(path, 65534, 65534)
    args = {"path": str(path), "config": {"registry-mirrors": ["https://mirror.example.com"], "live-restore": True}}
    out = run_playbook([
        {"name": "unknown key refused", MODULE: args, "ignore_errors": True},
        {"name": "merged", MODULE: dict(args, allow_unknown_keys=True)},
        {"name": "again", MODULE: dict(args, allow_unknown_keys=True)},
    ], defaults={"data_root": berth_root})
    assert_clean_failure(out["unknown key refused"], "'storage-opts'", "allow_unknown_keys")
    assert out["merged"]["changed"] and not out["again"]["changed"]
    assert load(str(path)) == {"storage-driver": "overlay2", "storage-opts": ["overlay2.size=10G"],
                               "registry-mirrors": ["https://mirror.example.com"], "live-restore": True}
    st = os.stat(path)
    assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o600, 65534, 65534)

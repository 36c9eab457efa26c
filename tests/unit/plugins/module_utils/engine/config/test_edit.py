# SPDX-License-Identifier: GPL-3.0-or-later
"""config/edit.py: a daemon.json read as it is, merged, pruned, validated and written back."""
from __future__ import annotations

import json
import os

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.config import edit
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import ConfigError


def test_read_missing_empty_and_valid(tmp_path) -> None:
    p = tmp_path / "daemon.json"
    missing = edit.read(str(p))
    assert (missing.exists, missing.doc, missing.error) == (False, {}, None)
    p.write_text("  \n")
    assert edit.read(str(p)).doc == {}
    p.write_text('{"dns": ["1.1.1.1"]}')
    os.chmod(p, 0o640)
    found = edit.read(str(p))
    assert (found.exists, found.doc, found.mode) == (True, {"dns": ["1.1.1.1"]}, 0o640)


@pytest.mark.parametrize("text, where", [
    ('{\n  "dns": ["1.1.1.1"],\n  oops\n}', "line 3, column 3"),
    ('{"a": 1,}', "line 1, column 9"),
    ("[1, 2]", "top level must be a JSON object"),
])
def test_read_names_where_the_file_is_invalid(tmp_path, text, where) -> None:
    p = tmp_path / "daemon.json"
    p.write_text(text)
    found = edit.read(str(p))
    assert found.doc is None and where in found.error


def test_invalid_json_never_quotes_the_content(tmp_path) -> None:
    p = tmp_path / "daemon.json"
    p.write_text('{"proxies": {"http-proxy": "http://u:s3cret@proxy:3128"}, oops}')
    assert "s3cret" not in edit.read(str(p)).error


def test_merge_is_key_by_key_and_keeps_order() -> None:
    current = {"dns": ["1.1.1.1"], "log-opts": {"max-size": "1m", "max-file": "2"}, "debug": False}
    merged = edit.merge(current, {"log-opts": {"max-size": "2m"}, "mtu": 1400})
    assert merged == {"dns": ["1.1.1.1"], "log-opts": {"max-size": "2m"}, "debug": False, "mtu": 1400}
    assert list(merged) == ["dns", "log-opts", "debug", "mtu"]  # a replaced key stays in place
    assert current["log-opts"] == {"max-size": "1m", "max-file": "2"}  # pure


def test_remove_ignores_missing_keys() -> None:
    assert edit.remove({"dns": [], "mtu": 1400}, ["mtu", "bip"]) == {"dns": []}


def test_lists_compare_in_order_and_objects_do_not() -> None:
    a = {"registry-mirrors": ["https://a", "https://b"], "log-opts": {"max-size": "1m", "max-file": "2"}}
    b = {"log-opts": {"max-file": "2", "max-size": "1m"}, "registry-mirrors": ["https://a", "https://b"]}
    assert edit.merge(a, b) == a
    assert edit.merge(a, {"registry-mirrors": ["https://b", "https://a"]}) != a


def test_check_refuses_unknown_keys_unless_allowed() -> None:
    with pytest.raises(ConfigError) as err:
        edit.check({"dns": [], "storage-opts": []}, "/etc/docker/daemon.json")
    assert "'storage-opts'" in str(err.value) and "allow_unknown_keys" in str(err.value)
    assert edit.check({"dns": [], "storage-opts": []}, "/x", allow_unknown_keys=True) == ["storage-opts"]


def test_check_validates_known_keys_even_with_unknown_ones_allowed() -> None:
    with pytest.raises(ConfigError, match="'registry-mirrors'"):
        edit.check({"registry-mirrors": ["mirror.local"], "x": 1}, "/x", allow_unknown_keys=True)


@pytest.mark.parametrize("doc, words", [
    ([], "must be a JSON object"),
    ({"": 1}, "keys must be non-empty strings"),
    ({"labels": [float("nan")]}, "labels"),
])
def test_check_refuses_what_is_no_configuration(doc, words) -> None:
    with pytest.raises(ConfigError, match=words):
        edit.check(doc, "/x", allow_unknown_keys=True)


def test_write_keeps_mode_and_owner_and_backs_up(tmp_path) -> None:
    p = tmp_path / "daemon.json"
    p.write_text('{"dns": []}')
    os.chmod(p, 0o600)
    os.chown(p, 65534, 65534)
    current = edit.read(str(p))
    saved = edit.write(current, {"dns": ["9.9.9.9"]}, backup=True)
    st = os.stat(p)
    assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o600, 65534, 65534)
    assert json.loads(p.read_text()) == {"dns": ["9.9.9.9"]}
    assert saved and saved.startswith(str(p) + f".{os.getpid()}.") and saved.endswith("~")
    assert open(saved).read() == '{"dns": []}'
    bst = os.stat(saved)
    assert (bst.st_mode & 0o777, bst.st_uid) == (0o600, 65534)
    assert sorted(os.listdir(tmp_path)) == sorted(["daemon.json", os.path.basename(saved)])  # no temporary left


def test_write_creates_the_file_and_its_directory(tmp_path) -> None:
    p = tmp_path / "etc" / "docker" / "daemon.json"
    assert edit.write(edit.read(str(p)), {"live-restore": True}, backup=True) is None  # nothing to back up
    assert p.read_text() == '{\n  "live-restore": true\n}\n'
    assert os.stat(p).st_mode & 0o777 == edit.NEW_FILE_MODE

# SPDX-License-Identifier: GPL-3.0-or-later
"""config/userns.py: /etc/subuid and /etc/subgid parsing, ``userns-remap`` resolution, the mapping value."""
from __future__ import annotations

import os
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.config import userns
from ansible_collections.berth.engine.plugins.module_utils.engine.config.daemon import DaemonConfig
from ansible_collections.berth.engine.plugins.module_utils.engine.config.userns import (
    HostFiles,
    IdMap,
    IdMapping,
)
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import ConfigError

PASSWD = """root:x:0:0:root:/root:/bin/bash
# a comment
alice:x:1000:1000::/home/alice:/bin/sh
bob:x:1001:1001::/home/bob:/bin/sh
"""
GROUP = """root:x:0:
alice:x:1000:
bob:x:1001:
staff:x:50:
"""


@pytest.fixture
def etc(tmp_path: t.Any) -> t.Callable[..., HostFiles]:
    def make(subuid: str = "", subgid: str = "", passwd: str = PASSWD, group: str = GROUP) -> HostFiles:
        d = tmp_path / "etc"
        d.mkdir(exist_ok=True)
        for name, text in (("passwd", passwd), ("group", group), ("subuid", subuid), ("subgid", subgid)):
            (d / name).write_text(text)
        return HostFiles(str(tmp_path))

    return make


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", []),
        ("alice:100000:65536\n", [("alice", 100000, 65536)]),
        ("\n# c\nalice:100000:65536\n1001:200000:10\n", [("alice", 100000, 65536), ("1001", 200000, 10)]),
        ("  alice:1:2  \n", [("alice", 1, 2)]),
    ],
)
def test_parse_subid(text: str, expected: list) -> None:
    assert userns.parse_subid(text) == expected


@pytest.mark.parametrize("text", ["alice:1", "alice:x:2", ":1:2", "alice:1:2:3", "alice:-1:2"])
def test_parse_subid_refuses_bad_lines(text: str) -> None:
    with pytest.raises(ConfigError) as err:
        userns.parse_subid(text, "/x/subuid")
    assert err.value.path == "/x/subuid" and "line 1" in err.value.reason


def test_ranges_by_name_and_by_id_sorted_and_concatenated() -> None:
    entries = userns.parse_subid("alice:300000:10\nbob:100000:65536\n1000:200000:5\nalice:0:0\n")
    ranges = userns.ranges_of(entries, "alice", 1000)
    assert ranges == [(200000, 5), (300000, 10)]  # the uid line counts, the empty range does not
    assert userns.id_maps(ranges) == [IdMap(0, 200000, 5), IdMap(5, 300000, 10)]
    assert userns.ranges_of(entries, "carol", 1002) == []


@pytest.mark.parametrize(
    "taken, expected",
    [
        ("", 100000),
        ("a:100000:65536\n", 165536),
        ("a:0:100001\n", 100001),
        ("a:165536:10\na:100000:65536\n", 165546),
        ("a:200000:65536\n", 100000),  # fits below
        ("a:150000:1\n", 150001),  # would overlap
    ],
)
def test_free_range(taken: str, expected: int) -> None:
    assert userns.free_range(userns.parse_subid(taken)) == expected


@pytest.mark.parametrize("value", ["a:b:c", "", ":g", "u:", "u g", " u"])
def test_parse_value_refuses(value: str) -> None:
    with pytest.raises(ValueError):
        userns.parse_value(value)


def test_daemon_config_accepts_and_checks_userns_remap() -> None:
    assert DaemonConfig.from_dict({}).userns_remap == ""
    assert DaemonConfig.from_dict({"userns-remap": "default"}).userns_remap == "default"
    assert DaemonConfig.from_dict({"userns-remap": "alice:staff"}).get("userns-remap") == "alice:staff"
    with pytest.raises(ConfigError) as err:
        DaemonConfig.from_dict({"userns-remap": "a:b:c"}, "/etc/berth/daemon.json")
    assert err.value.key == "userns-remap" and "a:b:c" in err.value.reason
    with pytest.raises(ConfigError) as err:
        DaemonConfig.from_dict({"userns-remap": 1000})
    assert err.value.key == "userns-remap"


@pytest.mark.parametrize(
    "value, user, group, uids, gids",
    [
        ("alice", "alice", "alice", [(0, 100000, 65536)], [(0, 500000, 65536)]),
        ("alice:staff", "alice", "staff", [(0, 100000, 65536)], [(0, 700000, 1000), (1000, 800000, 10)]),
        ("1000", "alice", "alice", [(0, 100000, 65536)], [(0, 500000, 65536)]),
        ("1000:50", "alice", "staff", [(0, 100000, 65536)], [(0, 700000, 1000), (1000, 800000, 10)]),
        ("bob", "bob", "bob", [(0, 200000, 10), (10, 300000, 20)], [(0, 600000, 65536)]),
    ],
)
def test_resolve(etc: t.Callable[..., HostFiles], value: str, user: str, group: str, uids: list, gids: list) -> None:
    files = etc(subuid="alice:100000:65536\nbob:300000:20\n1001:200000:10\n",
                subgid="alice:500000:65536\n1001:600000:65536\nstaff:800000:10\n50:700000:1000\n")
    m = userns.resolve(value, files)
    assert m is not None
    assert (m.user, m.group) == (user, group)
    assert [(x.container_id, x.host_id, x.size) for x in m.uids] == uids
    assert [(x.container_id, x.host_id, x.size) for x in m.gids] == gids
    assert m.root_uid == uids[0][1] and m.root_gid == gids[0][1]


def test_resolve_off_and_root(etc: t.Callable[..., HostFiles]) -> None:
    files = etc(subuid="root:100000:65536\n", subgid="root:100000:65536\n")
    assert userns.resolve("", files) is None
    assert userns.resolve("root", files) is None  # Docker: root cannot be remapped onto itself
    assert userns.resolve("0:0", files) is None


@pytest.mark.parametrize(
    "value, subuid, subgid, words",
    [
        ("carol", "", "", ["no user 'carol'", "/etc/passwd"]),
        ("alice:nogroup", "", "", ["no group 'nogroup'"]),
        ("4242", "", "", ["no user '4242'"]),
        ("alice", "", "alice:1:2\n", ["no subordinate uid range for user 'alice'", "subuid"]),
        ("alice", "alice:1:2\n", "", ["no subordinate gid range for group 'alice'", "subgid"]),
        ("alice", "alice:x\n", "", ["not owner:start:count"]),
    ],
)
def test_resolve_errors_name_the_key_and_value(etc: t.Callable[..., HostFiles], value: str, subuid: str,
                                               subgid: str, words: list) -> None:
    files = etc(subuid=subuid, subgid=subgid)
    with pytest.raises(ConfigError) as err:
        userns.resolve(value, files, config_path="/etc/berth/daemon.json")
    assert err.value.path == "/etc/berth/daemon.json" or "subuid" in err.value.path
    for word in words:
        assert word in str(err.value)


def test_mapping_value() -> None:
    m = IdMapping([IdMap(0, 100000, 65536)], [IdMap(0, 100000, 65536)], "u", "g")
    assert m.key == "100000.100000-65536"
    assert m.oci() == {"uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
                       "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]}
    back = IdMapping.from_json(m.to_json())
    assert back == m and back.user == "u" and back.group == "g"
    multi = IdMapping([IdMap(0, 100000, 5), IdMap(5, 300000, 5)], [IdMap(0, 100000, 10)])
    assert multi.key.startswith("100000.100000-") and multi.key != m.key
    other = IdMapping([IdMap(0, 100000, 5), IdMap(5, 400000, 5)], [IdMap(0, 100000, 10)])
    assert other.key != multi.key
    assert userns.to_host(7, multi.uids) == 300002
    with pytest.raises(ValueError):
        userns.to_host(10, multi.uids)


def test_default_account_is_not_created_when_present(etc: t.Callable[..., HostFiles]) -> None:
    files = etc(subuid="berthremap:100000:65536\n", subgid="berthremap:100000:65536\n",
                passwd=PASSWD + "berthremap:x:999:999::/:/usr/sbin/nologin\n", group=GROUP + "berthremap:x:999:\n")
    calls: list[int] = []

    class Lock:
        def __enter__(self) -> None:
            calls.append(1)

        def __exit__(self, *a: t.Any) -> None:
            pass

    m = userns.resolve("default", files, lock=Lock)
    assert m is not None and m.user == "berthremap" and m.root_uid == 100000
    assert calls == []  # nothing to create: the lock is never taken
    assert os.path.exists(files.path("subuid"))

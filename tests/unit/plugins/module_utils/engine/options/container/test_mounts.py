# SPDX-License-Identifier: GPL-3.0-or-later
"""``options.container.mounts``: volumes, mounts and volumes_from normalised so that trailing slashes, default
modes and order never make two requests differ; bad values name the option and the item."""
from __future__ import annotations

import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.errors import InvalidOption
from ansible_collections.berth.engine.plugins.module_utils.engine.options.container import (
    CONTAINER_OPTIONS, mounts, normalise_options, volumes, volumes_from,
)
from ansible_collections.berth.engine.plugins.module_utils.engine.options.compare import compare


@pytest.mark.parametrize("a, b", [
    (["data:/srv/", "/host/dir/:/etc/app:ro"], ["/host/dir:/etc/app/:ro", "data:/srv:rw"]),
    (["/h:/x"], ["/h:/x:rprivate"]),
    (["/cache"], ["/cache/:rw"]),
])
def test_volumes_equal_requests_normalise_equal(a: list[str], b: list[str]) -> None:
    assert volumes(a, "volumes") == volumes(b, "volumes")


def test_volumes_shapes() -> None:
    assert volumes(["data:/srv", "/h:/x:ro,rshared", "/anon:nocopy"], "volumes") == [
        {"type": "volume", "source": "", "target": "/anon", "read_only": False, "nocopy": True, "labels": {}},
        {"type": "volume", "source": "data", "target": "/srv", "read_only": False, "nocopy": False, "labels": {}},
        {"type": "bind", "source": "/h", "target": "/x", "read_only": True, "propagation": "rshared",
         "create": True},
    ]


@pytest.mark.parametrize("value, message", [
    (["data:relative"], r"volumes\[0\]: the mount point in the container must be an absolute path"),
    (["./x:/y"], "not a volume name"),
    (["/a:/b:Z"], "SELinux relabelling"),
    (["/a:/b:bogus"], "unknown mode 'bogus'"),
    (["/a:/"], "cannot mount over /"),
    (["vv:/a:rshared"], "propagation mode is for host paths"),
    (["/a:/b:nocopy"], "nocopy is for volumes"),
    (["aa:/x", "bb:/x/"], "two mounts on /x"),
    ("a:/x", "must be a list"),
])
def test_volumes_bad(value: t.Any, message: str) -> None:
    with pytest.raises(InvalidOption, match=message):
        volumes(value, "volumes")


def test_mounts_defaults_and_order() -> None:
    a = mounts([{"type": "tmpfs", "target": "/t/", "tmpfs_mode": "01777"},
                {"source": "vv", "target": "/v", "read_only": False}], "mounts")
    b = mounts([{"type": "volume", "source": "vv", "target": "/v/", "volume_options": {"nocopy": False}},
                {"type": "tmpfs", "target": "/t", "tmpfs_mode": 0o1777}], "mounts")
    assert a == b
    assert a[0] == {"type": "tmpfs", "target": "/t", "read_only": False, "tmpfs_size": 0, "tmpfs_mode": "1777"}
    bind = mounts([{"type": "bind", "source": "/h/", "target": "/x"}], "mounts")[0]
    assert bind == {"type": "bind", "source": "/h", "target": "/x", "read_only": False, "propagation": "rprivate",
                    "create": False}


@pytest.mark.parametrize("value, message", [
    ([{"type": "nfs", "target": "/x"}], r"mounts\[0\].type: must be volume, bind or tmpfs"),
    ([{"type": "bind", "source": "rel", "target": "/x"}], r"mounts\[0\].source: a bind mount needs an absolute"),
    ([{"type": "tmpfs", "target": "/x", "propagation": "shared"}], "not an option of a tmpfs mount"),
    ([{"type": "tmpfs", "target": "/x", "tmpfs_mode": "999"}], r"mounts\[0\].tmpfs_mode"),
    ([{"type": "tmpfs", "target": "/x", "tmpfs_size": "lots"}], r"mounts\[0\].tmpfs_size"),
    ([{"type": "bind", "source": "/a", "target": "/x", "propagation": "weird"}], r"mounts\[0\].propagation"),
    ([{"target": "/x", "colour": "red"}], r"mounts\[0\].colour: unknown key"),
    ([{"source": "v"}], r"mounts\[0\].target"),
])
def test_mounts_bad(value: t.Any, message: str) -> None:
    with pytest.raises(InvalidOption, match=message):
        mounts(value, "mounts")


def test_volumes_from() -> None:
    assert volumes_from(["db", "/cache:ro"], "volumes_from") == ["cache:ro", "db:rw"]
    with pytest.raises(InvalidOption, match="not a volume name"):
        volumes(["v:/x"], "volumes")  # Docker's rule: two characters at least
    with pytest.raises(InvalidOption, match="the mode is ro or rw"):
        volumes_from(["db:rx"], "volumes_from")


def test_one_target_across_volumes_mounts_and_tmpfs() -> None:
    with pytest.raises(InvalidOption, match="two mounts on /x .one in volumes."):
        normalise_options({"volumes": ["vv:/x"], "mounts": [{"type": "tmpfs", "target": "/x/"}]})


def test_the_comparison_ignores_order() -> None:
    opt = CONTAINER_OPTIONS["volumes"]
    assert opt.comparison_type == "set(dict)"
    desired = opt.normalise(["bb:/b", "aa:/a/"])
    recorded = opt.normalise(["aa:/a", "bb:/b:rw"])
    assert compare("strict", "set(dict)", desired, recorded)
    assert not compare("strict", "set(dict)", opt.normalise(["aa:/a:ro", "bb:/b"]), recorded)

# SPDX-License-Identifier: GPL-3.0-or-later
"""``cli.commands.run_options.parse_mount``: docker's ``--mount`` values as ``mounts`` entries."""
from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.module_utils.cli.commands.run_options import parse_mount
from ansible_collections.berth.engine.plugins.module_utils.cli.context import UsageError
from ansible_collections.berth.engine.plugins.module_utils.engine.options.container import mounts


@pytest.mark.parametrize("text, expected", [
    ("type=volume,source=data,target=/srv", {"type": "volume", "source": "data", "target": "/srv"}),
    ("src=data,dst=/srv,readonly,volume-nocopy=true,volume-label=a=b",
     {"source": "data", "target": "/srv", "read_only": True, "no_copy": True, "labels": {"a": "b"}}),
    ("type=bind,source=/h,destination=/x,ro=false,bind-propagation=rshared",
     {"type": "bind", "source": "/h", "target": "/x", "read_only": False, "propagation": "rshared"}),
    ("type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770",
     {"type": "tmpfs", "target": "/t", "tmpfs_size": "64m", "tmpfs_mode": "1770"}),
])
def test_parse_mount(text: str, expected: dict) -> None:
    parsed = parse_mount(text, "berth run")
    assert parsed == expected
    mounts([parsed], "mounts")  # what the option's normaliser takes


@pytest.mark.parametrize("text, message", [
    ("type=volume,colour=red,target=/x", "unexpected key 'colour'"),
    ("target=/x,readonly=maybe", "invalid value for readonly: maybe"),
])
def test_parse_mount_bad(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_mount(text, "berth run")

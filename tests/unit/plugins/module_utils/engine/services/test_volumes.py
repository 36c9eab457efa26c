# SPDX-License-Identifier: GPL-3.0-or-later
"""``services.volumes``: inspect, list filters, removal refused while in use, prune of unused volumes."""
from __future__ import annotations

import os
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.core.layout import Layout
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import (
    InvalidOption, NotFound, VolumeInUse,
)
from ansible_collections.berth.engine.plugins.module_utils.engine.services.volumes import VolumeService


@pytest.fixture
def users() -> dict[str, list[tuple[str, bool]]]:
    return {}


@pytest.fixture
def svc(tmp_path: t.Any, users: dict) -> VolumeService:
    os.chmod(tmp_path, 0o755)
    return VolumeService(Layout(str(tmp_path / "root")), 5, users=lambda: users)


def test_inspect(svc: VolumeService, users: dict) -> None:
    out = svc.create("data", labels={"a": "1"}, driver_options={"type": "tmpfs", "o": "size=1m"})
    assert out["Name"] == "data" and out["Driver"] == "local" and out["Scope"] == "local"
    assert out["Options"] == {"o": "size=1m", "type": "tmpfs"} and out["Labels"] == {"a": "1"}
    assert out["Mountpoint"].endswith("/volumes/data/_data") and out["CreatedAt"]
    assert "UsageData" not in svc.inspect("data")
    users["data"] = [("web", False)]
    assert svc.inspect("data", usage=True)["UsageData"] == {"Size": 0, "RefCount": 1}
    with pytest.raises(InvalidOption, match="for driver: only the 'local'"):
        svc.create("other", driver="nfs")
    with pytest.raises(NotFound, match="No such volume: nope"):
        svc.inspect("nope")


def test_list_filters(svc: VolumeService, users: dict) -> None:
    svc.create("web-data", labels={"app": "web"})
    svc.create("db-data", labels={"app": "db"})
    anon = svc.create()["Name"]
    users["db-data"] = [("db", True)]

    def names(**f: t.Any) -> list[str]:
        return sorted(v["Name"] for v in svc.list(filters=f))

    assert names(dangling=True) == sorted([anon, "web-data"])
    assert names(dangling="false") == ["db-data"]
    assert names(name="data") == ["db-data", "web-data"]
    assert names(label="app=web") == ["web-data"]
    assert names(label="app") == ["db-data", "web-data"]
    with pytest.raises(InvalidOption, match="unknown filter"):
        svc.list(filters={"colour": "red"})


def test_remove_refused_while_in_use(svc: VolumeService, users: dict) -> None:
    svc.create("data")
    users["data"] = [("web", True)]
    with pytest.raises(VolumeInUse, match="in use by container.s. web .running"):
        svc.remove("data", force=True)
    users["data"] = [("web", False)]
    with pytest.raises(VolumeInUse, match="web .stopped"):
        svc.remove("data")
    assert svc.remove("data", force=True) is True
    assert svc.remove("data", force=True) is False
    with pytest.raises(NotFound):
        svc.remove("data")


def test_prune(svc: VolumeService, users: dict) -> None:
    named = svc.create("named")["Name"]
    used = svc.create()["Name"]
    unused = svc.create()["Name"]
    users[used] = [("web", False)]
    assert svc.prune()["VolumesDeleted"] == [unused]
    assert sorted(v["Name"] for v in svc.list()) == sorted([named, used])
    assert svc.prune(all=True)["VolumesDeleted"] == [named]
    assert [v["Name"] for v in svc.list()] == [used]

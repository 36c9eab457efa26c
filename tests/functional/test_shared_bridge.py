# SPDX-License-Identifier: GPL-3.0-or-later
"""Data roots that share a bridge interface (as every data root shares the default ``berth0``): the
addresses on it are unique host-wide (``/run/berth/bridges/<ifname>.json``), so containers of two data roots
on it at the same time reach each other, and a claim of a data root that was deleted is dropped when met.

The data roots use a bridge of this module's own (the engine config's ``bridge``) and ``iptables: false``
(containers on one bridge talk over layer 2: no rule is needed, none is left); the teardown removes the
bridge. Traffic stays on that bridge.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import typing as t
import uuid

import pytest

from tests.support.cli import Berth, scratch_with_busybox

pytestmark = [pytest.mark.functional]

IMAGE = "bb:latest"
TAG = uuid.uuid4().hex[:6]
BRIDGE = f"bts{TAG}"
CLAIMS = f"/run/berth/bridges/{BRIDGE}.json"
SERVE = "mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p 80 -h /www"
GET = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {host} 80 | tail -n 1"

if os.geteuid() != 0:
    pytest.skip("needs root", allow_module_level=True)


def _claims() -> dict[str, t.Any]:
    if not os.path.exists(CLAIMS):
        return {}
    with open(CLAIMS, encoding="utf-8") as fh:
        return json.load(fh)


def ip_of(b: Berth, name: str) -> str:
    return json.loads(b("inspect", name).out)[0]["NetworkSettings"]["IPAddress"]


@pytest.fixture
def roots(busybox_rootfs: str, tmp_path: t.Any) -> t.Iterator[list[Berth]]:
    """Three data roots whose default network is the bridge ``BRIDGE`` (10.231.40.1/24)."""
    made = []
    for name in ("a", "b", "c"):
        b = scratch_with_busybox(tmp_path / name, busybox_rootfs, IMAGE)
        with open(b.config, encoding="utf-8") as fh:
            config = json.load(fh)
        config.update({"bridge": BRIDGE, "bip": "10.231.40.1/24", "iptables": False})
        with open(b.config, "w", encoding="utf-8") as fh:
            json.dump(config, fh)
        made.append(b)
    yield made
    for b in made:
        if os.path.isdir(b.root):
            leftovers = b("ps", "-aq", "--no-trunc").out.split()
            if leftovers:
                b("rm", "-f", *leftovers, rc=None)
    subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True, check=False)
    if os.path.exists(CLAIMS):
        os.unlink(CLAIMS)


def test_two_data_roots_on_one_bridge_get_distinct_addresses_and_talk(roots: list[Berth]) -> None:
    a, b, c = roots
    # a data root deleted with a (stopped) container's claim left behind: the claim is stale
    c("run", "-d", "--name", "old", IMAGE, "sleep", "300")
    assert ip_of(c, "old") == "10.231.40.2"
    c("stop", "-t", "1", "old")
    assert [v["root"] for v in _claims().values()] == [c.root]
    shutil.rmtree(os.path.dirname(c.root))

    a("run", "-d", "--name", "web", IMAGE, "sh", "-c", SERVE.format(text="web-a"))
    b("run", "-d", "--name", "client", IMAGE, "sleep", "300")
    web, client = ip_of(a, "web"), ip_of(b, "client")
    assert web == "10.231.40.2"  # the deleted data root's claim was dropped
    assert client != web  # each data root's own address book would have given it .2 as well
    macs = {json.loads(x("inspect", n).out)[0]["NetworkSettings"]["MacAddress"] for x, n in ((a, "web"), (b, "client"))}
    assert len(macs) == 2
    assert {addr: claim["root"] for addr, claim in _claims().items()} == {web: a.root, client: b.root}

    assert "64 bytes" in b("exec", "client", "ping", "-c1", "-W2", web).out
    assert "64 bytes" in a("exec", "web", "ping", "-c1", "-W2", client).out
    got = ""
    for _try in range(50):  # httpd may not listen yet: a bounded number of tries, not a time
        got = b("exec", "client", "sh", "-c", GET.format(host=web), rc=None).out
        if "web-a" in got:
            break
    assert "web-a" in got

    # a reboot clears /run: a start claims the container's (stable) address again
    a("stop", "-t", "1", "web")
    os.unlink(CLAIMS)
    a("start", "web")
    assert ip_of(a, "web") == web
    web_id = a("inspect", "-f", "{{.Id}}", "web").out.strip()
    assert {addr: claim["owner"] for addr, claim in _claims().items()} == {web: web_id}

    b("rm", "-f", "client")
    assert list(_claims()) == [web]
    a("rm", "-f", "web")
    assert _claims() == {}

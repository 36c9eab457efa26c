# SPDX-License-Identifier: GPL-3.0-or-later
"""engine/network/links.py on the real kernel, under both pyroute2s it must work with: the venv's (0.9)
and Debian 12's python3-pyroute2 (0.7, what ``/usr/bin/python3 -S`` in bin/berth finds in dist-packages).
Each run makes its own network namespace and bridge on a private 10.250.x.0/24 and leaves neither behind."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import typing as t
import uuid

import pytest

DIST_PACKAGES = "/usr/lib/python3/dist-packages"
MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "plugins",
                            "module_utils")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2 to check what links.py did"),
]

#: Run as ``PYTHON [-S] script VERB TAG NS SUBNET HOW PID``; prints JSON. Under -S it adds Debian's dist-packages.
SCRIPT = r"""
import json, os, sys
if sys.flags.no_site:
    sys.path.append(%(dist)r)
import pyroute2
pkg = type(sys)("berth_engine")  # plugins/module_utils as the package berth_engine, as bin/berth loads it
pkg.__path__ = [%(mu)r]
sys.modules["berth_engine"] = pkg
from berth_engine.engine.network import links
verb, tag, ns, subnet, how, pid = sys.argv[1:]
host = links.open_netlink()
bridge, veth = "btb" + tag, "btv" + tag
if verb == "attach":
    links.ensure_bridge(host, bridge, subnet + ".1", 24, 1400)
    links.ensure_bridge(host, bridge, subnet + ".1", 24, 1400)  # idempotent
    target = int(pid) if how == "pid" else links.NsFd(os.open("/run/netns/" + ns, os.O_RDONLY))
    mac = links.attach(host, bridge, veth, target, subnet + ".2", 24, subnet + ".1", mtu=1400)
    inside = links.open_netlink(target)
    present = [n for n in ("lo", "eth0", veth + "p") if inside.link_index(n) is not None]
    inside.close()
    print(json.dumps({"mac": mac, "inside": present, "routes": host.route_destinations(),
                      "pyroute2": "0.9" if hasattr(pyroute2, "AsyncIPRoute") else "0.7"}))
else:
    print(json.dumps([links.delete_link(host, veth), links.delete_bridge(host, bridge),
                      links.delete_bridge(host, bridge)]))
host.close()
""" % {"dist": DIST_PACKAGES, "mu": MODULE_UTILS}


def _ip(*args: str) -> list:
    out = subprocess.run(["ip", "-j", *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out or "[]")


def _debian_has_pyroute2() -> bool:
    code = f"import sys; sys.path.append({DIST_PACKAGES!r}); import pyroute2"
    return subprocess.run(["/usr/bin/python3", "-S", "-c", code], capture_output=True, check=False).returncode == 0


@pytest.mark.parametrize("python, version", [
    pytest.param([sys.executable], "0.9", id="venv"),
    pytest.param(["/usr/bin/python3", "-S"], "0.7", id="debian",
                 marks=pytest.mark.skipif(not _debian_has_pyroute2(), reason="python3-pyroute2 not installed")),
])
@pytest.mark.parametrize("how", ["fd", "pid"])
def test_bridge_and_veth_into_a_namespace(tmp_path: str, python: list, version: str, how: str) -> None:
    script = tmp_path / "links.py"
    script.write_text(SCRIPT)
    tag = uuid.uuid4().hex[:6]
    ns, third = "btn" + tag, int(tag[:2], 16)
    subnet = f"10.250.{third}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    holder = subprocess.Popen(["ip", "netns", "exec", ns, "sleep", "60"])

    def run(verb: str) -> t.Any:
        argv = [*python, str(script), verb, tag, ns, subnet, how, str(holder.pid)]
        return json.loads(subprocess.run(argv, check=True, capture_output=True, text=True).stdout)

    try:
        result = run("attach")
        assert result["pyroute2"] == version
        assert result["inside"] == ["lo", "eth0"]  # the peer was renamed
        assert f"{subnet}.0/24" in result["routes"]  # the host sees the bridge's route (what IPAM avoids)
        host_end = _ip("link", "show", "btv" + tag)[0]
        assert host_end["master"] == "btb" + tag and host_end["mtu"] == 1400 and "UP" in host_end["flags"]
        eth0 = _ip("-n", ns, "addr", "show", "eth0")[0]
        assert eth0["address"] == result["mac"] == f"02:42:0a:fa:{third:02x}:02"
        assert eth0["mtu"] == 1400 and "UP" in eth0["flags"]
        assert [(a["local"], a["prefixlen"]) for a in eth0["addr_info"] if a["family"] == "inet"] == \
            [(f"{subnet}.2", 24)]
        assert "UP" in _ip("-n", ns, "link", "show", "lo")[0]["flags"]
        assert _ip("-n", ns, "route", "show", "default")[0]["gateway"] == f"{subnet}.1"
        subprocess.run(["ip", "netns", "exec", ns, "busybox", "ping", "-c1", "-W5", f"{subnet}.1"], check=True,
                       capture_output=True)
        assert run("delete") == [True, True, False]  # the pair (its peer with it), the bridge, then nothing
        assert [link["ifname"] for link in _ip("-n", ns, "link", "show")] == ["lo"]
    finally:
        holder.kill()
        holder.wait()
        subprocess.run(["ip", "netns", "del", ns], check=True)
        subprocess.run(["ip", "link", "del", "btv" + tag], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", "btb" + tag], capture_output=True, check=False)
    assert not [link["ifname"] for link in _ip("link", "show") if tag in link["ifname"]]

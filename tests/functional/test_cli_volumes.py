# SPDX-License-Identifier: GPL-3.0-or-later
"""``berth volume …``, ``run -v/--mount/--volumes-from``, ``rm -v``, ``system prune --volumes``, and a CLI
killed (SIGKILL) in the middle of a copy-up: the next run finds a volume that works."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import typing as t

import pytest

from tests.support.cli import Berth, scratch_with_busybox

pytestmark = pytest.mark.functional

IMAGE = "bb:latest"
#: files of the image under /data (copied up into an empty volume mounted there)
SEED = {f"./data/f{i:03d}": (f"file {i}\n".encode(), 0o644) for i in range(50)}


@pytest.fixture(scope="module")
def berth(busybox_rootfs: str, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Berth]:
    b = scratch_with_busybox(tmp_path_factory.mktemp("cli-volumes"), busybox_rootfs, IMAGE, extra=SEED)
    yield b
    leftovers = b("ps", "-aq", "--no-trunc").out.split()
    if leftovers:
        b("rm", "-f", "-v", *leftovers, rc=None)
    volumes = b("volume", "ls", "-q").out.split()
    if volumes:
        b("volume", "rm", "-f", *volumes, rc=None)
    assert not leftovers, "every test removes its containers"


def test_volume_verbs(berth: Berth) -> None:
    b = berth
    assert b("volume", "create", "--label", "app=web", "web-data").out == "web-data\n"
    anon = b("volume", "create").out.strip()
    assert len(anon) == 64
    ls = b("volume", "ls").out.splitlines()
    assert ls[0].split() == ["DRIVER", "VOLUME", "NAME"] and any(ln.split() == ["local", "web-data"] for ln in ls)
    assert b("volume", "ls", "-q", "-f", "label=app=web").out == "web-data\n"
    # docker's volume formatter: --format json prints exactly its fields; templates and table templates
    (row,) = [json.loads(ln) for ln in b("volume", "ls", "--format", "json", "-f", "name=web-data").out.splitlines()]
    assert sorted(row) == ["Availability", "Driver", "Group", "Labels", "Links", "Mountpoint", "Name", "Scope",
                           "Size", "Status"]
    assert (row["Name"], row["Labels"], row["Links"], row["Size"]) == ("web-data", "app=web", "N/A", "N/A")
    assert b("volume", "ls", "--format", "{{.Name}} {{.Scope}} {{.Driver}}", "-f", "name=web").out == \
        "web-data local local\n"
    assert b("volume", "ls", "--format", "table {{.Name}}\t{{.Links}}", "-f", "name=web").out.split() == [
        "VOLUME", "NAME", "LINKS", "web-data", "N/A"]
    # system df -v: each volume with its links (containers) and size
    section = b("system", "df", "-v").out.split("Local Volumes space usage:")[1].split("Build cache")[0]
    assert ["web-data", "0", "0B"] in [ln.split() for ln in section.splitlines()]
    (info,) = json.loads(b("volume", "inspect", "web-data").out)
    assert {k: info[k] for k in ("Name", "Driver", "Labels", "Scope")} == {
        "Name": "web-data", "Driver": "local", "Labels": {"app": "web"}, "Scope": "local"}
    bad = b("volume", "create", "-o", "type=none", "x1", rc=125)
    assert "driver_options.o" in bad.err
    assert b("volume", "prune", "-f").out.splitlines()[:2] == ["Deleted Volumes:", anon]
    assert b("volume", "rm", "web-data").out == "web-data\n"
    assert "No such volume: web-data" in b("volume", "rm", "web-data", rc=1).err


def test_run_with_volumes_and_rm_v(berth: Berth, tmp_path: t.Any) -> None:
    b = berth
    host = str(tmp_path / "conf")
    os.makedirs(host)
    with open(host + "/app.conf", "w") as fh:
        fh.write("conf\n")
    out = b("run", "--name", "vols", "-v", "kept:/data", "-v", "/scratch", "-v", f"{host}:/etc/app:ro",
            "--mount", "type=tmpfs,target=/t,tmpfs-size=1m", IMAGE, "sh", "-c",
            "ls /data | wc -l; cat /etc/app/app.conf; echo x > /scratch/f; grep -c ' /t tmpfs' /proc/mounts").out
    assert out.split() == ["50", "conf", "1"]
    mounts = json.loads(b("inspect", "vols").out)[0]["Mounts"]
    assert sorted(m["Destination"] for m in mounts) == ["/data", "/etc/app", "/scratch", "/t"]
    anon = [m["Name"] for m in mounts if m["Destination"] == "/scratch"][0]
    err = b("volume", "rm", "kept", rc=1).err
    assert "volume is in use by container(s) vols" in err
    out = b("run", "--rm", "--volumes-from", "vols:ro", IMAGE, "sh", "-c", "cat /scratch/f; touch /data/n || echo ro")
    assert out.out.split() == ["x", "ro"]
    b("rm", "-v", "vols")
    names = b("volume", "ls", "-q").out.split()
    assert "kept" in names and anon not in names  # rm -v: the anonymous volume only
    b("volume", "rm", "kept")
    missing = b("run", "--rm", "--mount", f"type=bind,source={host}/nope,target=/x", IMAGE, "true", rc=125)
    assert "bind source path does not exist" in missing.err


def test_system_prune_keeps_volumes_unless_asked(berth: Berth) -> None:
    b = berth
    b("run", "--rm", "-v", "/gone", "-v", "named-stays:/n", IMAGE, "true")  # --rm: anonymous volumes go too
    assert b("volume", "ls", "-q").out.split() == ["named-stays"]
    b("volume", "rm", "named-stays")
    b("run", "--name", "gone", "-v", "/anon", IMAGE, "true")
    b("rm", "gone")
    (anon,) = b("volume", "ls", "-q", "-f", "dangling=true").out.split()
    b("system", "prune", "-f")
    assert b("volume", "ls", "-q").out.split() == [anon]
    assert anon in b("system", "prune", "-f", "--volumes").out
    assert b("volume", "ls", "-q").out == ""
    assert "Local Volumes" in b("system", "df").out


def test_sigkill_during_copy_up_leaves_a_working_volume(berth: Berth, tmp_path: t.Any) -> None:
    """``cp`` is found on PATH: a wrapper copies, signals, then waits forever. The test kills the CLI's whole
    session with SIGKILL once the copy is in staging: no timing, the kill comes while the copy-up is open."""
    b = berth
    bindir = tmp_path / "bin"
    bindir.mkdir()
    signal_file = tmp_path / "copied"
    real_cp = subprocess.run(["sh", "-c", "command -v cp"], stdout=subprocess.PIPE, check=True).stdout.decode().strip()
    (bindir / "cp").write_text(f"#!/bin/sh\n{real_cp} \"$@\" || exit $?\ntouch {signal_file}\nexec sleep 3600\n")
    (bindir / "cp").chmod(0o755)
    env = dict(b.env or os.environ, PATH=f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}")
    proc = subprocess.Popen(b.argv("run", "--name", "killed", "-v", "crash:/data", IMAGE, "true"), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while not signal_file.exists():
            assert proc.poll() is None, "the run ended before the copy-up"
            os.sched_yield()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    vdir = os.path.join(b.root, "volumes", "crash")
    assert os.path.exists(vdir + "/copying-up") and not os.path.exists(vdir + "/copied-up")
    out = b("run", "--rm", "-v", "crash:/data", IMAGE, "sh", "-c", "ls -A /data | wc -l; cat /data/f049").out
    assert out.split() == ["50", "file", "49"]
    assert os.path.exists(vdir + "/copied-up") and not os.path.exists(vdir + "/copying-up")
    b("rm", "-f", "killed")
    b("volume", "rm", "crash")

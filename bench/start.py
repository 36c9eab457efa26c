#!/usr/bin/env python
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/start: `run --rm IMAGE true` with Berth and its peers, same busybox image, same run: without a
network, and on each one's default bridge with one published port.

    .venv/bin/python bench/start.py [--runs 15] [--tools berth,berth-runc,runc,crun,podman,docker,...] [--baseline REV]

* berth:        bin/berth run --rm --network none IMAGE true            (Berth's own runtime)
* berth-runc:   bin/berth run --rm --network none --runtime runc IMAGE true
* berth-bridge, podman-bridge, docker-bridge: run --rm -p PORT:80 IMAGE true on the default bridge (Berth's
  own bridge ``bbench0``; podman's default network; a dockerd of its own with its default bridge and
  ``iptables: false``, so the host's firewall is left alone and ``-p`` is served by docker-proxy)
* runc / crun:  `runc run` / `crun run` of a prepared bundle (no image store, no overlay: a floor)
* podman:       podman run --rm --network none IMAGE true (runc)
* docker:       docker run --rm --network none IMAGE true (its own dockerd, started here)
* berth@REV:    bin/berth of commit REV (--baseline), extracted with git archive

Tools alternate within each round; the script prints each median and the ratio to Berth's.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

from tests.support.images import busybox_rootfs  # noqa: E402
from tests.support.cleanup import remove_tree  # noqa: E402

BERTH = os.path.join(REPO, "bin", "berth")


def _run(argv: list[str], **kw: t.Any) -> None:
    res = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kw, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} failed ({res.returncode}): {res.stderr.strip()[-1500:]}")


class Tool:
    name = ""

    def available(self) -> bool:
        return True

    def setup(self, work: str, rootfs_tar: str, rootfs: str) -> None:
        pass

    def argv(self, i: int) -> list[str]:
        raise NotImplementedError

    def teardown(self) -> None:
        pass


class Berth(Tool):
    name = "berth"
    runtime: str | None = None
    berth = BERTH

    def setup(self, work: str, rootfs_tar: str, rootfs: str) -> None:
        self.root = os.path.join(work, "berth-root")
        self.cfg = os.path.join(work, "berth-daemon.json")
        with open(self.cfg, "w") as fh:
            json.dump({}, fh)
        _run([self.berth, "--root", self.root, "--config", self.cfg, "import", rootfs_tar, "bench/bb:1"])
        for dummy in range(2):  # warm: library copy, bytecode
            _run(self.argv(0))

    def argv(self, i: int) -> list[str]:
        extra = ["--runtime", self.runtime] if self.runtime else []
        return [self.berth, "--root", self.root, "--config", self.cfg, "run", "--rm", "--network", "none", *extra,
                "bench/bb:1", "true"]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BerthBridge(Berth):
    """The default bridge (its own interface, removed at the end) and one published port."""

    name = "berth-bridge"
    bridge = "bbench0"

    def available(self) -> bool:
        return shutil.which("nft") is not None and not os.path.exists(f"/sys/class/net/{self.bridge}")

    def setup(self, work: str, rootfs_tar: str, rootfs: str) -> None:
        self.port = _free_port()
        self.root = os.path.join(work, "berth-bridge-root")
        self.cfg = os.path.join(work, "berth-bridge-daemon.json")
        with open(self.cfg, "w") as fh:
            json.dump({"bridge": self.bridge}, fh)
        _run([self.berth, "--root", self.root, "--config", self.cfg, "import", rootfs_tar, "bench/bb:1"])
        for dummy in range(2):
            _run(self.argv(0))

    def argv(self, i: int) -> list[str]:
        return [self.berth, "--root", self.root, "--config", self.cfg, "run", "--rm", "-p", f"{self.port}:80",
                "bench/bb:1", "true"]

    def teardown(self) -> None:
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, check=False)
        listing = subprocess.run(["nft", "-j", "list", "table", "inet", "berth"], capture_output=True, text=True,
                                 check=False)
        if listing.returncode == 0:
            rules = [x["rule"] for x in json.loads(listing.stdout)["nftables"] if "rule" in x]
            others = [r for r in rules if r.get("comment") != "berth:table" and not r.get("comment", "").endswith(
                ":bridge") and not r.get("comment", "").startswith("berth:ctr:")]
            if not others:  # only this root's default network (and its swept ports) were there
                subprocess.run(["nft", "delete", "table", "inet", "berth"], capture_output=True, check=False)


class BerthAt(Berth):
    """``bin/berth`` of another commit (``--baseline REV``), extracted with ``git archive``: a change's
    start-time cost against the code before it, in the same run."""

    def __init__(self, rev: str) -> None:
        self.rev = rev
        self.name = f"berth@{rev}"[:11]

    def setup(self, work: str, rootfs_tar: str, rootfs: str) -> None:
        tree = os.path.join(work, "baseline")
        os.makedirs(tree)
        archive = subprocess.run(["git", "-C", REPO, "archive", self.rev], stdout=subprocess.PIPE, check=True)
        subprocess.run(["tar", "-C", tree, "-x"], input=archive.stdout, check=True)
        _run(["/usr/bin/python3", "-m", "compileall", "-q", os.path.join(tree, "plugins")])
        self.berth = os.path.join(tree, "bin", "berth")
        Berth.setup(self, os.path.join(work, "baseline"), rootfs_tar, rootfs)


class BerthRunc(Berth):
    name = "berth-runc"
    runtime = "runc"

    def available(self) -> bool:
        return shutil.which("runc") is not None


class Bundle(Tool):
    binary = ""

    def available(self) -> bool:
        return shutil.which(self.binary) is not None

    def setup(self, work: str, rootfs_tar: str, rootfs: str) -> None:
        self.bundle = os.path.join(work, f"{self.binary}-bundle")
        os.makedirs(self.bundle)
        shutil.copytree(rootfs, os.path.join(self.bundle, "rootfs"), symlinks=True)
        _run(["runc", "spec"], cwd=self.bundle)
        path = os.path.join(self.bundle, "config.json")
        with open(path) as fh:
            spec = json.load(fh)
        spec["process"]["terminal"] = False
        spec["process"]["args"] = ["true"]
        spec["root"]["readonly"] = False
        with open(path, "w") as fh:
            json.dump(spec, fh)
        self.state = os.path.join(work, f"{self.binary}-state")

    def argv(self, i: int) -> list[str]:
        cmd = [self.binary, "--root", self.state, "run", "-b", self.bundle, f"bench-{os.getpid()}-{i}"]
        if self.binary == "crun" and _hybrid():
            # crun 1.8 refuses hybrid cgroups unless the unified controllers file looks empty (PEERS.md).
            empty = os.path.join(self.bundle, "empty")
            open(empty, "w").close()
            return ["unshare", "-m", "--propagation", "private", "sh", "-c",
                    f"mount --bind {empty} /sys/fs/cgroup/unified/cgroup.controllers && exec " + " ".join(cmd)]
        return cmd


class Runc(Bundle):
    name = binary = "runc"


class Crun(Bundle):
    name = binary = "crun"


def _hybrid() -> bool:
    return os.path.exists("/sys/fs/cgroup/unified/cgroup.controllers")


class Podman(Tool):
    name = "podman"

    def available(self) -> bool:
        return shutil.which("podman") is not None

    def setup(self, work: str, rootfs_tar: str, rootfs: str) -> None:
        self.base = ["podman", "--root", os.path.join(work, "podman-root"), "--runroot", os.path.join(work, "podman-run"),
                     "--cgroup-manager=cgroupfs", "--events-backend=file", "--runtime", "runc"]
        _run([*self.base, "import", rootfs_tar, "bench/bb:1"])
        _run(self.argv(0))

    def argv(self, i: int) -> list[str]:
        return [*self.base, "run", "--rm", "--network", "none", "--ulimit", "nofile=20000:20000",
                "--ulimit", "nproc=32768:32768", "bench/bb:1", "true"]


class PodmanBridge(Podman):
    name = "podman-bridge"

    def setup(self, work: str, rootfs_tar: str, rootfs: str) -> None:
        self.port = _free_port()
        Podman.setup(self, work, rootfs_tar, rootfs)

    def argv(self, i: int) -> list[str]:
        return [*self.base, "run", "--rm", "-p", f"{self.port}:80", "--ulimit", "nofile=20000:20000",
                "--ulimit", "nproc=32768:32768", "bench/bb:1", "true"]


class Docker(Tool):
    name = "docker"
    proc: subprocess.Popen | None = None
    network: dict[str, t.Any] = {"bridge": "none", "iptables": False}

    def available(self) -> bool:
        return shutil.which("dockerd") is not None and shutil.which("docker") is not None

    def setup(self, work: str, rootfs_tar: str, rootfs: str) -> None:
        d = os.path.join(work, "docker")
        os.makedirs(d)
        self.sock = os.path.join(d, "docker.sock")
        cfg = os.path.join(d, "daemon.json")
        with open(cfg, "w") as fh:
            json.dump({"data-root": os.path.join(d, "root"), "exec-root": os.path.join(d, "exec"),
                       "pidfile": os.path.join(d, "docker.pid"), "hosts": [f"unix://{self.sock}"],
                       **self.network}, fh)
        self.log = open(os.path.join(d, "dockerd.log"), "w")
        self.proc = subprocess.Popen(["dockerd", "--config-file", cfg], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while subprocess.run(["docker", "-H", f"unix://{self.sock}", "version"], capture_output=True, check=False).returncode:
            if time.monotonic() > deadline:
                raise RuntimeError("dockerd did not start")
            time.sleep(0.3)
        _run(["docker", "-H", f"unix://{self.sock}", "import", rootfs_tar, "bench/bb:1"])
        _run(self.argv(0))

    def argv(self, i: int) -> list[str]:
        return ["docker", "-H", f"unix://{self.sock}", "run", "--rm", "--network", "none", "bench/bb:1", "true"]

    def teardown(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class DockerBridge(Docker):
    """dockerd's default bridge (docker0, deleted at the end), ``iptables: false`` (Docker would otherwise set the
    host's FORWARD policy to DROP): ``-p`` goes through docker-proxy."""

    name = "docker-bridge"
    network = {"iptables": False, "ip-forward": False}

    def available(self) -> bool:
        return Docker.available(self) and not os.path.exists("/sys/class/net/docker0")

    def setup(self, work: str, rootfs_tar: str, rootfs: str) -> None:
        self.port = _free_port()
        os.makedirs(os.path.join(work, "bridge"))
        Docker.setup(self, os.path.join(work, "bridge"), rootfs_tar, rootfs)

    def argv(self, i: int) -> list[str]:
        return ["docker", "-H", f"unix://{self.sock}", "run", "--rm", "-p", f"{self.port}:80", "bench/bb:1", "true"]

    def teardown(self) -> None:
        Docker.teardown(self)
        subprocess.run(["ip", "link", "del", "docker0"], capture_output=True, check=False)


TOOLS = {c.name: c for c in (Berth, BerthRunc, Runc, Crun, Podman, Docker, BerthBridge, PodmanBridge, DockerBridge)}


def prepare(bench: str, names: str, table: t.Mapping[str, t.Callable[[], Tool]]) -> tuple[str, list[Tool]]:
    """Fresh bytecode, a work directory, and the tools of *names* (comma-separated keys of *table*) that
    are installed."""
    # fresh bytecode for the checkout, as scripts/setup.sh leaves it (with PYTHONDONTWRITEBYTECODE set, a
    # stale .pyc would be compiled again by every run: ~40 ms)
    _run(["/usr/bin/python3", "-m", "compileall", "-q", os.path.join(REPO, "plugins")])
    work = tempfile.mkdtemp(prefix=f"berth-bench-{bench}-", dir="/var/tmp")
    tools = []
    for name in names.split(","):
        tool = table[name]()
        tool.name = name
        if tool.available():
            tools.append(tool)
        else:
            print(f"# {name}: not installed, skipped")
    return work, tools


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--json")
    ap.add_argument("--baseline", metavar="REV", help="also run bin/berth of this commit (berth@REV)")
    args = ap.parse_args(argv)
    work, tools = prepare("start", args.tools, TOOLS)
    if args.baseline:
        tools.append(BerthAt(args.baseline))
    times: dict[str, list[float]] = {x.name: [] for x in tools}
    try:
        rootfs = busybox_rootfs(os.path.join(work, "rootfs"))
        rootfs_tar = os.path.join(work, "rootfs.tar")
        _run(["tar", "-C", rootfs, "-cf", rootfs_tar, "."])
        for tool in tools:
            tool.setup(work, rootfs_tar, rootfs)
        print(f"# {args.runs} runs each of `run --rm IMAGE true` (no network; *-bridge: default bridge, one "
              "published port), alternating order")
        for i in range(args.runs):
            order = tools[i % len(tools):] + tools[:i % len(tools)]
            for tool in order:
                start = time.monotonic()
                _run(tool.argv(i + 1))
                times[tool.name].append(time.monotonic() - start)
    finally:
        for tool in tools:
            tool.teardown()
        remove_tree(work)  # podman leaves its overlay directory bound
    med = {k: statistics.median(v) for k, v in times.items() if v}
    base = med.get("berth")
    print("\ntool        median    ratio to berth (>1: berth faster)")
    for name, m in med.items():
        print(f"{name:11s} {m * 1000:6.1f} ms  {m / base:5.2f}x" if base else f"{name:11s} {m * 1000:6.1f} ms")
    bridge = med.get("berth-bridge")
    for peer in ("docker-bridge", "podman-bridge"):
        if bridge and med.get(peer):
            print(f"berth-bridge / {peer}: {bridge / med[peer]:.2f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"times": times, "median": med}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/build: a 10-step Dockerfile built cold and fully cached, with Berth and its peers, same run.

    .venv/bin/python bench/build.py [--rounds 5] [--tools berth,podman,docker-classic,docker-buildkit] [--json F]

* cold:   a fresh variant of the context each round (a nonce in a copied file and in the first RUN), so no
          tool has a step cached: base image lookup, 2 RUNs, 3 COPYs (one a directory), WORKDIR, metadata
* cached: the same context again: every step a cache hit
* berth:            bin/berth build
* podman:           podman build --network none (buildah, runc; layers cached)
* docker-classic:   DOCKER_BUILDKIT=0 docker build (its own dockerd, started here, as bench/start.py does)
* docker-buildkit:  DOCKER_BUILDKIT=1 docker build (skipped when it cannot resolve the local base image
                    offline)

The base image (busybox, imported into each tool) is set up before timing. Tools alternate within each round.
Prints each median and the ratio of Berth's to the fastest peer's (the aims: cached <= 0.5x, cold <= 0.8x).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import typing as t

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import start  # noqa: E402  (bench/start.py: the tools' set-up, the busybox image)
from start import _run  # noqa: E402
from tests.support.cleanup import remove_tree  # noqa: E402
from tests.support.images import busybox_rootfs  # noqa: E402

DOCKERFILE = """\
FROM bench/bb:1
ENV APP=/app
WORKDIR /app
COPY nonce.txt ./
COPY src/ ./src/
RUN echo "built $(cat nonce.txt)" > built.txt
COPY conf.txt /etc/app.conf
RUN mkdir -p /data && cp -r src /data/ && rm /data/src/f0
LABEL bench=build
CMD ["cat", "built.txt"]
"""


def make_context(path: str, nonce: str) -> str:
    os.makedirs(os.path.join(path, "src"), exist_ok=True)
    with open(os.path.join(path, "Dockerfile"), "w") as fh:
        fh.write(DOCKERFILE)
    with open(os.path.join(path, "nonce.txt"), "w") as fh:
        fh.write(nonce + "\n")
    with open(os.path.join(path, "conf.txt"), "w") as fh:
        fh.write("setting=1\n")
    for i in range(20):
        with open(os.path.join(path, "src", f"f{i}"), "w") as fh:
            fh.write(f"file {i}\n" * 50)
    return path


class Berth(start.Berth):
    def build(self, ctx: str, tag: str) -> list[str]:
        return [self.berth, "--root", self.root, "--config", self.cfg, "build", "-q", "-t", tag, ctx]


class Podman(start.Podman):
    def build(self, ctx: str, tag: str) -> list[str]:
        return [*self.base, "build", "-q", "--network", "none", "--ulimit", "nofile=20000:20000",
                "--ulimit", "nproc=32768:32768", "-t", tag, ctx]

    def argv(self, i: int) -> list[str]:  # set-up's warm-up run
        return [*self.base, "images", "-q"]


class DockerClassic(start.Docker):
    name = "docker-classic"
    buildkit = "0"

    def build(self, ctx: str, tag: str) -> list[str]:
        client = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"
        return ["env", f"DOCKER_BUILDKIT={self.buildkit}", client, "-H", f"unix://{self.sock}", "build", "-q",
                "--network", "none", "-t", tag, ctx]

    def argv(self, i: int) -> list[str]:
        return ["docker", "-H", f"unix://{self.sock}", "images", "-q"]


class DockerBuildkit(DockerClassic):
    name = "docker-buildkit"
    buildkit = "1"


TOOLS: dict[str, t.Callable[[], t.Any]] = {"berth": Berth, "podman": Podman, "docker-classic": DockerClassic,
                                           "docker-buildkit": DockerBuildkit}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", maxsplit=1)[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    work, tools = start.prepare("build", args.tools, TOOLS)
    times: dict[str, dict[str, list[float]]] = {x.name: {"cold": [], "cached": []} for x in tools}
    try:
        rootfs = busybox_rootfs(os.path.join(work, "rootfs"))
        rootfs_tar = os.path.join(work, "rootfs.tar")
        _run(["tar", "-C", rootfs, "-cf", rootfs_tar, "."])
        ready = []
        for tool in tools:
            if isinstance(tool, DockerBuildkit) and any(isinstance(x, DockerClassic) and x is not tool for x in ready):
                other = next(x for x in ready if isinstance(x, DockerClassic))
                tool.sock, tool.proc = other.sock, None  # one dockerd for both docker builders
            else:
                tool.setup(work, rootfs_tar, rootfs)
            probe = make_context(os.path.join(work, f"probe-{tool.name}"), f"probe-{tool.name}")
            res = subprocess.run(tool.build(probe, "bench/probe:1"), capture_output=True, text=True, check=False)
            if res.returncode:
                print(f"# {tool.name}: cannot build here, skipped: {res.stderr.strip()[-300:]}")
                continue
            ready.append(tool)
        tools = ready
        print(f"# {args.rounds} rounds of a 10-step build, cold (fresh context) then cached, alternating order")
        for i in range(args.rounds):
            order = tools[i % len(tools):] + tools[:i % len(tools)] if tools else []
            for tool in order:
                ctx = make_context(os.path.join(work, f"ctx-{tool.name}-{i}"), f"{tool.name}-{i}-{os.urandom(4).hex()}")
                for phase in ("cold", "cached"):
                    begin = time.monotonic()
                    _run(tool.build(ctx, f"bench/built:{i}"))
                    times[tool.name][phase].append(time.monotonic() - begin)
    finally:
        for tool in tools:
            tool.teardown()
        remove_tree(work)
    report(times, args.json)
    return 0


def report(times: dict[str, dict[str, list[float]]], json_path: str | None) -> None:
    med = {name: {phase: statistics.median(v) for phase, v in per.items() if v} for name, per in times.items()}
    print("\ntool              cold        cached")
    for name, m in med.items():
        if m:
            print(f"{name:17s} {m['cold'] * 1000:7.0f} ms  {m['cached'] * 1000:7.0f} ms")
    berth = med.get("berth") or {}
    peers = {n: m for n, m in med.items() if n != "berth" and m}
    for phase, aim in (("cold", 0.8), ("cached", 0.5)):
        if berth.get(phase) and peers:
            fastest = min(peers, key=lambda n: peers[n][phase])
            ratio = berth[phase] / peers[fastest][phase]
            print(f"{phase}: berth / fastest peer ({fastest}) = {ratio:.2f}x (aim <= {aim}x)")
    if json_path:
        with open(json_path, "w") as fh:
            json.dump({"times": times, "median": med}, fh, indent=2)


if __name__ == "__main__":
    if shutil.which("tar") is None:
        sys.exit("bench/build needs tar")
    sys.exit(main())

#!/usr/bin/env python
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/memory: what supervising an idle container costs, per container (PSS), Berth vs podman vs docker.

    .venv/bin/python bench/memory.py [--containers 5] [--tools berth,podman,docker]

Starts N idle `sleep` containers with each tool, then sums the proportional set size
(/proc/PID/smaps_rollup) of the per-container helper processes: Berth's monitors, podman's
conmon, docker's containerd-shim-runc-v2; the daemons (dockerd, containerd) are shown apart.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import typing as t

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import start as startbench  # noqa: E402
from tests.support.images import busybox_rootfs  # noqa: E402
from tests.support.cleanup import remove_tree  # noqa: E402


def pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pids_matching(pred: t.Callable[[bytes], bool]) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                cmd = fh.read()
        except OSError:
            continue
        if cmd and pred(cmd):
            out.append(int(name))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--containers", type=int, default=5)
    ap.add_argument("--tools", default="berth,podman,docker")
    args = ap.parse_args(argv)
    n = args.containers
    work = tempfile.mkdtemp(prefix="berth-bench-mem-", dir="/var/tmp")
    rootfs = busybox_rootfs(os.path.join(work, "rootfs"))
    tar = os.path.join(work, "rootfs.tar")
    subprocess.run(["tar", "-C", rootfs, "-cf", tar, "."], check=True)
    results: dict[str, tuple[float, str]] = {}
    for name in args.tools.split(","):
        tool = startbench.TOOLS[name]()
        if not tool.available():
            print(f"# {name}: not installed, skipped")
            continue
        tool.setup(work, tar, rootfs)
        try:
            base = tool.argv(0)
            run_i = base.index("run")
            ids = []
            for i in range(n):
                cmd = base[: run_i + 1] + ["-d"] + [a for a in base[run_i + 1 : -1] if a != "--rm"] + ["sleep", "3600"]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
                ids.append(out.splitlines()[-1])
            time.sleep(2)  # let start-up garbage settle
            if name == "berth":
                helpers = pids_matching(lambda c: b"supervisor.monitor" in c and tool.root.encode() in c)
                extra = ""
            elif name == "podman":
                helpers = pids_matching(lambda c: c.startswith(b"/usr/bin/conmon") or c.startswith(b"conmon"))
                extra = ""
            else:
                helpers = pids_matching(lambda c: b"containerd-shim" in c)
                daemons = pids_matching(lambda c: c.startswith(b"dockerd") or c.startswith(b"containerd\0")
                                        or c.startswith(b"/usr/bin/containerd\0"))
                extra = f"(+ dockerd/containerd {sum(pss_kib(p) for p in daemons) / 1024:.1f} MiB in total)"
            per = sum(pss_kib(p) for p in helpers) / 1024 / n
            results[name] = (per, f"{len(helpers)} helper processes {extra}")
            for cid in ids:
                rm = base[: run_i] + ["rm", "-f", cid]
                subprocess.run(rm, capture_output=True, check=False)
        finally:
            tool.teardown()
    remove_tree(work)  # podman leaves its overlay directory bound
    print(f"\nper idle container, {n} containers each (PSS of the per-container helpers)")
    base = results.get("berth", (0.0, ""))[0]
    for name, (per, note) in results.items():
        ratio = f"{per / base:5.2f}x" if base else ""
        print(f"{name:8s} {per:6.2f} MiB  {ratio}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

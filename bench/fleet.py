#!/usr/bin/env python
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/fleet: converge time as the simulated fleet grows (tests/support/fleet.py), at forks 8.

    .venv/bin/python bench/fleet.py [--sizes 1,2,4,8] [--forks 8] [--rounds 1]

For each size N, a fresh fleet of N hosts boots (the boot time is printed too), then one ansible-playbook
converges it: a busybox root filesystem imported as an image, a container started from it, a command run in
it (berth.engine.image / container / container_exec, module_defaults from the fleet's host variables); a
second run of the same play changes nothing and is timed as well. The aim (issue 14): 8 hosts take at
most 2x the time of 1 host, at forks 8. Needs root, as the fleet does. A skeleton: the converge is the
container modules', until the roles of issue 14 (host, registry, app) make up ``playbooks/site.yml``.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

from tests.support.cleanup import remove_tree  # noqa: E402
from tests.support.fleet import Fleet  # noqa: E402
from tests.support.images import busybox_rootfs  # noqa: E402

PLAY = """
- hosts: fleet
  gather_facts: false
  module_defaults:
    group/berth.engine.berth:
      data_root: "{{{{ berth_data_root }}}}"
      config_path: "{{{{ berth_config_path }}}}"
  tasks:
    - berth.engine.image: {{name: "bench/box:1", source: import, load_path: "{tar}"}}
    - berth.engine.container: {{name: web, image: "bench/box:1", command: "sleep 3600", stop_timeout: 1}}
    - berth.engine.container_exec: {{container: web, command: "true"}}
"""


def ansible_env(work: str) -> dict[str, str]:
    colls = os.path.join(work, "collections", "ansible_collections", "berth")
    os.makedirs(colls)
    os.symlink(REPO, os.path.join(colls, "engine"))
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(work, "collections"),
                ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="0", ANSIBLE_HOME=os.path.join(work, "home"),
                ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_DEPRECATION_WARNINGS="0",
                ANSIBLE_HOST_KEY_CHECKING="0")


def playbook(env: dict[str, str], inventory: str, play: str, forks: int) -> float:
    bindir = os.path.dirname(sys.executable)
    start = time.monotonic()
    proc = subprocess.run([os.path.join(bindir, "ansible-playbook"), "-i", inventory, "-f", str(forks), play],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"ansible-playbook failed ({proc.returncode}):\n{proc.stdout[-3000:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--sizes", default="1,2,4,8")
    ap.add_argument("--forks", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    work = tempfile.mkdtemp(prefix="berth-bench-fleet.")
    try:
        env = ansible_env(work)
        tar = os.path.join(work, "rootfs.tar")
        with tarfile.open(tar, "w") as tf:
            tf.add(busybox_rootfs(os.path.join(work, "rootfs")), arcname=".")
        play = os.path.join(work, "play.yml")
        with open(play, "w", encoding="utf-8") as fh:
            fh.write(PLAY.format(tar=tar))
        rows = []
        for rnd in range(args.rounds):
            for n in sizes:
                started = time.monotonic()
                with Fleet(n, os.path.join(work, f"fleet-{rnd}-{n}")) as fleet:
                    boot = time.monotonic() - started
                    inventory = fleet.write_inventory(os.path.join(work, f"hosts-{n}.ini"))
                    converge = playbook(env, inventory, play, args.forks)
                    again = playbook(env, inventory, play, args.forks)
                rows.append((n, boot, converge, again))
                print(f"round {rnd + 1} hosts {n}: boot {boot:5.2f} s  converge {converge:6.2f} s  "
                      f"again {again:6.2f} s", flush=True)
        base = {n: c for n, _b, c, _a in rows if n == min(sizes)}
        print(f"\nhosts  converge (s)  ratio to {min(sizes)} host(s)  (aim at forks 8: <= 2.0 for 8 hosts)")
        for n, _b, converge, _a in rows:
            print(f"{n:5d}  {converge:12.2f}  {converge / base[min(sizes)]:6.2f}x")
        return 0
    finally:
        remove_tree(work)


if __name__ == "__main__":
    sys.exit(main())

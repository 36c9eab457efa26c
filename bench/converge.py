#!/usr/bin/env python
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/converge: the cost of a no-op `container` task, Berth vs community.docker's docker_container.

    .venv/bin/python bench/converge.py [--loops 10] [--rounds 3] [--docker-ansible /path/to/venv/bin]

Each round runs one ansible-playbook (connection local, system Python on the target) that first makes
sure a running busybox container exists, then repeats the same task --loops times (all `ok`, nothing
changes). The per-task figure is (play time - time of the same play with 0 loops) / loops; the AnsiballZ
payload size is measured too. community.docker needs a venv with the `ansible` package (it ships the
collection) and requests; dockerd is started here as in bench/start.py.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, REPO)

import start as startbench  # noqa: E402
from tests.support.images import busybox_rootfs  # noqa: E402
from tests.support.cleanup import remove_tree  # noqa: E402

BERTH_TASK = """
    - name: ensure
      berth.engine.container:
        name: bench-noop
        image: bench/bb:1
        command: [sleep, "3600"]
        memory: 64m
        state: started
        data_root: {root}
        config_path: {config}
      loop: "{{ range({loops}) | list }}"
"""
DOCKER_TASK = """
    - name: ensure
      community.docker.docker_container:
        name: bench-noop
        image: bench/bb:1
        command: [sleep, "3600"]
        memory: 64m
        state: started
        docker_host: unix://{sock}
      loop: "{{ range({loops}) | list }}"
"""


def play(path: str, body: str) -> None:
    with open(path, "w") as fh:
        fh.write("- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n" + body)


def timed(bin_dir: str, playbook: str, env: dict[str, str]) -> float:
    # community.docker needs `requests` on the target: its own venv's python there; Berth needs none.
    env = dict(env, ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3" if ".venv" in bin_dir else os.path.join(bin_dir, "python"))
    start = time.monotonic()
    res = subprocess.run([os.path.join(bin_dir, "ansible-playbook"), "-i", "localhost,", playbook],
                         capture_output=True, text=True, env=env, check=False)
    elapsed = time.monotonic() - start
    if res.returncode != 0:
        raise RuntimeError(res.stdout[-3000:] + res.stderr[-2000:])
    return elapsed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--loops", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--docker-ansible", default="/tmp/ansfull/bin", help="bin dir of a venv with `ansible`")
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="berth-bench-converge-", dir="/var/tmp")
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3", ANSIBLE_NOCOLOR="1",
               ANSIBLE_KEEP_REMOTE_FILES="0", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    results: dict[str, list[float]] = {}
    docker = None
    try:
        rootfs = busybox_rootfs(os.path.join(work, "rootfs"))
        tar = os.path.join(work, "rootfs.tar")
        subprocess.run(["tar", "-C", rootfs, "-cf", tar, "."], check=True)
        berth = startbench.Berth()
        berth.setup(work, tar, rootfs)
        setups: list[tuple[str, str, str]] = [
            ("berth", os.path.join(REPO, ".venv", "bin"), BERTH_TASK.replace("{root}", berth.root).replace("{config}", berth.cfg)),
        ]
        dock_ok = os.path.exists(os.path.join(args.docker_ansible, "ansible-playbook")) and startbench.Docker().available()
        if dock_ok:
            docker = startbench.Docker()
            docker.setup(work, tar, rootfs)
            setups.append(("docker_container", args.docker_ansible, DOCKER_TASK.replace("{sock}", docker.sock)))
        else:
            print("# community.docker or dockerd not available: docker_container skipped")
        for name, bin_dir, task in setups:
            results[name] = []
            zero = os.path.join(work, f"{name}-0.yml")
            many = os.path.join(work, f"{name}-n.yml")
            play(zero, task.replace("{loops}", "1"))
            play(many, task.replace("{loops}", str(args.loops + 1)))
            timed(bin_dir, zero, env)  # create the container (and warm caches)
        for rnd in range(args.rounds):
            for name, bin_dir, _task in setups:
                base = timed(bin_dir, os.path.join(work, f"{name}-0.yml"), env)
                full = timed(bin_dir, os.path.join(work, f"{name}-n.yml"), env)
                results[name].append((full - base) / args.loops)
                print(f"round {rnd + 1} {name:17s} {results[name][-1] * 1000:6.0f} ms per no-op task", flush=True)
    finally:
        if docker is not None:
            subprocess.run(["docker", "-H", f"unix://{docker.sock}", "rm", "-f", "bench-noop"], capture_output=True, check=False)
            docker.teardown()
        subprocess.run([os.path.join(REPO, "bin", "berth"), "--root", os.path.join(work, "berth-root"), "--config",
                        os.path.join(work, "berth-daemon.json"), "rm", "-f", "bench-noop"], capture_output=True, check=False)
        remove_tree(work)  # podman leaves its overlay directory bound
    med = {k: statistics.median(v) for k, v in results.items() if v}
    base = med.get("berth")
    print("\nmodule             median per no-op task   ratio to berth (>1: berth faster)")
    for name, m in med.items():
        print(f"{name:18s} {m * 1000:6.0f} ms               {m / base:5.2f}x" if base else f"{name} {m}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

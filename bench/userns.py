#!/usr/bin/env python
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/userns: the first and the next `run --rm` of a user-namespaced container, idmapped layers vs copies.

    .venv/bin/python bench/userns.py [--files 3000] [--rounds 2]

An image of busybox plus FILES files of 16 KiB; ``userns-remap`` on; each round uses fresh data roots, one
with idmapped layers (supervisor/idmap.py), one forced to the ownership-shifted copies (store/remap.py, what
kernels without idmapped overlay layers get). Prints the medians, their ratio and the data roots' size.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

from ansible_collections.berth.engine.plugins.module_utils.engine.api import Engine  # noqa: E402
from ansible_collections.berth.engine.plugins.module_utils.engine.config.userns import HostFiles  # noqa: E402
from ansible_collections.berth.engine.plugins.module_utils.engine.options.container import normalise_options  # noqa: E402
from tests.support.accounts import remap_accounts  # noqa: E402
from tests.support.cleanup import remove_tree  # noqa: E402
from tests.support.images import busybox_rootfs  # noqa: E402

UID = 200000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--files", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    top = tempfile.mkdtemp(prefix="berth-bench-userns-", dir="/var/tmp")
    os.chmod(top, 0o755)  # the remapped root must traverse it
    times: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    try:
        rootfs = busybox_rootfs(os.path.join(top, "rootfs"))
        data = os.path.join(rootfs, "data")
        os.makedirs(data)
        for i in range(args.files):
            with open(os.path.join(data, f"f{i}"), "wb") as fh:
                fh.write(os.urandom(16384))
        tar = os.path.join(top, "image.tar")
        with tarfile.open(tar, "w") as tf:
            tf.add(rootfs, arcname=".")
        remap_accounts(top, UID, UID)
        config = os.path.join(top, "daemon.json")
        with open(config, "w") as fh:
            json.dump({"userns-remap": "remap"}, fh)
        opts = normalise_options({"image": "big:1", "command": ["true"]})
        for rnd in range(args.rounds):
            for mode in ("copies", "idmapped") if rnd % 2 == 0 else ("idmapped", "copies"):
                root = os.path.join(top, f"root-{mode}-{rnd}")
                os.makedirs(os.path.join(root, "runtime"))
                with open(os.path.join(root, "runtime", "idmap.json"), "w") as fh:  # the probe's answer
                    json.dump({"kernel": os.uname().release, "supported": mode == "idmapped"}, fh)
                eng = Engine.open(data_root=root, config_path=config, lock_timeout=60, host_files=HostFiles(top))
                eng.images.import_(tar, "big:1")
                subprocess.run(["sync"], check=False)
                for which in ("first", "next"):
                    start = time.monotonic()
                    res = eng.containers.run(opts, detach=False, remove=True)
                    times.setdefault(f"{mode} {which}", []).append(time.monotonic() - start)
                    if res.exit_code != 0:
                        raise SystemExit(f"{mode}: the container exited {res.exit_code}")
                du = subprocess.run(["du", "-sb", root], capture_output=True, text=True, check=True).stdout
                sizes[mode] = int(du.split()[0])
                print(f"round {rnd + 1} {mode:8s} first {times[f'{mode} first'][-1] * 1000:6.0f} ms, "
                      f"next {times[f'{mode} next'][-1] * 1000:5.0f} ms", flush=True)
    finally:
        remove_tree(top)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n# image: busybox + {args.files} files of 16 KiB; medians of {args.rounds} rounds")
    for which in ("first", "next"):
        c, i = med[f"copies {which}"], med[f"idmapped {which}"]
        print(f"{which:5s} run --rm: idmapped {i * 1000:6.0f} ms, copies {c * 1000:6.0f} ms -> {c / i:4.2f}x")
    print(f"data root: idmapped {sizes['idmapped'] / 2**20:.0f} MiB, copies {sizes['copies'] / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

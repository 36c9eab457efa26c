# SPDX-License-Identifier: GPL-3.0-or-later
"""Start-up cost: ``bin/berth-runtime run`` of ``true`` against ``runc run`` and ``crun run``.

Same busybox bundle (made by ``runc spec``), fresh IDs, the tools alternating within each round,
medians over ROUNDS of the processor time each run costs (user + system of the runtime and every
process it waits for, from ``RUSAGE_CHILDREN``): work, not wall time, so a busy host does not move the
ratio. The ratios are printed (``pytest -s``) and attached to the test report; the assertion is a loose
regression guard; wall-clock speed is bench/start.py's (the aim is 1.5x runc).
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import typing as t
import uuid

import pytest

from tests.support import images

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(REPO, "bin", "berth-runtime")
ROUNDS = 15

pytestmark = [
    pytest.mark.functional,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is the reference"),
]


def _crun_argv(tmp: str) -> list[str] | None:
    if shutil.which("crun") is None or shutil.which("unshare") is None:
        return None
    controllers = "/sys/fs/cgroup/unified/cgroup.controllers"
    if os.path.isfile(controllers) and not os.path.isfile("/sys/fs/cgroup/cgroup.controllers"):
        empty = os.path.join(tmp, "empty")
        open(empty, "w").close()  # PEERS.md: hide the hybrid cgroup2 controllers from crun 1.8
        return ["unshare", "-m", "--propagation", "private", "sh", "-c",
                'mount --bind "$1" "$2" && shift 2 && exec "$@"', "sh", empty, controllers, "crun"]
    return ["crun"]


def test_run_true_against_runc_and_crun(tmp_path: t.Any, record_property: t.Callable[[str, t.Any], None]) -> None:
    rootfs = images.busybox_rootfs(tmp_path / "rootfs")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)
    with open(bundle / "config.json") as fh:
        spec = json.load(fh)
    spec["root"]["path"] = rootfs
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["true"]
    with open(bundle / "config.json", "w") as fh:
        json.dump(spec, fh)
    crun = _crun_argv(str(tmp_path))
    tools: dict[str, t.Callable[[str], list[str]]] = {
        "berth-runtime": lambda cid: [BIN, "--root", str(tmp_path / "berth"), "run", "-b", str(bundle), cid],
        "runc": lambda cid: ["runc", "--root", str(tmp_path / "runc"), "run", "-b", str(bundle), cid],
    }
    if crun:
        tools["crun"] = lambda cid: [*crun, "--root", str(tmp_path / "crun"), "run", "-b", str(bundle), cid]
    times: dict[str, list[float]] = {name: [] for name in tools}
    for name, argv in tools.items():  # warm-up: page cache, bytecode
        subprocess.run(argv("warm-" + uuid.uuid4().hex[:8]), check=True, capture_output=True)
    for dummy in range(ROUNDS):
        for name, argv in tools.items():
            cmd = argv("s-" + uuid.uuid4().hex[:8])
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            proc = subprocess.run(cmd, capture_output=True, check=False)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            times[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            assert proc.returncode == 0, (name, proc.stderr)
    med = {name: statistics.median(v) * 1000 for name, v in times.items()}
    ratios = {f"berth/{n}": med["berth-runtime"] / med[n] for n in med if n != "berth-runtime"}
    summary = ", ".join(f"{n} {m:.1f} ms" for n, m in med.items()) + "; " + \
        ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items())
    print(f"\nrun true, processor time, median of {ROUNDS}: {summary}")
    record_property("medians_ms", med)
    record_property("ratios", ratios)
    assert ratios["berth/runc"] < 3.0, summary

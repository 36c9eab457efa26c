# SPDX-License-Identifier: GPL-3.0-or-later
"""Processor time of a command and of everything it starts, daemonised processes included (a container's
monitor double-forks away, out of ``RUSAGE_CHILDREN``'s reach): a throw-away cgroup's CPU counter. Tests
compare work with it, not wall time, so a busy host does not move their ratios."""
from __future__ import annotations

import os
import subprocess
import time
import typing as t
import uuid


class CgroupCpu:
    """``with CgroupCpu() as meter: proc, seconds = meter.run(argv)``: cgroup v1 ``cpuacct`` or v2."""

    def __init__(self) -> None:
        name = f"berth-test-cpu-{uuid.uuid4().hex[:8]}"
        if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):  # cgroup v2 only
            self.path = os.path.join("/sys/fs/cgroup", name)
            self.v2 = True
        else:
            base = next(p for p in ("/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu,cpuacct")
                        if os.path.isdir(p))
            self.path = os.path.join(base, name)
            self.v2 = False

    def __enter__(self) -> CgroupCpu:
        os.mkdir(self.path)
        return self

    def __exit__(self, *exc: t.Any) -> None:
        self._wait_empty()
        os.rmdir(self.path)

    def usage(self) -> float:
        """Seconds of processor time the cgroup's processes used so far."""
        if self.v2:
            with open(os.path.join(self.path, "cpu.stat"), encoding="ascii") as fh:
                stats = dict(line.split() for line in fh if line.strip())
            return int(stats["usage_usec"]) / 1e6
        with open(os.path.join(self.path, "cpuacct.usage"), encoding="ascii") as fh:
            return int(fh.read()) / 1e9

    def _wait_empty(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(os.path.join(self.path, "cgroup.procs"), encoding="ascii") as fh:
                if not fh.read().strip():
                    return
            time.sleep(0.005)
        raise AssertionError(f"processes still in {self.path} after {timeout} s")

    def run(self, argv: t.Sequence[str], **kwargs: t.Any) -> tuple[subprocess.CompletedProcess, float]:
        """Run *argv* in the cgroup; wait until everything it started there has exited too."""
        procs = os.path.join(self.path, "cgroup.procs")

        def join() -> None:
            with open(procs, "w", encoding="ascii") as fh:
                fh.write(str(os.getpid()))

        before = self.usage()
        proc = subprocess.run(argv, preexec_fn=join, check=False, **kwargs)
        self._wait_empty()
        return proc, self.usage() - before

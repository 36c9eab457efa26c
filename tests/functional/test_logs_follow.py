# SPDX-License-Identifier: GPL-3.0-or-later
"""supervisor.logs.read_logs(follow=True) against a writer in another process that rotates underneath it,
and end to end: ``logs -f`` of a container whose monitor rotates its json-file log."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.core.layout import Layout
from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor import lifecycle, logs, monitor_ops
from tests.functional.test_monitor import FAKE_RUNTIME, make_container

pytestmark = [pytest.mark.functional, pytest.mark.timeout(60)]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_follow_across_rotations_from_another_process(tmp_path: t.Any) -> None:
    path = str(tmp_path / "c-json.log")
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {REPO!r})
        from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor.logs import LogWriter
        w = LogWriter({path!r}, max_size=2000, max_file=5)
        for i in range(1500):
            w.write("stderr" if i % 3 == 0 else "stdout", b"line %04d\\n" % i)
            if i % 10 == 0:
                time.sleep(0.005)
        w.write("stdout", b"no newline at the end")
        w.flush()
        w.close()
    """)])
    time.sleep(0.05)  # the reader starts in the middle: tail=0 means "only what comes from now on"
    got = [e.data for e in logs.read_logs(path, follow=True, tail=0, still_running=lambda: writer.poll() is None,
                                          poll_interval=0.02)]
    assert writer.wait() == 0
    assert got[-1] == b"no newline at the end"
    numbers = [int(d.split()[1]) for d in got[:-1]]
    assert numbers == list(range(numbers[0], 1500))  # every entry once, in order, across ~40 rotations
    assert len(logs.log_files(path)) == 5


def test_follow_a_container_whose_log_rotates(berth_root: str, tmp_path: t.Any) -> None:
    if os.geteuid() != 0:
        pytest.skip("the monitor runs as root")
    factory = tmp_path / "fake_runtime.py"
    factory.write_text(FAKE_RUNTIME)
    lay = Layout(berth_root)
    script = "i=0; while [ $i -lt 400 ]; do echo out $i; echo err $i >&2; i=$((i+1)); done"
    cid = make_container(lay, ["sh", "-c", f"sleep 0.3; {script}"],
                         log_options={"max-size": 4096, "max-file": 50})
    monitor_ops.spawn(lay, cid, runtime={"name": "fake", "factory": f"{factory}:FakeRuntime"}).close()

    def running() -> bool:
        return lifecycle.load(lay, cid).status.active

    got = list(logs.read_logs(lay.container_log(cid), follow=True, still_running=running, poll_interval=0.02))
    assert [e.data for e in got if e.stream == "stdout"] == [b"out %d\n" % i for i in range(400)]
    assert [e.data for e in got if e.stream == "stderr"] == [b"err %d\n" % i for i in range(400)]
    assert len(logs.log_files(lay.container_log(cid))) > 5
    assert all(a.time <= b.time for a, b in zip(got, got[1:]))

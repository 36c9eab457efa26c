# SPDX-License-Identifier: GPL-3.0-or-later
"""auth.json is changed under a lock: a second login that starts while the first holds the file waits for
it, then reads what the first wrote, so both logins stay (without the lock the second writes back what it
read before the first saved, and the first login is lost). Real processes and flock(2)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.registry.auth import Credentials

pytestmark = [pytest.mark.functional]

if os.geteuid() != 0:
    pytest.skip("needs root", allow_module_level=True)


def _holds_open(pid: int, path: str) -> bool:
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(os.path.join(fd_dir, fd)) == path:
                return True
        except OSError:
            pass
    return False


def test_concurrent_logins_both_stay(tmp_path) -> None:
    auth = str(tmp_path / "etc" / "auth.json")
    lock = str(tmp_path / "etc" / ".auth.json.lock")
    second = textwrap.dedent(f"""
        from ansible_collections.berth.engine.plugins.module_utils.engine.registry.auth import Credentials
        with Credentials.update({auth!r}) as creds:
            creds.set("two.example:5000", "u2", "p2")
    """)
    with Credentials.update(auth) as creds:
        proc = subprocess.Popen([sys.executable, "-c", second],
                                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        try:
            # the event we wait for: the second process has the lock file open (it waits for the lock);
            # a writer that takes no lock never opens it, and the test fails here
            deadline = time.monotonic() + 60
            while not _holds_open(proc.pid, lock):
                assert proc.poll() is None, "the second login finished while the first held the file"
                assert time.monotonic() < deadline, "the second login never opened the lock file"
                time.sleep(0.01)
            creds.set("one.example:5000", "u1", "p1")
        except BaseException:
            proc.kill()
            raise
    assert proc.wait(timeout=120) == 0
    stored = Credentials.load(auth)
    assert stored.hosts == ["one.example:5000", "two.example:5000"]
    assert os.stat(auth).st_mode & 0o777 == 0o600
    assert os.stat(lock).st_mode & 0o777 == 0o600
    assert set(json.load(open(auth))["auths"]) == {"one.example:5000", "two.example:5000"}

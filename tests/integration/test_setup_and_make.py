# SPDX-License-Identifier: GPL-3.0-or-later
"""The README's commands: ``scripts/setup.sh`` (behind both) and ``make test``'s exit rules."""
from __future__ import annotations

import os
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/integration/..

if os.geteuid() != 0 or not os.path.exists(os.path.join(REPO, ".venv", "bin", "ansible")):
    pytest.skip("needs root and a set-up checkout (make setup)", allow_module_level=True)


def test_two_setups_at_once_both_succeed_without_a_traceback() -> None:
    procs = [subprocess.Popen(["bash", "scripts/setup.sh"], cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) for _twice in range(2)]
    outs = [p.communicate(timeout=600)[0].decode(errors="replace") for p in procs]
    for proc, out in zip(procs, outs):
        assert proc.returncode == 0, out
        assert "Traceback" not in out and "Broken pipe" not in out, out
        assert out.rstrip().endswith(")") and "setup: ok (ansible [core " in out, out


@pytest.mark.parametrize("pytest_cmd, sanity_cmd, fails", [
    ("false", "echo SANITY-RAN", True),   # pytest failed: sanity still runs, make fails
    ("true", "false", True),              # sanity failed: make fails
    ("true", "echo SANITY-RAN", False),
])
def test_make_test_runs_sanity_even_when_pytest_fails(pytest_cmd: str, sanity_cmd: str, fails: bool) -> None:
    proc = subprocess.run(["make", "-s", "test", f"PYTEST={pytest_cmd}", f"SANITY={sanity_cmd}"], cwd=REPO,
                          capture_output=True, timeout=600, check=False)
    out = proc.stdout.decode(errors="replace")
    assert (proc.returncode != 0) == fails, out + proc.stderr.decode(errors="replace")
    assert ("SANITY-RAN" in out) == sanity_cmd.startswith("echo")

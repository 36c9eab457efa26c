# SPDX-License-Identifier: GPL-3.0-or-later
"""Test support shared by unit, functional and benchmark code.

* :mod:`tests.support.registry`: a real ``docker-registry`` on loopback (plain, basic auth, TLS) and
  :class:`~tests.support.registry.FlakyProxy` for fault injection.
* :mod:`tests.support.images`: test images built with umoci and pushed with skopeo (tools we did not write).

Nothing here imports the engine: the support must stay independent of the code under test.
"""
from __future__ import annotations

import os
import shutil
import typing as t

#: The checkout's root (tests/support/../..), for tests that read files of the tree or run bin/berth.
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def missing_tools(*names: str) -> list[str]:
    return [n for n in names if shutil.which(n) is None]


def require_tools(*names: str, why: str = "") -> None:
    """Skip the calling test (or fixture) when a host tool is missing; fail instead in CI (CI=true)."""
    missing = missing_tools(*names)
    if not missing:
        return
    import pytest

    msg = f"missing host tool(s): {', '.join(missing)}"
    if why:
        msg += f" (needed for {why})"
    msg += "; run scripts/setup.sh (make setup) to install them"
    if in_ci():
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


def run(argv: t.Sequence[str], **kwargs: t.Any) -> "t.Any":
    """subprocess.run with captured output; raise with the tool's stderr when it fails."""
    import subprocess

    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    proc = subprocess.run(list(argv), **kwargs, check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace") if isinstance(proc.stderr, bytes) else str(proc.stderr)
        raise RuntimeError(f"command failed ({proc.returncode}): {' '.join(argv)}\n{err.strip()}")
    return proc


def unwrap_unsafe(value: t.Any) -> t.Any:
    """ansible-inventory's JSON marks untrusted text ``{"__ansible_unsafe": text}``: the same data, plain."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: unwrap_unsafe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_unsafe(v) for v in value]
    return value

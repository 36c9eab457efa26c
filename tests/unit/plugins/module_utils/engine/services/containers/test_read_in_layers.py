# SPDX-License-Identifier: GPL-3.0-or-later
"""``services.containers._common.read_in_layers``: a file of an image read through its layer directories
(top first), with overlayfs's whiteouts, opaque directories and symlinks, nothing mounted (``create``
looks up the container's user there)."""
from __future__ import annotations

import os

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.services.containers._common import read_in_layers


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)


def _whiteout(path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.mknod(path, 0o600 | 0o020000, os.makedev(0, 0))


@pytest.fixture
def layers(tmp_path: os.PathLike) -> list[str]:
    top, mid, base = (str(tmp_path / n) for n in ("top", "mid", "base"))
    _write(f"{base}/etc/passwd", "base\n")
    _write(f"{base}/etc/group", "base group\n")
    _write(f"{base}/etc/shadow", "base shadow\n")
    _write(f"{base}/opt/a/file", "base a\n")
    _write(f"{base}/usr/share/x", "x in base\n")
    _write(f"{mid}/etc/passwd", "mid\n")
    _whiteout(f"{mid}/etc/shadow")
    os.makedirs(f"{mid}/opt/a")
    os.setxattr(f"{mid}/opt/a", "trusted.overlay.opaque", b"y")
    os.makedirs(f"{top}/etc")
    os.symlink("../usr/share/x", f"{top}/etc/linked")
    os.symlink("/usr/share", f"{top}/shared")
    _write(f"{top}/etc/group", "top group\n")
    return [top, mid, base]


@pytest.mark.parametrize(("path", "want"), [
    ("/etc/passwd", "mid\n"),  # the topmost layer that has it
    ("/etc/group", "top group\n"),
    ("/etc/shadow", None),  # deleted by a whiteout in a higher layer
    ("/opt/a/file", None),  # below an opaque directory of a higher layer
    ("/etc/linked", "x in base\n"),  # a relative symlink, resolved inside the image
    ("/shared/x", "x in base\n"),  # an absolute symlink on the way
    ("/etc/missing", None),
    ("/etc", None),  # not a file
])
def test_read_in_layers(layers: list[str], path: str, want: str | None) -> None:
    assert read_in_layers(layers, path) == want


def test_a_symlink_loop_ends(tmp_path: os.PathLike) -> None:
    layer = str(tmp_path / "l")
    os.makedirs(f"{layer}/etc")
    os.symlink("/etc/passwd", f"{layer}/etc/passwd")
    assert read_in_layers([layer], "/etc/passwd") is None

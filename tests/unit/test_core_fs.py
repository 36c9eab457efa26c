# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import os

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.core import fs


def test_atomic_file_replaces_the_target_once_complete(tmp_path) -> None:
    path = tmp_path / "out.tar"
    path.write_bytes(b"old")
    with fs.AtomicFile(str(path)) as fh:
        fh.write(b"new content")
        assert path.read_bytes() == b"old"  # nothing visible before the block ends
    assert path.read_bytes() == b"new content" and os.listdir(tmp_path) == ["out.tar"]


def test_atomic_file_leaves_the_target_after_an_error(tmp_path) -> None:
    path = tmp_path / "out.tar"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="midway"):
        with fs.AtomicFile(str(path)) as fh:
            fh.write(b"partial")
            raise RuntimeError("midway")
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.tar"]


def test_atomic_file_in_a_missing_directory_fails_at_once(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        fs.AtomicFile(str(tmp_path / "nope" / "out.tar"))

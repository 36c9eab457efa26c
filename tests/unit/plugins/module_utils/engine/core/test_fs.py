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


def _staged_by_child(tmp_dir: str, kind: str) -> str:
    """Stage a file in *tmp_dir* from a child process that has exited when this returns."""
    pid = os.fork()
    if pid == 0:
        try:
            with open(fs.staging_path(tmp_dir, kind), "wb") as fh:
                fh.write(b"x" * 1000)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    return [n for n in os.listdir(tmp_dir) if n.startswith(kind + "@")][0]


def test_reclaim_staging_removes_only_what_dead_processes_left(tmp_path) -> None:
    tmp = str(tmp_path)
    dead = _staged_by_child(tmp, "blob")
    mine = fs.staging_path(tmp, "layer")
    os.makedirs(os.path.join(mine, "diff"))
    other = os.path.join(tmp, "removing-c0ffee-1-2")  # no owner in its name: left to an exclusive cleaner
    os.mkdir(other)
    assert fs.staging_owner_alive(dead) is False
    assert fs.staging_owner_alive(os.path.basename(mine)) is True
    assert fs.staging_owner_alive("removing-c0ffee-1-2") is None
    assert fs.reclaim_staging(tmp) == 1000
    assert sorted(os.listdir(tmp)) == sorted([os.path.basename(mine), "removing-c0ffee-1-2"])


def test_staging_owner_is_the_process_after_a_fork(tmp_path) -> None:
    token = fs.owner_token()
    assert token.startswith(f"{os.getpid()}.")
    child = _staged_by_child(str(tmp_path), "trash")
    assert child.split("@", 1)[1].split(".")[0] != str(os.getpid())


def test_tree_size_of_a_file_a_tree_and_nothing(tmp_path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a").write_bytes(b"12345")
    (tmp_path / "f").write_bytes(b"123")
    assert fs.tree_size(str(tmp_path / "d")) == 5
    assert fs.tree_size(str(tmp_path / "f")) == 3
    assert fs.tree_size(str(tmp_path / "none")) == 0

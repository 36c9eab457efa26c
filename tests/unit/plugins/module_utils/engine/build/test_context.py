# SPDX-License-Identifier: GPL-3.0-or-later
"""``.dockerignore`` matching (Docker's pattern rules) and COPY source resolution, as tables."""
from __future__ import annotations

import os
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.build.context import (
    Context,
    IgnoreMatcher,
    content_hash,
)
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import BuildError

IGNORE = [
    (["*.log"], {"a.log": True, "d/a.log": False, "a.txt": False}),
    (["**/*.log"], {"a.log": True, "d/e/a.log": True, "a.txt": False}),
    (["d"], {"d": True, "d/x": True, "d/x/y": True, "dd": False}),
    (["/d/"], {"d": True, "d/x": True}),
    (["*.log", "!keep.log"], {"a.log": True, "keep.log": False}),
    (["!keep.log", "*.log"], {"keep.log": True}),
    (["d", "!d/keep"], {"d/x": True, "d/keep": False}),
    (["a?c", "[xy].txt"], {"abc": True, "abbc": False, "x.txt": True, "z.txt": False}),
    (["d/**/tmp"], {"d/tmp": True, "d/a/b/tmp": True, "d/a/b/tmp/f": True, "e/tmp": False}),
    (["# comment", "", "  spaced.txt  "], {"spaced.txt": True, "# comment": False}),
    (["./x/../y"], {"y": True, "x": False}),
    (["a\\*b"], {"a*b": True, "axb": False}),
]


@pytest.mark.parametrize("patterns, expected", IGNORE, ids=[" ".join(p) for p, dummy in IGNORE])
def test_ignore(patterns: list[str], expected: dict[str, bool]) -> None:
    m = IgnoreMatcher(patterns)
    assert {path: m.excluded(path) for path in expected} == expected


def make(root: t.Any, files: dict[str, bytes]) -> str:
    for name, data in files.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
    return str(root)


def test_resolve_walks_directories_through_dockerignore(tmp_path: t.Any) -> None:
    root = make(tmp_path, {".dockerignore": b"src/*.pyc\nsrc/tmp\n!src/tmp/keep\n", "src/a.py": b"",
                           "src/a.pyc": b"", "src/tmp/x": b"", "src/tmp/keep": b"", "b.txt": b""})
    ctx = Context(root)
    assert [s.rel for s in ctx.resolve("src", "COPY")] == ["src", "src/a.py", "src/tmp/keep"]
    assert [s.rel for s in ctx.resolve("/src/../*.txt", "COPY")] == ["b.txt"]
    with pytest.raises(BuildError, match="excluded by .dockerignore: stat src/a.pyc"):
        ctx.resolve("src/a.pyc", "COPY")
    with pytest.raises(BuildError, match="stat nope"):
        ctx.resolve("nope*", "ADD")
    with pytest.raises(BuildError, match="no build context"):
        Context(None).resolve("x", "COPY")


def test_content_hash_ignores_times_not_modes(tmp_path: t.Any) -> None:
    path = make(tmp_path, {"f": b"data"}) + "/f"

    def h() -> str:
        return content_hash([("f", path, os.lstat(path))])

    first = h()
    os.utime(path, (1, 1))
    assert h() == first
    os.chmod(path, 0o600)
    assert h() != first
    os.chmod(path, 0o644)
    with open(path, "wb") as fh:
        fh.write(b"datb")
    assert h() != first

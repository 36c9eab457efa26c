# SPDX-License-Identifier: GPL-3.0-or-later
"""The unit tests mirror the source tree (tests/unit/README.md): a file under ``tests/unit/plugins/`` sits in
the directory that mirrors a directory of ``plugins/``, so a file's tests are found by its path; and test
module basenames stay unique across ``tests/`` (what pytest's default import mode needs)."""
from __future__ import annotations

import os
import typing as t

import pytest

from tests.support import REPO

TESTS = os.path.join(REPO, "tests")
UNIT_PLUGINS = os.path.join(TESTS, "unit", "plugins")
PLUGINS = os.path.join(REPO, "plugins")


def _files(top: str) -> t.Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if d != "__pycache__" and not d.startswith(".")]
        for name in filenames:
            if not name.endswith(".pyc"):
                yield os.path.join(dirpath, name)


def misplaced(unit_plugins: str, plugins: str) -> list[str]:
    """Files under *unit_plugins* whose directory has no counterpart under *plugins* (relative paths)."""
    out = []
    for path in _files(unit_plugins):
        rel = os.path.relpath(path, unit_plugins)
        if not os.path.isdir(os.path.join(plugins, os.path.dirname(rel))):
            out.append(rel)
    return sorted(out)


def duplicate_basenames(tests: str) -> dict[str, list[str]]:
    """Test module basename -> its paths (relative to *tests*), for the names used more than once."""
    seen: dict[str, list[str]] = {}
    for path in _files(tests):
        name = os.path.basename(path)
        if name.startswith("test_") and name.endswith(".py"):
            seen.setdefault(name, []).append(os.path.relpath(path, tests))
    return {name: sorted(paths) for name, paths in seen.items() if len(paths) > 1}


def test_unit_tests_mirror_the_source_tree() -> None:
    assert os.path.isdir(os.path.join(UNIT_PLUGINS, "module_utils", "engine"))
    assert misplaced(UNIT_PLUGINS, PLUGINS) == [], "move these beside the source they test (tests/unit/README.md)"


def test_test_module_basenames_are_unique() -> None:
    assert duplicate_basenames(TESTS) == {}


@pytest.mark.parametrize(("rel", "bad"), [
    ("module_utils/engine/core/test_fs.py", False),
    ("module_utils/engine/options/container/test_container_options.py", False),
    ("modules/test_module_docs.py", False),
    ("module_utils/engine/test_nowhere/test_x.py", True),
    ("module_utils/test_fs.py/test_y.py", True),
    ("module_utils/engine/helpers.py", False),
    ("module_utils/engine/storage/fake.py", True),
])
def test_the_checks_see_a_misplaced_file(tmp_path: t.Any, rel: str, bad: bool) -> None:
    plugins = tmp_path / "plugins"
    for src in ("module_utils/engine/core/fs.py", "module_utils/engine/options/container/table.py",
                "modules/image.py", "module_utils/test_fs.py"):
        (plugins / src).parent.mkdir(parents=True, exist_ok=True)
        (plugins / src).write_text("")
    unit = tmp_path / "tests" / "unit" / "plugins"
    (unit / rel).parent.mkdir(parents=True, exist_ok=True)
    (unit / rel).write_text("")
    assert misplaced(str(unit), str(plugins)) == ([rel] if bad else [])


def test_the_checks_see_a_duplicate_basename(tmp_path: t.Any) -> None:
    for rel in ("unit/plugins/module_utils/engine/config/test_userns.py", "functional/test_userns.py",
                "functional/test_cli.py", "unit/conftest.py", "integration/conftest.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    assert duplicate_basenames(str(tmp_path)) == {
        "test_userns.py": ["functional/test_userns.py", "unit/plugins/module_utils/engine/config/test_userns.py"]}

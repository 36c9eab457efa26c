# SPDX-License-Identifier: GPL-3.0-or-later
"""engine/hot_path.py fences the start-time tricks: only the modules it names may use them (the functional
side, what ``berth run`` really loads, is in tests/functional/test_start_path.py)."""
from __future__ import annotations

import ast
import os
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine import hot_path
from tests.support import REPO

MODULE_UTILS = os.path.join(REPO, "plugins", "module_utils")


def modules() -> dict[str, str]:
    """Dotted name (relative to module_utils) -> file, for every file of module_utils."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(MODULE_UTILS):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in filenames:
            if name.endswith(".py"):
                rel = os.path.relpath(os.path.join(dirpath, name), MODULE_UTILS)[:-3].replace(os.sep, ".")
                out[rel[:-len(".__init__")] if rel.endswith(".__init__") else rel] = os.path.join(dirpath, name)
    return out


def tricks(source: str) -> list[str]:
    """The start-time tricks a module uses: ``TYPE_CHECKING = False`` and private standard-library modules."""
    found = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(isinstance(x, ast.Name) and x.id == "TYPE_CHECKING"
                                                for x in node.targets):
            found.append(f"line {node.lineno}: TYPE_CHECKING = False")
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module]
        for name in names:
            if name.startswith("_") and name != "__future__":
                found.append(f"line {node.lineno}: import {name}")
    return found


def test_every_hot_module_is_a_file() -> None:
    assert sorted(hot_path.MODULES - set(modules())) == []


def test_only_hot_modules_use_start_time_tricks() -> None:
    offenders = {}
    for name, path in sorted(modules().items()):
        if name in hot_path.MODULES:
            continue
        with open(path, encoding="utf-8") as fh:
            found = tricks(fh.read())
        if found:
            offenders[name] = found
    assert offenders == {}, "house style outside engine/hot_path.MODULES (or add the module there, with a reason)"


def test_nothing_imports_the_list() -> None:
    for name, path in modules().items():
        with open(path, encoding="utf-8") as fh:
            assert "hot_path" not in fh.read() or name == "engine.hot_path", name


@pytest.mark.parametrize("source, found", [
    ("TYPE_CHECKING = False\nif TYPE_CHECKING:\n    import typing as t\n", ["line 1: TYPE_CHECKING = False"]),
    ("def f():\n    import _json\n", ["line 2: import _json"]),
    ("from _socket import socket\n", ["line 1: import _socket"]),
    ("from __future__ import annotations\nimport typing as t\nif t.TYPE_CHECKING:\n    import os\n", []),
    ("from ._private import x\n", []),  # a relative import of the package's own module is no trick
])
def test_the_trick_finder(source: str, found: t.List[str]) -> None:
    assert tricks(source) == found

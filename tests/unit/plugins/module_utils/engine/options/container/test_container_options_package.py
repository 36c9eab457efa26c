# SPDX-License-Identifier: GPL-3.0-or-later
"""The package ``engine.options.container``: one room per concept behind one front door.

Every public name is defined in exactly one room, the front door re-exports each of them (the very same
object), a room imports only the rooms before it, every room stays small, and importing the package loads none of the modules the start path of
``berth run`` must not load (tests/functional/test_start_path.py measures the whole path).
"""
from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.options import container

PACKAGE_DIR = os.path.dirname(container.__file__)
MODULE_UTILS = os.path.dirname(os.path.dirname(os.path.dirname(PACKAGE_DIR)))
ROOMS = ("secrets", "normalise", "process", "kernel", "mounts", "network", "table", "checks", "effective")
#: The issue's limit for a file under plugins/ (issue 8: no god files).
MAX_LINES = 600


def defined_names(room: str) -> set[str]:
    """The public names a room's source defines at module level (assignments, functions, classes)."""
    with open(os.path.join(PACKAGE_DIR, room + ".py"), encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    out = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                out.update(e.id for e in (target.elts if isinstance(target, ast.Tuple) else [target])
                           if isinstance(e, ast.Name))
    return {n for n in out if not n.startswith("_") and n != "TYPE_CHECKING"}


def test_the_rooms_are_all_the_modules_of_the_package() -> None:
    files = {f[:-3] for f in os.listdir(PACKAGE_DIR) if f.endswith(".py")}
    assert files == set(ROOMS) | {"__init__"}


def test_each_public_name_lives_in_one_room_and_the_front_door_reexports_it() -> None:
    home: dict[str, str] = {}
    for room in ROOMS:
        for name in defined_names(room):
            assert name not in home, f"{name} is defined in both {home[name]}.py and {room}.py"
            home[name] = room
    assert sorted(container.__all__) == sorted(home)
    for name, room in home.items():
        module = importlib.import_module(f"{container.__name__}.{room}")
        assert getattr(container, name) is getattr(module, name), name


def test_each_room_imports_only_the_rooms_before_it() -> None:
    """ROOMS is the order of the layers: secrets, the normalisers, the table, then what reads the table."""
    for i, room in enumerate(ROOMS):
        with open(os.path.join(PACKAGE_DIR, room + ".py"), encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
        used = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 1}
        assert used <= set(ROOMS[:i]), f"{room}.py imports {sorted(used - set(ROOMS[:i]))}"


@pytest.mark.parametrize("room", ("__init__",) + ROOMS)
def test_each_room_stays_small(room: str) -> None:
    with open(os.path.join(PACKAGE_DIR, room + ".py"), encoding="utf-8") as fh:
        lines = fh.read().count("\n")
    assert lines <= MAX_LINES, f"{room}.py has {lines} lines"


def test_importing_the_package_loads_no_typing_re_json_or_dataclasses() -> None:
    """What ``bin/berth`` does (``berth_engine`` is module_utils), in a fresh ``python3 -S``."""
    code = (
        "import sys\n"
        "pkg = type(sys)('berth_engine')\n"
        f"pkg.__path__ = [{MODULE_UTILS!r}]\n"
        "sys.modules['berth_engine'] = pkg\n"
        "import berth_engine.engine.options.container as c\n"
        "assert c.CONTAINER_OPTIONS['privileged'].normalise(True) is True\n"
        "print(sorted(m for m in ('typing', 're', 'json', 'dataclasses', 'enum', 'inspect') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"

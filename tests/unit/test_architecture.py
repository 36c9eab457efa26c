# SPDX-License-Identifier: GPL-3.0-or-later
"""The import table of STYLE.md ("Who may import whom"), checked on every file under module_utils.

Dependencies point one way: modules -> glue -> engine.api -> engine.services -> components -> engine.core.
Every ``import``/``from ... import`` node is checked, including imports inside functions and under
``if t.TYPE_CHECKING:`` (AnsiballZ ships what a static import names, wherever it sits).

Two deliberate exceptions, both narrow:

* Under ``if t.TYPE_CHECKING:`` a component may name another component's *types*: that is how an
  injected dependency is annotated (``build`` gets ``runtime`` and ``store`` injected; the registry
  client is handed a ``DaemonConfig``).  Everything else (glue/cli/ansible) stays forbidden there too.
* glue and cli may import ``engine.core.events``: progress callbacks are part of the facade's
  signatures (``pull(..., on_event=events.ignore)``).

Components never import each other, except that ``supervisor`` (the conmon analogue) uses ``runtime`` (the
OCI runtime); never the reverse, not even for types. ``engine.api`` reaches containers only through
``engine.services``, never ``runtime`` or ``supervisor``.

Front doors (``FRONT_DOORS``): code outside ``runtime`` and ``supervisor`` imports the names their
``__init__`` lists in ``_EXPORTS`` (``from ..runtime import BerthRuntime``), never one of their modules
(``from ..runtime.oci import BerthRuntime``). Both packages form no import cycle.
"""
from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
import typing as t

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULE_UTILS = os.path.join(ROOT, "plugins", "module_utils")

COMPONENTS = ("store", "registry", "build", "runtime", "supervisor", "network", "volumes", "config")
#: Third-party libraries the engine may import (lazily); everything else must be standard library.
OPTIONAL_LIBRARIES = frozenset({"zstandard", "pyroute2", "requests"})
#: Never imported under module_utils: the same files run inside AnsiballZ and as ``berth_engine``.
FORBIDDEN_TOP = {
    "ansible": "module_utils must not import ansible (the module passes the AnsibleModule class in)",
    "ansible_collections": "module_utils must use relative imports, not ansible_collections.*",
    "berth_engine": "module_utils must use relative imports, not berth_engine.*",
    "plugins": "module_utils must use relative imports",
}
#: Packages whose files only they import; everyone else goes through the names of their __init__'s _EXPORTS.
FRONT_DOORS = ("runtime", "supervisor")
#: Modules of engine.core that are part of the facade's vocabulary.
FACADE_CORE = ("engine.core.events", "engine.core.timefmt")

#: ``_sha256`` up to Python 3.11, ``_sha2`` from 3.12 (core/fasthash.py tries both).
STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | {"__future__", "_sha2", "_sha256"}


def layer_of(module: str) -> str:
    """Dotted module path relative to module_utils -> layer name."""
    parts = module.split(".")
    if parts[0] in ("glue", "cli"):
        return parts[0]
    if parts[0] != "engine" or len(parts) == 1:
        return "root"
    second = parts[1]
    if second in ("api", "errors", "core", "options", "services"):
        return second
    if second in COMPONENTS:
        return "component:" + second
    return "engine-other"


def allowed(src: str, target: str, type_only: bool = False) -> str | None:
    """None when *src* may import *target* (both dotted, relative to module_utils); else the reason.

    *type_only*: the import sits under ``if TYPE_CHECKING:``.
    """
    s, d = layer_of(src), layer_of(target)
    if s == d:
        return None
    if s == "root":
        return None
    if d in ("glue", "cli") and s not in ("glue", "cli"):
        return f"the engine never imports {d}"
    if s in ("glue", "cli"):
        if d in ("api", "errors", "options") or target in FACADE_CORE:
            return None
        return f"{s} talks to the engine only through engine.api, engine.errors and engine.options, not {target}"
    if s == "errors":
        return "engine.errors imports only the standard library"
    if s == "core":
        return None if d == "errors" else f"engine.core imports only engine.core and engine.errors, not {target}"
    if s == "options":
        if d in ("core", "errors"):
            return None
        return f"engine.options imports only engine.core and engine.errors, not {target}"
    if s == "api" and d in ("component:runtime", "component:supervisor"):
        return f"engine.api reaches containers through engine.services, never {target}"
    if s.startswith("component:"):
        if d in ("core", "errors"):
            return None
        if d.startswith("component:"):
            if (s, d) == ("component:supervisor", "component:runtime"):
                return None
            if (s, d) == ("component:runtime", "component:supervisor"):
                return "runtime never imports supervisor: the supervisor uses the runtime, not the reverse"
            if type_only:
                return None
            return f"components never import each other ({s[10:]} -> {d[10:]}); inject the dependency"
        return f"components ({s[10:]}) never import {target}"
    if s == "services":
        if d == "api":
            return "engine.services never imports engine.api"
        return None
    return None


def _package_of(rel_path: str) -> tuple[str, str]:
    """``engine/store/images.py`` -> (module ``engine.store.images``, package ``engine.store``)."""
    no_ext = rel_path[:-3].replace(os.sep, "/")
    parts = no_ext.split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def imports(rel_path: str, source: str) -> t.Iterator[tuple[str, str, str | None, bool]]:
    """Every import of one file (path relative to module_utils), as (where, module name, target, type_only).

    *target* is the imported module relative to module_utils (``from ..engine.core import events`` names
    ``engine.core.events``), or None for an absolute import (*module name*) or one that escapes module_utils.
    """
    module, package = _package_of(rel_path)
    tree = ast.parse(source, rel_path)
    type_only_nodes = _type_checking_imports(tree)
    for node in ast.walk(tree):
        where = f"{rel_path}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield where, alias.name, None, False
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                yield where, node.module or "", None, False
                continue
            base = package.split(".") if package else []
            up = node.level - 1
            if up > len(base):
                yield where, "", None, False
                continue
            base = base[: len(base) - up]
            pkg = base + (node.module.split(".") if node.module else [])
            for target in sorted({_submodule_or_package(pkg, a.name) for a in node.names}):
                yield where, module, target, id(node) in type_only_nodes


def front_door(package: str) -> frozenset[str]:
    """The names ``engine/<package>/__init__.py`` exports (the keys of its ``_EXPORTS`` dict)."""
    path = os.path.join(MODULE_UTILS, "engine", package, "__init__.py")
    with open(path, encoding="utf-8") as fh:
        tree = ast.parse(fh.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(tg, "id", None) == "_EXPORTS" for tg in node.targets):
            return frozenset(ast.literal_eval(node.value))
    raise AssertionError(f"{path} has no _EXPORTS")


def front_door_violations(rel_path: str, source: str) -> list[str]:
    """Imports into ``runtime``/``supervisor`` from outside them that pass their front door by."""
    module, package = _package_of(rel_path)
    out = []
    for node in ast.walk(ast.parse(source, rel_path)):
        if not isinstance(node, ast.ImportFrom) or node.level == 0:
            continue
        base = package.split(".") if package else []
        if node.level - 1 > len(base):
            continue
        pkg = base[: len(base) - (node.level - 1)] + (node.module.split(".") if node.module else [])
        where = f"{rel_path}:{node.lineno}"
        for door in FRONT_DOORS:
            inside = module == f"engine.{door}" or module.startswith(f"engine.{door}.")
            if inside or pkg[:2] != ["engine", door]:
                continue
            if len(pkg) > 2:
                out.append(f"{where}: {module} -> {'.'.join(pkg)}: past the front door of engine.{door}; "
                           f"import its names from engine.{door}")
                continue
            unknown = sorted(a.name for a in node.names if a.name not in front_door(door))
            if unknown:
                out.append(f"{where}: {module} imports {', '.join(unknown)} from engine.{door}, which does not "
                           f"export them (its __init__'s _EXPORTS)")
    return out


def violations(rel_path: str, source: str) -> list[str]:
    """Every import-table violation in one file (path relative to module_utils)."""
    out = front_door_violations(rel_path, source)
    for where, module, target, type_only in imports(rel_path, source):
        if target is None:
            if not module:
                out.append(f"{where}: relative import escapes module_utils")
            else:
                out.extend(f"{where}: {msg}" for msg in _absolute(module))
            continue
        reason = allowed(module, target, type_only=type_only)
        if reason:
            out.append(f"{where}: {module} -> {target}: {reason}")
    return out


def import_cycle(sources: t.Mapping[str, str], prefix: str) -> list[str]:
    """One import cycle among the modules under *prefix* (``cli``), as the modules around it, else [].

    *sources* maps paths relative to module_utils to their text. Every import counts, wherever it sits
    (inside a function, under ``TYPE_CHECKING``): a lazy import still ties the two modules together.
    """
    graph: dict[str, set[str]] = {}
    for rel, source in sources.items():
        src = _package_of(rel)[0]
        if src == prefix or src.startswith(prefix + "."):
            graph.setdefault(src, set()).update(
                target for dummy, dummy2, target, dummy3 in imports(rel, source)
                if target is not None and target != src and target.startswith(prefix + "."))
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str]:
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return []
        for nxt in sorted(graph.get(node, ())):
            found = visit(nxt, path + [node])
            if found:
                return found
        done.add(node)
        return []

    for start in sorted(graph):
        cycle = visit(start, [])
        if cycle:
            return cycle
    return []


def _submodule_or_package(pkg: list[str], name: str) -> str:
    candidate = pkg + [name]
    path = os.path.join(MODULE_UTILS, *candidate)
    if os.path.isdir(path) or os.path.isfile(path + ".py") or not pkg:
        return ".".join(candidate)
    return ".".join(pkg)


def _type_checking_imports(tree: ast.AST) -> set[int]:
    """ids of import nodes inside ``if TYPE_CHECKING:`` / ``if t.TYPE_CHECKING:`` bodies."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", None)
            if name == "TYPE_CHECKING":
                for stmt in node.body:
                    for sub in ast.walk(stmt):
                        if isinstance(sub, (ast.Import, ast.ImportFrom)):
                            out.add(id(sub))
    return out


def _absolute(name: str) -> list[str]:
    top = name.split(".")[0]
    if top in FORBIDDEN_TOP:
        return [f"import {name}: {FORBIDDEN_TOP[top]}"]
    if top in STDLIB or top in OPTIONAL_LIBRARIES:
        return []
    return [f"import {name}: not standard library (the engine needs only the stdlib; optional: "
            f"{', '.join(sorted(OPTIONAL_LIBRARIES))})"]


def python_files() -> list[str]:
    out = []
    for dirpath, _dirs, files in os.walk(MODULE_UTILS):
        for f in files:
            if f.endswith(".py"):
                out.append(os.path.relpath(os.path.join(dirpath, f), MODULE_UTILS))
    return sorted(out)


# ------------------------------------------------------------------ the real tree
def test_tree_is_not_empty() -> None:
    files = python_files()
    assert "engine/api.py" in files or "engine/errors.py" in files
    assert len(files) > 5


def test_module_utils_follows_the_import_table() -> None:
    found: list[str] = []
    for rel in python_files():
        with open(os.path.join(MODULE_UTILS, rel), encoding="utf-8") as fh:
            found.extend(violations(rel, fh.read()))
    assert not found, "import table violations:\n" + "\n".join(found)


@pytest.mark.parametrize("package", FRONT_DOORS)
def test_front_doors_form_no_cycle(package: str) -> None:
    """monitor.py and monitor_ops.py once imported each other (through a module ``__getattr__``)."""
    sources = {}
    for rel in python_files():
        with open(os.path.join(MODULE_UTILS, rel), encoding="utf-8") as fh:
            sources[rel] = fh.read()
    assert import_cycle(sources, f"engine.{package}") == []


@pytest.mark.parametrize("package", FRONT_DOORS)
def test_front_door_names_resolve_and_import_nothing_up_front(package: str) -> None:
    """Every exported name is there; importing the package alone imports none of its modules (the monitor
    and the start path pay only for what they use)."""
    code = (
        "import importlib, sys\n"
        f"pkg = importlib.import_module('ansible_collections.berth.engine.plugins.module_utils.engine.{package}')\n"
        "print(' '.join(m for m in sys.modules if m.startswith(pkg.__name__ + '.')))\n"
        "for name in pkg.__all__:\n"
        "    getattr(pkg, name)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == []
    assert set(front_door(package)) == set(importlib.import_module(
        f"ansible_collections.berth.engine.plugins.module_utils.engine.{package}").__all__)


def test_cli_imports_form_no_cycle() -> None:
    """cli/: context and flags at the bottom, main.py at the top; a shared name goes down, never up."""
    sources = {}
    for rel in python_files():
        with open(os.path.join(MODULE_UTILS, rel), encoding="utf-8") as fh:
            sources[rel] = fh.read()
    assert "cli/main.py" in sources and "cli/commands/run.py" in sources
    assert import_cycle(sources, "cli") == []


@pytest.mark.skipif(not STDLIB - {"__future__"}, reason="sys.stdlib_module_names needs Python 3.10+")
def test_stdlib_list_is_available() -> None:
    assert {"os", "json", "ctypes"} <= STDLIB


# ------------------------------------------------------------------ the checker itself
@pytest.mark.parametrize(
    "path, source, needle",
    [
        ("engine/store/images.py", "from ...glue import runner\n", "never imports glue"),
        ("engine/api.py", "from ..cli.main import main\n", "never imports cli"),
        ("engine/store/images.py", "from ..registry.client import RegistryClient\n", "never import each other"),
        ("engine/build/builder.py", "from ..runtime import spec\n", "never import each other"),
        ("engine/store/images.py", "from ..services.images import ImageService\n", "never import engine.services"),
        ("engine/config/daemon.py", "from ..api import Engine\n", "never import engine.api"),
        ("engine/core/fs.py", "from ..store import blobs\n", "engine.core imports only"),
        ("engine/core/fs.py", "from .. import options\n", "engine.core imports only"),
        ("engine/errors.py", "from .core import fs\n", "only the standard library"),
        ("engine/services/images.py", "from ..api import Engine\n", "never imports engine.api"),
        ("glue/runner.py", "from ..engine.store.images import ImageStore\n", "only through engine.api"),
        ("glue/runner.py", "from ..engine.services import images\n", "only through engine.api"),
        ("cli/main.py", "from ..engine.runtime import init\n", "only through engine.api"),
        ("engine/options/image.py", "from ..registry import client\n", "engine.options imports only"),
        ("glue/runner.py", "from ansible.module_utils.basic import AnsibleModule\n", "must not import ansible"),
        ("engine/api.py", "import ansible_collections.berth.engine\n", "relative imports"),
        ("engine/api.py", "from berth_engine.engine import errors\n", "relative imports"),
        ("engine/registry/transport.py", "import yaml\n", "not standard library"),
        ("engine/core/fs.py", "from .... import x\n", "escapes module_utils"),
        ("engine/store/images.py", "def f():\n    from ..registry import auth\n", "never import each other"),
        ("engine/store/images.py", "import typing as t\nif t.TYPE_CHECKING:\n    from ...glue import runner\n",
         "never imports glue"),
        ("engine/core/fs.py", "import typing as t\nif t.TYPE_CHECKING:\n    from ..store import blobs\n",
         "engine.core imports only"),
        ("glue/runner.py", "from ..engine.core import layout\n", "only through engine.api"),
        ("engine/build/builder.py", "if True:\n    from ..runtime import spec\n", "never import each other"),
        # front doors, and who may use runtime and supervisor
        ("engine/services/containers.py", "from ..supervisor.lifecycle import ContainerState\n", "front door"),
        ("engine/services/containers.py", "def f():\n    from ..runtime.cgroups import detect\n", "front door"),
        ("engine/services/containers.py", "from ..runtime import oci\n", "does not export"),
        ("engine/supervisor/overlay.py", "from ..runtime.mountinfo import unescape\n", "front door"),
        ("engine/runtime/oci.py", "from ..supervisor import lifecycle\n", "not the reverse"),
        ("engine/runtime/oci.py", "if TYPE_CHECKING:\n    from ..supervisor import spec\n", "not the reverse"),
        ("engine/api.py", "from .supervisor import lifecycle\n", "through engine.services"),
        ("engine/api.py", "def f():\n    from .runtime import BerthRuntime\n", "through engine.services"),
    ],
)
def test_checker_finds_violations(path: str, source: str, needle: str) -> None:
    found = violations(path, source)
    assert found, f"no violation found for {source!r}"
    assert any(needle in v for v in found), found


@pytest.mark.parametrize(
    "path, source",
    [
        ("engine/store/images.py", "from ..core import fs\nfrom ..errors import StoreError\nfrom . import blobs\n"),
        ("engine/store/images.py", "from ..core.reference import ImageReference\nimport json, os\n"),
        ("engine/core/fs.py", "from ..errors import EngineError\nfrom .digest import Digest\n"),
        ("engine/services/images.py", "from ..store.images import ImageStore\nfrom ..registry import client\n"),
        ("engine/api.py", "from .services.images import ImageService\nfrom .config.daemon import DaemonConfig\n"),
        ("glue/runner.py", "from ..engine.api import Engine\nfrom ..engine.errors import EngineError\n"),
        ("glue/runner.py", "from ..engine.options.image import IMAGE_OPTIONS\nfrom .argspec import module_kwargs\n"),
        ("engine/options/image.py", "from ..core.reference import ImageReference\nfrom .model import Option\n"),
        ("engine/network/links.py", "def f():\n    import pyroute2\n"),
        ("engine/store/layers.py", "import zstandard\n"),
        ("engine/__init__.py", ""),
        ("engine/core/__init__.py", "from . import fs\n"),
        ("engine/build/builder.py", "import typing as t\nif t.TYPE_CHECKING:\n    from ..runtime import Syscalls\n"),
        ("engine/registry/client.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..config import daemon\n"),
        ("cli/render.py", "from ..engine.core import events\nfrom ..engine.core.events import Event\n"),
        ("engine/services/containers.py", "from ..supervisor import ContainerState, lifecycle\n"
                                          "from ..runtime import cgroup_manager\n"),
        ("engine/supervisor/spec.py", "from ..runtime import resolve_caps\n"),
        ("engine/supervisor/monitor.py", "from . import health\nfrom .fds import STATUS_FD\n"),
        ("engine/runtime/cgroups/v2.py", "from ..state import RuntimeState\nfrom . import base\n"),
    ],
)
def test_checker_accepts_allowed_imports(path: str, source: str) -> None:
    assert violations(path, source) == []


@pytest.mark.parametrize(
    "module, layer",
    [
        ("engine.store.images", "component:store"),
        ("engine.config.daemon", "component:config"),
        ("engine.api", "api"),
        ("engine.core.fs", "core"),
        ("glue.runner", "glue"),
        ("engine", "root"),
        ("", "root"),
    ],
)
def test_layer_of(module: str, layer: str) -> None:
    assert layer_of(module) == layer


@pytest.mark.parametrize(
    "sources, cycle",
    [
        # main -> parser -> main, through a lazy import inside a function
        ({"cli/main.py": "from . import parser\n", "cli/parser.py": "def f():\n    from .main import PROG\n"},
         ["cli.main", "cli.parser", "cli.main"]),
        # a command back to main, under TYPE_CHECKING
        ({"cli/main.py": "from .commands import run\n",
          "cli/commands/run.py": "if t.TYPE_CHECKING:\n    from ..main import Context\n"},
         ["cli.commands.run", "cli.main", "cli.commands.run"]),
        ({"cli/context.py": "from . import render\n", "cli/render.py": "from .flags import X\n",
          "cli/flags.py": "from .context import Y\n"},
         ["cli.context", "cli.render", "cli.flags", "cli.context"]),
        # a DAG, and imports that leave cli/
        ({"cli/main.py": "from . import context, flags, parser\nfrom ..engine.errors import EngineError\n",
          "cli/parser.py": "from .context import PROG\nfrom .flags import RUN_FLAGS\n",
          "cli/flags.py": "from .context import PROG\n", "cli/context.py": "import os\nfrom . import render\n",
          "glue/runner.py": "from ..cli import main\n"}, []),
    ],
)
def test_import_cycle_checker(sources: dict[str, str], cycle: list[str]) -> None:
    assert import_cycle(sources, "cli") == cycle


def test_front_doors_import_statically_every_module_they_hand_out() -> None:
    """AnsiballZ ships only what static imports reach: each front door's lazy names must also be imported
    (under TYPE_CHECKING) by the front door itself, or a task fails with ModuleNotFoundError on the target;
    the supervisor's also names the monitor and its jobs, which its boot code imports by name."""
    base = os.path.join(MODULE_UTILS, "engine")
    for package, extra in (("runtime", set()), ("supervisor", {"monitor", "monitor_jobs"})):
        path = os.path.join(base, package, "__init__.py")
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
        exports = next(ast.literal_eval(node.value) for node in tree.body
                       if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "_EXPORTS")
        wanted = {where.partition(":")[0] for where in exports.values()} | extra
        static = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                prefix = f"{node.module}." if node.module else ""
                static |= {prefix + alias.name for alias in node.names}
        assert sorted(wanted - static) == [], package

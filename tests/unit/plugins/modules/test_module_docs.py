# SPDX-License-Identifier: GPL-3.0-or-later
"""Module DOCUMENTATION says exactly what the option tables say, and modules stay thin.

The same cross-check validate-modules does (undocumented-parameter, doc-default-does-not-match-spec,
doc-type-does-not-match-spec, doc-choices-do-not-match-spec, doc-elements-mismatch), without
ansible-test: DOCUMENTATION is parsed with yaml, doc fragments are merged in, and the result is
compared with the argument_spec generated from the table.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import typing as t

import pytest
import yaml

from ansible_collections.berth.engine.plugins.module_utils.engine.options.container import (
    CONTAINER_EXEC_OPTIONS,
    CONTAINER_INFO_OPTIONS,
    CONTAINER_TASK_OPTIONS,
)
from ansible_collections.berth.engine.plugins.module_utils.engine.options.daemon import DAEMON_CONFIG_OPTIONS
from ansible_collections.berth.engine.plugins.module_utils.engine.options.image import (
    CONTAINER_COMMIT_OPTIONS,
    CONTAINER_EXPORT_OPTIONS,
    IMAGE_INFO_OPTIONS,
    IMAGE_OPTIONS,
)
from ansible_collections.berth.engine.plugins.module_utils.engine.options.registry import (
    REGISTRY_INFO_OPTIONS, REGISTRY_LOGIN_OPTIONS, REGISTRY_OPTIONS,
)
from ansible_collections.berth.engine.plugins.module_utils.engine.options.model import OptionTable
from ansible_collections.berth.engine.plugins.module_utils.engine.options.volume import (
    VOLUME_INFO_OPTIONS, VOLUME_OPTIONS,
)
from ansible_collections.berth.engine.plugins.module_utils.engine.options.network import (
    NETWORK_INFO_OPTIONS, NETWORK_OPTIONS,
)
from ansible_collections.berth.engine.plugins.module_utils.glue.argspec import argument_spec
from tests.support import REPO

MODULES_DIR = os.path.join(REPO, "plugins", "modules")
FRAGMENTS_DIR = os.path.join(REPO, "plugins", "doc_fragments")
COLLECTION = "berth.engine"

#: module name -> its option table.  A new module must be added here.
TABLES: dict[str, OptionTable] = {
    "image": IMAGE_OPTIONS,
    "image_info": IMAGE_INFO_OPTIONS,
    "container": CONTAINER_TASK_OPTIONS,
    "container_info": CONTAINER_INFO_OPTIONS,
    "container_exec": CONTAINER_EXEC_OPTIONS,
    "daemon_config": DAEMON_CONFIG_OPTIONS,
    "registry": REGISTRY_OPTIONS,
    "registry_info": REGISTRY_INFO_OPTIONS,
    "registry_login": REGISTRY_LOGIN_OPTIONS,
    "volume": VOLUME_OPTIONS,
    "volume_info": VOLUME_INFO_OPTIONS,
    "network": NETWORK_OPTIONS,
    "network_info": NETWORK_INFO_OPTIONS,
    "container_commit": CONTAINER_COMMIT_OPTIONS,
    "container_export": CONTAINER_EXPORT_OPTIONS,
}


def _string_constants(path: str, owner: str | None = None) -> dict[str, str]:
    """Top-level (or class *owner*) string assignments of a Python file, without importing it."""
    with open(path, encoding="utf-8") as fh:
        tree = ast.parse(fh.read(), path)
    body: list[ast.stmt] = tree.body
    if owner:
        body = next(n.body for n in tree.body if isinstance(n, ast.ClassDef) and n.name == owner)
    out = {}
    for node in body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = node.value.value
    return out


def _fragment(ref: str) -> dict[str, t.Any]:
    """``berth.engine.attributes.actiongroup_berth`` -> parsed YAML of that fragment variable."""
    if not ref.startswith(COLLECTION + "."):
        raise AssertionError(f"fragment {ref} is not from this collection")
    parts = ref[len(COLLECTION) + 1 :].split(".")
    name, var = parts[0], (parts[1].upper() if len(parts) > 1 else "DOCUMENTATION")
    consts = _string_constants(os.path.join(FRAGMENTS_DIR, name + ".py"), owner="ModuleDocFragment")
    return t.cast("dict[str, t.Any]", yaml.safe_load(consts[var]))


def merged_doc(module: str) -> dict[str, t.Any]:
    doc = yaml.safe_load(_string_constants(os.path.join(MODULES_DIR, module + ".py"))["DOCUMENTATION"])
    for ref in doc.get("extends_documentation_fragment", []):
        frag = _fragment(ref)
        for key in ("options", "attributes"):
            for name, value in (frag.get(key) or {}).items():
                mine = doc.setdefault(key, {}).get(name)
                doc[key][name] = dict(value, **mine) if isinstance(mine, dict) else value
    return t.cast("dict[str, t.Any]", doc)


def module_names() -> list[str]:
    return sorted(f[:-3] for f in os.listdir(MODULES_DIR) if f.endswith(".py") and not f.startswith("_"))


def _doc_as_spec(doc_opt: dict[str, t.Any]) -> dict[str, t.Any]:
    """The argument_spec entry a documented option stands for."""
    spec: dict[str, t.Any] = {"type": doc_opt.get("type", "str")}
    for key in ("elements", "default", "choices", "aliases"):
        if doc_opt.get(key) is not None:
            spec[key] = doc_opt[key]
    if doc_opt.get("required"):
        spec["required"] = True
    return spec


def test_every_module_has_a_table() -> None:
    assert module_names() == sorted(TABLES)


@pytest.mark.parametrize("module", sorted(TABLES))
def test_documentation_matches_option_table(module: str) -> None:
    doc = merged_doc(module)
    spec = argument_spec(TABLES[module])
    documented = doc.get("options") or {}
    assert sorted(documented) == sorted(spec), "documented options differ from the table"
    for name, entry in spec.items():
        want = {k: v for k, v in entry.items() if k != "no_log"}
        got = _doc_as_spec(documented[name])
        assert got == want, f"{module}: option {name}: documented {got}, table {want}"
        desc = documented[name].get("description")
        assert desc, f"{module}: option {name} has no description"


@pytest.mark.parametrize("module", sorted(TABLES))
def test_constraints_are_documented(module: str) -> None:
    """Every option a constraint names appears in the docs of the options concerned."""
    table = TABLES[module]
    documented = merged_doc(module)["options"]
    for key, value, needed in table.required_if:
        for name in needed:
            text = " ".join(documented[name]["description"])
            assert "Required" in text or "required" in text, f"{module}: {name} should say when it is required"
    for group in table.mutually_exclusive:
        for name in group:
            text = " ".join(documented[name]["description"])
            others = [o for o in group if o != name]
            assert any(o in text for o in others) or any(name in " ".join(documented[o]["description"]) for o in others)


@pytest.mark.parametrize("module", sorted(TABLES))
def test_attributes_and_action_group(module: str) -> None:
    doc = merged_doc(module)
    attrs = doc["attributes"]
    for name in ("check_mode", "diff_mode", "idempotent", "action_group"):
        assert name in attrs, f"{module}: attribute {name} missing"
        assert attrs[name].get("support") in ("full", "partial", "none", "N/A")
        assert attrs[name].get("description")
    assert attrs["action_group"]["membership"] == ["berth.engine.berth"]
    with open(os.path.join(REPO, "meta", "runtime.yml")) as fh:
        runtime = yaml.safe_load(fh)
    assert module in runtime["action_groups"]["berth"]


def test_action_group_lists_every_module_once() -> None:
    with open(os.path.join(REPO, "meta", "runtime.yml")) as fh:
        runtime = yaml.safe_load(fh)
    group = runtime["action_groups"]["berth"]
    assert sorted(group) == module_names()
    assert len(group) == len(set(group))


@pytest.mark.parametrize("module", sorted(TABLES))
def test_examples_and_return_parse(module: str) -> None:
    consts = _string_constants(os.path.join(MODULES_DIR, module + ".py"))
    examples = yaml.safe_load(consts["EXAMPLES"])
    assert isinstance(examples, list) and examples
    used = set()
    for task in examples:
        for key, value in task.items():
            if key == f"{COLLECTION}.{module}":
                used.update(value or {})
            for inner in task.get("tasks", []) if key == "tasks" else []:
                used.update(inner.get(f"{COLLECTION}.{module}") or {})
    unknown = used - set(TABLES[module].names())
    assert not unknown, f"{module} EXAMPLES use unknown options {unknown}"
    ret = yaml.safe_load(consts["RETURN"])
    for name, entry in ret.items():
        assert {"description", "returned", "type"} <= set(entry), f"{module}: RETURN {name} incomplete"


@pytest.mark.parametrize("module", module_names())
def test_module_file_is_docs_plus_short_main(module: str) -> None:
    """STYLE rule 1: DOCUMENTATION/EXAMPLES/RETURN, imports, main() of at most 15 lines, nothing else."""
    path = os.path.join(MODULES_DIR, module + ".py")
    with open(path, encoding="utf-8") as fh:
        source = fh.read()
    assert "# SPDX-License-Identifier: GPL-3.0-or-later" in source.splitlines()[:3]
    tree = ast.parse(source)
    order = [n.targets[0].id for n in tree.body if isinstance(n, ast.Assign)]  # type: ignore[attr-defined]
    assert order == ["DOCUMENTATION", "EXAMPLES", "RETURN"]
    funcs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert [f.name for f in funcs] == ["main"]
    main = funcs[0]
    assert main.end_lineno is not None and main.end_lineno - main.lineno + 1 <= 15
    allowed = ("ansible.module_utils.basic", "ansible_collections.berth.engine.plugins.module_utils.glue",
               "ansible_collections.berth.engine.plugins.module_utils.engine.options", "__future__")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.module and node.module.startswith(allowed), f"{module} imports {node.module}"
        elif isinstance(node, ast.Import):
            raise AssertionError(f"{module}: plain import {[a.name for a in node.names]}")


def test_ansible_doc_renders_every_module() -> None:
    """ansible-doc merges the fragments itself; its view must agree with the table too."""
    ansible_doc = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    if not os.path.exists(ansible_doc):
        pytest.skip("ansible-doc is not next to the test interpreter")
    names = [f"{COLLECTION}.{m}" for m in module_names()]
    proc = subprocess.run(
        [ansible_doc, "-t", "module", "--json", *names],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ERROR" not in proc.stderr and "WARNING" not in proc.stderr, proc.stderr
    data = json.loads(proc.stdout)
    for fq in names:
        module = fq.rsplit(".", 1)[1]
        doc = data[fq]["doc"]
        spec = argument_spec(TABLES[module])
        assert sorted(doc["options"]) == sorted(spec)
        for name, entry in spec.items():
            got = _doc_as_spec(doc["options"][name])
            assert got == {k: v for k, v in entry.items() if k != "no_log"}, f"{fq} {name}"
        assert data[fq]["examples"] and data[fq]["return"]

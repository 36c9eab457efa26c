# SPDX-License-Identifier: GPL-3.0-or-later
"""meta/runtime.yml's action group ``berth`` (``module_defaults: {group/berth.engine.berth: {data_root: ...}}``)
holds every module that takes the engine options, and those modules say so in their docs
(``berth.engine.attributes.actiongroup_berth``): a new module cannot be left out of module_defaults."""
from __future__ import annotations

import os

import yaml

from tests.support import REPO

MODULES = os.path.join(REPO, "plugins", "modules")


def _fragments(module: str) -> list[str]:
    import ast

    with open(os.path.join(MODULES, module + ".py"), encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DOCUMENTATION":
            return list(yaml.safe_load(node.value.value).get("extends_documentation_fragment") or [])  # type: ignore
    raise AssertionError(f"{module}: no DOCUMENTATION")


def test_every_engine_module_is_in_the_action_group() -> None:
    with open(os.path.join(REPO, "meta", "runtime.yml"), encoding="utf-8") as fh:
        group = set(yaml.safe_load(fh)["action_groups"]["berth"])
    modules = {n[:-3] for n in os.listdir(MODULES) if n.endswith(".py") and not n.startswith("_")}
    engine = {m for m in modules if "berth.engine.engine" in _fragments(m)}
    assert engine, "no module takes the engine options?"
    assert sorted(engine - group) == [], "add these to action_groups.berth in meta/runtime.yml"
    assert sorted(group - modules) == [], "meta/runtime.yml names modules that do not exist"
    undocumented = sorted(m for m in group if "berth.engine.attributes.actiongroup_berth" not in _fragments(m))
    assert undocumented == [], "extend berth.engine.attributes.actiongroup_berth in these modules' docs"

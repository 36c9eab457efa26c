# SPDX-License-Identifier: GPL-3.0-or-later
"""The daemon_config docs (module DOCUMENTATION, docs/docsite/rst/engine-config.rst) list the keys the engine
honours and the keys it only stores exactly as the table says (config/daemon.py SCHEMA and NOT_ACTED_ON): a
key that starts being acted on, or a new key, fails here until the docs say so."""
from __future__ import annotations

import os
import re

import yaml

from ansible_collections.berth.engine.plugins.module_utils.engine.config.daemon import NOT_ACTED_ON, SCHEMA
from tests.support import REPO
from tests.unit.plugins.modules.test_module_docs import _string_constants

HONOURED = sorted(set(SCHEMA) - set(NOT_ACTED_ON))
STORED = sorted(NOT_ACTED_ON)


def _keys(text: str) -> list[str]:
    return sorted(re.findall(r"(?:C\(|``)([a-z0-9-]+)(?:\)|``)", text))


def test_module_documentation_lists_the_table() -> None:
    path = os.path.join(REPO, "plugins", "modules", "daemon_config.py")
    doc = yaml.safe_load(_string_constants(path)["DOCUMENTATION"])
    honours = next(d for d in doc["description"] if d.startswith("The Berth engine honours these keys"))
    stores = next(d for d in doc["description"] if d.startswith("It accepts and stores these"))
    assert _keys(honours) == HONOURED
    assert _keys(stores.split("(")[0] + stores.split("):", 1)[1]) == STORED


def test_guide_lists_the_table() -> None:
    with open(os.path.join(REPO, "docs", "docsite", "rst", "engine-config.rst")) as fh:
        text = fh.read()
    honours = text.split("Keys the engine honours\n")[1].split("Keys it accepts")[0]
    stores = text.split("Keys it accepts and stores, but does not act on\n")[1].split("berth info")[0]
    assert _keys(honours) == HONOURED
    assert _keys(stores) == STORED

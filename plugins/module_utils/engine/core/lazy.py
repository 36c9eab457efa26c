# SPDX-License-Identifier: GPL-3.0-or-later
"""Import optional or heavy libraries only on the paths that need them."""
from __future__ import annotations

import importlib
import types

from ..errors import MissingDependency


def lazy_import(name: str, needed_for: str, hint: str = "") -> types.ModuleType:
    """Import *name* now, or raise :class:`MissingDependency` saying what needs it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingDependency(f"python module {name!r}", needed_for, hint or str(exc)) from None


def optional_import(name: str) -> types.ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None

# SPDX-License-Identifier: GPL-3.0-or-later
"""Import optional or heavy libraries only on the paths that need them."""
from __future__ import annotations

import importlib
import types

from ..errors import MissingDependency


def _import(name: str) -> types.ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        # The CLI runs with ``python3 -S`` (no site-packages: ~10 ms less per command); an optional
        # library installed there is found once site-packages are added.
        import sys

        if not sys.flags.no_site or "site" in sys.modules:
            raise
        import site

        site.main()
        return importlib.import_module(name)


def lazy_import(name: str, needed_for: str, hint: str = "") -> types.ModuleType:
    """Import *name* now, or raise :class:`MissingDependency` saying what needs it."""
    try:
        return _import(name)
    except ImportError as exc:
        raise MissingDependency(f"python module {name!r}", needed_for, hint or str(exc)) from None


def optional_import(name: str) -> types.ModuleType | None:
    try:
        return _import(name)
    except ImportError:
        return None

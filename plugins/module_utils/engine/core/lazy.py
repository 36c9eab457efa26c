# SPDX-License-Identifier: GPL-3.0-or-later
"""Import optional or heavy libraries only on the paths that need them.

:class:`Pattern` is a regular expression compiled on first use: ``import re`` costs ~10 ms on the 2-core
test hosts (``enum``, ``functools``, ``collections``...), and ``berth run`` never needs most patterns of
the modules it imports (the option normalisers, image references).
"""
from __future__ import annotations

from ..errors import MissingDependency

TYPE_CHECKING = False
if TYPE_CHECKING:
    import types
    import typing as t


def _import(name: str) -> types.ModuleType:
    import importlib

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


class Pattern:
    """``re.compile(pattern)``, compiled (and ``re`` imported) the first time a method is used: ``match``,
    ``fullmatch``, ``search``, ``sub``... (flags inline: ``(?i)``)."""

    __slots__ = ("pattern", "_compiled")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._compiled: t.Any = None

    def __getattr__(self, name: str) -> t.Any:
        if self._compiled is None:
            import re

            self._compiled = re.compile(self.pattern)
        return getattr(self._compiled, name)

    def __repr__(self) -> str:
        return f"Pattern({self.pattern!r})"

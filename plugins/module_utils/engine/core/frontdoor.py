# SPDX-License-Identifier: GPL-3.0-or-later
"""A package's front door with lazy names (PEP 562): ``__getattr__ = lazy_names(__name__, EXPORTS)``.

*EXPORTS* maps each public name to where it lives in the package: ``"module"`` (the same name there),
``"module:name"`` (another name there) or ``"module:"`` (the module itself). A name is imported on first
use and then kept in the package, so importing the package imports nothing: the container monitor
(``python3 -S -I``, one per container) and the start path load only the modules they use. Imports
nothing itself (``sys`` is built in).
"""
from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


def lazy_names(package: str, exports: dict[str, str]) -> t.Callable[[str], t.Any]:
    """The ``__getattr__`` of *package* (its ``__name__``) that serves *exports*."""

    def __getattr__(name: str) -> t.Any:
        where = exports.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, colon, attr = where.partition(":")
        __import__(f"{package}.{module}")
        value = sys.modules[f"{package}.{module}"]
        if not colon or attr:
            value = getattr(value, attr or name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__

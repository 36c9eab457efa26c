# SPDX-License-Identifier: GPL-3.0-or-later
"""Frozen value classes without ``dataclasses``.

:class:`FrozenValue` gives what ``@dataclass(frozen=True)`` makes (fields by position or keyword, with
defaults; ``==``, ``hash``, ``repr``; ``replace()`` for ``dataclasses.replace``). It is written by hand
because each dataclass costs ~0.8 ms to create when its module is imported, and the modules that use
this one are imported by every ``berth run`` and by each container's monitor workers.

A subclass names its fields in ``_fields`` (also its ``__slots__``) and their defaults in ``_defaults``;
``_convert`` may normalise the values (e.g. a string to an enum member) before they are set.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time
    import typing as t


class FrozenValue:
    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _defaults: dict[str, t.Any] = {}

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        if len(args) > len(self._fields):
            raise TypeError(f"{type(self).__name__}() takes {len(self._fields)} arguments, {len(args)} given")
        values = dict(zip(self._fields, args))
        for key, value in kwargs.items():
            if key not in self._fields:
                raise TypeError(f"{type(self).__name__} has no field {key!r}")
            if key in values:
                raise TypeError(f"{type(self).__name__}() got multiple values for field {key!r}")
            values[key] = value
        for name in self._fields:
            if name not in values:
                if name not in self._defaults:
                    raise TypeError(f"{type(self).__name__}() missing argument {name!r}")
                values[name] = self._defaults[name]
        self._convert(values)
        for name in self._fields:
            object.__setattr__(self, name, values[name])

    def _convert(self, values: dict[str, t.Any]) -> None:
        """Normalise *values* in place before they are set (nothing by default)."""

    def __setattr__(self, name: str, value: t.Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of a frozen {type(self).__name__}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of a frozen {type(self).__name__}")

    def _values(self) -> tuple[t.Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({inner})"

    def replace(self, **changes: t.Any) -> t.Any:
        """A copy with *changes* (``dataclasses.replace``); TypeError for an unknown field."""
        return type(self)(**{**dict(zip(self._fields, self._values())), **changes})

# SPDX-License-Identifier: GPL-3.0-or-later
"""The only comparator, and the Diff that feeds ``--diff`` and check mode.

``compare(mode, kind, desired, actual)`` answers "is the current state good
enough for what the user asked?" on *normalised* values (both sides already
parsed: sizes as ints, references canonical, ...).  It never mangles strings.

Modes:

* ``strict``: equal (sets and set(dict) ignore order, lists do not).
* ``ignore``: always good enough.
* ``allow_more_present``: the current state may hold more than desired:
  a list must contain the desired items in order (others may sit between),
  a set must be a superset, a dict must hold the desired keys with the
  desired values, a set(dict) must hold, for every desired dict, a dict with
  at least those keys and values.  For plain values it means ``strict``.

``desired is None`` means "not specified" and is always good enough.  An
``actual`` of ``None`` counts as empty for the collection kinds.
"""
from __future__ import annotations

from ..errors import InvalidOption
from .model import COMPARISON_TYPES, COMPARISONS

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time: ``berth run`` imports this (engine/runtime/__init__.py)
    import typing as t


def compare(mode: str, kind: str, desired: t.Any, actual: t.Any, field: str = "comparisons") -> bool:
    """True when *actual* satisfies *desired* under *mode* for values of *kind*."""
    if mode not in COMPARISONS:
        raise InvalidOption(field, mode, f"comparison mode must be one of {', '.join(COMPARISONS)}")
    if kind not in COMPARISON_TYPES:
        raise InvalidOption(field, kind, f"comparison type must be one of {', '.join(COMPARISON_TYPES)}")
    if mode == "ignore" or desired is None:
        return True
    if kind == "value":
        return bool(desired == actual)
    if actual is None:
        actual = {} if kind == "dict" else []
    if kind == "list":
        desired_l, actual_l = list(desired), list(actual)
        if mode == "strict":
            return desired_l == actual_l
        return _is_subsequence(desired_l, actual_l)
    if kind == "dict":
        if mode == "strict":
            return dict(desired) == dict(actual)
        return _dict_contains(actual, desired)
    if kind == "set":
        want, have = {_key(v) for v in desired}, {_key(v) for v in actual}
        return want == have if mode == "strict" else want <= have
    # set(dict)
    desired_d, actual_d = list(desired), list(actual)
    if mode == "strict":
        return {_key(v) for v in desired_d} == {_key(v) for v in actual_d}
    return all(any(_dict_contains(a, d) for a in actual_d) for d in desired_d)


def _is_subsequence(needle: list[t.Any], haystack: list[t.Any]) -> bool:
    it = iter(haystack)
    return all(any(h == n for h in it) for n in needle)


def _dict_contains(big: t.Mapping[str, t.Any], small: t.Mapping[str, t.Any]) -> bool:
    return all(k in big and big[k] == v for k, v in small.items())


def _key(value: t.Any) -> t.Any:
    """A hashable, order-insensitive stand-in for set membership."""
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, sort_keys=True, default=str)
    return value


def normalise(kind: str, value: t.Any) -> t.Any:
    """A stable display form: sets (and sets of dicts) sorted, dict keys sorted."""
    if value is None:
        return None
    if kind in ("set", "set(dict)"):
        import json

        return sorted(value, key=lambda v: json.dumps(v, sort_keys=True, default=str))
    if kind == "dict":
        return {k: value[k] for k in sorted(value)}
    if kind == "list":
        return list(value)
    return value


class Diff:
    """Before/after values of the parameters a task looked at.

    ``add()`` records one parameter; ``before``/``after`` render them as
    dicts (sets sorted, so the same state always gives the same diff).
    ``changed`` tells whether any recorded parameter differs.
    """

    def __init__(self) -> None:
        self._items: list[tuple[str, str, t.Any, t.Any]] = []

    def add(self, name: str, before: t.Any, after: t.Any, kind: str = "value") -> None:
        self._items = [item for item in self._items if item[0] != name]
        self._items.append((name, kind, before, after))

    @property
    def before(self) -> dict[str, t.Any]:
        return {name: normalise(kind, b) for name, kind, b, dummy in self._items}

    @property
    def after(self) -> dict[str, t.Any]:
        return {name: normalise(kind, a) for name, kind, dummy, a in self._items}

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def differences(self) -> list[str]:
        """Names of the parameters whose before and after differ."""
        b, a = self.before, self.after
        return [name for name, *dummy in self._items if b[name] != a[name]]

    def as_dict(self) -> dict[str, dict[str, t.Any]]:
        """The ``diff`` return value of a module."""
        return {"before": self.before, "after": self.after}

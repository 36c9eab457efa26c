# SPDX-License-Identifier: GPL-3.0-or-later
"""The desired-state vocabulary, declared once as data.

An :class:`Option` says what a user may write (name, kind, choices, default,
aliases) and how it is compared with the current state (``comparison`` mode
and ``comparison_type``).  An :class:`OptionTable` groups the options of one
task with the cross-option constraints Ansible understands (``required_if``,
``mutually_exclusive``...).  The Ansible ``argument_spec`` (glue/argspec.py),
the CLI flags and the comparator all read these records; nothing else declares
an option.

This module is pure: no Ansible, no engine state, no I/O.
"""
from __future__ import annotations

from ..core.value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing (nor dataclasses) at run time: ``berth run`` imports this (core/value.py)
    import typing as t

    Requirement = t.Tuple[str, t.Any, t.Tuple[str, ...]]

#: Value kinds, named after Ansible's argument types (``raw`` = anything).
KINDS = ("str", "int", "float", "bool", "path", "list", "dict", "raw")
#: Element kinds allowed for ``kind="list"``.
ELEMENT_KINDS = ("str", "int", "float", "bool", "path", "dict", "raw")
#: Comparison modes (see compare.py).
COMPARISONS = ("strict", "ignore", "allow_more_present")
#: How values are compared (see compare.py).
COMPARISON_TYPES = ("value", "list", "set", "set(dict)", "dict")

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "path": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list, tuple),
    "dict": (dict,),
}


class Option(Value):
    """One user-facing option (a frozen value: :class:`~..core.value.Value`).

    ``comparison`` defaults to ``strict`` for values and lists and to
    ``allow_more_present`` for sets and dicts (as community.docker does);
    ``comparison_type`` defaults from ``kind``: ``list`` -> ``list``,
    ``dict`` -> ``dict``, everything else -> ``value``.
    """

    __slots__ = _fields = ("name", "kind", "elements", "default", "choices", "aliases", "required", "no_log",
                           "comparison", "comparison_type", "doc", "cli")
    _defaults = {"kind": "str", "elements": None, "default": None, "choices": None, "aliases": (),
                 "required": False, "no_log": None, "comparison": None, "comparison_type": None, "doc": "",
                 "cli": None}

    name: str
    kind: str
    elements: str | None
    default: t.Any
    choices: tuple[t.Any, ...] | None
    aliases: tuple[str, ...]
    required: bool
    #: True for a secret; False says so explicitly (a name validate-modules takes for a secret, e.g. ``keys``)
    no_log: bool | None
    comparison: str | None
    comparison_type: str | None
    doc: str
    cli: str | None

    def __post_init__(self) -> None:
        problems = list(self._problems())
        if problems:
            raise ValueError(f"option {self.name!r}: " + "; ".join(problems))
        # Normalise sequences given as lists so the record stays immutable.
        if self.choices is not None and not isinstance(self.choices, tuple):
            object.__setattr__(self, "choices", tuple(self.choices))
        if not isinstance(self.aliases, tuple):
            object.__setattr__(self, "aliases", tuple(self.aliases))

    def _problems(self) -> t.Iterator[str]:
        if not self.name or not self.name.replace("_", "a").isalnum() or not self.name[0].isalpha():
            yield "name must be a lowercase identifier"
        if self.kind not in KINDS:
            yield f"kind {self.kind!r} is not one of {', '.join(KINDS)}"
        if self.kind == "list":
            if self.elements not in ELEMENT_KINDS:
                yield f"a list needs elements, one of {', '.join(ELEMENT_KINDS)}"
        elif self.elements is not None:
            yield "elements is only valid for kind 'list'"
        if self.required and self.default is not None:
            yield "a required option cannot have a default"
        if self.comparison is not None and self.comparison not in COMPARISONS:
            yield f"comparison {self.comparison!r} is not one of {', '.join(COMPARISONS)}"
        if self.comparison_type is not None and self.comparison_type not in COMPARISON_TYPES:
            yield f"comparison_type {self.comparison_type!r} is not one of {', '.join(COMPARISON_TYPES)}"
        if self.default is not None and self.kind in _PY_TYPES:
            if not _is_kind(self.default, self.kind):
                yield f"default {self.default!r} is not a {self.kind}"
        if self.choices is not None:
            if self.kind in ("list", "dict", "bool"):
                yield f"choices make no sense for kind {self.kind!r}"
            elif self.default is not None and self.default not in self.choices:
                yield f"default {self.default!r} is not among the choices"
        if self.name in self.aliases:
            yield "an option cannot alias itself"

    @property
    def compare_type(self) -> str:
        """The effective comparison type."""
        if self.comparison_type:
            return self.comparison_type
        return {"list": "list", "dict": "dict"}.get(self.kind, "value")

    @property
    def compare_mode(self) -> str:
        """The effective default comparison mode."""
        if self.comparison:
            return self.comparison
        return "allow_more_present" if self.compare_type in ("set", "set(dict)", "dict") else "strict"

    @property
    def cli_flag(self) -> str:
        """``--archive-path`` unless ``cli`` names another flag."""
        return self.cli or "--" + self.name.replace("_", "-")


def _is_kind(value: t.Any, kind: str) -> bool:
    if kind in ("int", "float") and isinstance(value, bool):
        return False
    return isinstance(value, _PY_TYPES[kind])


class OptionTable(Value):
    """The options of one task plus Ansible-style cross-option constraints.

    ``required_if`` entries are ``(option, value, (required options...))``;
    the other constraints are tuples of option-name tuples.  Every name must
    be an option of the table (checked at construction).
    """

    __slots__ = _fields = ("options", "required_if", "mutually_exclusive", "required_together", "required_one_of")
    _defaults = {"required_if": (), "mutually_exclusive": (), "required_together": (), "required_one_of": ()}
    options: tuple[Option, ...]
    required_if: tuple[Requirement, ...]
    mutually_exclusive: tuple[tuple[str, ...], ...]
    required_together: tuple[tuple[str, ...], ...]
    required_one_of: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for opt in self.options:
            for n in (opt.name,) + opt.aliases:
                if n in seen:
                    raise ValueError(f"option name or alias {n!r} is declared twice")
                seen.add(n)
        names = {o.name for o in self.options}
        referenced: list[str] = []
        for key, _value, needed in self.required_if:
            referenced.append(key)
            referenced.extend(needed)
        for group in self.mutually_exclusive + self.required_together + self.required_one_of:
            referenced.extend(group)
        unknown = sorted(set(referenced) - names)
        if unknown:
            raise ValueError(f"constraints name unknown options: {', '.join(unknown)}")

    def __iter__(self) -> t.Iterator[Option]:
        return iter(self.options)

    def __len__(self) -> int:
        return len(self.options)

    def __getitem__(self, name: str) -> Option:
        for opt in self.options:
            if opt.name == name:
                return opt
        raise KeyError(name)

    def names(self) -> list[str]:
        return [o.name for o in self.options]

    def defaults(self) -> dict[str, t.Any]:
        return {o.name: o.default for o in self.options}

    def extend(self, *more: Option) -> "OptionTable":
        """A copy with *more* options appended (constraints kept)."""
        return self.replace(options=self.options + tuple(more))

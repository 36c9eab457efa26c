# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible ``argument_spec`` and constraints generated from an option table.

Nothing else writes an argument_spec: validate-modules then compares the
module DOCUMENTATION with exactly what the table says.
"""
from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from ..engine.options.model import Option, OptionTable


def option_spec(opt: Option) -> dict[str, t.Any]:
    """One ``argument_spec`` entry."""
    spec: dict[str, t.Any] = {"type": opt.kind}
    if opt.elements:
        spec["elements"] = opt.elements
    if opt.required:
        spec["required"] = True
    if opt.default is not None:
        spec["default"] = opt.default
    if opt.choices is not None:
        spec["choices"] = list(opt.choices)
    if opt.aliases:
        spec["aliases"] = list(opt.aliases)
    if opt.no_log is not None:
        spec["no_log"] = opt.no_log
    return spec


def argument_spec(table: OptionTable) -> dict[str, dict[str, t.Any]]:
    return {opt.name: option_spec(opt) for opt in table}


def module_kwargs(table: OptionTable, supports_check_mode: bool = True) -> dict[str, t.Any]:
    """Keyword arguments for ``AnsibleModule(...)``."""
    kwargs: dict[str, t.Any] = {
        "argument_spec": argument_spec(table),
        "supports_check_mode": supports_check_mode,
    }
    if table.required_if:
        kwargs["required_if"] = [[key, value, list(needed)] for key, value, needed in table.required_if]
    for name in ("mutually_exclusive", "required_together", "required_one_of"):
        groups = getattr(table, name)
        if groups:
            kwargs[name] = [list(g) for g in groups]
    return kwargs

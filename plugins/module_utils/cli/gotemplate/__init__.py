# SPDX-License-Identifier: GPL-3.0-or-later
"""The Go ``text/template`` subset that ``--format`` and ``inspect -f`` accept, with docker's functions.

Actions: ``{{pipeline}}``, ``{{/* comment */}}``, ``{{- trim -}}`` markers, ``{{if}}`` / ``{{else if}}`` /
``{{else}}`` / ``{{end}}``, ``{{range}}`` (lists and maps, ``$i, $v :=``, ``{{else}}``, ``{{break}}``,
``{{continue}}``), ``{{with}}``, variables (``$x := …``, ``$x = …``, ``$``), pipelines (``a | b``),
parenthesised pipelines, string/number/bool/nil literals.

Functions: Go's ``and or not eq ne lt le gt ge len index slice print printf println`` and docker's
``json join split upper lower title pad truncate`` (docker/cli templates/templates.go ``basicFunctions``).
Values print as Go's ``fmt`` prints them (``[a b]``, ``map[k:v]``, ``<nil>``). Anything else raises
:class:`TemplateError` with a message in Go's words. Data are JSON-like values (dict, list, str, int,
float, bool, None); a missing field is an error, as for docker's structs.

Modules: ``values`` (printing, ``json``, truth, :class:`TemplateError`), ``funcs`` (the functions),
``parser`` (lexer and parser), ``execute`` (:func:`parse`, :func:`execute`, :func:`render`).

``values`` loads with the package; ``execute`` (with the parser, dataclasses and re: ~9 ms) when one of its
functions is first asked for, so that a command which prints no template (``cli/render.py`` imports the
package for its values) does not pay for the template engine (a fast-path module).
"""
from __future__ import annotations

import typing as t

from .values import TemplateError, go_json, go_quote, go_value, truth

if t.TYPE_CHECKING:
    from .execute import execute, parse, render


def __getattr__(name: str) -> t.Any:
    if name not in ("execute", "parse", "render"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .execute import execute as execute_, parse as parse_, render as render_

    # importing the submodule bound the name ``execute`` to it: bind the functions (once, for good)
    globals().update(execute=execute_, parse=parse_, render=render_)
    return globals()[name]


__all__ = ["TemplateError", "execute", "go_json", "go_quote", "go_value", "parse", "render", "truth"]

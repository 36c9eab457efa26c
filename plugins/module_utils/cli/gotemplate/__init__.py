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
"""
from __future__ import annotations

from .execute import execute, parse, render
from .values import TemplateError, go_json, go_quote, go_value, truth

__all__ = ["TemplateError", "execute", "go_json", "go_quote", "go_value", "parse", "render", "truth"]

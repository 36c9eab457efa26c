# SPDX-License-Identifier: GPL-3.0-or-later
"""Executing a parsed template on JSON-like data; :func:`parse`, :func:`execute`, :func:`render`."""
from __future__ import annotations

import typing as t

from .values import TemplateError, go_value, truth
from .funcs import ARITY, FUNCS, go_type
from .parser import Action, Branch, BreakLoop, Const, ContinueLoop, Field, Ident, Jump, Parser, Pipe, Text


class _Exec:
    def __init__(self, root: t.Any, out: list[str]) -> None:
        self.out = out
        self.vars: list[tuple[str, t.Any]] = [("$", root)]

    def run(self, nodes: list[t.Any], dot: t.Any) -> None:
        for node in nodes:
            if isinstance(node, Text):
                self.out.append(node.text)
            elif isinstance(node, Action):
                value = self.pipe(node.pipe, dot)
                if not node.pipe.decl:
                    self.out.append(go_value(value))
            elif isinstance(node, Branch):
                self.branch(node, dot)
            elif isinstance(node, Jump):
                raise BreakLoop() if node.kind == "break" else ContinueLoop()

    def _scoped(self, nodes: list[t.Any], dot: t.Any) -> None:
        mark = len(self.vars)
        try:
            self.run(nodes, dot)
        finally:
            del self.vars[mark:]

    def branch(self, node: Branch, dot: t.Any) -> None:
        mark = len(self.vars)
        try:
            if node.kind == "range":
                self._range(node, dot)
                return
            value = self.pipe(node.pipe, dot)
            if truth(value):
                self._scoped(node.body, value if node.kind == "with" else dot)
            else:
                self._scoped(node.orelse, dot)
        finally:
            del self.vars[mark:]

    def _range(self, node: Branch, dot: t.Any) -> None:
        decl = node.pipe.decl
        value = self.pipe(Pipe([], False, node.pipe.cmds), dot)
        if isinstance(value, dict):
            pairs: list[tuple[t.Any, t.Any]] = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, (list, tuple)):
            pairs = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            pairs = [(i, i) for i in range(value)]
        elif value is None:
            pairs = []
        else:
            raise TemplateError(f"range can't iterate over {go_value(value)}")
        if not pairs:
            self._scoped(node.orelse, dot)
            return
        for key, elem in pairs:
            mark = len(self.vars)
            if len(decl) == 1:
                self._set(decl[0], elem, node.pipe.assign)
            elif len(decl) == 2:
                self._set(decl[0], key, node.pipe.assign)
                self._set(decl[1], elem, node.pipe.assign)
            try:
                self.run(node.body, elem)
            except BreakLoop:
                break
            except ContinueLoop:
                continue
            finally:
                del self.vars[mark:]

    def _set(self, name: str, value: t.Any, assign: bool) -> None:
        if assign:
            for i in range(len(self.vars) - 1, -1, -1):
                if self.vars[i][0] == name:
                    self.vars[i] = (name, value)
                    return
            raise TemplateError(f'undefined variable "{name}"')
        self.vars.append((name, value))

    def _var(self, name: str) -> t.Any:
        for var, value in reversed(self.vars):
            if var == name:
                return value
        raise TemplateError(f'undefined variable "{name}"')

    def pipe(self, pipe: Pipe, dot: t.Any) -> t.Any:
        value: t.Any = None
        for i, cmd in enumerate(pipe.cmds):
            value = self.command(cmd, dot, (value,) if i else ())
        if pipe.decl:
            self._set(pipe.decl[0], value, pipe.assign)
        return value

    def command(self, cmd: list[t.Any], dot: t.Any, piped: tuple[t.Any, ...]) -> t.Any:
        first = cmd[0]
        if isinstance(first, Ident):
            return self._call(first.name, cmd[1:], dot, piped)
        if len(cmd) > 1 or piped:
            raise TemplateError(f"can't give argument to non-function {self._describe(first)}")
        return self.operand(first, dot)

    def _call(self, name: str, arg_nodes: list[t.Any], dot: t.Any, piped: tuple[t.Any, ...]) -> t.Any:
        if name in ("and", "or"):
            nodes: list[t.Any] = [*arg_nodes, *(Const(p) for p in piped)]
            if not nodes:
                raise TemplateError(f"wrong number of args for {name}: want at least 1 got 0")
            value = None
            for node in nodes:
                value = self.operand(node, dot)
                if truth(value) != (name == "and"):
                    return value
            return value
        args = [self.operand(a, dot) for a in arg_nodes] + list(piped)
        want = ARITY.get(name)
        if want is not None and len(args) != want:
            raise TemplateError(f"wrong number of args for {name}: want {want} got {len(args)}")
        if name in ("index", "slice", "eq", "printf") and not args:
            raise TemplateError(f"wrong number of args for {name}: want at least 1 got 0")
        try:
            return FUNCS[name](*args)
        except TemplateError:
            raise
        except (TypeError, ValueError) as exc:
            raise TemplateError(f"error calling {name}: {exc}") from None

    def operand(self, node: t.Any, dot: t.Any) -> t.Any:
        if isinstance(node, Const):
            return node.value
        if isinstance(node, Ident):
            return self._call(node.name, [], dot, ())
        if node.base is None:
            value = dot
        elif isinstance(node.base, Pipe):
            value = self.pipe(node.base, dot)
        else:
            value = self._var(node.base)
        for name in node.names:
            if isinstance(value, dict) and name in value:
                value = value[name]
            elif isinstance(value, dict) or value is None:
                raise TemplateError(f"can't evaluate field {name}")
            else:
                raise TemplateError(f"can't evaluate field {name} in type {go_type(value)}")
        return value

    @staticmethod
    def _describe(node: t.Any) -> str:
        if isinstance(node, Field) and node.base is None:
            return "." + ".".join(node.names)
        if isinstance(node, Const):
            return go_value(node.value)
        return "value"


def parse(template: str) -> list[t.Any]:
    """The parsed template (raises :class:`TemplateError` when it does not parse)."""
    return Parser(template).parse()


def execute(tree: list[t.Any], data: t.Any) -> str:
    out: list[str] = []
    try:
        _Exec(data, out).run(tree, data)
    except TemplateError as exc:
        raise TemplateError(f'template: :1: executing "" {exc}') from None
    return "".join(out)


def render(template: str, data: t.Any) -> str:
    return execute(parse(template), data)

# SPDX-License-Identifier: GPL-3.0-or-later
"""Lexing and parsing a template into its tree (text, actions, branches, pipelines)."""
from __future__ import annotations

import dataclasses
import json
import re
import typing as t

from .funcs import FUNCS
from .values import TemplateError


_TOKEN = re.compile(
    r"""(?P<space>\s+)
      |(?P<string>"(?:[^"\\]|\\.)*")
      |(?P<raw>`[^`]*`)
      |(?P<char>'(?:[^'\\]|\\.)+')
      |(?P<number>[+-]?(?:0[xX][0-9a-fA-F]+|\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?))
      |(?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
      |(?P<var>\$[A-Za-z0-9_]*)
      |(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
      |(?P<declare>:=)
      |(?P<punct>[=|(),])
    """,
    re.VERBOSE,
)


@dataclasses.dataclass
class Tok:
    kind: str
    text: str
    spaced: bool  # whitespace before it


def _lex_action(text: str, where: str) -> list[Tok]:
    out: list[Tok] = []
    pos = 0
    spaced = True
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise TemplateError(f"{where}: unexpected {text[pos]!r} in command")
        kind = m.lastgroup or ""
        if kind == "space":
            spaced = True
        else:
            out.append(Tok(kind, m.group(), spaced))
            spaced = False
        pos = m.end()
    return out


@dataclasses.dataclass
class Field:
    base: t.Any  # None: dot; "$name": a variable; a Pipe: a parenthesised pipeline
    names: list[str]


@dataclasses.dataclass
class Const:
    value: t.Any


@dataclasses.dataclass
class Ident:
    name: str


@dataclasses.dataclass
class Pipe:
    decl: list[str]
    assign: bool  # "=" rather than ":="
    cmds: list[list[t.Any]]  # each command: operands; a function name first when it is an Ident


@dataclasses.dataclass
class Text:
    text: str


@dataclasses.dataclass
class Action:
    pipe: Pipe


@dataclasses.dataclass
class Branch:
    kind: str  # if | with | range
    pipe: Pipe
    body: list[t.Any]
    orelse: list[t.Any]


@dataclasses.dataclass
class Jump:
    kind: str  # break | continue


class BreakLoop(Exception):
    pass


class ContinueLoop(Exception):
    pass


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_KEYWORDS = ("if", "else", "end", "range", "with", "break", "continue", "define", "template", "block")


class Parser:
    def __init__(self, template: str) -> None:
        self.template = template
        self.items: list[tuple[str, str, int]] = []  # ("text"|"action", text, line)
        pos = 0
        trim_next = False
        for m in _ACTION.finditer(template):
            text = template[pos:m.start()]
            if trim_next:
                text = text.lstrip(" \t\r\n")
            if m.group(1):
                text = text.rstrip(" \t\r\n")
            if text:
                self.items.append(("text", text, 0))
            line = template.count("\n", 0, m.start()) + 1
            self.items.append(("action", m.group(2), line))
            trim_next = bool(m.group(3))
            pos = m.end()
        text = template[pos:]
        if trim_next:
            text = text.lstrip(" \t\r\n")
        if "{{" in text:
            raise TemplateError(f"template: :{template.count(chr(10), 0, pos) + 1}: unclosed action")
        if text:
            self.items.append(("text", text, 0))
        self.i = 0
        self.loops = 0

    def parse(self) -> list[t.Any]:
        nodes, stop = self._list(())
        if stop is not None:
            raise TemplateError(f"template: :{stop[2]}: unexpected {{{{{stop[0]}}}}}")
        return nodes

    def _list(self, stops: tuple[str, ...]) -> tuple[list[t.Any], tuple[str, list[Tok], int] | None]:
        """Nodes up to one of the keywords in *stops* (returned with its remaining tokens), or the end."""
        nodes: list[t.Any] = []
        while self.i < len(self.items):
            kind, text, line = self.items[self.i]
            self.i += 1
            if kind == "text":
                nodes.append(Text(text))
                continue
            stripped = text.strip()
            if stripped.startswith("/*"):
                if not stripped.endswith("*/"):
                    raise TemplateError(f"template: :{line}: unclosed comment")
                continue
            where = f"template: :{line}"
            toks = _lex_action(text, where)
            if not toks:
                raise TemplateError(f"{where}: missing value for command")
            head = toks[0]
            word = head.text if head.kind == "ident" and head.text in _KEYWORDS else None
            if word in ("end", "else"):
                if word not in stops:
                    raise TemplateError(f"{where}: unexpected {{{{{word}}}}}")
                return nodes, (word, toks[1:], line)
            if word in ("if", "with", "range"):
                nodes.append(self._branch(word, toks[1:], line))
            elif word in ("break", "continue"):
                if not self.loops:
                    raise TemplateError(f"{where}: {{{{{word}}}}} outside {{{{range}}}}")
                if len(toks) > 1:
                    raise TemplateError(f"{where}: unexpected {toks[1].text!r} in {word}")
                nodes.append(Jump(word))
            elif word is not None:
                raise TemplateError(f"{where}: {{{{{word}}}}} is not supported")
            else:
                nodes.append(Action(PipeParser(toks, where).pipeline(allow_decl=True)))
        if stops:
            raise TemplateError(f"template: :{self._last_line()}: unexpected EOF")
        return nodes, None

    def _last_line(self) -> int:
        return self.template.count("\n") + 1

    def _branch(self, kind: str, toks: list[Tok], line: int) -> Branch:
        where = f"template: :{line}"
        if not toks:
            raise TemplateError(f"{where}: missing value for {kind}")
        pipe = PipeParser(toks, where).pipeline(allow_decl=True)
        if kind == "range":
            self.loops += 1
        body, stop = self._list(("end", "else"))
        if kind == "range":
            self.loops -= 1
        orelse: list[t.Any] = []
        if stop is None:  # _list returns only at one of its stop words (or raises)
            raise AssertionError("unterminated block")
        word, rest, sline = stop
        if word == "else":
            if rest and rest[0].kind == "ident" and rest[0].text in ("if", "with") and kind in ("if", "with"):
                # {{else if …}} / {{else with …}}: a nested branch that shares our {{end}}
                orelse = [self._branch(rest[0].text, rest[1:], sline)]
                return Branch(kind, pipe, body, orelse)
            if rest:
                raise TemplateError(f"template: :{sline}: unexpected {rest[0].text!r} in else")
            orelse, stop = self._list(("end",))
            if stop is None:
                raise AssertionError("unterminated else")
            word, rest, sline = stop
        if rest:
            raise TemplateError(f"template: :{sline}: unexpected {rest[0].text!r} in end")
        return Branch(kind, pipe, body, orelse)


class PipeParser:
    def __init__(self, toks: list[Tok], where: str) -> None:
        self.toks = toks
        self.i = 0
        self.where = where

    def _peek(self) -> Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def pipeline(self, allow_decl: bool, close: bool = False) -> Pipe:
        decl: list[str] = []
        assign = False
        if allow_decl:
            j = self.i
            names = []
            while j < len(self.toks) and self.toks[j].kind == "var":
                names.append(self.toks[j].text)
                if j + 1 < len(self.toks) and self.toks[j + 1].text == ",":
                    j += 2
                    continue
                j += 1
                break
            if names and j < len(self.toks) and self.toks[j].kind in ("declare", "punct") and \
                    self.toks[j].text in (":=", "="):
                if len(names) > 2:
                    raise TemplateError(f"{self.where}: too many declarations in command")
                decl, assign = names, self.toks[j].text == "="
                self.i = j + 1
        cmds: list[list[t.Any]] = []
        cmd: list[t.Any] = []
        while True:
            tok = self._peek()
            if tok is None or (close and tok.text == ")"):
                break
            if tok.text == "|":
                if not cmd:
                    raise TemplateError(f"{self.where}: missing command before '|'")
                cmds.append(cmd)
                cmd = []
                self.i += 1
                continue
            cmd.append(self._operand())
        if not cmd:
            raise TemplateError(f"{self.where}: missing value for command")
        cmds.append(cmd)
        if close:
            if self._peek() is None:
                raise TemplateError(f"{self.where}: unclosed left paren")
            self.i += 1
        return Pipe(decl, assign, cmds)

    def _operand(self) -> t.Any:
        tok = self.toks[self.i]
        self.i += 1
        if tok.kind == "field":
            node: t.Any = Field(None, [p for p in tok.text.split(".") if p])
        elif tok.kind == "var":
            node = Field(tok.text, [])
        elif tok.kind == "string":
            node = Const(_unquote(tok.text, self.where))
        elif tok.kind == "raw":
            node = Const(tok.text[1:-1])
        elif tok.kind == "char":
            node = Const(ord(_unquote('"' + tok.text[1:-1] + '"', self.where)))
        elif tok.kind == "number":
            node = Const(_number(tok.text, self.where))
        elif tok.kind == "ident":
            node = {"true": Const(True), "false": Const(False), "nil": Const(None)}.get(tok.text) or Ident(tok.text)
            if tok.text not in FUNCS and not isinstance(node, Const):
                raise TemplateError(f'{self.where}: function "{tok.text}" not defined')
        elif tok.text == "(":
            node = Field(self.pipeline(allow_decl=False, close=True), [])
        else:
            raise TemplateError(f"{self.where}: unexpected {tok.text!r} in operand")
        # a field chain written right after a variable or a ')' (no space): $x.A, (index . 0).B
        nxt = self._peek()
        if isinstance(node, Field) and nxt is not None and nxt.kind == "field" and not nxt.spaced and nxt.text != ".":
            node.names.extend(p for p in nxt.text.split(".") if p)
            self.i += 1
        return node


def _unquote(text: str, where: str) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        try:
            value = text[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
        except UnicodeDecodeError:
            raise TemplateError(f"{where}: bad string {text}") from None
    return str(value)


def _number(text: str, where: str) -> int | float:
    try:
        if text.lower().lstrip("+-").startswith("0x"):
            return int(text, 16)
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        return float(text)
    except ValueError:
        raise TemplateError(f"{where}: bad number syntax: {text!r}") from None

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
"""
from __future__ import annotations

import dataclasses
import json
import re
import typing as t


class TemplateError(ValueError):
    """A template that does not parse, or that fails on the data it is given."""


# --------------------------------------------------------------------------- values
def go_value(value: t.Any) -> str:
    """``fmt.Sprint(value)`` for JSON-like data."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_value(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def _go_float(value: float) -> str:
    """Go's ``%v`` for a float64: the shortest repr, exponent form from 1e21 (and below 1e-4)."""
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mant, exp = text.split("e")
        sign = exp[0] if exp[0] in "+-" else "+"
        digits = exp.lstrip("+-").rjust(2, "0")
        return f"{mant}e{sign}{digits}"
    return text


def go_json(obj: t.Any, indent: int | None = None) -> str:
    """JSON as Go's ``encoding/json`` writes it: compact, ``<>&`` escaped (callers sort map keys)."""
    if indent is None:
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    else:
        text = json.dumps(obj, indent=indent, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
               "\v": "\\v", "\\": "\\\\", '"': '\\"'}


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote``: double quotes, ``\\n``-style escapes, ``\\x``/``\\u`` for what is not printable."""
    out = ['"']
    for ch in text:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append("\\x%02x" % ord(ch))
        elif ord(ch) < 0x10000:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append("\\U%08x" % ord(ch))
    out.append('"')
    return "".join(out)


def truth(value: t.Any) -> bool:
    """text/template's ``truth``: false, 0, nil and empty strings, lists and maps are false."""
    if value is None:
        return False
    if isinstance(value, (bool, int, float, str, list, tuple, dict)):
        return bool(value)
    return True


# --------------------------------------------------------------------------- lexing
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
class _Tok:
    kind: str
    text: str
    spaced: bool  # whitespace before it


def _lex_action(text: str, where: str) -> list[_Tok]:
    out: list[_Tok] = []
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
            out.append(_Tok(kind, m.group(), spaced))
            spaced = False
        pos = m.end()
    return out


# --------------------------------------------------------------------------- tree
@dataclasses.dataclass
class _Field:
    base: t.Any  # None: dot; "$name": a variable; a _Pipe: a parenthesised pipeline
    names: list[str]


@dataclasses.dataclass
class _Const:
    value: t.Any


@dataclasses.dataclass
class _Ident:
    name: str


@dataclasses.dataclass
class _Pipe:
    decl: list[str]
    assign: bool  # "=" rather than ":="
    cmds: list[list[t.Any]]  # each command: operands; a function name first when it is an _Ident


@dataclasses.dataclass
class _Text:
    text: str


@dataclasses.dataclass
class _Action:
    pipe: _Pipe


@dataclasses.dataclass
class _Branch:
    kind: str  # if | with | range
    pipe: _Pipe
    body: list[t.Any]
    orelse: list[t.Any]


@dataclasses.dataclass
class _Jump:
    kind: str  # break | continue


class _BreakLoop(Exception):
    pass


class _ContinueLoop(Exception):
    pass


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_KEYWORDS = ("if", "else", "end", "range", "with", "break", "continue", "define", "template", "block")


class _Parser:
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

    def _list(self, stops: tuple[str, ...]) -> tuple[list[t.Any], tuple[str, list[_Tok], int] | None]:
        """Nodes up to one of the keywords in *stops* (returned with its remaining tokens), or the end."""
        nodes: list[t.Any] = []
        while self.i < len(self.items):
            kind, text, line = self.items[self.i]
            self.i += 1
            if kind == "text":
                nodes.append(_Text(text))
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
                nodes.append(_Jump(word))
            elif word is not None:
                raise TemplateError(f"{where}: {{{{{word}}}}} is not supported")
            else:
                nodes.append(_Action(_PipeParser(toks, where).pipeline(allow_decl=True)))
        if stops:
            raise TemplateError(f"template: :{self._last_line()}: unexpected EOF")
        return nodes, None

    def _last_line(self) -> int:
        return self.template.count("\n") + 1

    def _branch(self, kind: str, toks: list[_Tok], line: int) -> _Branch:
        where = f"template: :{line}"
        if not toks:
            raise TemplateError(f"{where}: missing value for {kind}")
        pipe = _PipeParser(toks, where).pipeline(allow_decl=True)
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
                return _Branch(kind, pipe, body, orelse)
            if rest:
                raise TemplateError(f"template: :{sline}: unexpected {rest[0].text!r} in else")
            orelse, stop = self._list(("end",))
            if stop is None:
                raise AssertionError("unterminated else")
            word, rest, sline = stop
        if rest:
            raise TemplateError(f"template: :{sline}: unexpected {rest[0].text!r} in end")
        return _Branch(kind, pipe, body, orelse)


class _PipeParser:
    def __init__(self, toks: list[_Tok], where: str) -> None:
        self.toks = toks
        self.i = 0
        self.where = where

    def _peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def pipeline(self, allow_decl: bool, close: bool = False) -> _Pipe:
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
        return _Pipe(decl, assign, cmds)

    def _operand(self) -> t.Any:
        tok = self.toks[self.i]
        self.i += 1
        if tok.kind == "field":
            node: t.Any = _Field(None, [p for p in tok.text.split(".") if p])
        elif tok.kind == "var":
            node = _Field(tok.text, [])
        elif tok.kind == "string":
            node = _Const(_unquote(tok.text, self.where))
        elif tok.kind == "raw":
            node = _Const(tok.text[1:-1])
        elif tok.kind == "char":
            node = _Const(ord(_unquote('"' + tok.text[1:-1] + '"', self.where)))
        elif tok.kind == "number":
            node = _Const(_number(tok.text, self.where))
        elif tok.kind == "ident":
            node = {"true": _Const(True), "false": _Const(False), "nil": _Const(None)}.get(tok.text) or _Ident(tok.text)
            if tok.text not in _FUNCS and not isinstance(node, _Const):
                raise TemplateError(f'{self.where}: function "{tok.text}" not defined')
        elif tok.text == "(":
            node = _Field(self.pipeline(allow_decl=False, close=True), [])
        else:
            raise TemplateError(f"{self.where}: unexpected {tok.text!r} in operand")
        # a field chain written right after a variable or a ')' (no space): $x.A, (index . 0).B
        nxt = self._peek()
        if isinstance(node, _Field) and nxt is not None and nxt.kind == "field" and not nxt.spaced and nxt.text != ".":
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


# --------------------------------------------------------------------------- functions
def _len(value: t.Any) -> int:
    if isinstance(value, (str, list, tuple, dict)):
        return len(value)
    raise TemplateError(f"error calling len: len of type {_go_type(value)}")


def _index(value: t.Any, *keys: t.Any) -> t.Any:
    for key in keys:
        if isinstance(value, dict):
            value = value.get(key)  # a missing key gives the zero value
        elif isinstance(value, (list, tuple, str)):
            if not isinstance(key, int) or isinstance(key, bool):
                raise TemplateError(f"error calling index: cannot index slice/array with type {_go_type(key)}")
            if not 0 <= key < len(value):
                raise TemplateError(f"error calling index: index out of range: {key}")
            value = value[key]
        elif value is None:
            raise TemplateError("error calling index: index of untyped nil")
        else:
            raise TemplateError(f"error calling index: can't index item of type {_go_type(value)}")
    return value


def _slice(value: t.Any, *bounds: t.Any) -> t.Any:
    if not isinstance(value, (str, list, tuple)):
        raise TemplateError(f"error calling slice: can't slice item of type {_go_type(value)}")
    if len(bounds) > 2:
        raise TemplateError("error calling slice: too many slice indexes")
    lo = bounds[0] if bounds else 0
    hi = bounds[1] if len(bounds) > 1 else len(value)
    if not 0 <= lo <= hi <= len(value):
        raise TemplateError(f"error calling slice: invalid slice index: {lo} > {hi}")
    return value[lo:hi]


def _go_type(value: t.Any) -> str:
    if value is None:
        return "<nil>"
    return {bool: "bool", int: "int", float: "float64", str: "string", list: "[]interface {}",
            tuple: "[]interface {}", dict: "map[string]interface {}"}.get(type(value), type(value).__name__)


def _comparable(a: t.Any, b: t.Any, fn: str) -> tuple[t.Any, t.Any]:
    num = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        if type(a) is not type(b):
            raise TemplateError(f"error calling {fn}: incompatible types for comparison")
        return a, b
    if isinstance(a, num) and isinstance(b, num):
        return a, b
    if isinstance(a, str) and isinstance(b, str):
        return a, b
    if a is None or b is None:
        if fn in ("eq", "ne"):
            return a, b
        raise TemplateError(f"error calling {fn}: invalid type for comparison")
    if isinstance(a, (list, dict)) or isinstance(b, (list, dict)):
        bad = a if isinstance(a, (list, dict)) else b
        raise TemplateError(f"error calling {fn}: non-comparable type {_go_type(bad)}")
    raise TemplateError(f"error calling {fn}: incompatible types for comparison")


def _eq(a: t.Any, *others: t.Any) -> bool:
    if not others:
        raise TemplateError("error calling eq: missing argument for comparison")
    for b in others:
        x, y = _comparable(a, b, "eq")
        if x == y:
            return True
    return False


def _ne(a: t.Any, b: t.Any) -> bool:
    x, y = _comparable(a, b, "ne")
    return bool(x != y)


def _ordered(fn: str) -> t.Callable[[t.Any, t.Any], bool]:
    import operator

    op = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}[fn]

    def compare(a: t.Any, b: t.Any) -> bool:
        x, y = _comparable(a, b, fn)
        if isinstance(x, bool):
            raise TemplateError(f"error calling {fn}: invalid type for comparison")
        return bool(op(x, y))

    return compare


def _sprint(*args: t.Any) -> str:
    """``fmt.Sprint``: a space between operands when neither side is a string."""
    out = []
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(go_value(arg))
    return "".join(out)


def _sprintln(*args: t.Any) -> str:
    return " ".join(go_value(a) for a in args) + "\n"


_VERB = re.compile(r"%([-+# 0]*)(\*|\d+)?(?:\.(\*|\d+))?([a-zA-Z%])")


def _sprintf(fmt: str, *args: t.Any) -> str:
    """``fmt.Sprintf`` for the verbs people use: %s %v %d %q %t %x %X %o %f %e %g %c %%."""
    if not isinstance(fmt, str):
        raise TemplateError(f"error calling printf: wrong type for value; expected string; got {_go_type(fmt)}")
    queue = list(args)
    out = []
    pos = 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        flags, width, prec, verb = m.groups()
        if verb == "%":
            out.append("%")
            continue
        if not queue:
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = queue.pop(0)
        out.append(_format_verb(flags, width, prec, verb, arg))
    out.append(fmt[pos:])
    if queue:
        out.append("%!(EXTRA " + ", ".join(f"{_go_type(a)}={go_value(a)}" for a in queue) + ")")
    return "".join(out)


def _format_verb(flags: str, width: str | None, prec: str | None, verb: str, arg: t.Any) -> str:
    spec = "%" + flags.replace("#", "") + (width or "") + (f".{prec}" if prec is not None else "")
    if verb in "sv":
        return (spec + "s") % go_value(arg)
    if verb == "q":
        return (spec + "s") % (go_quote(arg) if isinstance(arg, str) else go_value(arg))
    if verb == "t":
        return (spec + "s") % (go_value(arg) if isinstance(arg, bool) else f"%!t({_go_type(arg)}={go_value(arg)})")
    if verb in "dxXoc" and isinstance(arg, int) and not isinstance(arg, bool):
        return (spec + ("c" if verb == "c" else verb)) % arg
    if verb in "xX" and isinstance(arg, str):
        text = arg.encode().hex()
        return (spec + "s") % (text.upper() if verb == "X" else text)
    if verb in "feEgG" and isinstance(arg, (int, float)) and not isinstance(arg, bool):
        return (spec + verb) % arg
    return f"%!{verb}({_go_type(arg)}={go_value(arg)})"


def _strings(fn: str, *args: t.Any) -> None:
    for a in args:
        if not isinstance(a, str):
            raise TemplateError(f"error calling {fn}: wrong type for value; expected string; got {_go_type(a)}")


def _join(items: t.Any, sep: t.Any) -> str:
    if not isinstance(items, (list, tuple)) or not all(isinstance(x, str) for x in items):
        raise TemplateError(f"error calling join: wrong type for value; expected []string; got {_go_type(items)}")
    _strings("join", sep)
    return str(sep).join(items)


def _split(text: t.Any, sep: t.Any) -> list[str]:
    _strings("split", text, sep)
    if sep == "":
        return list(text)
    return str(text).split(sep)


def _one_string(fn: str, conv: t.Callable[[str], str]) -> t.Callable[[t.Any], str]:
    def call(text: t.Any) -> str:
        _strings(fn, text)
        return conv(text)

    return call


def _title(text: str) -> str:
    """Go's deprecated ``strings.Title``: upper-case the first letter of each word."""
    return re.sub(r"(^|[^\w'])(\w)", lambda m: m.group(1) + m.group(2).upper(), text)


def _pad(text: t.Any, prefix: t.Any, suffix: t.Any) -> str:
    _strings("pad", text)
    return " " * int(prefix) + text + " " * int(suffix)


def _truncate(text: t.Any, length: t.Any) -> str:
    _strings("truncate", text)
    return text[: int(length)] if len(text) > int(length) else text


def _not(value: t.Any) -> bool:
    return not truth(value)


_FUNCS: dict[str, t.Callable[..., t.Any]] = {
    # and/or are evaluated lazily in _call; listed so that the parser knows the names
    "and": lambda *a: a, "or": lambda *a: a,
    "not": _not, "eq": _eq, "ne": _ne, "lt": _ordered("lt"), "le": _ordered("le"), "gt": _ordered("gt"),
    "ge": _ordered("ge"), "len": _len, "index": _index, "slice": _slice,
    "print": _sprint, "printf": _sprintf, "println": _sprintln,
    "json": go_json, "join": _join, "split": _split,
    "upper": _one_string("upper", str.upper), "lower": _one_string("lower", str.lower),
    "title": _one_string("title", _title), "pad": _pad, "truncate": _truncate,
}
_ARITY = {"not": 1, "ne": 2, "lt": 2, "le": 2, "gt": 2, "ge": 2, "len": 1, "json": 1, "join": 2, "split": 2,
          "upper": 1, "lower": 1, "title": 1, "pad": 3, "truncate": 2}


# --------------------------------------------------------------------------- execution
class _Exec:
    def __init__(self, root: t.Any, out: list[str]) -> None:
        self.out = out
        self.vars: list[tuple[str, t.Any]] = [("$", root)]

    def run(self, nodes: list[t.Any], dot: t.Any) -> None:
        for node in nodes:
            if isinstance(node, _Text):
                self.out.append(node.text)
            elif isinstance(node, _Action):
                value = self.pipe(node.pipe, dot)
                if not node.pipe.decl:
                    self.out.append(go_value(value))
            elif isinstance(node, _Branch):
                self.branch(node, dot)
            elif isinstance(node, _Jump):
                raise _BreakLoop() if node.kind == "break" else _ContinueLoop()

    def _scoped(self, nodes: list[t.Any], dot: t.Any) -> None:
        mark = len(self.vars)
        try:
            self.run(nodes, dot)
        finally:
            del self.vars[mark:]

    def branch(self, node: _Branch, dot: t.Any) -> None:
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

    def _range(self, node: _Branch, dot: t.Any) -> None:
        decl = node.pipe.decl
        value = self.pipe(_Pipe([], False, node.pipe.cmds), dot)
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
            except _BreakLoop:
                break
            except _ContinueLoop:
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

    def pipe(self, pipe: _Pipe, dot: t.Any) -> t.Any:
        value: t.Any = None
        for i, cmd in enumerate(pipe.cmds):
            value = self.command(cmd, dot, (value,) if i else ())
        if pipe.decl:
            self._set(pipe.decl[0], value, pipe.assign)
        return value

    def command(self, cmd: list[t.Any], dot: t.Any, piped: tuple[t.Any, ...]) -> t.Any:
        first = cmd[0]
        if isinstance(first, _Ident):
            return self._call(first.name, cmd[1:], dot, piped)
        if len(cmd) > 1 or piped:
            raise TemplateError(f"can't give argument to non-function {self._describe(first)}")
        return self.operand(first, dot)

    def _call(self, name: str, arg_nodes: list[t.Any], dot: t.Any, piped: tuple[t.Any, ...]) -> t.Any:
        if name in ("and", "or"):
            nodes: list[t.Any] = [*arg_nodes, *(_Const(p) for p in piped)]
            if not nodes:
                raise TemplateError(f"wrong number of args for {name}: want at least 1 got 0")
            value = None
            for node in nodes:
                value = self.operand(node, dot)
                if truth(value) != (name == "and"):
                    return value
            return value
        args = [self.operand(a, dot) for a in arg_nodes] + list(piped)
        want = _ARITY.get(name)
        if want is not None and len(args) != want:
            raise TemplateError(f"wrong number of args for {name}: want {want} got {len(args)}")
        if name in ("index", "slice", "eq", "printf") and not args:
            raise TemplateError(f"wrong number of args for {name}: want at least 1 got 0")
        try:
            return _FUNCS[name](*args)
        except TemplateError:
            raise
        except (TypeError, ValueError) as exc:
            raise TemplateError(f"error calling {name}: {exc}") from None

    def operand(self, node: t.Any, dot: t.Any) -> t.Any:
        if isinstance(node, _Const):
            return node.value
        if isinstance(node, _Ident):
            return self._call(node.name, [], dot, ())
        if node.base is None:
            value = dot
        elif isinstance(node.base, _Pipe):
            value = self.pipe(node.base, dot)
        else:
            value = self._var(node.base)
        for name in node.names:
            if isinstance(value, dict) and name in value:
                value = value[name]
            elif isinstance(value, dict) or value is None:
                raise TemplateError(f"can't evaluate field {name}")
            else:
                raise TemplateError(f"can't evaluate field {name} in type {_go_type(value)}")
        return value

    @staticmethod
    def _describe(node: t.Any) -> str:
        if isinstance(node, _Field) and node.base is None:
            return "." + ".".join(node.names)
        if isinstance(node, _Const):
            return go_value(node.value)
        return "value"


def parse(template: str) -> list[t.Any]:
    """The parsed template (raises :class:`TemplateError` when it does not parse)."""
    return _Parser(template).parse()


def execute(tree: list[t.Any], data: t.Any) -> str:
    out: list[str] = []
    try:
        _Exec(data, out).run(tree, data)
    except TemplateError as exc:
        raise TemplateError(f'template: :1: executing "" {exc}') from None
    return "".join(out)


def render(template: str, data: t.Any) -> str:
    return execute(parse(template), data)

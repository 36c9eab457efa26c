# SPDX-License-Identifier: GPL-3.0-or-later
"""The functions a template may call: Go's builtins and docker's (docker/cli templates/templates.go)."""
from __future__ import annotations

import re
import typing as t

from .values import TemplateError, go_json, go_quote, go_value, truth


def _len(value: t.Any) -> int:
    if isinstance(value, (str, list, tuple, dict)):
        return len(value)
    raise TemplateError(f"error calling len: len of type {go_type(value)}")


def _index(value: t.Any, *keys: t.Any) -> t.Any:
    for key in keys:
        if isinstance(value, dict):
            value = value.get(key)  # a missing key gives the zero value
        elif isinstance(value, (list, tuple, str)):
            if not isinstance(key, int) or isinstance(key, bool):
                raise TemplateError(f"error calling index: cannot index slice/array with type {go_type(key)}")
            if not 0 <= key < len(value):
                raise TemplateError(f"error calling index: index out of range: {key}")
            value = value[key]
        elif value is None:
            raise TemplateError("error calling index: index of untyped nil")
        else:
            raise TemplateError(f"error calling index: can't index item of type {go_type(value)}")
    return value


def _slice(value: t.Any, *bounds: t.Any) -> t.Any:
    if not isinstance(value, (str, list, tuple)):
        raise TemplateError(f"error calling slice: can't slice item of type {go_type(value)}")
    if len(bounds) > 2:
        raise TemplateError("error calling slice: too many slice indexes")
    lo = bounds[0] if bounds else 0
    hi = bounds[1] if len(bounds) > 1 else len(value)
    if not 0 <= lo <= hi <= len(value):
        raise TemplateError(f"error calling slice: invalid slice index: {lo} > {hi}")
    return value[lo:hi]


def go_type(value: t.Any) -> str:
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
        raise TemplateError(f"error calling {fn}: non-comparable type {go_type(bad)}")
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
        raise TemplateError(f"error calling printf: wrong type for value; expected string; got {go_type(fmt)}")
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
        out.append("%!(EXTRA " + ", ".join(f"{go_type(a)}={go_value(a)}" for a in queue) + ")")
    return "".join(out)


def _format_verb(flags: str, width: str | None, prec: str | None, verb: str, arg: t.Any) -> str:
    spec = "%" + flags.replace("#", "") + (width or "") + (f".{prec}" if prec is not None else "")
    if verb in "sv":
        return (spec + "s") % go_value(arg)
    if verb == "q":
        return (spec + "s") % (go_quote(arg) if isinstance(arg, str) else go_value(arg))
    if verb == "t":
        return (spec + "s") % (go_value(arg) if isinstance(arg, bool) else f"%!t({go_type(arg)}={go_value(arg)})")
    if verb in "dxXoc" and isinstance(arg, int) and not isinstance(arg, bool):
        return (spec + ("c" if verb == "c" else verb)) % arg
    if verb in "xX" and isinstance(arg, str):
        text = arg.encode().hex()
        return (spec + "s") % (text.upper() if verb == "X" else text)
    if verb in "feEgG" and isinstance(arg, (int, float)) and not isinstance(arg, bool):
        return (spec + verb) % arg
    return f"%!{verb}({go_type(arg)}={go_value(arg)})"


def _strings(fn: str, *args: t.Any) -> None:
    for a in args:
        if not isinstance(a, str):
            raise TemplateError(f"error calling {fn}: wrong type for value; expected string; got {go_type(a)}")


def _join(items: t.Any, sep: t.Any) -> str:
    if not isinstance(items, (list, tuple)) or not all(isinstance(x, str) for x in items):
        raise TemplateError(f"error calling join: wrong type for value; expected []string; got {go_type(items)}")
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


FUNCS: dict[str, t.Callable[..., t.Any]] = {
    # and/or are evaluated lazily in _call; listed so that the parser knows the names
    "and": lambda *a: a, "or": lambda *a: a,
    "not": _not, "eq": _eq, "ne": _ne, "lt": _ordered("lt"), "le": _ordered("le"), "gt": _ordered("gt"),
    "ge": _ordered("ge"), "len": _len, "index": _index, "slice": _slice,
    "print": _sprint, "printf": _sprintf, "println": _sprintln,
    "json": go_json, "join": _join, "split": _split,
    "upper": _one_string("upper", str.upper), "lower": _one_string("lower", str.lower),
    "title": _one_string("title", _title), "pad": _pad, "truncate": _truncate,
}
ARITY = {"not": 1, "ne": 2, "lt": 2, "le": 2, "gt": 2, "ge": 2, "len": 1, "json": 1, "join": 2, "split": 2,
         "upper": 1, "lower": 1, "title": 1, "pad": 3, "truncate": 2}

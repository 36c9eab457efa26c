# SPDX-License-Identifier: GPL-3.0-or-later
"""JSON through the C scanner and encoder of ``_json``, without ``import json``.

``json`` imports ``re`` (and with it ``enum``, ``functools``...): ~10 ms on the 2-core test hosts, on
every ``berth run`` and in every container start. :func:`loads` and :func:`dumps` give ``json.loads``'s
result and ``json.dumps(obj, sort_keys=True)``'s text; a document the C scanner cannot read whole (an
error, a BOM) goes to ``json.loads``, which also gives the precise error.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


class _Ctx:
    """The attributes ``_json.make_scanner`` reads from a ``json.JSONDecoder`` (its defaults)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # NaN, Infinity, -Infinity
    memo: dict = {}


_scanner: t.Any = None
_encoder: t.Any = None
_WS = " \t\n\r"


def loads(data: str | bytes | bytearray) -> t.Any:
    """``json.loads(data)``."""
    global _scanner
    text = data
    try:
        if not isinstance(text, str):
            text = bytes(text).decode("utf-8")
        if _scanner is None:
            import _json

            _scanner = _json.make_scanner(_Ctx())
        end = len(text)
        i = 0
        while i < end and text[i] in _WS:
            i += 1
        obj, i = _scanner(text, i)
        while i < end and text[i] in _WS:
            i += 1
        if i == end:
            return obj
    except (ImportError, StopIteration, AttributeError, TypeError, UnicodeDecodeError):
        pass
    import json  # the slow path: other encodings, BOMs, errors

    return json.loads(data)


def dumps(obj: t.Any) -> str:
    """``json.dumps(obj, sort_keys=True)`` (ASCII, ``", "`` and ``": "`` separators)."""
    global _encoder
    try:
        if _encoder is None:
            import _json

            _encoder = _json.make_encoder(None, None, _json.encode_basestring_ascii, None, ": ", ", ",
                                          True, False, True)
        return "".join(_encoder(obj, 0))
    except (ImportError, AttributeError, TypeError, ValueError):
        import json

        return json.dumps(obj, sort_keys=True)

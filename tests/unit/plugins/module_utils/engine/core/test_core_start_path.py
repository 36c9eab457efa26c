# SPDX-License-Identifier: GPL-3.0-or-later
"""What the start path uses instead of dataclasses, json and re: core.value.Value, core.cjson, core.lazy.Pattern,
and the image reference checks that try plain string tests before their patterns."""
from __future__ import annotations

import copy
import json
import math
import pickle
import re
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.core import cjson, reference
from ansible_collections.berth.engine.plugins.module_utils.engine.core.lazy import Pattern
from ansible_collections.berth.engine.plugins.module_utils.engine.core.value import Value


class Point(Value):
    __slots__ = _fields = ("x", "y")
    _defaults = {"y": 0}


class Point3(Point):
    __slots__ = ("z",)
    _fields = Point._fields + __slots__
    _defaults = {**Point._defaults, "z": 9}

    def __post_init__(self) -> None:
        if self.x < 0:
            raise ValueError("x must not be negative")
        object.__setattr__(self, "y", int(self.y))


# ------------------------------------------------------------------ Value: a frozen dataclass's API
def test_value_fields_defaults_eq_hash_repr() -> None:
    p = Point(1)
    assert (p.x, p.y) == (1, 0) and p == Point(x=1, y=0) and p != Point(1, 2)
    assert hash(p) == hash(Point(1, 0)) and repr(p) == "Point(x=1, y=0)"
    assert p != (1, 0) and Point3(1, 0) != Point(1, 0)  # another class is never equal
    assert p.replace(y=5) == Point(1, 5) and p == Point(1)
    with pytest.raises(AttributeError, match="frozen"):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError, match="frozen"):
        del p.x
    with pytest.raises(AttributeError):
        p.other = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("args, kwargs, needle", [
    ((), {}, "missing argument 'x'"),
    ((1, 2, 3), {}, "takes 2 arguments, 3 given"),
    ((1,), {"x": 2}, "multiple values for field 'x'"),
    ((1,), {"bogus": 2}, "has no field 'bogus'"),
])
def test_value_refuses_bad_arguments(args: tuple, kwargs: dict, needle: str) -> None:
    with pytest.raises(TypeError, match=re.escape(needle)):
        Point(*args, **kwargs)
    with pytest.raises(TypeError):
        Point(1).replace(bogus=1)


def test_value_subclass_adds_fields_and_post_init() -> None:
    p = Point3(1, "2")
    assert (p.x, p.y, p.z) == (1, 2, 9) and repr(p) == "Point3(x=1, y=2, z=9)"
    with pytest.raises(ValueError, match="negative"):
        Point3(-1)
    with pytest.raises(ValueError, match="negative"):
        p.replace(x=-1)


def test_value_pickles_and_copies() -> None:
    p = Point3(1, 2, [3])
    assert pickle.loads(pickle.dumps(p)) == p
    assert copy.copy(p) == p and copy.deepcopy(p) == p and copy.deepcopy(p).z is not p.z


# ------------------------------------------------------------------ cjson: json's results without json
@pytest.mark.parametrize("text", [
    '{"b": 1, "a": [1, 2.5, null, true, false, "\\u00e9\\u2603", {"x": {}}]}', "[]", '"plain"', "NaN",
    ' \n {"pid": 12345, "big": 18446744073709551615, "neg": -3}\n',
])
def test_cjson_loads_like_json(text: str) -> None:
    want = json.loads(text)
    for data in (text, text.encode(), bytearray(text.encode())):
        got = cjson.loads(data)
        assert got == want or (isinstance(got, float) and math.isnan(got) and math.isnan(want))


@pytest.mark.parametrize("data", [b"\xef\xbb\xbf{\"a\": 1}", '{"a": 1}'.encode("utf-16")])
def test_cjson_leaves_other_encodings_to_json(data: bytes) -> None:
    assert cjson.loads(data) == json.loads(data) == {"a": 1}


@pytest.mark.parametrize("text", ["{", '{"a": 1} trailing', "", "\ufeff{}"])
def test_cjson_errors_are_json_errors(text: str) -> None:
    with pytest.raises(ValueError) as want:
        json.loads(text)
    with pytest.raises(ValueError) as got:
        cjson.loads(text)
    assert str(got.value) == str(want.value)


def test_cjson_dumps_like_json_sorted() -> None:
    obj = {"b": [1, 2.5, None, True], "a": "é", "c": {"z": 1, "y": {}}}
    assert cjson.dumps(obj) == json.dumps(obj, sort_keys=True)


# ------------------------------------------------------------------ Pattern: compiled on first use
def test_pattern_compiles_on_first_use() -> None:
    p = Pattern(r"(?i)^a+$")
    assert p._compiled is None and "Pattern('(?i)^a+$')" == repr(p)
    assert p.match("AaA") and not p.fullmatch("ab") and p._compiled is not None


# ------------------------------------------------------------------ reference checks == their patterns
_COMPONENT = r"^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$"
_DC = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = r"^(?:" + _DC + r"(?:\." + _DC + r")*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$"
_TAG = r"^[\w][\w.-]{0,127}$"
_DIGEST = r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$"
_SHA256 = r"^sha256:[0-9a-f]{64}$"
_HEX_ID = r"^[0-9a-f]{1,64}$"
HEX = "0123456789abcdef" * 4
SAMPLES = [
    "", "a", "A", "-", "_", ".", "busybox", "hello-world", "a--b", "a-", "-a", "a.b", "a__b", "a___b", "a_.b",
    "Busy", "docker.io", "my-registry.example.com", "localhost:5000", "host:", "host:5x", ":5000", "a..b",
    "[::1]:5000", "[::1]", "x-.y", "1.36", "v1.0-rc_1", ".hidden", "é", "tag\n", "a" * 128, "a" * 129,
    HEX, HEX + "\n", HEX + "0", HEX[:12], "ABC", "sha256:" + HEX, "sha256:" + HEX + "\n", "sha256:" + HEX[:-1],
    "sha512:" + HEX + HEX, "sha256:" + HEX.upper(), "md5:" + "a" * 31,
]


@pytest.mark.parametrize("value", SAMPLES)
def test_reference_checks_agree_with_the_patterns(value: str) -> None:
    assert reference._is_component(value) == bool(re.match(_COMPONENT, value))
    assert reference._is_domain(value) == bool(re.match(_DOMAIN, value))
    assert reference._is_tag(value) == bool(re.match(_TAG, value))
    assert reference._is_digest(value) == bool(re.match(_DIGEST, value))
    assert reference._is_sha256(value) == bool(re.match(_SHA256, value))
    assert reference.is_full_id(value) == bool(re.match(_SHA256, value))
    assert reference.looks_like_id(value) == bool(re.match(_SHA256, value) or re.match(_HEX_ID, value))


def test_everyday_references_need_no_re(monkeypatch: t.Any) -> None:
    def refuse(self: Pattern, name: str) -> t.Any:
        raise AssertionError(f"{self.pattern} was compiled")

    monkeypatch.setattr(Pattern, "__getattr__", refuse)
    for name in ("busybox", "bench/bb:1", "my-registry.example.com:5000/team/app:1.36", f"busybox@sha256:{HEX}"):
        reference.ImageReference.parse(name)
        assert not reference.looks_like_id(name)


# ------------------------------------------------------------------ fs.rmtree without shutil
def test_rmtree_removes_without_following_links(tmp_path: t.Any) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.engine.core import fs

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "f").write_text("1")
    (tree / "top").write_text("2")
    (tree / "a" / "to-outside").symlink_to(outside)
    (tree / "dangling").symlink_to(tmp_path / "nowhere")
    fs.rmtree(str(tree))
    assert not tree.exists() and (outside / "keep").read_text() == "x"
    fs.rmtree(str(tree))  # missing: fine
    link = tmp_path / "link"
    link.symlink_to(outside)
    fs.rmtree(str(link))  # a link is removed, not what it points to
    assert not link.exists() and (outside / "keep").exists()

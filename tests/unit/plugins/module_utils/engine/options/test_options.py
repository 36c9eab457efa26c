# SPDX-License-Identifier: GPL-3.0-or-later
"""The option model, the comparator, the Diff and the argument_spec generated from the tables."""
from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.errors import InvalidOption, InvalidReference
from ansible_collections.berth.engine.plugins.module_utils.engine.options import image as image_opts
from ansible_collections.berth.engine.plugins.module_utils.engine.options.common import (
    ENGINE_OPTIONS,
    engine_kwargs,
)
from ansible_collections.berth.engine.plugins.module_utils.engine.options.compare import Diff, compare, normalise
from ansible_collections.berth.engine.plugins.module_utils.engine.options.model import Option, OptionTable
from ansible_collections.berth.engine.plugins.module_utils.glue.argspec import argument_spec, module_kwargs

ID = "sha256:" + "a" * 64

# ------------------------------------------------------------------ compare
# (mode, kind, desired, actual, expected)
COMPARE_TABLE = [
    # ignore: anything goes
    ("ignore", "value", 1, 2, True),
    ("ignore", "list", [1], [2], True),
    ("ignore", "dict", {"a": 1}, {}, True),
    # not specified: always good enough
    ("strict", "value", None, 5, True),
    ("strict", "set", None, [1], True),
    ("strict", "dict", None, {"a": 1}, True),
    # values
    ("strict", "value", "a", "a", True),
    ("strict", "value", "a", "b", False),
    ("strict", "value", 1, None, False),
    ("strict", "value", False, None, False),
    ("allow_more_present", "value", "a", "b", False),
    ("allow_more_present", "value", 3, 3, True),
    # lists: order matters
    ("strict", "list", [1, 2], [1, 2], True),
    ("strict", "list", [1, 2], [2, 1], False),
    ("strict", "list", [1], [1, 2], False),
    ("strict", "list", [], None, True),
    ("strict", "list", [1], None, False),
    ("allow_more_present", "list", [1, 3], [1, 2, 3], True),
    ("allow_more_present", "list", [3, 1], [1, 2, 3], False),
    ("allow_more_present", "list", [1, 1], [1, 2], False),
    ("allow_more_present", "list", [1, 1], [1, 2, 1], True),
    ("allow_more_present", "list", [], [1], True),
    # sets: order never matters
    ("strict", "set", [1, 2], [2, 1], True),
    ("strict", "set", [1, 2], [1, 2, 3], False),
    ("strict", "set", [1, 2, 2], [2, 1], True),
    ("strict", "set", [], None, True),
    ("strict", "set", [1], None, False),
    ("allow_more_present", "set", [1, 2], [3, 2, 1], True),
    ("allow_more_present", "set", [1, 4], [3, 2, 1], False),
    ("allow_more_present", "set", [[1, 2]], [[1, 2], [3]], True),
    # dicts
    ("strict", "dict", {"a": 1}, {"a": 1}, True),
    ("strict", "dict", {"a": 1}, {"a": 1, "b": 2}, False),
    ("strict", "dict", {"a": 1}, {"a": 2}, False),
    ("strict", "dict", {}, None, True),
    ("allow_more_present", "dict", {"a": 1}, {"a": 1, "b": 2}, True),
    ("allow_more_present", "dict", {"a": 1}, {"a": 2, "b": 2}, False),
    ("allow_more_present", "dict", {"c": 1}, {"a": 1}, False),
    ("allow_more_present", "dict", {"a": None}, {}, False),
    ("allow_more_present", "dict", {}, None, True),
    # set(dict)
    ("strict", "set(dict)", [{"a": 1}, {"b": 2}], [{"b": 2}, {"a": 1}], True),
    ("strict", "set(dict)", [{"a": 1}], [{"a": 1, "x": 0}], False),
    ("strict", "set(dict)", [{"a": 1}], [{"a": 1}, {"b": 2}], False),
    ("strict", "set(dict)", [{"a": 1, "b": 2}], [{"b": 2, "a": 1}], True),
    ("allow_more_present", "set(dict)", [{"a": 1}], [{"a": 1, "x": 0}, {"b": 2}], True),
    ("allow_more_present", "set(dict)", [{"a": 1}, {"b": 3}], [{"a": 1, "x": 0}, {"b": 2}], False),
    ("allow_more_present", "set(dict)", [], None, True),
]


@pytest.mark.parametrize("mode, kind, desired, actual, expected", COMPARE_TABLE)
def test_compare(mode: str, kind: str, desired: object, actual: object, expected: bool) -> None:
    assert compare(mode, kind, desired, actual) is expected


@pytest.mark.parametrize(
    "mode, kind, bad",
    [("sloppy", "value", "sloppy"), ("strict", "tuple", "tuple"), ("STRICT", "list", "STRICT")],
)
def test_compare_rejects_unknown_mode_or_kind(mode: str, kind: str, bad: str) -> None:
    with pytest.raises(InvalidOption) as info:
        compare(mode, kind, 1, 1, field="comparisons.env")
    assert info.value.field == "comparisons.env"
    assert info.value.value == bad


@pytest.mark.parametrize(
    "kind, value, expected",
    [
        ("set", ["b", "a", "c"], ["a", "b", "c"]),
        ("set(dict)", [{"b": 1}, {"a": 2}], [{"a": 2}, {"b": 1}]),
        ("dict", {"b": 1, "a": 2}, {"a": 2, "b": 1}),
        ("list", ("b", "a"), ["b", "a"]),
        ("value", "x", "x"),
        ("set", None, None),
    ],
)
def test_normalise(kind: str, value: object, expected: object) -> None:
    got = normalise(kind, value)
    assert got == expected
    if isinstance(expected, dict):
        assert list(got) == list(expected)  # type: ignore[arg-type]


def test_diff_sorts_sets_and_tracks_changes() -> None:
    diff = Diff()
    diff.add("id", None, ID)
    diff.add("repo_tags", [], ["b:1", "a:1"], kind="set")
    diff.add("size", 3, 3)
    assert diff.as_dict() == {
        "before": {"id": None, "repo_tags": [], "size": 3},
        "after": {"id": ID, "repo_tags": ["a:1", "b:1"], "size": 3},
    }
    assert diff.changed
    assert diff.differences() == ["id", "repo_tags"]


def test_diff_unchanged_when_only_order_differs() -> None:
    diff = Diff()
    diff.add("repo_tags", ["b", "a"], ["a", "b"], kind="set")
    assert not diff.changed
    assert diff.differences() == []


def test_diff_add_replaces_same_name() -> None:
    diff = Diff()
    diff.add("id", "x", "y")
    diff.add("id", "x", "x")
    assert diff.as_dict() == {"before": {"id": "x"}, "after": {"id": "x"}}


# ------------------------------------------------------------------ model
@pytest.mark.parametrize(
    "kwargs, expected_type, expected_mode",
    [
        ({"kind": "str"}, "value", "strict"),
        ({"kind": "list", "elements": "str"}, "list", "strict"),
        ({"kind": "dict"}, "dict", "allow_more_present"),
        ({"kind": "list", "elements": "str", "comparison_type": "set"}, "set", "allow_more_present"),
        ({"kind": "list", "elements": "dict", "comparison_type": "set(dict)"}, "set(dict)", "allow_more_present"),
        ({"kind": "dict", "comparison": "strict"}, "dict", "strict"),
    ],
)
def test_option_comparison_defaults(kwargs: dict, expected_type: str, expected_mode: str) -> None:
    opt = Option("x", **kwargs)
    assert opt.compare_type == expected_type
    assert opt.compare_mode == expected_mode


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"name": "x", "kind": "string"}, "kind 'string'"),
        ({"name": "x", "kind": "list"}, "needs elements"),
        ({"name": "x", "kind": "str", "elements": "str"}, "only valid for kind 'list'"),
        ({"name": "x", "required": True, "default": "a"}, "required option cannot have a default"),
        ({"name": "x", "comparison": "loose"}, "comparison 'loose'"),
        ({"name": "x", "comparison_type": "bag"}, "comparison_type 'bag'"),
        ({"name": "x", "kind": "int", "default": "1"}, "not a int"),
        ({"name": "x", "kind": "int", "default": True}, "not a int"),
        ({"name": "x", "choices": ("a", "b"), "default": "c"}, "not among the choices"),
        ({"name": "x", "kind": "bool", "choices": (True,)}, "choices make no sense"),
        ({"name": "x", "aliases": ("x",)}, "cannot alias itself"),
        ({"name": "Bad-Name"}, "lowercase identifier"),
    ],
)
def test_option_rejects_inconsistent_declarations(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError) as info:
        Option(**kwargs)
    assert needle in str(info.value)
    assert repr(kwargs["name"]) in str(info.value)


def test_option_is_frozen_and_normalises_sequences() -> None:
    opt = Option("x", choices=["a", "b"], aliases=["y"])  # type: ignore[arg-type]
    assert opt.choices == ("a", "b")
    assert opt.aliases == ("y",)
    with pytest.raises(Exception):
        opt.name = "z"  # type: ignore[misc]
    assert opt.cli_flag == "--x"
    assert Option("archive_path").cli_flag == "--archive-path"
    assert Option("config_path", cli="--config").cli_flag == "--config"


def test_float_option_accepts_int_default() -> None:
    assert Option("t", kind="float", default=600).default == 600


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"options": (Option("a"), Option("a"))}, "'a' is declared twice"),
        ({"options": (Option("a"), Option("b", aliases=("a",)))}, "'a' is declared twice"),
        ({"options": (Option("a"),), "required_if": (("a", "x", ("b",)),)}, "unknown options: b"),
        ({"options": (Option("a"),), "mutually_exclusive": (("a", "c"),)}, "unknown options: c"),
    ],
)
def test_table_rejects_bad_declarations(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError) as info:
        OptionTable(**kwargs)
    assert needle in str(info.value)


def test_table_access() -> None:
    table = OptionTable(options=(Option("a", default="x"), Option("b", kind="int")))
    assert table.names() == ["a", "b"]
    assert table["b"].kind == "int"
    assert table.defaults() == {"a": "x", "b": None}
    assert len(table.extend(Option("c"))) == 3
    with pytest.raises(KeyError):
        table["c"]


# ------------------------------------------------------------------ argspec
def test_argument_spec_from_table() -> None:
    table = OptionTable(
        options=(
            Option("name", required=True, aliases=("image",)),
            Option("state", default="present", choices=("present", "absent")),
            Option("names", kind="list", elements="str"),
            Option("password", no_log=True),
            Option("flag", kind="bool", default=False),
            Option("archive_path", kind="path"),
        ),
        required_if=(("state", "present", ("archive_path",)),),
        mutually_exclusive=(("names", "password"),),
    )
    assert argument_spec(table) == {
        "name": {"type": "str", "required": True, "aliases": ["image"]},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "names": {"type": "list", "elements": "str"},
        "password": {"type": "str", "no_log": True},
        "flag": {"type": "bool", "default": False},
        "archive_path": {"type": "path"},
    }
    kwargs = module_kwargs(table)
    assert kwargs["supports_check_mode"] is True
    assert kwargs["required_if"] == [["state", "present", ["archive_path"]]]
    assert kwargs["mutually_exclusive"] == [["names", "password"]]
    assert "required_together" not in kwargs


def test_image_tables_carry_the_engine_options() -> None:
    for table in (image_opts.IMAGE_OPTIONS, image_opts.IMAGE_INFO_OPTIONS):
        for opt in ENGINE_OPTIONS:
            assert table[opt.name] == opt
    spec = argument_spec(image_opts.IMAGE_OPTIONS)
    assert spec["name"] == {"type": "str", "required": True}
    assert spec["pull"] == {"type": "raw", "default": "missing"}  # a policy, or community.docker's dict
    assert spec["changes"] == {"type": "list", "elements": "str"}
    assert spec["lock_timeout"] == {"type": "float", "default": 600.0}


@pytest.mark.parametrize(
    "params, expected",
    [
        ({}, {"data_root": None, "config_path": None, "lock_timeout": 600.0}),
        (
            {"data_root": "/srv/b", "config_path": "/etc/b.json", "lock_timeout": 5},
            {"data_root": "/srv/b", "config_path": "/etc/b.json", "lock_timeout": 5.0},
        ),
        ({"data_root": "", "lock_timeout": None}, {"data_root": None, "config_path": None, "lock_timeout": 600.0}),
    ],
)
def test_engine_kwargs(params: dict, expected: dict) -> None:
    assert engine_kwargs(params) == expected


def test_engine_kwargs_rejects_negative_timeout() -> None:
    with pytest.raises(InvalidOption) as info:
        engine_kwargs({"lock_timeout": -1})
    assert info.value.field == "lock_timeout"


# ------------------------------------------------------------------ image helpers
@pytest.mark.parametrize(
    "name, tag, expected",
    [
        ("busybox", "latest", "docker.io/library/busybox:latest"),
        ("busybox", None, "docker.io/library/busybox:latest"),
        ("busybox", "1.36", "docker.io/library/busybox:1.36"),
        ("busybox:1.35", "1.36", "docker.io/library/busybox:1.35"),
        ("localhost:5000/app", "v1", "localhost:5000/app:v1"),
        ("localhost:5000/app:v2", "v1", "localhost:5000/app:v2"),
        ("127.0.0.1:5000/library/busybox@" + ID, "v1", "127.0.0.1:5000/library/busybox@" + ID),
        (ID, "latest", ID),
    ],
)
def test_image_reference(name: str, tag: str | None, expected: str) -> None:
    assert image_opts.image_reference(name, tag) == expected


@pytest.mark.parametrize(
    "name, tag, field, value",
    [
        ("UPPER/Case", "latest", "name", "UPPER/Case"),
        ("busy box", "latest", "name", "busy box"),
        ("", "latest", "name", ""),
        ("busybox", "bad tag", "tag", "bad tag"),
        ("busybox", "-x", "tag", "-x"),
        ("a" * 64, "latest", "name", "a" * 64),
    ],
)
def test_image_reference_errors_name_the_field(name: str, tag: str, field: str, value: str) -> None:
    with pytest.raises(InvalidOption) as info:
        image_opts.image_reference(name, tag)
    assert info.value.field == field
    assert info.value.value == value
    assert field in str(info.value)


@pytest.mark.parametrize(
    "reference, expected",
    [
        ("docker.io/library/busybox:latest", "busybox:latest"),
        ("localhost:5000/app:v1", "localhost:5000/app:v1"),
        (ID, ID),
    ],
)
def test_familiar_name(reference: str, expected: str) -> None:
    assert image_opts.familiar_name(reference) == expected


@pytest.mark.parametrize(
    "platform, image, expected",
    [
        (None, {"Os": "linux", "Architecture": "arm64"}, True),
        ("linux/amd64", {"Os": "linux", "Architecture": "amd64"}, True),
        ("linux/x86_64", {"Os": "linux", "Architecture": "amd64"}, True),
        ("linux/arm64", {"Os": "linux", "Architecture": "amd64"}, False),
        ("linux/arm64", {"Os": "linux", "Architecture": "arm64", "Variant": "v8"}, True),
        ("linux/arm64/v8", {"Os": "linux", "Architecture": "arm64", "Variant": ""}, False),
        ("windows", {"Os": "linux", "Architecture": "amd64"}, False),
    ],
)
def test_platform_matches(platform: str | None, image: dict, expected: bool) -> None:
    assert image_opts.platform_matches(platform, image) is expected


def test_platform_matches_names_the_field() -> None:
    with pytest.raises(InvalidReference) as info:
        image_opts.platform_matches("linux//", {})
    assert info.value.field == "platform"


@pytest.mark.parametrize(
    "filters, expected",
    [
        (None, None),
        ({}, None),
        ({"dangling": True}, {"dangling": ["true"]}),
        ({"reference": "busy*"}, {"reference": ["busy*"]}),
        ({"reference": ["a*", "b*"]}, {"reference": ["a*", "b*"]}),
        ({"label": {"a": "1", "b": "2"}}, {"label": ["a=1", "b=2"]}),
        ({"label": ["a", "b=2"], "dangling": False}, {"label": ["a", "b=2"], "dangling": ["false"]}),
    ],
)
def test_normalise_filters(filters: dict | None, expected: dict | None) -> None:
    assert image_opts.normalise_filters(filters) == expected


@pytest.mark.parametrize("name", ["busybox", "abc123", "sha256:" + "a" * 64, "a" * 64, "localhost:5000/x:1"])
def test_check_lookup_name_accepts(name: str) -> None:
    assert image_opts.check_lookup_name(name) == name


def test_check_lookup_name_rejects() -> None:
    with pytest.raises(InvalidReference) as info:
        image_opts.check_lookup_name("Bad Name", field="name[1]")
    assert info.value.field == "name[1]"

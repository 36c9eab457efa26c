# SPDX-License-Identifier: GPL-3.0-or-later
"""Generated values thrown at the container option table and at ``berth run/create``'s flag parsing.

Whatever a task or a command line says, the result is either normalised options or a clean refusal
(``EngineError`` / the CLI's usage error, with a message): never another exception. The ``berth``
variant, with a real data root and nothing created on a refusal, is tests/functional/test_bad_values.py.
"""
from __future__ import annotations

import typing as t

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ansible_collections.berth.engine.plugins.module_utils.cli import flags as cli_flags  # noqa: E402
from ansible_collections.berth.engine.plugins.module_utils.cli import main as cli  # noqa: E402
from ansible_collections.berth.engine.plugins.module_utils.cli.commands import run_options  # noqa: E402
from ansible_collections.berth.engine.plugins.module_utils.cli.context import UsageError  # noqa: E402
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import EngineError  # noqa: E402
from ansible_collections.berth.engine.plugins.module_utils.engine.options import container as copts  # noqa: E402

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Strings that look like what the normalisers parse (sizes, cpusets, durations, signals, paths ...).
LOOKALIKE = st.one_of(
    st.from_regex(r"-?[0-9]{1,25}(\.[0-9]{0,5})? ?[kKmMgGtTpPeE]?[iI]?[bB]?", fullmatch=True),
    st.from_regex(r"[0-9]{1,12}(-[0-9]{1,12})?(,[0-9]{1,6}(-[0-9]{1,6})?){0,2}", fullmatch=True),
    st.from_regex(r"([0-9]{1,20}(\.[0-9]{0,3})?(ns|us|ms|s|m|h)){1,3}", fullmatch=True),
    st.from_regex(r"/[a-z0-9/._-]{0,20}(:[a-z0-9=,]{0,20})?", fullmatch=True),
    st.from_regex(r"[a-z]{1,8}:-?[0-9]{1,22}(:-?[0-9]{1,22})?", fullmatch=True),
    st.from_regex(r"(SIG)?(RT(MIN|MAX)[+-][0-9]{1,3}|[A-Z]{2,6}|[0-9]{1,4})", fullmatch=True),
    st.sampled_from(["", " ", "\0", "a\0b", "/", "..", "-1", "unlimited", "0", "1e400", "nan", "inf",
                     "container:", "container:x\0", "on-failure:99999999999", "a" * 5000, "9" * 5000]),
)
SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(1 << 70), max_value=1 << 70), st.floats(),
    st.text(max_size=30), LOOKALIKE,
)
VALUE = st.one_of(
    SCALAR,
    st.lists(SCALAR, max_size=4),
    st.dictionaries(st.one_of(st.text(max_size=10), LOOKALIKE), SCALAR, max_size=4),
    st.fixed_dictionaries({}, optional={k: SCALAR for k in copts.HEALTHCHECK_KEYS}),
)
NAMES = sorted(o.name for o in copts.CONTAINER_OPTIONS if o.name != "env_file")

#: Around the int64 edge too: hypothesis would otherwise mostly try small numbers.
BIG = st.one_of(st.integers(min_value=0, max_value=1 << 80),
                st.builds(lambda b, d: max((1 << b) + d, 0), st.integers(40, 80), st.integers(-2, 2)))
SIZE = st.one_of(st.from_regex(r"[0-9]{1,25}(\.[0-9]{0,5})? ?[kKmMgGtTpP]?[iI]?[bB]?", fullmatch=True), BIG)
TEXT_NUL = st.text(alphabet=st.sampled_from("ab/:=.-_ 0\0"), max_size=12)
#: Values shaped like what each option parses, so the generated cases reach the range checks.
FOCUSED: dict[str, t.Any] = {
    **dict.fromkeys(("memory", "memory_reservation", "memory_swap", "shm_size"), SIZE),
    **dict.fromkeys(("cpuset_cpus", "cpuset_mems"), st.from_regex(r"\d{1,7}(-\d{1,7})?(,\d{1,7}){0,2}", fullmatch=True)),
    **{o.name: st.integers(min_value=-(1 << 70), max_value=1 << 70) for o in copts.CONTAINER_OPTIONS if o.kind == "int"},
    "cpus": st.one_of(st.floats(), st.from_regex(r"\d{1,25}(\.\d{0,12})?", fullmatch=True)),
    "name": st.from_regex(r"[a-z0-9][a-z0-9_.-]{1,300}", fullmatch=True),
    "tmpfs": st.lists(st.builds("/t:{}={}".format, st.sampled_from(["size", "uid", "gid", "nr_inodes", "mode"]),
                                st.one_of(SIZE.map(str), st.integers().map(str))), max_size=2),
    "ulimits": st.lists(st.builds("nofile:{}:{}".format, st.integers(min_value=-2, max_value=1 << 70),
                                  st.integers(min_value=-2, max_value=1 << 70)), max_size=1),
    "healthcheck": st.fixed_dictionaries({}, optional={"interval": st.from_regex(r"\d{1,25}(h|m|s|ms)", fullmatch=True),
                                                       "retries": st.integers(), "test": st.lists(TEXT_NUL)}),
    "log_options": st.fixed_dictionaries({}, optional={"max-size": SIZE, "max-file": st.integers()}),
    **dict.fromkeys(("command", "entrypoint", "devices", "groups", "capabilities", "cap_drop", "security_opts"),
                    st.one_of(TEXT_NUL, st.lists(TEXT_NUL, max_size=3))),
    **dict.fromkeys(("env", "labels", "sysctls"), st.dictionaries(TEXT_NUL, TEXT_NUL, max_size=3)),
    **dict.fromkeys(("user", "working_dir", "hostname", "domainname", "image", "cgroup_parent", "stop_signal",
                     "network_mode", "runtime"), TEXT_NUL),
}


@st.composite
def task_params(draw: t.Callable[..., t.Any]) -> dict[str, t.Any]:
    out = {}
    for name in draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True)):
        focused = name in FOCUSED and draw(st.integers(0, 3)) > 0  # shaped values 3 times in 4
        out[name] = draw(FOCUSED[name] if focused else VALUE)
    return out


def _no_files(path: str) -> str:
    raise OSError(2, "No such file or directory", path)


def assert_kernel_ready(value: t.Any, where: str = "options") -> None:
    """What normalisation lets through is something the kernel takes: integers within int64 (the
    kernel's and Docker's range), no NUL byte in any string (the kernel would cut it there)."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        assert -(1 << 63) <= value < (1 << 63), f"{where}: {value} is out of range"
    elif isinstance(value, str):
        assert "\0" not in value, f"{where}: {value!r} has a NUL byte"
    elif isinstance(value, dict):
        for k, v in value.items():
            assert_kernel_ready(k, where)
            assert_kernel_ready(v, f"{where}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            assert_kernel_ready(v, f"{where}[{i}]")


@SETTINGS
@given(params=task_params())
def test_the_option_table_normalises_or_refuses_cleanly(params: dict[str, t.Any]) -> None:
    try:
        out = copts.normalise_options(params, read_file=_no_files, environ={})
    except EngineError as exc:
        assert str(exc)
        return
    assert set(out) <= set(NAMES)
    assert_kernel_ready(out)
    assert len(out.get("name", "")) <= 255  # names/<name> is a file name


#: argv words for ``berth create``: real flags of run/create with generated values.
FLAGS = sorted({f for rf in cli_flags.RUN_FLAGS for f in rf.flags if f.startswith("--")})
ARG = st.one_of(SIZE.map(str), FOCUSED["cpuset_cpus"], LOOKALIKE,
                st.text(alphabet=st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=20))


#: Flag values shaped like what the flag's option parses (strings: argv has nothing else).
FLAG_VALUES = {
    **dict.fromkeys(("memory", "memory_reservation", "memory_swap", "shm_size"), SIZE.map(str)),
    **dict.fromkeys(("cpuset_cpus", "cpuset_mems"), FOCUSED["cpuset_cpus"]),
    "cpus": FOCUSED["cpus"].map(str),
    "tmpfs": st.builds("/t:size={}".format, SIZE),
    "pids_limit": BIG.map(str),
    "cpu_quota": BIG.map(str),
    "ulimits": st.builds("nofile={}".format, BIG),
}
OPTION_OF = {f: rf.option for rf in cli_flags.RUN_FLAGS for f in rf.flags}
#: Flags that take no value (``--rm``, ``-d``).
SWITCHES = {f for rf in cli_flags.RUN_FLAGS for f in rf.flags if rf.switch}


@st.composite
def create_argv(draw: t.Callable[..., t.Any]) -> list[str]:
    words: list[str] = []
    for _round in range(draw(st.integers(min_value=1, max_value=3))):
        flag = draw(st.sampled_from(FLAGS))
        if flag in SWITCHES and draw(st.integers(0, 3)) > 0:
            words.append(flag)
            continue
        shaped = FLAG_VALUES.get(OPTION_OF.get(flag) or "")
        value = draw(shaped if shaped is not None and draw(st.integers(0, 3)) > 0 else ARG).replace("\0", "")
        words += [flag, value] if draw(st.booleans()) else [f"{flag}={value}"]
    return words + ["busybox", *draw(st.lists(ARG.map(lambda s: s.replace("\0", "")), max_size=2))]


@SETTINGS
@given(verb=st.sampled_from(["run", "create"]), argv=create_argv())
def test_run_and_create_flags_parse_or_refuse_cleanly(verb: str, argv: list[str]) -> None:
    """``berth run/create`` argument parsing (the fast ``run`` parser, else argparse) and normalisation,
    without an engine: options, or a usage error with a message."""
    import io

    err = io.StringIO()
    args = cli_flags.parse_run([verb, *argv])
    if args is None:
        parsed = cli._parse([verb, *argv], err)
        if isinstance(parsed, int):
            assert parsed != 0 and err.getvalue()
            return
        args = parsed
    try:
        out = run_options.normalised_options(args, cli_flags.RUN_FLAGS, image=args.image, command=args.command)
    except UsageError as exc:
        assert exc.message
        return
    assert_kernel_ready(out)

# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad values stop before anything exists: bin/berth refuses them with a message that names the flag and
the value (no traceback, no internal path, no bare errno) and the data root is left exactly as it was;
a process that cannot be executed is not reported as started."""
from __future__ import annotations

import io
import json
import os
import typing as t

import pytest

from tests.support.cli import Berth, scratch_with_busybox

pytestmark = [pytest.mark.functional]

IMAGE = "bb:latest"
ODD = "odd:1"

if os.geteuid() != 0:
    pytest.skip("needs root", allow_module_level=True)


@pytest.fixture(scope="module")
def berth(busybox_rootfs: str, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Berth]:
    # /notbin: executable, but neither a binary nor a #! script
    b = scratch_with_busybox(tmp_path_factory.mktemp("bad-values"), busybox_rootfs, IMAGE,
                             extra={"./notbin": (b"just text\n", 0o755)})
    b("tag", IMAGE, ODD)
    yield b
    leftovers = b("ps", "-aq", "--no-trunc").out.split()
    if leftovers:
        b("rm", "-f", *leftovers, rc=None)
    assert not leftovers, "every test removes its containers"


def snapshot(root: str) -> set[str]:
    """Every path below the data root (lock files included)."""
    out = set()
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            out.add(os.path.relpath(os.path.join(top, name), root))
    return out


def assert_clean_message(text: str, root: str) -> None:
    # "unexpected keyword argument" is Python's; docker's own --mount message says "unexpected key 'x'"
    assert "Traceback" not in text and "unexpected keyword" not in text and "unexpected EOF" not in text, text
    assert root not in text and "/var/lib/berth" not in text, text
    assert "Errno" not in text, text


@pytest.fixture
def nul_env_file(tmp_path: t.Any) -> str:
    path = tmp_path / "nul.env"
    path.write_bytes(b"GOOD=1\nBAD=a\0b\n")
    return str(path)


# From the issue: each got through before (a container left in Created with "start: Invalid argument",
# rc 0 for absurd sizes, "unexpected OSError: [Errno 36] File name too long" with internal paths).
CASES = [
    (["--memory", "99999999999999999999999g"], '"-m, --memory" flag: too large'),
    (["--cpuset-cpus", "0-99999"], '"--cpuset-cpus" flag: CPUs'),
    (["--cpuset-mems", "0-99999"], '"--cpuset-mems" flag: memory nodes'),
    (["--shm-size", "99999999999999999g"], '"--shm-size" flag: too large'),
    (["--tmpfs", "/t:size=99999999999999999g"], '"--tmpfs" flag: too large'),
    (["--memory-reservation", "99999999999999p"], '"--memory-reservation" flag: too large'),
    (["--memory-reservation", "1m"], "minimum memory reservation is 6MB"),
    (["--cpus", "100000"], '"--cpus" flag: the range of CPUs'),
    (["--pids-limit", "99999999999"], '"--pids-limit" flag: must be at most'),
    (["--name", "n" * 5000], "at most 255 characters long (this one has 5000)"),
]


@pytest.mark.parametrize("verb", ["create", "run"])
@pytest.mark.parametrize("flags, message", CASES, ids=[c[0][0] for c in CASES])
def test_bad_values_are_refused_before_anything_exists(berth: Berth, verb: str, flags: list[str],
                                                       message: str) -> None:
    before = snapshot(berth.root)
    res = berth(verb, *flags, IMAGE, "true", rc=125)
    assert message in res.err, res.err
    assert res.err.startswith(f"berth {verb}: ") or res.err.startswith("berth: "), res.err
    assert len(res.err) < 400
    assert_clean_message(res.err, berth.root)
    assert snapshot(berth.root) == before


def test_a_nul_byte_in_an_env_file_is_refused(berth: Berth, nul_env_file: str) -> None:
    before = snapshot(berth.root)
    res = berth("run", "--env-file", nul_env_file, IMAGE, "true", rc=125)
    assert "line 2: contains a NUL byte" in res.err
    assert_clean_message(res.err, berth.root)
    assert snapshot(berth.root) == before


def test_a_command_that_cannot_be_executed_is_not_started(berth: Berth) -> None:
    res = berth("run", "-d", "--name", "odd", ODD, "/notbin", rc=126)
    assert 'exec "/notbin": exec format error' in res.err
    assert_clean_message(res.err, berth.root)
    state = json.loads(berth("inspect", "odd").out)[0]["State"]
    assert (state["Status"], state["Running"], state["ExitCode"]) == ("created", False, 126)
    assert 'exec "/notbin": exec format error' in state["Error"]
    assert berth("logs", "odd").err == ""  # the reason went to the caller, not into the container's log
    berth("rm", "odd")
    res = berth("run", "--rm", ODD, "/notbin", rc=126)
    assert 'exec "/notbin": exec format error' in res.err
    assert berth("ps", "-aq").out == ""


def test_a_set_up_error_is_reported_with_container_paths(berth: Berth) -> None:
    """The init's own error, not "No such container" (it used to be taken for a stale runtime state
    because it said "exists"), and the container's path, not the data root's."""
    res = berth("run", "--name", "wd", "-w", "/etc/passwd", IMAGE, "true", rc=127)
    assert "mkdir /etc/passwd: exists and is not a directory" in res.err, res.err
    assert_clean_message(res.err, berth.root)
    state = json.loads(berth("inspect", "wd").out)[0]["State"]
    assert (state["Status"], state["ExitCode"]) == ("created", 127)
    assert state["Error"] == "mkdir /etc/passwd: exists and is not a directory"
    berth("rm", "wd")


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.unit.plugins.module_utils.engine.options.container.test_option_properties import (  # noqa: E402
    ARG,
    FLAG_VALUES,
    FLAGS,
    OPTION_OF,
    SWITCHES,
    assert_kernel_ready,
)

#: Never network traffic: no pulls (the image is local and the policy stays "missing"), no platform.
LOCAL_FLAGS = [f for f in FLAGS if f not in ("--pull", "--platform")]


@st.composite
def create_flags(draw: t.Callable[..., t.Any]) -> list[str]:
    words: list[str] = []
    for _round in range(draw(st.integers(min_value=1, max_value=3))):
        flag = draw(st.sampled_from(LOCAL_FLAGS))
        if flag in SWITCHES:
            words.append(flag)
            continue
        shaped = FLAG_VALUES.get(OPTION_OF.get(flag) or "")
        value = draw(shaped if shaped is not None and draw(st.integers(0, 3)) > 0 else ARG).replace("\0", "")
        words.append(f"{flag}={value}")
    return words


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flags=create_flags())
def test_generated_create_flags_either_create_or_leave_nothing(berth: Berth, flags: list[str]) -> None:
    """``berth create`` in-process on a real data root: a container whose recorded options the kernel
    takes (rc 0), or a refusal with a message and the data root untouched."""
    from ansible_collections.berth.engine.plugins.module_utils.cli import main as cli

    before = snapshot(berth.root)
    out, err = io.StringIO(), io.StringIO()
    rc = cli.main(["--root", berth.root, "--config", berth.config, "create", *flags, IMAGE, "true"], out, err)
    if rc == 0:
        cid = out.getvalue().strip()
        assert len(cid) == 64
        shown = io.StringIO()
        assert cli.main(["--root", berth.root, "--config", berth.config, "inspect", cid], shown, io.StringIO()) == 0
        assert_kernel_ready(json.loads(shown.getvalue())[0]["Berth"]["Desired"])
        assert cli.main(["--root", berth.root, "--config", berth.config, "rm", "-f", cid], io.StringIO(),
                        io.StringIO()) == 0
        return
    assert rc == 125, (rc, err.getvalue())
    assert err.getvalue().strip()
    assert_clean_message(err.getvalue(), berth.root)
    assert snapshot(berth.root) == before, flags

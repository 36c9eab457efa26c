# SPDX-License-Identifier: GPL-3.0-or-later
"""The parent/child protocol over real pipes (no root): framing, child errors, EOF, timeouts; the
re-free JSON codec; the CLI's parser and the state guards."""
from __future__ import annotations

import json
import os
import time
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.errors import InvalidState
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime import cli, state, sync
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime.sync import Msg


@pytest.mark.parametrize("obj", [
    {"b": 1, "a": [1, 2.5, None, True, False, "é\u2603", {"x": {}}]},
    [],
    "plain",
    {"pid": 12345, "big": 2 ** 64 - 1, "neg": -3},
])
def test_json_codec_matches_json(obj: t.Any) -> None:
    text = sync.dumps(obj)
    assert text == json.dumps(obj, sort_keys=True)
    assert sync.loads(text) == obj
    assert sync.loads(" \n" + json.dumps(obj, indent=2) + "\n") == obj
    assert sync.loads(text.encode()) == obj


def test_json_codec_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        sync.loads('{"a": 1} trailing')
    with pytest.raises(ValueError):
        sync.loads("{")


def test_messages_keep_their_order_and_payloads() -> None:
    pipes = sync.Pipes()
    a = sync.Channel(pipes.c2p[0], pipes.p2c[1], timeout=2)
    b = sync.Channel(pipes.p2c[0], pipes.c2p[1], timeout=2)
    try:
        b.send(Msg.USERNS_READY)
        b.send(Msg.PID, {"pid": 42})
        b.send(Msg.CREATED)
        assert a.recv() == (Msg.USERNS_READY, None)
        assert a.expect(Msg.PID) == {"pid": 42}
        with pytest.raises(sync.SyncError, match="expected HOOKS, got CREATED"):
            a.expect(Msg.HOOKS)
        with pytest.raises(sync.SyncError, match="too large"):
            b.send(Msg.ERROR, {"message": "x" * 5000})
    finally:
        a.close()
        b.close()


def _in_child(body: t.Callable[[sync.Channel], None]) -> tuple[sync.Channel, int]:
    pipes = sync.Pipes()
    pid = os.fork()
    if pid == 0:  # pragma: no cover  (child)
        try:
            body(pipes.child(timeout=2))
        finally:
            os._exit(0)
    return pipes.parent(timeout=2), pid


def test_child_error_reaches_the_parent_with_step_and_errno() -> None:
    def body(chan: sync.Channel) -> None:
        try:
            raise OSError(2, "mount proc on /x/rootfs/proc: No such file or directory")
        except OSError as exc:
            chan.send_error("mount proc on /proc", exc)

    chan, pid = _in_child(body)
    try:
        with pytest.raises(sync.ChildError) as info:
            chan.expect(Msg.PID)
        assert info.value.step == "mount proc on /proc"
        assert info.value.errno == 2
        assert "mount proc on /x/rootfs/proc" in info.value.message
    finally:
        chan.close()
        os.waitpid(pid, 0)


def test_child_errors_name_container_paths_not_the_data_root() -> None:
    root = "/var/lib/berth/containers/abc/rootfs"

    def body(chan: sync.Channel) -> None:
        chan.hide = root + "/"
        try:
            raise NotADirectoryError(20, f"mkdir {root}/etc/passwd: exists and is not a directory")
        except OSError as exc:
            chan.send_error(f"create the working directory {root}/etc/passwd", exc)

    chan, pid = _in_child(body)
    try:
        with pytest.raises(sync.ChildError) as info:
            chan.expect(Msg.PID)
        assert info.value.step == "create the working directory /etc/passwd"
        assert info.value.message == "mkdir /etc/passwd: exists and is not a directory"
    finally:
        chan.close()
        os.waitpid(pid, 0)


def test_a_silent_child_that_dies_is_eof_not_a_hang() -> None:
    chan, pid = _in_child(lambda chan: None)
    try:
        start = time.monotonic()
        with pytest.raises(sync.SyncError, match="exited while we waited for PID"):
            chan.expect(Msg.PID)
        assert time.monotonic() - start < 1.5
    finally:
        chan.close()
        os.waitpid(pid, 0)


def test_a_stuck_child_times_out() -> None:
    chan, pid = _in_child(lambda chan: time.sleep(1.0))
    try:
        with pytest.raises(sync.SyncError, match="timed out after 0.2s waiting for CREATED"):
            chan.expect(Msg.CREATED, timeout=0.2)
    finally:
        chan.close()
        os.kill(pid, 9)
        os.waitpid(pid, 0)


def test_wait_eof_is_success_and_error_is_failure() -> None:
    chan, pid = _in_child(lambda chan: None)
    chan.wait_eof()
    chan.close()
    os.waitpid(pid, 0)

    def body(c: sync.Channel) -> None:
        c.send_error("find the executable", RuntimeError('exec: "x": executable file not found in $PATH'))

    chan, pid = _in_child(body)
    with pytest.raises(sync.ChildError, match="executable file not found"):
        chan.wait_eof()
    chan.close()
    os.waitpid(pid, 0)


# ---------------------------------------------------------------- lifecycle guards
@pytest.mark.parametrize("verb, ok, refused", [
    ("start", ["created"], ["running", "paused", "stopped"]),
    ("pause", ["running"], ["created", "paused", "stopped"]),
    ("resume", ["paused"], ["created", "running", "stopped"]),
    ("kill", ["created", "running", "paused"], ["stopped"]),
    ("exec", ["created", "running"], ["paused", "stopped"]),
])
def test_guards(verb: str, ok: list[str], refused: list[str]) -> None:
    for status in ok:
        state.guard("c1", verb, status)
    for status in refused:
        with pytest.raises(InvalidState, match=f"cannot {verb} container c1: it is {status}"):
            state.guard("c1", verb, status)


def test_state_round_trip_and_oci_document(tmp_path: t.Any) -> None:
    (tmp_path / "c1").mkdir()
    st = state.RuntimeState("c1", 4242, 777, "/b", "/b/rootfs", "2024-01-01T00:00:00Z", {"a": "b"}, "/c1",
                            {"ociVersion": "1.0.2"})
    state.save(str(tmp_path), st)
    back = state.load(str(tmp_path), "c1")
    assert back.to_dict() == st.to_dict()
    assert back.oci("running") == {"ociVersion": "1.0.2", "id": "c1", "status": "running", "pid": 4242,
                                   "bundle": "/b", "rootfs": "/b/rootfs", "created": "2024-01-01T00:00:00Z",
                                   "owner": "", "annotations": {"a": "b"}}
    assert back.oci("stopped")["pid"] == 0
    assert state.list_ids(str(tmp_path)) == ["c1"]


def test_pid_start_time_detects_reuse_and_zombies() -> None:
    me = state.pid_start_time(os.getpid())
    assert me and state.pid_alive(os.getpid(), me)
    assert not state.pid_alive(os.getpid(), me + 1)
    pid = os.fork()
    if pid == 0:  # pragma: no cover
        os._exit(0)
    time.sleep(0.05)
    assert state.pid_start_time(pid) is None  # a zombie counts as gone
    os.waitpid(pid, 0)


# ---------------------------------------------------------------- CLI parsing
def test_cli_parse_flags_and_positionals() -> None:
    opts, pos = cli.parse(["-b", "/b", "--pid-file=/p", "--no-pivot", "c1"], cli.CREATE_FLAGS)
    assert (opts["bundle"], opts["pid_file"], opts["no_pivot"], opts["console_socket"]) == ("/b", "/p", True, None)
    assert pos == ["c1"]
    opts, pos = cli.parse(["-e", "A=1", "--env", "B=2", "-t", "c1", "sh", "-c", "echo -e"], cli.EXEC_FLAGS,
                          stop_at_positional=True)
    assert opts["env"] == ["A=1", "B=2"] and opts["tty"]
    assert pos == ["c1", "sh", "-c", "echo -e"]
    with pytest.raises(cli.UsageError, match="not defined: --bogus"):
        cli.parse(["--bogus"], cli.CREATE_FLAGS)
    with pytest.raises(cli.UsageError, match="needs an argument"):
        cli.parse(["--bundle"], cli.CREATE_FLAGS)


@pytest.mark.parametrize("text, num", [("9", 9), ("KILL", 9), ("SIGTERM", 15), ("hup", 1), ("SIGUSR1", 10)])
def test_cli_signals(text: str, num: int) -> None:
    assert cli.parse_signal(text) == num


def test_cli_unknown_signal() -> None:
    with pytest.raises(cli.UsageError):
        cli.parse_signal("SIGBOGUS")


def test_cli_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: t.Any) -> None:
    assert cli._exit_code(3 << 8) == 3
    assert cli._exit_code(9) == 137
    assert cli.main(["--version"]) == 0
    assert "berth-runtime version" in capsys.readouterr().out
    assert cli.main(["--systemd-cgroup", "list"]) == 1
    assert "not supported" in capsys.readouterr().err
    assert cli.main(["--root", str(tmp_path), "state", "nope"]) == 1
    assert "No such container: nope" in capsys.readouterr().err
    assert cli.main(["--root", str(tmp_path), "list", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert cli.main(["frobnicate"]) == 1


def test_cli_spec_writes_a_valid_default(tmp_path: t.Any) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.engine.runtime import validate

    assert cli.main(["spec", "--bundle", str(tmp_path)]) == 0
    (tmp_path / "rootfs").mkdir()
    with open(tmp_path / "config.json") as fh:
        spec = json.load(fh)
    validate.check(spec, ctx=validate.Context(str(tmp_path), {"RLIMIT_NOFILE": 20000}, False))
    assert cli.main(["spec", "--bundle", str(tmp_path)]) == 1  # exists already

# SPDX-License-Identifier: GPL-3.0-or-later
"""supervisor.logs: Docker's json-file format, 16 KiB partial lines, rotation, tail, since/until."""
from __future__ import annotations

import json
import os
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor import logs
from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor.logs import LogEntry, LogWriter, read_logs

pytestmark = pytest.mark.timeout(20)

T0 = 1_714_564_800_000_000_000  # 2024-05-01T12:00:00Z in ns


class Clock:
    def __init__(self, start: int = T0, step: int = 1_000_000_000) -> None:
        self.now, self.step = start - step, step

    def __call__(self) -> int:
        self.now += self.step
        return self.now


def lines(path: str) -> list[dict[str, t.Any]]:
    with open(path, "rb") as fh:
        return [json.loads(raw) for raw in fh.read().splitlines()]


@pytest.mark.parametrize("ns,text", [
    (T0, "2024-05-01T12:00:00Z"),
    (T0 + 123_456_789, "2024-05-01T12:00:00.123456789Z"),
    (T0 + 500_000_000, "2024-05-01T12:00:00.5Z"),
    (T0 + 1_000, "2024-05-01T12:00:00.000001Z"),
    (0, "1970-01-01T00:00:00Z"),
])
def test_rfc3339_nano_like_go(ns: int, text: str) -> None:
    assert logs.rfc3339_nano(ns) == text
    assert logs.parse_time(text) == pytest.approx(ns / 1e9, abs=1e-6)


def test_parse_time_accepts_offsets_through_timefmt() -> None:
    assert logs.parse_time("2024-05-01T14:00:00+02:00") == pytest.approx(T0 / 1e9)


def test_entry_format_is_dockers(tmp_path: t.Any) -> None:
    path = str(tmp_path / "c-json.log")
    w = LogWriter(path, clock=Clock())
    w.write("stdout", b'hello "world"\n\tbad\xff\n')
    w.write("stderr", b"oops\n")
    w.close()
    with open(path, "rb") as fh:
        raw = fh.read().splitlines()
    assert raw[0] == b'{"log":"hello \\"world\\"\\n","stream":"stdout","time":"2024-05-01T12:00:00Z"}'
    assert json.loads(raw[1]) == {"log": "\tbad\ufffd\n", "stream": "stdout", "time": "2024-05-01T12:00:00Z"}
    assert json.loads(raw[2]) == {"log": "oops\n", "stream": "stderr", "time": "2024-05-01T12:00:01Z"}


def test_unfinished_lines_wait_per_stream_and_flush_as_partial(tmp_path: t.Any) -> None:
    path = str(tmp_path / "c-json.log")
    w = LogWriter(path, clock=Clock())
    w.write("stdout", b"hel")
    w.write("stderr", b"err-no-newline")
    w.write("stdout", b"lo\nwor")
    assert [e["log"] for e in lines(path)] == ["hello\n"]
    w.flush()
    w.close()
    assert [(e["stream"], e["log"]) for e in lines(path)] == [
        ("stdout", "hello\n"), ("stderr", "err-no-newline"), ("stdout", "wor")]


def test_long_lines_split_at_16k(tmp_path: t.Any) -> None:
    path = str(tmp_path / "c-json.log")
    w = LogWriter(path, clock=Clock())
    big = b"x" * (logs.MAX_LINE * 2 + 10)
    w.write("stdout", big[:5000])
    w.write("stdout", big[5000:] + b"\nnext\n")
    w.write("stdout", b"y" * (logs.MAX_LINE + 1))  # no newline yet: one full partial goes out now
    w.close()
    got = [e["log"] for e in lines(path)]
    assert [len(x) for x in got] == [logs.MAX_LINE, logs.MAX_LINE, 11, 5, logs.MAX_LINE]
    assert got[2] == "x" * 10 + "\n" and got[3] == "next\n"
    assert "".join(got[:3]).encode() == big + b"\n"


def test_rotation_keeps_max_file_files(tmp_path: t.Any) -> None:
    path = str(tmp_path / "c-json.log")
    w = LogWriter(path, max_size=200, max_file=3, clock=Clock())
    for i in range(40):
        w.write("stdout", b"line %02d\n" % i)  # each entry is ~75 bytes: 3 per file
    w.close()
    assert sorted(os.listdir(tmp_path)) == ["c-json.log", "c-json.log.1", "c-json.log.2"]
    for name in os.listdir(tmp_path):
        assert os.path.getsize(tmp_path / name) < 200 + 100  # a file exceeds max-size by one entry at most
    kept = [e["log"] for f in ("c-json.log.2", "c-json.log.1", "c-json.log") for e in lines(str(tmp_path / f))]
    assert kept == ["line %02d\n" % i for i in range(40 - len(kept), 40)]  # newest kept, in order, no gaps
    assert [e.data for e in read_logs(path)] == [k.encode() for k in kept]


def test_rotation_with_one_file_truncates(tmp_path: t.Any) -> None:
    path = str(tmp_path / "c-json.log")
    w = LogWriter(path, max_size=100, max_file=1, clock=Clock())
    for i in range(5):
        w.write("stdout", b"line %d\n" % i)
    w.close()
    assert os.listdir(tmp_path) == ["c-json.log"]
    assert [e["log"] for e in lines(path)] == ["line 4\n"]


def test_writer_appends_to_an_existing_log(tmp_path: t.Any) -> None:
    path = str(tmp_path / "c-json.log")
    for word in (b"one\n", b"two\n"):
        w = LogWriter(path, max_size=10_000, max_file=2, clock=Clock())
        w.write("stdout", word)
        w.close()
    assert [e.data for e in read_logs(path)] == [b"one\n", b"two\n"]


@pytest.fixture
def rotated_log(tmp_path: t.Any) -> str:
    """30 entries over 4 files, stdout/stderr alternating, one second apart from T0."""
    path = str(tmp_path / "c-json.log")
    w = LogWriter(path, max_size=600, max_file=4, clock=Clock())
    for i in range(30):
        w.write("stderr" if i % 2 else "stdout", b"entry %02d\n" % i)
    w.close()
    assert len(logs.log_files(path)) == 4
    return path


def test_read_all_across_rotations(rotated_log: str) -> None:
    got = list(read_logs(rotated_log))
    first = int(got[0].data.split()[1])
    assert [e.data for e in got] == [b"entry %02d\n" % i for i in range(first, 30)]
    assert got[-1] == LogEntry("stderr", T0 / 1e9 + 29, b"entry 29\n")
    assert got[-1].stream == "stderr" and got[-1].time == pytest.approx(T0 / 1e9 + 29)


@pytest.mark.parametrize("tail", [0, 1, 3, 8, 14, 1000])
def test_tail_counts_from_the_end_across_files(rotated_log: str, tail: int) -> None:
    everything = [e.data for e in read_logs(rotated_log)]
    assert [e.data for e in read_logs(rotated_log, tail=tail)] == (everything[-tail:] if tail else [])


def test_tail_reads_backwards_in_blocks(tmp_path: t.Any) -> None:
    path = str(tmp_path / "c-json.log")
    w = LogWriter(path, clock=Clock())
    for i in range(3000):
        w.write("stdout", b"%d\n" % i)
    w.close()
    offset, found = logs._last_lines_offset(path, 2500, block=4096)
    assert found == 2500
    with open(path, "rb") as fh:
        fh.seek(offset)
        assert json.loads(fh.readline())["log"] == "500\n"
    assert [e.data for e in read_logs(path, tail=2)] == [b"2998\n", b"2999\n"]


def test_tail_counts_an_unfinished_last_line(tmp_path: t.Any) -> None:
    path = str(tmp_path / "log")
    with open(path, "wb") as fh:
        fh.write(b'{"log":"a\\n","stream":"stdout","time":"2024-05-01T12:00:00Z"}\n'
                 b'{"log":"b\\n","stream":"stdout","time":"2024-05-01T12:00:01Z"}')
    assert logs._last_lines_offset(path, 1)[1] == 1
    assert [e.data for e in read_logs(path, tail=5)] == [b"a\n", b"b\n"]


def test_stream_filter_applies_after_tail(rotated_log: str) -> None:
    assert [e.data for e in read_logs(rotated_log, tail=4, stdout=False)] == [b"entry 27\n", b"entry 29\n"]
    assert all(e.stream == "stdout" for e in read_logs(rotated_log, stderr=False))


def test_since_and_until(rotated_log: str) -> None:
    t0 = T0 / 1e9
    assert [e.data for e in read_logs(rotated_log, since=t0 + 25)] == [b"entry %02d\n" % i for i in range(25, 30)]
    got = [e.data for e in read_logs(rotated_log, since=t0 + 20, until=t0 + 22)]
    assert got == [b"entry 20\n", b"entry 21\n", b"entry 22\n"]
    assert list(read_logs(rotated_log, since=t0 + 100)) == []


def test_missing_log_reads_nothing(tmp_path: t.Any) -> None:
    assert list(read_logs(str(tmp_path / "nope"))) == []
    assert list(read_logs(str(tmp_path / "nope"), tail=3, follow=True, still_running=lambda: False)) == []


def test_follow_stops_when_the_container_is_gone(tmp_path: t.Any) -> None:
    path = str(tmp_path / "c-json.log")
    w = LogWriter(path, clock=Clock())
    w.write("stdout", b"old\n")
    calls = []

    def still_running() -> bool:
        calls.append(1)
        if len(calls) == 2:
            w.write("stdout", b"late\n")  # written before the answer "not running": must be read
            w.close()
        return len(calls) < 2

    got = [e.data for e in read_logs(path, follow=True, tail=0, still_running=still_running, poll_interval=0.01)]
    assert got == [b"late\n"]


def test_follow_notices_truncation(tmp_path: t.Any) -> None:
    path = str(tmp_path / "c-json.log")
    w = LogWriter(path, max_size=10, max_file=1, clock=Clock())
    w.write("stdout", b"first line that is long\n")
    state = {"n": 0}

    def still_running() -> bool:
        state["n"] += 1
        if state["n"] == 2:
            w.write("stdout", b"x\n")  # truncates first: the reader must start the file again
        return state["n"] < 4

    got = [e.data for e in read_logs(path, follow=True, still_running=still_running, poll_interval=0.01)]
    assert got == [b"first line that is long\n", b"x\n"]


def test_follow_keeps_up_with_several_rotations_between_polls(tmp_path: t.Any) -> None:
    path = str(tmp_path / "c-json.log")
    w = LogWriter(path, max_size=300, max_file=6, clock=Clock())
    w.write("stdout", b"start\n")
    counter = iter(range(10_000))
    polls = {"n": 0}

    def still_running() -> bool:
        polls["n"] += 1
        if polls["n"] <= 3:
            for dummy in range(12):  # ~3 rotations before the reader looks again
                w.write("stdout", b"n %d\n" % next(counter))
        return polls["n"] <= 3

    got = [e.data for e in read_logs(path, follow=True, still_running=still_running, poll_interval=0.001)]
    assert got == [b"start\n"] + [b"n %d\n" % i for i in range(36)]


def test_follow_continues_with_the_oldest_file_when_its_own_was_deleted(tmp_path: t.Any) -> None:
    path = str(tmp_path / "c-json.log")
    w = LogWriter(path, max_size=150, max_file=2, clock=Clock())
    w.write("stdout", b"first\n")
    state = {"n": 0}

    def still_running() -> bool:
        state["n"] += 1
        if state["n"] == 1:
            for i in range(8):  # 4 rotations: the file being read is gone, and two more after it
                w.write("stdout", b"entry %d\n" % i)
        return state["n"] < 3

    got = [e.data for e in read_logs(path, follow=True, still_running=still_running, poll_interval=0.001)]
    kept = [e.data for e in read_logs(path)]
    numbers = [int(d.split()[1]) for d in got[1:]]
    assert got[0] == b"first\n" and numbers == sorted(set(numbers))  # in order, no duplicates
    assert got[-len(kept):] == kept  # everything max-file still keeps; rotated-away files may be lost

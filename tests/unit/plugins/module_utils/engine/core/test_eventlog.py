# SPDX-License-Identifier: GPL-3.0-or-later
"""core.eventlog: one O_APPEND line per event, root-only, trimmed to a bound, read back with trust checks."""
from __future__ import annotations

import json
import os
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.core import eventlog
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import UntrustedPath

CID = "c" * 64


def test_an_event_is_one_line_in_dockers_shape(tmp_path: t.Any) -> None:
    path = str(tmp_path / "events.log")
    eventlog.record(path, "container", "start", CID, {"name": "web", "image": "bb:latest"})
    eventlog.record(path, "container", "die", CID, {"name": "web", "image": "bb:latest", "exitCode": 3})
    assert os.stat(path).st_mode & 0o777 == 0o600
    lines = open(path, encoding="utf-8").read().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["Actor"] == {"ID": CID, "Attributes": {"name": "web", "image": "bb:latest"}}
    assert (first["Type"], first["Action"], first["status"], first["id"], first["from"], first["scope"]) == (
        "container", "start", "start", CID, "bb:latest", "local")
    assert first["time"] == first["timeNano"] // 10**9
    events = eventlog.read(path)
    assert [e["Action"] for e in events] == ["start", "die"]
    assert events[1]["Actor"]["Attributes"]["exitCode"] == "3"  # docker's attributes are strings


def test_the_log_is_trimmed_to_whole_lines(tmp_path: t.Any) -> None:
    path = str(tmp_path / "events.log")
    for i in range(200):
        eventlog.record(path, "container", "start", CID, {"n": i}, max_bytes=4096)
    assert os.path.getsize(path) <= 4096
    events = eventlog.read(path)
    numbers = [int(e["Actor"]["Attributes"]["n"]) for e in events]
    assert numbers[-1] == 199 and numbers == list(range(numbers[0], 200)) and len(numbers) > 5
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_a_torn_line_is_skipped_and_a_missing_log_is_empty(tmp_path: t.Any) -> None:
    path = tmp_path / "events.log"
    assert eventlog.read(str(path)) == []
    eventlog.record(str(path), "container", "create", CID)
    with open(path, "ab") as fh:
        fh.write(b'{"Type": "container", "Act')
    os.chmod(path, 0o600)
    assert [e["Action"] for e in eventlog.read(str(path))] == ["create"]


def test_an_untrusted_log_is_refused(tmp_path: t.Any) -> None:
    path = tmp_path / "events.log"
    eventlog.record(str(path), "container", "create", CID)
    os.chmod(path, 0o666)
    with pytest.raises(UntrustedPath):
        eventlog.read(str(path))
    link = tmp_path / "link.log"
    os.chmod(path, 0o600)
    link.symlink_to(path)
    with pytest.raises(UntrustedPath):
        eventlog.read(str(link))
    eventlog.record(str(link), "container", "start", CID)  # never written through a symlink, never raises
    assert len(eventlog.read(str(path))) == 1


def test_follow_yields_what_comes_after_and_stops_at_until(tmp_path: t.Any) -> None:
    path = str(tmp_path / "events.log")
    eventlog.record(path, "container", "create", CID)
    first = eventlog.read(path)[0]["timeNano"]
    naps: list[float] = []

    def sleep(seconds: float) -> None:  # each poll writes the next event, the third ends the wait
        naps.append(seconds)
        if len(naps) == 1:
            eventlog.record(path, "container", "start", CID)
        elif len(naps) == 2:
            eventlog.record(path, "container", "die", CID)

    until = eventlog.read(path)[0]["timeNano"] + 10**12  # far enough: the events end it, not the clock
    seen = []
    for event in eventlog.follow(path, after_ns=first, until_ns=until, sleep=sleep):
        seen.append(event["Action"])
        if event["Action"] == "die":
            break
    assert seen == ["start", "die"] and len(naps) == 2
    everything = [e["Action"] for e in eventlog.follow(path, after_ns=0, until_ns=first, sleep=sleep)]
    assert everything == ["create"]

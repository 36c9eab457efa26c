# SPDX-License-Identifier: GPL-3.0-or-later
"""``berth-runtime update``: runc's flags and ``--resources`` become the OCI ``linux.resources`` handed to
``BerthRuntime.update``; a bad value is a usage error naming the flag."""
from __future__ import annotations

import json
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.runtime import cli


class FakeRuntime:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def update(self, container_id: str, resources: dict) -> None:
        self.calls.append((container_id, resources))


@pytest.mark.parametrize(("argv", "want"), [
    (["--memory", "128m", "c1"], {"memory": {"limit": 128 << 20}}),
    (["--memory=1g", "--memory-swap", "-1", "c1"], {"memory": {"limit": 1 << 30, "swap": -1}}),
    (["--cpu-quota", "50000", "--cpu-period", "100000", "--cpuset-cpus", "0-1", "c1"],
     {"cpu": {"quota": 50000, "period": 100000, "cpus": "0-1"}}),
    (["--pids-limit", "20", "--blkio-weight", "300", "c1"], {"pids": {"limit": 20}, "blockIO": {"weight": 300}}),
])
def test_flags(argv: list[str], want: dict) -> None:
    rt = FakeRuntime()
    assert cli.cmd_update(rt, argv) == 0  # type: ignore[arg-type]
    assert rt.calls == [("c1", want)]


def test_resources_file_then_flags_over_it(tmp_path: t.Any) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"memory": {"limit": 1, "swap": 2}, "pids": {"limit": 5}}))
    rt = FakeRuntime()
    cli.cmd_update(rt, ["-r", str(path), "--memory", "64k", "c1"])  # type: ignore[arg-type]
    assert rt.calls == [("c1", {"memory": {"limit": 64 << 10, "swap": 2}, "pids": {"limit": 5}})]


@pytest.mark.parametrize("argv", [["--memory", "12q", "c1"], ["--pids-limit", "10k", "c1"], ["--memory", "1m"]])
def test_bad_values_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(cli.UsageError):
        cli.cmd_update(FakeRuntime(), argv)  # type: ignore[arg-type]


def test_a_bad_value_names_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--root", "/nonexistent-berth-root", "update", "--memory", "12q", "c1"]) == 1
    assert "invalid value '12q' for --memory" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "words"), [("{", "not valid JSON"), ("[1]", "top level is not an object")])
def test_a_bad_resources_file_names_the_file(tmp_path: t.Any, capsys: pytest.CaptureFixture[str], text: str,
                                             words: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(text)
    assert cli.main(["--root", str(tmp_path / "state"), "update", "--resources", str(path), "c1"]) == 1
    err = capsys.readouterr().err
    assert f"--resources {path}: " in err and words in err and "Traceback" not in err

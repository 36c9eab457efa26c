# SPDX-License-Identifier: GPL-3.0-or-later
"""BerthCli: the argv the controller-side plugins run, locally and through an ssh hop, and settings it refuses."""
from __future__ import annotations

import shlex
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.plugin_utils.berth_cli import BUNDLED_BERTH, BerthCli, BerthCliError


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({}, [BUNDLED_BERTH, "ps"]),
    ({"command": "/usr/local/bin/berth"}, ["/usr/local/bin/berth", "ps"]),
    ({"data_root": "/srv/b", "config_path": "/etc/b.json"},
     [BUNDLED_BERTH, "--root", "/srv/b", "--config", "/etc/b.json", "ps"]),
    ({"data_root": "", "config_path": None}, [BUNDLED_BERTH, "ps"]),
    ({"ssh_host": "root@node1"}, ["ssh", "-o", "BatchMode=yes", "root@node1", "--", "berth ps"]),
    ({"ssh_host": "node1", "ssh_args": "-p 2222 -i '/k ey'", "data_root": "/srv/my root"},
     ["ssh", "-o", "BatchMode=yes", "-p", "2222", "-i", "/k ey", "node1", "--", "berth --root '/srv/my root' ps"]),
])
def test_argv(kwargs: dict[str, t.Any], expected: list[str]) -> None:
    assert BerthCli(**kwargs).argv("ps") == expected


def test_the_remote_command_survives_the_remote_shell() -> None:
    cli = BerthCli(ssh_host="h")
    argv = cli.argv("exec", "-i", "--", "web", "/bin/sh", "-c", "echo 'a b' \"$HOME\"; true")
    assert shlex.split(argv[-1]) == cli.berth_argv("exec", "-i", "--", "web", "/bin/sh", "-c",
                                                   "echo 'a b' \"$HOME\"; true")
    assert cli.where() == "ssh h" and BerthCli().where() == "local"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"data_root": "relative/root"}, "data_root: 'relative/root' is not an absolute path"),
    ({"config_path": "daemon.json"}, "config_path: 'daemon.json' is not an absolute path"),
    ({"ssh_host": "-oProxyCommand=touch"}, "ssh_host: '-oProxyCommand=touch' is not a [user@]host"),
    ({"ssh_host": "a b"}, "ssh_host: 'a b' is not a [user@]host"),
    ({"ssh_host": "h", "ssh_args": "-o 'unclosed"}, "ssh_args: \"-o 'unclosed\" cannot be split"),
])
def test_bad_settings_are_named(kwargs: dict[str, t.Any], message: str) -> None:
    with pytest.raises(BerthCliError) as exc:
        BerthCli(**kwargs)
    assert str(exc.value).startswith(message)

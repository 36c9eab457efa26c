# SPDX-License-Identifier: GPL-3.0-or-later
"""A minimal ``json`` stdout callback for the integration tests.

ansible-core 2.19 no longer ships ``json`` (it redirects to ``ansible.posix.json``); rather than
pull a collection from Galaxy into the test set-up, this prints the same shape::

    {"plays": [{"play": {"name": ...}, "tasks": [{"task": {"name": ...}, "hosts": {HOST: RESULT}}]}],
     "stats": {HOST: {"ok": n, "changed": n, "failures": n, ...}}}

Found as ``json`` because tests/integration/conftest.py puts this directory on
ANSIBLE_CALLBACK_PLUGINS (a legacy plugin path is searched before built-in redirects).
"""
from __future__ import annotations

import json
import typing as t

from ansible.module_utils.common.json import AnsibleJSONEncoder
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: json
type: stdout
short_description: Whole-run JSON on stdout (test-only stand-in for ansible.posix.json)
description:
  - Prints one JSON document with every task result per host and the play stats.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "json"

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.plays: list[dict[str, t.Any]] = []

    def v2_playbook_on_play_start(self, play: t.Any) -> None:
        self.plays.append({"play": {"name": play.get_name()}, "tasks": []})

    def v2_playbook_on_task_start(self, task: t.Any, is_conditional: bool) -> None:
        self.plays[-1]["tasks"].append({"task": {"name": task.get_name()}, "hosts": {}})

    v2_playbook_on_handler_task_start = v2_playbook_on_task_start  # type: ignore[assignment]

    def _record(self, result: t.Any, **extra: t.Any) -> None:
        data = dict(result.result)
        data.update(extra)
        self.plays[-1]["tasks"][-1]["hosts"][result.host.get_name()] = data

    def v2_runner_on_ok(self, result: t.Any) -> None:
        self._record(result)

    def v2_runner_on_failed(self, result: t.Any, ignore_errors: bool = False) -> None:
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result: t.Any) -> None:
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result: t.Any) -> None:
        self._record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats: t.Any) -> None:
        summary = {host: stats.summarize(host) for host in sorted(stats.processed)}
        self._display.display(
            json.dumps({"plays": self.plays, "stats": summary}, cls=AnsibleJSONEncoder, indent=1, sort_keys=True)
        )

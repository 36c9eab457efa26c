# SPDX-License-Identifier: GPL-3.0-or-later
"""Options of the ``daemon_config`` task (the module DOCUMENTATION mirrors this table exactly).

``path`` takes ``config_path`` as an alias, so ``module_defaults`` for the ``berth.engine.berth`` group
that point the other tasks at an engine configuration point this one at the same file.
"""
from __future__ import annotations

from ..core.layout import DEFAULT_CONFIG
from .common import DEFAULT_LOCK_TIMEOUT
from .model import Option, OptionTable

STATES = ("present", "absent")

DAEMON_CONFIG_OPTIONS = OptionTable(
    options=(
        Option("path", kind="path", default=DEFAULT_CONFIG, aliases=("config_path",),
               doc="The daemon.json to manage: the engine's, or another such as /etc/docker/daemon.json."),
        Option("config", kind="dict", doc="daemon.json keys and values: merged key by key, or the whole file."),
        Option("keys", kind="list", elements="str", no_log=False, doc="state=absent: the keys to remove."),
        Option("state", default="present", choices=STATES, doc="present: set config; absent: remove keys."),
        Option("replace", kind="bool", default=False, doc="Replace the whole file with config."),
        Option("allow_unknown_keys", kind="bool", default=False,
               doc="Accept keys the Berth engine does not know (for another engine's file)."),
        Option("force", kind="bool", default=False, doc="Overwrite a file that is not valid JSON."),
        Option("backup", kind="bool", default=False, doc="Keep a timestamped copy of the file before a change."),
        Option("data_root", kind="path", doc="Data root whose containers a change may concern."),
        Option("lock_timeout", kind="float", default=DEFAULT_LOCK_TIMEOUT,
               doc="Seconds to wait for a concurrent Berth operation to release its lock."),
    ),
    required_if=(("state", "absent", ("keys",)),),
    mutually_exclusive=(("keys", "config"), ("keys", "replace")),
)

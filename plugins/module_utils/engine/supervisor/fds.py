# SPDX-License-Identifier: GPL-3.0-or-later
"""The fds a container monitor starts with and the monitor's timeouts, in one place for the monitor
(``monitor.py`` and its parts), the side that starts it (``monitor_ops.py``) and its workers
(``monitor_jobs.py``).

Imports nothing: the idle monitor (one per container) loads it; see ``monitor.py``, "Memory".
"""
from __future__ import annotations

#: The fds a monitor starts with (spawn puts them there): the status pipe, the attached caller's stdio,
#: the handoff pipe from the starter, the container's stdio (our ends), the console socket (tty) and the
#: directory it is named through when its path is too long, the attach socket.
STATUS_FD, STDIN_FD, STDOUT_FD, STDERR_FD = 3, 4, 5, 6
HANDOFF_FD, OUT_FD, ERR_FD, IN_FD, CONSOLE_FD, CONSOLE_DIR_FD, ATTACH_FD = 7, 8, 9, 10, 11, 12, 13
#: How long output may still arrive after the init exited (something else may hold the pipe).
DRAIN_TIMEOUT = 2.0
#: Docker's restart manager.
BACKOFF_FIRST, BACKOFF_MAX, BACKOFF_RESET_AFTER = 0.1, 60.0, 10.0
#: How often a restarting monitor looks at state.json (a stat) for a stop request.
STOP_POLL = 0.1
#: Container-lock wait in workers (spawn's caller gives up after 30 s by default).
LOCK_WAIT = 20.0
CONSOLE_TIMEOUT = 10.0
CLIENT_SEND_TIMEOUT = 5.0
INPUT_BUFFER_MAX = 1 << 20

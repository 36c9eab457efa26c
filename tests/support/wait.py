# SPDX-License-Identifier: GPL-3.0-or-later
"""Waiting for something the kernel or a process does (a listener up, a packet through), by its result."""
from __future__ import annotations

import time
import typing as t


def until(check: t.Callable[[], t.Any], what: str, rounds: int = 200, pause: float = 0.02) -> t.Any:
    """The first true value *check* returns, trying *rounds* times *pause* seconds apart; else AssertionError
    naming *what*."""
    for _round in range(rounds):
        value = check()
        if value:
            return value
        time.sleep(pause)
    raise AssertionError(f"never: {what}")

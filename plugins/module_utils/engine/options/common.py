# SPDX-License-Identifier: GPL-3.0-or-later
"""Options every engine-backed task accepts: where the engine keeps its state.

Documented once in the ``berth.engine.engine`` doc fragment.  Defaults of
``None`` mean "let the engine decide": ``data_root`` comes from daemon.json's
``data-root`` or ``/var/lib/berth``; ``config_path`` is ``/etc/berth/daemon.json``.
"""
from __future__ import annotations

from ..errors import InvalidOption
from .model import Option

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time: ``berth run`` imports this (engine/runtime/__init__.py)
    import typing as t

#: Seconds a task waits for another Berth operation to release the store.
DEFAULT_LOCK_TIMEOUT = 600.0

ENGINE_OPTIONS: tuple[Option, ...] = (
    Option(
        "data_root",
        kind="path",
        doc="Directory holding the engine state (images, layers, containers).",
        cli="--data-root",
    ),
    Option(
        "config_path",
        kind="path",
        doc="Path of the engine configuration file (Docker's daemon.json format).",
        cli="--config",
    ),
    Option(
        "lock_timeout",
        kind="float",
        default=DEFAULT_LOCK_TIMEOUT,
        doc="Seconds to wait for a concurrent Berth operation to release its lock.",
        cli="--lock-timeout",
    ),
)


def engine_kwargs(params: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The ``Engine.open()`` keyword arguments from task parameters."""
    timeout = params.get("lock_timeout")
    timeout = DEFAULT_LOCK_TIMEOUT if timeout is None else float(timeout)
    if timeout < 0:
        raise InvalidOption("lock_timeout", timeout, "must be zero or more seconds")
    return {
        "data_root": params.get("data_root") or None,
        "config_path": params.get("config_path") or None,
        "lock_timeout": timeout,
    }

# SPDX-License-Identifier: GPL-3.0-or-later
"""The monitor's settings from a container record, Docker's restart back-off and start-failure exit codes
(pure functions, table-tested in tests/unit/plugins/module_utils/engine/supervisor/test_lifecycle.py)."""
from __future__ import annotations

from . import health
from .fds import BACKOFF_FIRST, BACKOFF_MAX, BACKOFF_RESET_AFTER

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


def next_backoff(previous: float, ran: float) -> float:
    """Docker's restart delay: 100 ms, doubling up to 1 min; back to 100 ms after a run of 10 s or more."""
    if ran >= BACKOFF_RESET_AFTER or previous <= 0:
        return BACKOFF_FIRST
    return min(previous * 2, BACKOFF_MAX)


def start_failure_exit_code(message: str) -> int:
    """Docker's exit code for a container that could not start (``translateContainerdStartErr``)."""
    low = message.lower()
    if "executable file not found" in low or "no such file or directory" in low or "not a directory" in low:
        return 127
    if "permission denied" in low or "exec format error" in low:  # found, but cannot be invoked
        return 126
    return 128


def monitor_settings(record: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """What the monitor needs from a container record (``containers/<id>/config.json``).

    Read from the normalised options (``Desired``): restart_policy/restart_retries, auto_remove, tty,
    interactive; the anonymous volumes of ``Mounts``; the log driver and its options (``max-size`` bytes, ``max-file``) from ``LogConfig`` (or, in
    records written before it, ``log_driver``/``log_options`` of ``Desired``); the healthcheck from
    ``Healthcheck`` (the effective one, image merged, when the service records it) or ``Desired``.
    """
    opts = record.get("Desired") or {}
    policy = str(opts.get("restart_policy") or "no")
    retries = int(opts.get("restart_retries") or 0)
    if policy.startswith("on-failure:"):
        policy, retries = "on-failure", int(policy.split(":", 1)[1] or 0)
    logging = record.get("LogConfig") or {}  # resolved at create (the engine configuration's defaults merged)
    log_opts = (logging.get("Config") if logging else opts.get("log_options")) or {}
    max_size = log_opts.get("max-size")
    check = record["Healthcheck"] if "Healthcheck" in record else opts.get("healthcheck")
    return {
        "restart_policy": policy,
        "restart_retries": retries,
        "log_driver": str(logging.get("Type") or opts.get("log_driver") or "json-file"),
        "max_size": _bytes(max_size) if max_size else None,
        "max_file": int(log_opts.get("max-file") or 1),
        "healthcheck": health.normalise(check),
        "auto_remove": bool(opts.get("auto_remove")),
        "tty": bool(opts.get("tty")),
        "open_stdin": bool(opts.get("interactive")),
        "anonymous_volumes": anonymous_volumes(record.get("Mounts") or ()),
    }


def anonymous_volumes(mounts: t.Iterable[t.Mapping[str, t.Any]]) -> list[str]:
    """The anonymous volumes of a record's *mounts* (``Mounts``): ``rm -v`` and ``--rm`` remove them."""
    return [m["Name"] for m in mounts if m.get("Type") == "volume" and m.get("Anonymous")]


def _bytes(value: t.Any) -> int:
    if isinstance(value, int):
        return value
    text = str(value).strip().lower().rstrip("b")
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)

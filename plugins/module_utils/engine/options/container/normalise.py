# SPDX-License-Identifier: GPL-3.0-or-later
"""The building blocks of the container normalisers, and Docker's defaults and the kernel's limits.

A normaliser is ``normaliser(value, field) -> canonical value``; a bad value raises
:class:`~...errors.InvalidOption` naming *field* (``memory``, ``ulimits[2]``, ``healthcheck.interval``).
This module holds what every topic shares: the scalar checks (strings, booleans, integers and ranges),
sizes, durations, argument lists, the text values of env/labels/sysctls and the NUL-byte check that
:meth:`.table.ContainerOption.normalise` runs on every value.  The topic normalisers import them:
:mod:`.process` (what runs and as whom) and :mod:`.kernel` (what the kernel enforces).  Names with a
leading underscore (``_fail``, ``_str``, ``_int``, ``_NAME`` ...) belong to the package: the rooms share
them, the front door does not export them.
"""
from __future__ import annotations

import posixpath

from ...core.lazy import Pattern
from ...core import units
from ...errors import InvalidOption
from .secrets import SECRET_MASK

# ``berth run`` imports the option table: no typing, dataclasses, json or re at import time here
# (regular expressions are :class:`~...core.lazy.Pattern`, compiled when an option needs one).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    Normaliser = t.Callable[[t.Any, str], t.Any]

#: Docker's defaults, as normalised values.
DEFAULT_SHM_SIZE = 64 * 1024 * 1024
DEFAULT_STOP_SIGNAL = "SIGTERM"
DEFAULT_STOP_TIMEOUT = 10
DEFAULT_WORKING_DIR = "/"
DEFAULT_NETWORK_MODE = "bridge"  # what Docker's "default" means
#: What a container without ``network_mode`` gets: the default bridge network, as in Docker.
UNSET_NETWORK_MODE = "bridge"
DEFAULT_IPC_MODE = "private"
#: Smallest memory limit (and memory reservation) Docker accepts.
MIN_MEMORY = 6 * 1024 * 1024
#: Largest size in bytes: Docker's sizes are int64, and the kernel's page counters (memory.max,
#: memory.limit_in_bytes ...) take at most LONG_MAX bytes (clamped to PAGE_COUNTER_MAX pages).
MAX_SIZE = units.MAX_SIZE
#: Longest container name: the name is a file name in the data root (``names/<name>``, NAME_MAX 255).
MAX_NAME_LENGTH = 255
#: The kernel's largest CFS quota in microseconds (``max_cfs_runtime``: 2^44 - 1).
MAX_CPU_QUOTA = (1 << 44) - 1
#: The largest ``pids.max`` the kernel takes (PID_MAX_LIMIT on 64-bit hosts).
MAX_PIDS = 4 * 1024 * 1024
#: Largest count, timeout or retry number (an int32, as Docker's API has them).
MAX_INT32 = (1 << 31) - 1


def _re() -> t.Any:
    """The ``re`` module, for the normalisers' one-off patterns (imported when such an option is given)."""
    import re

    return re


def _fail(field: str, value: t.Any, reason: str) -> t.NoReturn:
    raise InvalidOption(field, value, reason)


def check_no_nul(value: t.Any, field: str, secret: bool = False) -> None:
    """Refuse a NUL byte in *value* or in any string it holds (list items, dict keys and values); the
    error of a *secret* option (``no_log``) shows the mask, never the value."""
    if isinstance(value, str):
        if "\0" in value:
            _fail(field, SECRET_MASK if secret else value, "must not contain a NUL byte")
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\0" in key:
                _fail(field, key, "names must not contain a NUL byte")
            check_no_nul(item, f"{field}.{key}", secret)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_no_nul(item, f"{field}[{i}]", secret)


def _str(value: t.Any, field: str) -> str:
    if not isinstance(value, str):
        _fail(field, value, "must be a string")
    return value


def _bool(value: t.Any, field: str) -> bool:
    if not isinstance(value, bool):
        _fail(field, value, "must be a boolean")
    return value


def _int(value: t.Any, field: str) -> int:
    if isinstance(value, bool):
        _fail(field, value, "must be an integer")
    if isinstance(value, str):
        try:
            return int(value.strip(), 10)
        except ValueError:
            _fail(field, value, "must be an integer")
    if not isinstance(value, int):
        _fail(field, value, "must be an integer")
    return value


def int_range(low: int | None = None, high: int | None = MAX_INT32, *, zero: bool = False) -> Normaliser:
    """A normaliser for integers in ``[low, high]`` (``zero``: 0 is also accepted, meaning unset)."""

    def norm(value: t.Any, field: str) -> int:
        n = _int(value, field)
        if zero and n == 0:
            return 0
        if (low is not None and n < low) or (high is not None and n > high):
            if low is not None and high is not None and (high != MAX_INT32 or n > high):
                span = f"between {low} and {high}"
            elif low is not None and n < low:
                span = f"at least {low}"
            else:
                span = f"at most {high}"
            _fail(field, value, f"must be {span}" + (" (or 0)" if zero else ""))
        return n

    return norm


def size(value: t.Any, field: str) -> int:
    """Docker's ``RAMInBytes``: ``512m``, ``1g``, ``1.5GB``, ``100`` -> bytes (``core.units.parse_size``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            _fail(field, value, "must not be negative")
        if value > MAX_SIZE:
            _fail(field, value, f"too large: at most {MAX_SIZE} bytes (8 EiB), the kernel's limit")
        return value
    if not isinstance(value, str):
        _fail(field, value, "must be a size such as 512m or 1g")
    try:
        return units.parse_size(value)
    except ValueError as exc:
        _fail(field, value, str(exc))


def size_or_unlimited(value: t.Any, field: str) -> int:
    """:func:`size`, plus ``-1``/``unlimited`` for "no limit" (memory_swap)."""
    if value in (-1, "-1", "unlimited"):
        return -1
    return size(value, field)


_DURATION_UNITS = {
    "ns": 1,
    "us": 1000,
    "µs": 1000,
    "μs": 1000,
    "ms": 1000_000,
    "s": 1000_000_000,
    "m": 60 * 1000_000_000,
    "h": 3600 * 1000_000_000,
}
_DURATION_PART = Pattern(r"(?a)(\d{1,30}(?:\.\d{0,30})?|\.\d{1,30})(ns|us|µs|μs|ms|s|m|h)")


def duration(value: t.Any, field: str) -> int:
    """Go's ``time.ParseDuration`` (``1m30s``, ``500ms``, ``1.5h``) -> nanoseconds; negative values refused."""
    if isinstance(value, bool) or not isinstance(value, str):
        _fail(field, value, "must be a duration string such as 30s, 1m30s or 500ms")
    text = value.strip()
    if text == "0":
        return 0
    if not text:
        _fail(field, value, "empty duration")
    import fractions
    pos, total = 0, fractions.Fraction(0)
    while pos < len(text):
        m = _DURATION_PART.match(text, pos)
        if not m:
            if _re().fullmatch(r"[\d.]+", text[pos:]):
                _fail(field, value, "missing unit in duration (use ns, us, ms, s, m or h, e.g. 30s)")
            _fail(field, value, "not a duration: use e.g. 30s, 1m30s or 500ms (units ns, us, ms, s, m, h)")
        total += fractions.Fraction(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if total > MAX_SIZE:
        _fail(field, value, "too long: at most about 292 years (Go's time.Duration)")
    return int(total)


def string_list(value: t.Any, field: str) -> list[str]:
    """A command or entrypoint: a string is shlex-split (as community.docker's ``command_handling=correct``)."""
    if isinstance(value, str):
        import shlex

        try:
            return shlex.split(value)
        except ValueError as exc:
            _fail(field, value, f"cannot be split into arguments: {exc}")
    if not isinstance(value, (list, tuple)):
        _fail(field, value, "must be a string or a list of strings")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            _fail(f"{field}[{i}]", item, "must be a string")
        out.append(str(item))
    return out


def command(value: t.Any, field: str) -> list[str] | None:
    """An empty command means "use the image's CMD" (Docker cannot clear CMD), so it normalises to None."""
    args = string_list(value, field)
    return args or None


def _text_value(field: str, key: str, value: t.Any, shown: str | None = None) -> str:
    """A dict value for env/labels/sysctls: strings and integers only (YAML turns yes/1.10 into bool/float).
    An error shows *shown* instead of the value when given (secrets)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    _fail(
        f"{field}.{key}",
        value if shown is None else shown,
        "must be a string; quote values YAML would read as a boolean, a float or null (e.g. \"true\", \"1.10\")",
    )


def abs_path(value: t.Any, field: str) -> str:
    text = _str(value, field)
    if not text.startswith("/"):
        _fail(field, value, "must be an absolute path")
    return posixpath.normpath(text)


#: A Docker object name: a container, network or runtime.
_NAME = Pattern(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")

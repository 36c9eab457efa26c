# SPDX-License-Identifier: GPL-3.0-or-later
"""RFC 3339 timestamps as images carry them (nanoseconds, ``Z`` or offsets)."""
from __future__ import annotations

import datetime as _dt
import re

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$"
)


def parse_rfc3339(value: str | None) -> float | None:
    """Seconds since the epoch, or None when *value* is empty or unparsable."""
    if not value:
        return None
    m = _RFC3339.match(value.strip())
    if not m:
        return None
    y, mo, d, h, mi, s, frac, _z, sign, oh, om = m.groups()
    dt = _dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=_dt.timezone.utc)
    ts = dt.timestamp()
    if frac:
        ts += float("0." + frac[:9])
    if sign:
        offset = int(oh) * 3600 + int(om) * 60
        ts -= offset if sign == "+" else -offset
    return ts


def format_rfc3339(ts: float) -> str:
    """``2024-05-01T12:00:00.123456789Z`` style (Docker prints nanoseconds)."""
    dt = _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{dt.microsecond:06d}000Z"


def now_rfc3339() -> str:
    import time

    return format_rfc3339(time.time())


def human_duration(seconds: float) -> str:
    """Docker's ``units.HumanDuration`` (``3 weeks``, ``About an hour``)."""
    secs = int(seconds)
    if secs < 1:
        return "Less than a second"
    if secs == 1:
        return "1 second"
    if secs < 60:
        return f"{secs} seconds"
    minutes = secs // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    # Go's Duration.Round(time.Hour): halves round away from zero.
    hours = int((seconds + 1800) // 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds // 3600) // 24 // 365} years"

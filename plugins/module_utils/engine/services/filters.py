# SPDX-License-Identifier: GPL-3.0-or-later
"""Docker's list/prune filters (``label=``, ``until=``, ...), shared by the image and container services."""
from __future__ import annotations

import typing as t

from ..core.timefmt import parse_rfc3339
from ..errors import InvalidOption


def normalise(filters: t.Mapping[str, t.Any] | None, allowed: t.Sequence[str]) -> dict[str, list[str]]:
    """``{key: [values]}``; an unknown key is an error naming it and the supported ones."""
    out: dict[str, list[str]] = {}
    for key, value in (filters or {}).items():
        if key not in allowed:
            raise InvalidOption("filters", key, f"unknown filter (supported: {', '.join(allowed)})")
        if isinstance(value, (list, tuple)):
            vals = [str(v) for v in value]
        elif isinstance(value, bool):
            vals = ["true" if value else "false"]
        else:
            vals = [str(value)]
        out.setdefault(key, []).extend(vals)
    return out


def boolean(values: list[str], field: str) -> bool:
    v = values[-1].lower()
    if v in ("true", "1"):
        return True
    if v in ("false", "0"):
        return False
    raise InvalidOption(f"filters.{field}", values[-1], "expected true or false")


def labels_match(wanted: list[str], labels: t.Mapping[str, str], any_: bool = False) -> bool:
    """``key`` or ``key=value`` entries: all must match (or any, for ``label!=``)."""

    def one(w: str) -> bool:
        if "=" in w:
            k, v = w.split("=", 1)
            return labels.get(k) == v
        return w in labels

    results = [one(w) for w in wanted]
    return any(results) if any_ else all(results)


def until(values: list[str] | None) -> float | None:
    """``until=24h`` (a duration before now), a unix timestamp or an RFC 3339 time."""
    if not values:
        return None
    import re
    import time

    v = values[-1]
    m = re.match(r"^(\d+(?:\.\d+)?)([smhd]?)$", v)
    if m:
        n = float(m.group(1))
        if not m.group(2):
            return n
        return time.time() - n * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    ts = parse_rfc3339(v)
    if ts is None:
        raise InvalidOption("filters.until", v, "expected a duration like 24h or an RFC 3339 timestamp")
    return ts

# SPDX-License-Identifier: GPL-3.0-or-later
"""Sizes as Docker writes them (``512m``, ``1.5g``, ``100``): one parser for the container options
(``memory``, ``shm_size``, ``log_options.max-size``) and the engine configuration (``log-opts``).

On the start path when an option has a size: the regular expression is compiled on first use
(``core.lazy.Pattern``), ``fractions`` imported only then.
"""
from __future__ import annotations

from .lazy import Pattern

#: The kernel's limit for a byte count (and Docker's, an int64).
MAX_SIZE = (1 << 63) - 1

_SIZE = Pattern(r"(?ai)^(\d{1,30}(?:\.\d{1,30})?) ?([kmgtp])?i?b?$")
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_size(text: str) -> int:
    """Docker's ``RAMInBytes``: ``512m``, ``1g``, ``1.5GB``, ``100`` -> bytes (binary multiples, truncated).
    Raises ``ValueError`` saying what is wrong (the caller names the field and value)."""
    m = _SIZE.match(text.strip())
    if not m:
        raise ValueError("not a size: use a number with an optional unit b, k, m, g, t or p (e.g. 512m, 1.5g)")
    import fractions  # only when a size is given: keeps fractions/decimal off the no-op path

    n = int(fractions.Fraction(m.group(1)) * _UNITS[(m.group(2) or "").lower()])
    if n > MAX_SIZE:
        raise ValueError(f"too large: at most {MAX_SIZE} bytes (8 EiB), the kernel's limit")
    return n

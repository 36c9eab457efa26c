# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.core.units import MAX_SIZE, parse_size


@pytest.mark.parametrize("text, n", [
    ("100", 100), ("10k", 10 << 10), ("512m", 512 << 20), ("1.5g", 3 << 29), ("2GB", 2 << 30), ("1 MiB", 1 << 20),
    (" 3T ", 3 << 40), ("0", 0),
])
def test_sizes(text, n) -> None:
    assert parse_size(text) == n


@pytest.mark.parametrize("text, reason", [
    ("10q", "not a size"), ("", "not a size"), ("-1m", "not a size"), ("1e3", "not a size"),
    ("9999999p", "too large"),
])
def test_bad_sizes(text, reason) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_size(text)
    assert MAX_SIZE == (1 << 63) - 1

# SPDX-License-Identifier: GPL-3.0-or-later
"""``registry.catalog.next_page``: the ``Link`` header of a catalog or tags page (distribution spec)."""
from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.registry.catalog import next_page


@pytest.mark.parametrize("link, expected", [
    (None, None),
    ("", None),
    ('</v2/_catalog?last=b&n=2>; rel="next"', "/v2/_catalog?last=b&n=2"),
    ('</v2/a/b/tags/list?n=2&last=v1>;rel=next', "/v2/a/b/tags/list?n=2&last=v1"),
    ('<https://reg.example:5000/v2/_catalog?n=2&last=x>; rel="next"', "/v2/_catalog?n=2&last=x"),
    ('</v2/_catalog?n=2&last=x>; rel="prev"', None),
    ('</v2/_catalog?n=2&last=a>; rel="prev", </v2/_catalog?n=2&last=c>; rel="next"', "/v2/_catalog?n=2&last=c"),
])
def test_next_page(link: str | None, expected: str | None) -> None:
    assert next_page(link) == expected
